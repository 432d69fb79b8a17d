/**
 * Lambda entry point of the compactor, run hourly by an EventBridge Scheduler
 * schedule (lib/compactor.ts). Configuration is checked at module load:
 * - SHARDFLOW_PIPELINE: the validated pipeline as JSON (required)
 * - LAKE_BUCKET: the lake bucket (required)
 * - S3_ENDPOINT: another S3 endpoint (optional; the local emulator)
 *
 * One pass carries on with unfinished compactions (a crash, or sources whose
 * retirement wait is over), then compacts sealed partitions until the time
 * left runs short; the next pass goes on from there.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { ConfigurationError, optionalEnv, pipelineFromEnv, requireEnv } from '../shared/config';
import { createLogger } from '../shared/logger';
import { compactPipeline, type CompactionPass } from './compaction';

const pipeline = pipelineFromEnv();
const bucket = requireEnv('LAKE_BUCKET');
const s3Endpoint = optionalEnv('S3_ENDPOINT');
const log = createLogger('shardflow-compactor');

let s3: S3Client | null = null;

/** What a pass did, for the schedule's log and the tests. */
export interface CompactorResult {
  readonly pipeline: string;
  readonly compacted: number;
  readonly carriedOn: number;
  readonly skipped: number;
  readonly stoppedEarly: boolean;
}

/** Lambda's context, the one method used. */
interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

/** Stop starting partitions when less than this is left: merging one takes seconds to a minute or two. */
const MARGIN_MS = 180_000;

/** The schedule's input (lib/compactor.ts); any event will do, but one naming another pipeline is refused. */
export interface CompactorEvent {
  readonly pipeline?: string;
  /**
   * The schedule's time (<aws.scheduler.scheduled-time>). The pass runs as of
   * this time, or as of now if that is earlier: sealing and the retirement wait
   * are judged no later than the real clock, so a late retry is only more careful.
   */
  readonly scheduledTime?: string;
}

export async function handler(event: CompactorEvent | null, context?: LambdaContextLike): Promise<CompactorResult> {
  if (event?.pipeline !== undefined && event.pipeline !== pipeline.name) {
    throw new ConfigurationError(`event names pipeline "${event.pipeline}" but this function compacts pipeline "${pipeline.name}"`);
  }
  s3 ??= new S3Client(s3Endpoint ? { endpoint: s3Endpoint, forcePathStyle: true } : {});
  const deadline = context ? Date.now() + context.getRemainingTimeInMillis() - MARGIN_MS : undefined;
  const scheduled = event?.scheduledTime === undefined ? NaN : Date.parse(event.scheduledTime);
  if (event?.scheduledTime !== undefined && Number.isNaN(scheduled)) {
    throw new ConfigurationError(`scheduledTime must be an ISO-8601 time (given ${JSON.stringify(event.scheduledTime)})`);
  }
  const now = () => (Number.isNaN(scheduled) ? Date.now() : Math.min(scheduled, Date.now()));
  const pass: CompactionPass = await compactPipeline(s3, bucket, pipeline, { now, ...(deadline === undefined ? {} : { deadline }) });
  for (const m of [...pass.recovered, ...pass.compacted]) {
    log.info('compaction', { table: m.table, partition: `dt=${m.partition.dt}/hour=${m.partition.hour}`, state: m.state, sources: m.sources.length, rows: m.rows });
  }
  const result = { pipeline: pipeline.name, compacted: pass.compacted.length, carriedOn: pass.recovered.length, skipped: pass.skipped, stoppedEarly: pass.stoppedEarly };
  log.info('compaction pass', { ...result });
  return result;
}
