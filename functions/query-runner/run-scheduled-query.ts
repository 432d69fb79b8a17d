/**
 * Runs one scheduled query for one interval: render the SQL for the interval
 * the scheduled time closes, run it on Athena with a ClientRequestToken derived
 * from (pipeline, query, interval, SQL) so that a re-run of the same interval
 * returns the same execution, write the CSV under the run-time partition
 * `query-results/<pipeline>/<query>/dt=YYYY-MM-DD/hour=HH/`, and keep a run
 * record `_shardflow/query-runs/<pipeline>/<query>/<intervalStart>.json` so that
 * missed or failed runs are visible. Shared by the Lambda entry, the local
 * scheduler and `shardflow run-query`.
 */
import { createHash } from 'node:crypto';
import { GetQueryExecutionCommand, type AthenaClient } from '@aws-sdk/client-athena';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { listObjects } from '../shared/s3-list';
import { LAKE_STATE_PREFIXES, partitionOf, partitionPath, renderQuery, runInterval, type Pipeline, type RunInterval, type ScheduledQuery } from '../../core';
import { QueryFailedError, QueryTimeoutError, startQuery, waitForQuery, withApiRetries } from './athena-query';

export const RUN_RECORD_PREFIX = LAKE_STATE_PREFIXES.queryRuns;
export const QUERY_RESULTS_PREFIX = 'query-results/';

export type RunStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export interface QueryRunRecord {
  readonly pipeline: string;
  readonly query: string;
  readonly schedule: string;
  /** ISO-8601 UTC. */
  readonly scheduledTime: string;
  readonly intervalStart: string;
  readonly intervalEnd: string;
  readonly status: RunStatus;
  readonly queryExecutionId: string | null;
  /** Query executions started for this run (1 + whole-query retries). */
  readonly attempts: number;
  readonly dataScannedBytes: number;
  readonly engineExecutionMs: number;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  /** s3:// URI of the result CSV (the folder while RUNNING). */
  readonly outputLocation: string;
  readonly error: string | null;
  /** The rendered SQL. */
  readonly sql: string;
  /** On AWS: the Step Functions execution that ran it (its history shows the state machine's retries). */
  readonly execution?: string;
}

export interface RunScheduledQueryOptions {
  readonly athena: AthenaClient;
  readonly s3: S3Client;
  /** The lake bucket: results and run records go here. */
  readonly bucket: string;
  /** @default 'primary' */
  readonly workgroup?: string;
  /** Whole-query retries of transient failures (system errors, throttling), 0-10. @default 2 */
  readonly maxQueryRetries?: number;
  /** First wait before a whole-query retry; doubles each time, milliseconds. @default 2000 */
  readonly retryBaseMs?: number;
  /** Longest one execution may run before it is cancelled, milliseconds. @default 600000 */
  readonly timeoutMs?: number;
  /** Clock for started/finished stamps. @default Date.now */
  readonly now?: () => number;
}

/** The run's scheduled query or pipeline is not what the caller named. */
export class ScheduledQueryNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduledQueryNotFoundError';
  }
}

export function findScheduledQuery(pipeline: Pipeline, name: string): ScheduledQuery {
  const q = pipeline.scheduledQueries.find((x) => x.name === name);
  if (!q) {
    const known = pipeline.scheduledQueries.map((x) => x.name);
    throw new ScheduledQueryNotFoundError(`pipeline "${pipeline.name}" has no scheduled query "${name}" (it has: ${known.length ? known.join(', ') : 'none'})`);
  }
  return q;
}

/** `20261125T070000Z`: sortable, and safe as a key segment on every S3 implementation. */
export function compactTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export function runRecordKey(pipeline: string, query: string, intervalStart: number): string {
  return `${RUN_RECORD_PREFIX}${pipeline}/${query}/${compactTime(intervalStart)}.json`;
}

/** The results folder of a run: partitioned by the run's interval start. */
export function resultsLocation(bucket: string, pipeline: string, query: string, interval: RunInterval): string {
  return `s3://${bucket}/${QUERY_RESULTS_PREFIX}${pipeline}/${query}/${partitionPath(partitionOf(interval.start))}/`;
}

/**
 * Athena's ClientRequestToken (32-128 chars): the same pipeline, query,
 * interval and SQL give the same token, so Athena returns the execution it
 * already has. The attempt number makes a whole-query retry a new execution
 * (a token that failed keeps returning the failed execution).
 */
export function runToken(pipeline: string, query: string, interval: RunInterval, sql: string, attempt: number): string {
  const h = createHash('sha256').update(`${pipeline}\u0000${query}\u0000${interval.start}\u0000${interval.end}\u0000${sql}`).digest('hex');
  return `sf-${h.slice(0, 56)}-a${attempt}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Failures worth running again: Athena's system errors (category 1), Retryable, throttling or capacity. */
async function isTransientFailure(athena: AthenaClient, err: QueryFailedError): Promise<boolean> {
  if (/throttl|rate exceeded|slow ?down|too many|exhausted resources|internal error|service unavailable/i.test(err.reason)) return true;
  try {
    const { QueryExecution: qe } = await withApiRetries(() => athena.send(new GetQueryExecutionCommand({ QueryExecutionId: err.queryExecutionId })));
    const e = qe?.Status?.AthenaError;
    return e?.Retryable === true || e?.ErrorCategory === 1;
  } catch {
    return false;
  }
}

/** The fields that name a run: which query, and the interval its scheduled time closes. */
function runIdentity(pipeline: Pipeline, q: ScheduledQuery, scheduledTime: number, interval: RunInterval): Pick<QueryRunRecord, 'pipeline' | 'query' | 'schedule' | 'scheduledTime' | 'intervalStart' | 'intervalEnd'> {
  return {
    pipeline: pipeline.name,
    query: q.name,
    schedule: q.schedule,
    scheduledTime: new Date(scheduledTime).toISOString(),
    intervalStart: new Date(interval.start).toISOString(),
    intervalEnd: new Date(interval.end).toISOString(),
  };
}

async function putRecord(s3: S3Client, bucket: string, r: QueryRunRecord): Promise<void> {
  await s3.send(new PutObjectCommand({
    Bucket: bucket,
    Key: runRecordKey(r.pipeline, r.query, Date.parse(r.intervalStart)),
    Body: JSON.stringify(r, null, 2),
    ContentType: 'application/json',
  }));
}

/**
 * Renders and runs `query` of `pipeline` for the interval that `scheduledTime`
 * closes. Never throws for a failed query: the record says FAILED and why.
 * Throws for a bad request (unknown query, a placeholder that cannot render) or
 * when the run record cannot be written.
 */
export async function runScheduledQuery(pipeline: Pipeline, queryName: string, scheduledTime: number, opts: RunScheduledQueryOptions): Promise<QueryRunRecord> {
  const q = findScheduledQuery(pipeline, queryName);
  const now = opts.now ?? Date.now;
  const interval = runInterval(q.schedule, scheduledTime);
  const sql = renderQuery(q.sql, scheduledTime, interval);
  const folder = resultsLocation(opts.bucket, pipeline.name, q.name, interval);
  const maxRetries = opts.maxQueryRetries ?? 2;
  let record: QueryRunRecord = {
    ...runIdentity(pipeline, q, scheduledTime, interval),
    status: 'RUNNING',
    queryExecutionId: null,
    attempts: 0,
    dataScannedBytes: 0,
    engineExecutionMs: 0,
    startedAt: new Date(now()).toISOString(),
    finishedAt: null,
    outputLocation: folder,
    error: null,
    sql,
  };
  await putRecord(opts.s3, opts.bucket, record);

  for (let attempt = 1; ; attempt++) {
    let id: string | null = null;
    try {
      id = await startQuery(opts.athena, {
        sql,
        database: pipeline.database,
        workgroup: opts.workgroup ?? 'primary',
        outputLocation: folder,
        clientRequestToken: runToken(pipeline.name, q.name, interval, sql, attempt),
      });
      record = { ...record, queryExecutionId: id, attempts: attempt };
      const qe = await waitForQuery(opts.athena, id, { timeoutMs: opts.timeoutMs ?? 600_000, pollInitialMs: 50 });
      record = {
        ...record,
        status: 'SUCCEEDED',
        dataScannedBytes: qe.Statistics?.DataScannedInBytes ?? 0,
        engineExecutionMs: qe.Statistics?.EngineExecutionTimeInMillis ?? 0,
        outputLocation: qe.ResultConfiguration?.OutputLocation ?? folder,
        finishedAt: new Date(now()).toISOString(),
        error: null,
      };
      break;
    } catch (err) {
      const transient = err instanceof QueryFailedError ? await isTransientFailure(opts.athena, err) : false;
      const reason = err instanceof QueryFailedError ? `${err.state}: ${err.reason}` : err instanceof QueryTimeoutError ? err.message : `${(err as Error).name}: ${(err as Error).message}`;
      record = { ...record, queryExecutionId: id ?? record.queryExecutionId, attempts: attempt, error: reason };
      if (transient && attempt <= maxRetries) {
        await sleep((opts.retryBaseMs ?? 2_000) * 2 ** (attempt - 1));
        continue;
      }
      record = { ...record, status: 'FAILED', finishedAt: new Date(now()).toISOString() };
      break;
    }
  }
  await putRecord(opts.s3, opts.bucket, record);
  return record;
}

/** What the scheduled-queries state machine (lib/scheduled-queries.ts) passes to its RecordRun step. */
export interface StateMachineRun {
  readonly query: string;
  /** ISO-8601, the schedule's time. */
  readonly scheduledTime: string;
  /** The RunQuery state's result, when it succeeded. */
  readonly athena?: { readonly queryExecutionId: string };
  /** The Catch's error, when it failed after its retries: Step Functions' Error and Cause. */
  readonly error?: { readonly Error?: string; readonly Cause?: string };
  /** $$.Execution.Id */
  readonly execution?: string;
}

/**
 * Writes the run record of a run the state machine made (render, Athena .sync
 * with retries), in the same form and place runScheduledQuery writes: so
 * `shardflow runs`, a re-run with `run-query` and the local scheduler read AWS
 * runs the same way. The execution's statistics come from GetQueryExecution.
 */
export async function recordStateMachineRun(pipeline: Pipeline, run: StateMachineRun, opts: { readonly athena: AthenaClient; readonly s3: S3Client; readonly bucket: string; readonly now?: () => number }): Promise<QueryRunRecord> {
  const q = findScheduledQuery(pipeline, run.query);
  const t = Date.parse(run.scheduledTime);
  if (!Number.isFinite(t)) throw new ScheduledQueryNotFoundError(`scheduledTime must be an ISO-8601 time (given ${JSON.stringify(run.scheduledTime)})`);
  const now = opts.now ?? Date.now;
  const interval = runInterval(q.schedule, t);
  // A failed .sync task's Cause is the Athena error or the QueryExecution as JSON text.
  const id = run.athena?.queryExecutionId ?? /"QueryExecutionId"\s*:\s*"([^"]+)"/.exec(run.error?.Cause ?? '')?.[1] ?? null;
  const qe = id ? (await withApiRetries(() => opts.athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id })))).QueryExecution : undefined;
  const succeeded = !run.error && qe?.Status?.State === 'SUCCEEDED';
  const reason = run.error
    ? `${run.error.Error ?? 'Error'}: ${qe?.Status?.StateChangeReason ?? run.error.Cause ?? 'no cause given'}`
    : succeeded
      ? null
      : `${qe?.Status?.State ?? 'UNKNOWN'}: ${qe?.Status?.StateChangeReason ?? 'no query execution'}`;
  const record: QueryRunRecord = {
    ...runIdentity(pipeline, q, t, interval),
    status: succeeded ? 'SUCCEEDED' : 'FAILED',
    queryExecutionId: id,
    attempts: 1,
    dataScannedBytes: qe?.Statistics?.DataScannedInBytes ?? 0,
    engineExecutionMs: qe?.Statistics?.EngineExecutionTimeInMillis ?? 0,
    startedAt: (qe?.Status?.SubmissionDateTime ?? new Date(t)).toISOString(),
    finishedAt: (qe?.Status?.CompletionDateTime ?? new Date(now())).toISOString(),
    outputLocation: qe?.ResultConfiguration?.OutputLocation ?? '',
    error: reason,
    sql: qe?.Query ?? renderQuery(q.sql, t, interval),
    ...(run.execution ? { execution: run.execution } : {}),
  };
  await putRecord(opts.s3, opts.bucket, record);
  return record;
}

/** Run records of a pipeline (optionally one query), oldest interval first. */
export async function listQueryRuns(s3: S3Client, bucket: string, pipeline: string, query?: string): Promise<QueryRunRecord[]> {
  const prefix = `${RUN_RECORD_PREFIX}${pipeline}/${query ? `${query}/` : ''}`;
  const keys = (await listObjects(s3, bucket, prefix)).map((o) => o.key).filter((k) => k.endsWith('.json'));
  const out: QueryRunRecord[] = [];
  for (const key of keys) {
    const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    out.push(JSON.parse(await obj.Body!.transformToString()) as QueryRunRecord);
  }
  return out.sort((a, b) => a.intervalStart.localeCompare(b.intervalStart) || a.query.localeCompare(b.query));
}
