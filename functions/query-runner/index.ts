/**
 * Lambda entry points of the query runner. Configuration is checked at module
 * load, so a bad deployment fails on its first cold start with a clear message:
 * - SHARDFLOW_PIPELINE: the validated pipeline as JSON (required)
 * - LAKE_BUCKET: the lake bucket; results and run records go there (required)
 * - ATHENA_WORKGROUP: @default 'primary'
 * - ATHENA_ENDPOINT, S3_ENDPOINT: other endpoints (optional; the local services)
 *
 * `handler` runs a scheduled query end to end (render, Athena, run record): the
 * target for an EventBridge Scheduler schedule with input
 * `{ "query": "<name>", "scheduledTime": "<aws.scheduler.scheduled-time>" }`.
 * `render` is the renderer step of lib/scheduled-queries.ts: it gets
 * `{ pipeline, query, sql, scheduledTime }` and returns `{ sql }`.
 * `record` is its last step: it gets the run's outcome (StateMachineRun) and
 * writes the run record, as `handler` does for its own runs.
 */
import { AthenaClient } from '@aws-sdk/client-athena';
import { S3Client } from '@aws-sdk/client-s3';
import { renderQuery, runInterval } from '../../core';
import { ConfigurationError, optionalEnv, pipelineFromEnv, requireEnv } from '../shared/config';
import { createLogger } from '../shared/logger';
import { findScheduledQuery, recordStateMachineRun, runScheduledQuery, type QueryRunRecord, type StateMachineRun } from './run-scheduled-query';

const pipeline = pipelineFromEnv();
const bucket = requireEnv('LAKE_BUCKET');
const workgroup = optionalEnv('ATHENA_WORKGROUP') ?? 'primary';
const athenaEndpoint = optionalEnv('ATHENA_ENDPOINT');
const s3Endpoint = optionalEnv('S3_ENDPOINT');
const log = createLogger('shardflow-query-runner');

let clients: { athena: AthenaClient; s3: S3Client } | null = null;
const getClients = () =>
  (clients ??= {
    athena: new AthenaClient(athenaEndpoint ? { endpoint: athenaEndpoint } : {}),
    s3: new S3Client(s3Endpoint ? { endpoint: s3Endpoint, forcePathStyle: true } : {}),
  });

export interface RunEvent {
  /** Must name this function's pipeline when given. */
  readonly pipeline?: string;
  readonly query: string;
  /** ISO-8601; EventBridge Scheduler's <aws.scheduler.scheduled-time>. */
  readonly scheduledTime: string;
}

export interface RenderEvent extends RunEvent {
  readonly sql: string;
}

function scheduledMillis(e: RunEvent): number {
  if (e.pipeline !== undefined && e.pipeline !== pipeline.name) {
    throw new ConfigurationError(`event names pipeline "${e.pipeline}" but this function runs pipeline "${pipeline.name}"`);
  }
  const t = Date.parse(e.scheduledTime);
  if (!Number.isFinite(t)) throw new ConfigurationError(`scheduledTime must be an ISO-8601 time (given ${JSON.stringify(e.scheduledTime)})`);
  return t;
}

/** Runs the query; a FAILED run is thrown after its record is written, so the schedule's retries and alarm see it. */
export async function handler(event: RunEvent): Promise<QueryRunRecord> {
  const t = scheduledMillis(event);
  const rec = await runScheduledQuery(pipeline, event.query, t, { ...getClients(), bucket, workgroup });
  log.info('scheduled query run', { pipeline: rec.pipeline, query: rec.query, status: rec.status, queryExecutionId: rec.queryExecutionId, intervalStart: rec.intervalStart, dataScannedBytes: rec.dataScannedBytes });
  if (rec.status === 'FAILED') throw new Error(`scheduled query ${rec.pipeline}/${rec.query} for ${rec.intervalStart} failed: ${rec.error}`);
  return rec;
}

export async function render(event: RenderEvent): Promise<{ sql: string; intervalStart: string; intervalEnd: string }> {
  const t = scheduledMillis(event);
  const q = findScheduledQuery(pipeline, event.query);
  const interval = runInterval(q.schedule, t);
  return {
    sql: renderQuery(event.sql ?? q.sql, t, interval),
    intervalStart: new Date(interval.start).toISOString(),
    intervalEnd: new Date(interval.end).toISOString(),
  };
}

/** The state machine's RecordRun step: writes the run record; returns it (the state machine fails the run after, if it failed). */
export async function record(event: StateMachineRun & { readonly pipeline?: string }): Promise<QueryRunRecord> {
  scheduledMillis(event);
  const { athena, s3 } = getClients();
  const rec = await recordStateMachineRun(pipeline, event, { athena, s3, bucket });
  log.info('scheduled query run', { pipeline: rec.pipeline, query: rec.query, status: rec.status, queryExecutionId: rec.queryExecutionId, intervalStart: rec.intervalStart, dataScannedBytes: rec.dataScannedBytes });
  return rec;
}

/** The one handler the state machine's Lambda steps invoke (a function has one handler): `step` picks render or record. */
export type StateMachineStep = (RenderEvent & { readonly step: 'render' }) | (StateMachineRun & { readonly pipeline?: string; readonly step: 'record' });

export async function stateMachineStep(event: StateMachineStep): Promise<unknown> {
  switch (event.step) {
    case 'render':
      return render(event);
    case 'record':
      return record(event);
    default:
      throw new ConfigurationError(`step must be "render" or "record" (given ${JSON.stringify((event as { step?: unknown }).step)})`);
  }
}
