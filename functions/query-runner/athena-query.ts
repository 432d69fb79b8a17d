/**
 * Runs one Athena query to completion: StartQueryExecution, poll
 * GetQueryExecution with backoff, then page through GetQueryResults. The same
 * code runs against AWS and the local Athena endpoint, and is shared by
 * `shardflow query`, the schedulers and the tests.
 */
import {
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
  type AthenaClient,
  type ColumnInfo,
  type QueryExecution,
} from '@aws-sdk/client-athena';

export interface QueryRequest {
  readonly sql: string;
  /** @default 'shardflow' */
  readonly database?: string;
  /** @default 'primary' */
  readonly workgroup?: string;
  /** s3://bucket/prefix/ for results; the workgroup's when absent. */
  readonly outputLocation?: string;
  /** Same token, same query execution (Athena idempotency, 32-128 chars). */
  readonly clientRequestToken?: string;
}

export interface QueryColumn {
  readonly name: string;
  /** Athena type name: varchar, bigint, double, timestamp, array … */
  readonly type: string;
}

export interface QueryResult {
  readonly queryExecutionId: string;
  readonly columns: readonly QueryColumn[];
  /** Values as Athena returns them: strings, null for SQL NULL. */
  readonly rows: readonly (string | null)[][];
  readonly dataScannedBytes: number;
  readonly engineExecutionMs: number;
  readonly outputLocation: string | undefined;
}

export interface RunOptions {
  /** First poll delay; doubles up to pollMaxMs. @default 100 */
  readonly pollInitialMs?: number;
  /** @default 2000 */
  readonly pollMaxMs?: number;
  /** Cancel the query (StopQueryExecution) after this long. @default 600000 (10 min) */
  readonly timeoutMs?: number;
  /** Stop paging after this many rows. @default Infinity */
  readonly maxRows?: number;
  /** Retries of throttled or transient API errors per call. @default 5 */
  readonly maxApiRetries?: number;
}

/** The query ran and failed or was cancelled: Athena's reason, verbatim. */
export class QueryFailedError extends Error {
  constructor(readonly queryExecutionId: string, readonly state: string, readonly reason: string) {
    super(`query ${queryExecutionId} ${state}: ${reason}`);
    this.name = 'QueryFailedError';
  }
}

export class QueryTimeoutError extends Error {
  constructor(readonly queryExecutionId: string, timeoutMs: number) {
    super(`query ${queryExecutionId} did not finish within ${timeoutMs} ms and was cancelled`);
    this.name = 'QueryTimeoutError';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Throttling and 5xx are retried; a bad request is not. */
function isTransient(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown; code?: string };
  if (e.name === 'TooManyRequestsException' || e.name === 'ThrottlingException' || e.$retryable) return true;
  if ((e.$metadata?.httpStatusCode ?? 0) >= 500) return true;
  return ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE'].includes(e.code ?? '');
}

export async function withApiRetries<T>(fn: () => Promise<T>, retries = 5): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= retries || !isTransient(err)) throw err;
      await sleep(Math.random() * Math.min(5_000, 200 * 2 ** attempt));
    }
  }
}

export async function startQuery(client: AthenaClient, req: QueryRequest, retries = 5): Promise<string> {
  const res = await withApiRetries(() => client.send(new StartQueryExecutionCommand({
    QueryString: req.sql,
    QueryExecutionContext: { Database: req.database ?? 'shardflow' },
    WorkGroup: req.workgroup ?? 'primary',
    ...(req.outputLocation ? { ResultConfiguration: { OutputLocation: req.outputLocation } } : {}),
    ...(req.clientRequestToken ? { ClientRequestToken: req.clientRequestToken } : {}),
  })), retries);
  return res.QueryExecutionId!;
}

/**
 * Polls until the query reaches a terminal state (SUCCEEDED, FAILED or
 * CANCELLED) and returns it; stops it and throws QueryTimeoutError past the
 * timeout. Callers that want a failure as an error use waitForQuery.
 */
export async function pollQuery(client: AthenaClient, id: string, opts: RunOptions = {}): Promise<QueryExecution> {
  const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
  let delay = opts.pollInitialMs ?? 100;
  for (;;) {
    const { QueryExecution: qe } = await withApiRetries(() => client.send(new GetQueryExecutionCommand({ QueryExecutionId: id })), opts.maxApiRetries);
    const state = qe?.Status?.State;
    if (qe && (state === 'SUCCEEDED' || state === 'FAILED' || state === 'CANCELLED')) return qe;
    if (Date.now() > deadline) {
      await client.send(new StopQueryExecutionCommand({ QueryExecutionId: id })).catch(() => undefined);
      throw new QueryTimeoutError(id, opts.timeoutMs ?? 600_000);
    }
    await sleep(delay);
    delay = Math.min(opts.pollMaxMs ?? 2_000, delay * 2);
  }
}

/** Polls until the query leaves QUEUED/RUNNING; throws QueryFailedError unless it SUCCEEDED. */
export async function waitForQuery(client: AthenaClient, id: string, opts: RunOptions = {}): Promise<QueryExecution> {
  const qe = await pollQuery(client, id, opts);
  const state = qe.Status?.State ?? 'UNKNOWN';
  if (state !== 'SUCCEEDED') {
    throw new QueryFailedError(id, state, qe.Status?.StateChangeReason ?? qe.Status?.AthenaError?.ErrorMessage ?? 'no reason given');
  }
  return qe;
}

/**
 * Pages through GetQueryResults. Athena repeats the column names as the first
 * row of a SELECT's (StatementType DML) first page; SHOW and DESCRIBE results
 * have no such row, and a data row may look like the names, so the statement
 * type decides, not the row's content.
 */
export async function fetchResults(client: AthenaClient, qe: QueryExecution, opts: RunOptions = {}): Promise<{ columnInfo: ColumnInfo[]; rows: (string | null)[][] }> {
  const id = qe.QueryExecutionId!;
  const maxRows = opts.maxRows ?? Infinity;
  let columnInfo: ColumnInfo[] = [];
  const rows: (string | null)[][] = [];
  let token: string | undefined;
  let first = true;
  do {
    const page = await withApiRetries(() => client.send(new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: token, MaxResults: 1000 })), opts.maxApiRetries);
    if (first) columnInfo = page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? [];
    let pageRows = (page.ResultSet?.Rows ?? []).map((r) => (r.Data ?? []).map((d) => d.VarCharValue ?? null));
    if (first && qe.StatementType === 'DML') pageRows = pageRows.slice(1);
    first = false;
    for (const r of pageRows) {
      if (rows.length >= maxRows) return { columnInfo, rows };
      rows.push(r);
    }
    token = page.NextToken;
  } while (token);
  return { columnInfo, rows };
}

export async function runAthenaQuery(client: AthenaClient, req: QueryRequest, opts: RunOptions = {}): Promise<QueryResult> {
  const id = await startQuery(client, req, opts.maxApiRetries);
  const qe = await waitForQuery(client, id, opts);
  const { columnInfo, rows } = await fetchResults(client, qe, opts);
  return {
    queryExecutionId: id,
    columns: columnInfo.map((c) => ({ name: c.Name ?? c.Label ?? '', type: c.Type ?? 'varchar' })),
    rows,
    dataScannedBytes: qe.Statistics?.DataScannedInBytes ?? 0,
    engineExecutionMs: qe.Statistics?.EngineExecutionTimeInMillis ?? 0,
    outputLocation: qe.ResultConfiguration?.OutputLocation,
  };
}
