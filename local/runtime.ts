/**
 * The local runtime behind `shardflow dev`: starts the services, creates the
 * streams, topics and buckets, and runs each pipeline's event source mapping
 * emulator on the very handler that Lambda runs. Everything persists under
 * `dataDir`, so a stop and a start lose nothing and redo nothing.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { BatchCounts, Pipeline } from '../core';
import { pipelineFilterCriteria } from '../core';
import { createStreamProcessor } from '../functions/stream-processor/handler';
import { createLogger, type Logger } from '../functions/shared/logger';
import { DEFAULT_ATHENA_PORT, DEFAULT_LAKE_BUCKET, startAthenaEndpoint, type AthenaEndpoint } from './athena';
import { checkSchemaRecords } from './schema-records';
import { createStreamIfMissing, ensureBucket, localAthenaClient, localKinesisClient, localS3Client } from './aws-clients';
import { FileCheckpointStore } from './esm/checkpoint-store';
import { KafkaEventSourceMapping } from './esm/kafka-mapping';
import { KinesisEventSourceMapping } from './esm/kinesis-mapping';
import type { MappingMetrics, PartitionMetrics } from './esm/metrics';
import { S3OnFailureDestination } from './esm/on-failure-destination';
import { makePrivateDir, tightenTree, usePrivateUmask, writePrivateFileAtomic } from './private-files';
import { createTopicIfMissing, startLocalServices, type LocalServiceName, type LocalServices } from './services';
import { isSameProcess, processIdentity, type ProcessIdentity } from './services/service-process';
import type { KinesisEngine } from './services/kinesis';
import { startScheduler } from './scheduler';
import { startTrinoLake, type TrinoLakeOptions } from './trino/engine';

/** Engines the local Athena endpoint can execute statements on. */
export const ATHENA_ENGINES = ['duckdb', 'trino'] as const;
export type AthenaEngineName = (typeof ATHENA_ENGINES)[number];
import { compactPipeline } from '../functions/compactor/compaction';

export const FAILURE_BUCKET = 'shardflow-failures';

export interface LocalRuntimeOptions {
  readonly pipelines: readonly Pipeline[];
  /** Root of all local state. @default '.shardflow' */
  readonly dataDir: string;
  readonly ports?: Partial<Record<LocalServiceName | 'athena', number>>;
  readonly kinesisEngine?: KinesisEngine;
  /**
   * What executes the local Athena endpoint's statements: DuckDB, or a Trino 476 started here over
   * the same lake with the Glue catalog `cdk synth` declares (local/trino). @default 'duckdb'
   */
  readonly athenaEngine?: AthenaEngineName;
  /**
   * With athenaEngine 'trino': the Glue resources `cdk synth` declares for these pipelines over
   * a bucket (lib/glue-template.ts synthesizeGlueTemplate; local/ does not import lib/).
   */
  readonly glueTemplate?: (bucket: string) => TrinoLakeOptions['glueTemplate'];
  /** Handler and emulator logs; JSON lines to `<dataDir>/logs/runtime.log` when absent. */
  readonly logger?: Logger;
  /** Further loopback ports whose pages may call S3 and Kinesis (a local web UI); see local/http-guard.ts. @default [] */
  readonly allowedOriginPorts?: readonly number[];
  /**
   * The mappings' batching window, milliseconds. @default the pipeline's, at most
   * LOCAL_MAX_BATCHING_WINDOW_MS: the deployed default (60 s) is there to save S3 requests,
   * which cost nothing locally, and `dev` should show events within a second or two.
   */
  readonly batchingWindowMs?: number;
}

/**
 * The longest batching window `dev` uses unless told otherwise (LocalRuntimeOptions.batchingWindowMs).
 * Under load batches still grow: a window runs from its first record's read, so records
 * that queued while the previous batch ran go at once, in one batch. A window this cap
 * shortened also ends once the source has gone quiet and the batch holds at least
 * EARLY_WINDOW_END_MIN_RECORDS records (endWindowWhenQuiet, local/esm/batch-retry.ts):
 * the last batch of a send then goes without waiting out the window (the "drain" of
 * scripts/bench/local-e2e.ts), while a trickle of events still waits the full window,
 * making no more objects than before.
 */
export const LOCAL_MAX_BATCHING_WINDOW_MS = 250;

/** What `shardflow send`, `query` and `status` need to find a running `dev`. */
export interface RuntimeInfo {
  readonly pid: number;
  /** pid plus start time: a reused pid is not mistaken for a running `dev`. */
  readonly process?: ProcessIdentity;
  readonly startedAt: string;
  readonly endpoints: { readonly kinesis?: string; readonly s3: string; readonly kafka?: string; readonly athena: string };
  readonly lakeBucket: string;
  readonly failureBucket: string;
  readonly pipelines: readonly string[];
}

export interface PipelineStatus {
  readonly pipeline: string;
  readonly source: string;
  /**
   * Totals of the handler's committed batches since the data directory was first
   * used: carried across restarts in status.json. A batch that a crash made the
   * mapping deliver again is counted again (the lake itself holds it once).
   */
  readonly counts: BatchCounts & { objects: number; batches: number };
  /** Per shard/partition; the counters are cumulative like `counts`, lag is live. */
  readonly mapping: MappingMetrics | null;
}

/** What status.json holds. */
export interface StatusFile {
  readonly at: string;
  /** When the counters started: the first start on this data directory. */
  readonly countsSince: string;
  readonly pipelines: readonly PipelineStatus[];
}

export interface LocalRuntime {
  readonly info: RuntimeInfo;
  readonly s3: S3Client;
  status(): PipelineStatus[];
  stop(): Promise<void>;
}

export function runtimeInfoFile(dataDir: string): string {
  return path.join(dataDir, 'runtime.json');
}

export function statusFile(dataDir: string): string {
  return path.join(dataDir, 'status.json');
}

/** Reads the runtime file of a running `dev`; null when none runs (or it died). */
export async function readRuntimeInfo(dataDir: string): Promise<RuntimeInfo | null> {
  let info: RuntimeInfo;
  try {
    info = JSON.parse(await fs.readFile(runtimeInfoFile(dataDir), 'utf8')) as RuntimeInfo;
  } catch {
    return null;
  }
  if (info.process) return isSameProcess(info.process) ? info : null;
  try {
    process.kill(info.pid, 0);
  } catch {
    return null;
  }
  return info;
}

/** The last status.json, or null when there is none or it cannot be read (then counting starts at zero). */
export async function readStatusFile(dataDir: string): Promise<StatusFile | null> {
  try {
    const s = JSON.parse(await fs.readFile(statusFile(dataDir), 'utf8')) as StatusFile;
    return Array.isArray(s.pipelines) ? s : null;
  } catch {
    return null;
  }
}

const count = (v: unknown): number => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0);

const CUMULATIVE_PARTITION_FIELDS = ['eventsIn', 'eventsFiltered', 'batches', 'failures', 'retries', 'discarded'] as const;

/** This run's mapping metrics plus the previous runs' counters, shard by shard. */
function withBaseline(now: MappingMetrics | null, before: MappingMetrics | null | undefined): MappingMetrics | null {
  if (!before?.partitions) return now;
  if (!now) return before;
  const old = new Map(before.partitions.map((p) => [p.id, p]));
  const partitions: PartitionMetrics[] = now.partitions.map((p) => {
    const b = old.get(p.id);
    old.delete(p.id);
    if (!b) return p;
    const sum = { ...p };
    for (const k of CUMULATIVE_PARTITION_FIELDS) sum[k] = p[k] + count(b[k]);
    return sum;
  });
  // Shards not read yet in this run keep their counters; their lag is unknown.
  for (const b of old.values()) partitions.push({ ...b, millisBehindLatest: null, recordsBehindLatest: null });
  return { ...now, partitions };
}

function fileLogger(file: string): Logger {
  const lines: string[] = [];
  let flushing: Promise<void> = Promise.resolve();
  const flush = () => {
    if (lines.length === 0) return;
    const chunk = lines.splice(0).join('\n') + '\n';
    flushing = flushing.then(() => fs.appendFile(file, chunk, { mode: 0o600 })).catch(() => undefined);
  };
  setInterval(flush, 500).unref();
  return createLogger('shardflow-dev', { write: (l) => lines.push(l) });
}

type Mapping = { start(): Promise<void>; stop(): Promise<void>; metrics(): MappingMetrics };

export async function startLocalRuntime(opts: LocalRuntimeOptions): Promise<LocalRuntime> {
  const dataDir = path.resolve(opts.dataDir);
  // Private before anything is written: see local/private-files.ts.
  usePrivateUmask();
  await makePrivateDir(dataDir);
  await tightenTree(dataDir);
  await makePrivateDir(path.join(dataDir, 'logs'));
  let existing = await readRuntimeInfo(dataDir);
  // A `dev` killed a moment ago (SIGKILL of its group) can still be tearing down: give it a few seconds.
  for (let waited = 0; existing && existing.pid !== process.pid && waited < 5_000; waited += 100) {
    await new Promise((r) => setTimeout(r, 100));
    existing = await readRuntimeInfo(dataDir);
  }
  if (existing && existing.pid !== process.pid) {
    throw new Error(`another \`shardflow dev\` (pid ${existing.pid}) already runs on ${dataDir}; stop it first, or use another --data-dir`);
  }
  const log = opts.logger ?? fileLogger(path.join(dataDir, 'logs', 'runtime.log'));
  const needKinesis = opts.pipelines.some((p) => p.source.kind === 'kinesis');
  const needKafka = opts.pipelines.some((p) => p.source.kind === 'kafka');
  const services: LocalServices = await startLocalServices({
    dataDir: path.join(dataDir, 'services'),
    ports: opts.ports ?? {},
    ...(opts.kinesisEngine ? { kinesisEngine: opts.kinesisEngine } : {}),
    services: ['s3', ...(needKinesis ? (['kinesis'] as const) : []), ...(needKafka ? (['kafka'] as const) : [])],
    buckets: [DEFAULT_LAKE_BUCKET, FAILURE_BUCKET],
    ...(opts.allowedOriginPorts ? { allowedOriginPorts: opts.allowedOriginPorts } : {}),
  });
  const started: { stop(): Promise<void> }[] = [];
  const s3 = localS3Client(services.s3!.endpoint);
  try {
    await ensureBucket(s3, DEFAULT_LAKE_BUCKET);
    await ensureBucket(s3, FAILURE_BUCKET);
    // Before anything reads or writes the lake: a definition whose schema the objects already written cannot follow stops here.
    await checkSchemaRecords(s3, DEFAULT_LAKE_BUCKET, opts.pipelines, { store: true });
    if (opts.athenaEngine === 'trino' && !opts.glueTemplate) throw new Error("athenaEngine 'trino' needs glueTemplate: the Glue catalog to load into Trino");
    const trino =
      opts.athenaEngine === 'trino'
        ? await startTrinoLake({ dataDir: path.join(dataDir, 'trino'), s3Endpoint: services.s3!.endpoint, glueTemplate: opts.glueTemplate!(DEFAULT_LAKE_BUCKET) })
        : null;
    if (trino) started.push(trino);
    const athena: AthenaEndpoint = await startAthenaEndpoint({
      port: opts.ports?.athena ?? DEFAULT_ATHENA_PORT,
      // The emulator's change reports keep the endpoint's object index: queries list nothing.
      s3: { endpoint: services.s3!.endpoint, bucket: DEFAULT_LAKE_BUCKET, emulator: services.s3! },
      pipelines: opts.pipelines,
      dataDir: path.join(dataDir, 'athena'),
      ...(trino ? { trino: { endpoint: trino.endpoint } } : {}),
    });
    started.push(athena);

    const kinesis = services.kinesis ? localKinesisClient(services.kinesis.endpoint) : null;
    const counts = new Map<string, PipelineStatus['counts']>();
    const mappings = new Map<string, Mapping>();
    const onFailure = new S3OnFailureDestination(s3, FAILURE_BUCKET);

    const previous = await readStatusFile(dataDir);
    const before = new Map((previous?.pipelines ?? []).map((p) => [p.pipeline, p]));
    for (const p of opts.pipelines) {
      const b = before.get(p.name)?.counts;
      const total = {
        received: count(b?.received),
        raw: count(b?.raw),
        filtered: count(b?.filtered),
        quarantined: count(b?.quarantined),
        late: count(b?.late),
        partials: count(b?.partials),
        objects: count(b?.objects),
        batches: count(b?.batches),
      };
      counts.set(p.name, total);
      const handler = createStreamProcessor(p, {
        s3,
        bucket: DEFAULT_LAKE_BUCKET,
        logger: log,
        onBatch: (_source, c, objects) => {
          for (const k of ['received', 'raw', 'filtered', 'quarantined', 'late', 'partials'] as const) total[k] += c[k];
          total.objects += objects;
          total.batches += 1;
        },
      });
      const criteria = p.processing.lambdaFilterCriteria && p.filter ? pipelineFilterCriteria(p, p.source.kind) : null;
      const filters = criteria && criteria.expressible ? criteria.filters : undefined;
      const checkpoints = new FileCheckpointStore(path.join(dataDir, 'checkpoints'), `${p.name}`);
      const options = {
        batchSize: p.processing.batchSize,
        batchingWindowMs: opts.batchingWindowMs ?? Math.min(p.processing.batchingWindowMs, LOCAL_MAX_BATCHING_WINDOW_MS),
        // The cap is dev's, not the pipeline's: a window it shortened may end once the source is quiet.
        endWindowWhenQuiet: opts.batchingWindowMs === undefined && p.processing.batchingWindowMs > LOCAL_MAX_BATCHING_WINDOW_MS,
        parallelizationFactor: p.processing.parallelizationFactor,
        startingPosition: p.processing.startingPosition,
        maxRetryAttempts: p.processing.maxRetryAttempts,
        maxRecordAgeMs: p.processing.maxRecordAgeMs,
        bisectBatchOnError: p.processing.bisectBatchOnError,
      };
      let mapping: Mapping;
      if (p.source.kind === 'kinesis') {
        await createStreamIfMissing(kinesis!, p.source.stream, p.source.shards === 'on-demand' ? 4 : p.source.shards);
        mapping = new KinesisEventSourceMapping({
          kinesis: kinesis!,
          streamName: p.source.stream,
          handler,
          options,
          checkpoints,
          onFailure,
          ...(filters ? { filters } : {}),
          functionName: `shardflow-${p.name}-processor`,
        });
      } else {
        const brokers = [services.kafka!.endpoint];
        await createTopicIfMissing(brokers, p.source.topic, p.source.partitions);
        mapping = new KafkaEventSourceMapping({
          brokers,
          topic: p.source.topic,
          handler,
          options,
          onFailure,
          ...(filters ? { filters } : {}),
          functionName: `shardflow-${p.name}-processor`,
        });
      }
      await mapping.start();
      mappings.set(p.name, mapping);
      started.push(mapping);
    }

    // Scheduled queries run against the local Athena endpoint, as EventBridge Scheduler runs them on AWS.
    const athenaClient = localAthenaClient(athena.endpoint);
    const scheduler = await startScheduler({
      pipelines: opts.pipelines,
      athena: athenaClient,
      s3,
      bucket: DEFAULT_LAKE_BUCKET,
      dataDir: path.join(dataDir, 'scheduler'),
      logger: log,
    });
    started.push({ stop: async () => { await scheduler.stop(); athenaClient.destroy(); } });

    // Compaction: once shortly after start (which also finishes a compaction a crash interrupted),
    // then hourly, as the deployed schedule would. Partitions are touched only once sealed.
    let compacting: Promise<void> | null = null;
    const compactAll = () => {
      compacting ??= (async () => {
        for (const p of opts.pipelines) {
          try {
            const pass = await compactPipeline(s3, DEFAULT_LAKE_BUCKET, p);
            if (pass.compacted.length + pass.recovered.length > 0) log.info('compaction pass', { pipeline: p.name, compacted: pass.compacted.length, recovered: pass.recovered.length });
          } catch (err) {
            log.error('compaction failed', { pipeline: p.name, error: err });
          }
        }
      })().finally(() => (compacting = null));
    };
    const firstCompaction = setTimeout(compactAll, 10_000);
    const hourlyCompaction = setInterval(compactAll, 3_600_000);
    firstCompaction.unref();
    hourlyCompaction.unref();
    started.push({
      stop: async () => {
        clearTimeout(firstCompaction);
        clearInterval(hourlyCompaction);
        await compacting;
      },
    });

    const self = processIdentity(process.pid);
    const info: RuntimeInfo = {
      pid: process.pid,
      ...(self ? { process: self } : {}),
      startedAt: new Date().toISOString(),
      endpoints: {
        ...(services.kinesis ? { kinesis: services.kinesis.endpoint } : {}),
        s3: services.s3!.endpoint,
        ...(services.kafka ? { kafka: services.kafka.endpoint } : {}),
        athena: athena.endpoint,
      },
      lakeBucket: DEFAULT_LAKE_BUCKET,
      failureBucket: FAILURE_BUCKET,
      pipelines: opts.pipelines.map((p) => p.name),
    };
    await writePrivateFileAtomic(runtimeInfoFile(dataDir), JSON.stringify(info, null, 2));

    const status = (): PipelineStatus[] =>
      opts.pipelines.map((p) => ({
        pipeline: p.name,
        source: p.source.kind === 'kinesis' ? `kinesis:${p.source.stream}` : `kafka:${p.source.topic}`,
        counts: { ...counts.get(p.name)! },
        mapping: withBaseline(mappings.get(p.name)?.metrics() ?? null, before.get(p.name)?.mapping),
      }));
    // `shardflow status` in another terminal reads this file, and the next start carries its counters on.
    const countsSince = previous?.countsSince ?? info.startedAt;
    let writingStatus: Promise<void> = Promise.resolve();
    const writeStatus = (): Promise<void> => {
      const body: StatusFile = { at: new Date().toISOString(), countsSince, pipelines: status() };
      writingStatus = writingStatus.then(() => writePrivateFileAtomic(statusFile(dataDir), JSON.stringify(body, null, 2))).catch(() => undefined);
      return writingStatus;
    };
    const statusTimer = setInterval(() => void writeStatus(), 1_000);
    statusTimer.unref();

    let stopping: Promise<void> | null = null;
    return {
      info,
      s3,
      status,
      stop: () =>
        (stopping ??= (async () => {
          clearInterval(statusTimer);
          // Mappings first: each finishes its in-flight batch and checkpoints it.
          for (const m of [...started].reverse()) await m.stop().catch((err: unknown) => log.error('stop failed', { error: err }));
          // After the mappings' last batches, so the next start carries on from these counts.
          await writeStatus();
          kinesis?.destroy();
          await services.stopAll();
          s3.destroy();
          await fs.rm(runtimeInfoFile(dataDir), { force: true });
        })()),
    };
  } catch (err) {
    for (const m of started.reverse()) await m.stop().catch(() => undefined);
    await services.stopAll().catch(() => undefined);
    s3.destroy();
    throw err;
  }
}
