/** The page's calls to its own server: JSON only, always with the header the server requires. */

export class ApiFailure extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export async function api<T>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(`/api/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'X-Shardflow-UI': '1', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    credentials: 'same-origin',
  });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      message = ((await res.json()) as { error?: string }).error ?? message;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiFailure(res.status, message);
  }
  return res.headers.get('content-type')?.startsWith('text/csv') ? ((await res.text()) as T) : ((await res.json()) as T);
}

export interface PartitionMetrics {
  id: string;
  millisBehindLatest: number | null;
  recordsBehindLatest: number | null;
  eventsIn: number;
  eventsFiltered: number;
  batches: number;
  failures: number;
  retries: number;
  discarded: number;
  checkpoint: string | null;
  lastError: { message: string; at: string } | null;
}

export interface Sample {
  t: number;
  eventsIn: number;
  eventsPerSec: number | null;
  lagMs: number | null;
  lagRecords: number | null;
  received: number;
  quarantined: number;
  late: number;
  filtered: number;
  objects: number;
  failures: number;
  retries: number;
}

export interface PipelineOverview {
  name: string;
  database: string;
  description: string;
  source: string;
  sourceKind: 'kinesis' | 'kafka';
  counts: { received: number; raw: number; filtered: number; quarantined: number; late: number; partials: number; objects: number; batches: number };
  eventsIn: number;
  eventsPerSec: number | null;
  lagMs: number | null;
  lagRecords: number | null;
  failures: number;
  retries: number;
  discarded: number;
  partitions: PartitionMetrics[];
  history: Sample[];
}

export interface Overview {
  at: string;
  startedAt: string;
  endpoints: Record<string, string>;
  pipelines: PipelineOverview[];
}

export interface PipelineDefinition {
  name: string;
  description: string;
  source: { kind: 'kinesis'; stream: string; shards: number | 'on-demand' } | { kind: 'kafka'; topic: string; partitions: number };
  database: string;
  schema: { name: string; type: string; required: boolean }[];
  eventTime: string;
  filter: string | null;
  allowedLatenessMs: number;
  /** Every aggregate; `measures` are the view's measure columns, each with its measure's kind. */
  aggregates: { view: string; partials: string; groupBy: string[]; window: { kind: 'tumbling'; sizeMs: number } | { kind: 'hopping'; sizeMs: number; everyMs: number } | { kind: 'session'; gapMs: number }; measures: { name: string; fn: string }[] }[];
  tables: { name: string; role: string; format: string; location: string }[];
  scheduledQueries: { name: string; schedule: string; description: string; sql: string; nextRun: string }[];
}

export interface Column {
  name: string;
  type: string;
}

export interface WindowRows {
  sql: string;
  view: string;
  measure: string;
  groupBy: string[];
  columns: Column[];
  rows: { values: (string | null)[]; open: boolean; openUntil: string }[];
  truncated: boolean;
  dataScannedBytes: number;
  engineExecutionMs: number;
}

export interface AthenaErrorInfo {
  code: string | null;
  line: number | null;
  column: number | null;
  message: string;
}

export interface QueryState {
  queryExecutionId: string;
  state: 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
  sql: string;
  error: AthenaErrorInfo | null;
  reason: string | null;
  dataScannedBytes: number;
  engineExecutionMs: number;
  totalExecutionMs: number;
}

export interface ResultPage {
  columns: Column[];
  rows: (string | null)[][];
  nextToken: string | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls a query until it leaves QUEUED/RUNNING. */
export async function waitForQuery(id: string): Promise<QueryState> {
  let delay = 50;
  for (;;) {
    const s = await api<QueryState>(`queries/${id}`);
    if (s.state !== 'QUEUED' && s.state !== 'RUNNING') return s;
    await sleep(delay);
    delay = Math.min(500, delay * 2);
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function formatNumber(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined) return '–';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}
