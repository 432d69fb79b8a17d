/**
 * Running a query and timing it through the Athena API alone, so the same
 * function measures the local endpoint and AWS Athena (benchmarks, the CLI).
 */
import type { AthenaClient, ColumnInfo, QueryExecutionState } from '@aws-sdk/client-athena';
import { fetchResults, pollQuery, startQuery } from '../../functions/query-runner/athena-query';

export interface AthenaQueryRun {
  readonly queryExecutionId: string;
  readonly state: QueryExecutionState;
  readonly stateChangeReason?: string;
  /** Statistics.EngineExecutionTimeInMillis. */
  readonly engineExecutionTimeMs: number;
  /** Statistics.DataScannedInBytes. */
  readonly dataScannedBytes: number;
  /** Start call to terminal state, as the caller saw it, milliseconds. */
  readonly wallTimeMs: number;
  readonly outputLocation?: string;
  readonly columns: readonly ColumnInfo[];
  /** Data rows (the header row of a SELECT removed); null for SQL NULL. Empty unless `fetchRows`. */
  readonly rows: readonly (readonly (string | null)[])[];
}

export interface AthenaQueryRunOptions {
  readonly database?: string;
  readonly workGroup?: string;
  readonly outputLocation?: string;
  /** Poll interval, milliseconds. @default 50 */
  readonly pollMs?: number;
  /** Give up (and throw) after this long, milliseconds. @default 300000 */
  readonly timeoutMs?: number;
  /** Read all result pages. @default true */
  readonly fetchRows?: boolean;
}

/**
 * Starts a query, waits for a terminal state and (optionally) reads every
 * result page, with the shared runner's calls (functions/query-runner). Never
 * throws for a FAILED query: read `state`.
 */
export async function runAthenaQuery(client: AthenaClient, sql: string, opts: AthenaQueryRunOptions = {}): Promise<AthenaQueryRun> {
  const t0 = performance.now();
  const id = await startQuery(client, {
    sql,
    ...(opts.database ? { database: opts.database } : {}),
    ...(opts.workGroup ? { workgroup: opts.workGroup } : {}),
    ...(opts.outputLocation ? { outputLocation: opts.outputLocation } : {}),
  });
  const poll = { pollInitialMs: opts.pollMs ?? 50, pollMaxMs: opts.pollMs ?? 50, timeoutMs: opts.timeoutMs ?? 300_000 };
  const qe = await pollQuery(client, id, poll);
  const wallTimeMs = performance.now() - t0;
  const state = qe.Status!.State!;
  const results = state === 'SUCCEEDED' && opts.fetchRows !== false ? await fetchResults(client, qe) : { columnInfo: [], rows: [] };
  return {
    queryExecutionId: id,
    state,
    stateChangeReason: qe.Status?.StateChangeReason,
    engineExecutionTimeMs: qe.Statistics?.EngineExecutionTimeInMillis ?? 0,
    dataScannedBytes: qe.Statistics?.DataScannedInBytes ?? 0,
    wallTimeMs,
    outputLocation: qe.ResultConfiguration?.OutputLocation,
    columns: results.columnInfo,
    rows: results.rows,
  };
}
