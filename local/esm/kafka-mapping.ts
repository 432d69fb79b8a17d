/**
 * A local Kafka (MSK) event source mapping that behaves like Lambda's: a
 * kafkajs consumer group named after the mapping's UUID (Lambda uses the
 * mapping UUID as the consumer group id), the exact MSKEvent shape, offsets
 * committed (last offset + 1) only once a batch is settled, and the retry,
 * bisect, record-age and on-failure rules of batch-retry.ts.
 *
 * Each invocation holds records of one topic-partition, in offset order; the
 * group's committed offsets are the checkpoint, so a restart resumes where the
 * last settled batch ended.
 */
import { createHash } from 'node:crypto';
import type { MSKEvent, MSKRecord } from 'aws-lambda';
import { Kafka, logLevel, type Consumer, type EachBatchPayload, type IHeaders, type KafkaMessage } from 'kafkajs';
import { compileFilterCriteria, decodeRecordPayload, type FilterableRecord } from '../../core/event-pattern';
import {
  invokeHandler,
  isoMillis,
  MappingStoppedError,
  MAX_INVOKE_PAYLOAD_BYTES,
  processBatch,
  resolveMappingOptions,
  Signal,
  stableMappingUuid,
  type BatchHooks,
  type EventSourceMappingCommonProps,
  type ResolvedMappingOptions,
} from './batch-retry';
import { PartitionCounters, type MappingMetrics } from './metrics';
import type { InvocationFailureRecord } from './on-failure-destination';

export interface KafkaEventSourceMappingProps extends EventSourceMappingCommonProps<MSKEvent> {
  /** Bootstrap brokers, host:port. */
  readonly brokers: readonly string[];
  readonly topic: string;
  /** eventSourceArn of the events. @default arn:aws:kafka:us-east-1:000000000000:cluster/shardflow-local/<uuid> */
  readonly clusterArn?: string;
}

interface PendingMessage {
  readonly record: MSKRecord;
  readonly offset: number;
  readonly arrivalMs: number;
  readonly bytes: number;
  settled: boolean;
}

/** JSON of the event around its records (eventSource, ARNs, the "topic-partition" key). */
const EVENT_OVERHEAD_BYTES = 1_024;
/** Broker wait when there is no batching window, in ms: bounds idle fetch time and stop latency. */
const IDLE_FETCH_WAIT_MS = 500;
/**
 * With a batching window, the fetch asks the broker for at least this many bytes,
 * so it holds the fetch until the window (maxWaitTimeInMs) ends or a large batch is there.
 */
const WINDOW_MIN_BYTES = 1024 * 1024;
/**
 * Partitions whose batches run at once. Lambda processes an MSK topic's partitions
 * concurrently (up to one invocation per partition, each partition in offset order);
 * kafkajs' default of 1 would run them one after another. kafkajs still hands a
 * partition its next batch only after the previous one resolved.
 */
const PARTITIONS_CONCURRENTLY = 16;
const ERROR_BACKOFF_MIN_MS = 200;
const ERROR_BACKOFF_MAX_MS = 10_000;

/**
 * Lambda's header encoding: one object per header, its value as an array of
 * bytes. Lambda's runtime is Java, so the bytes are signed (-128..127).
 */
function encodeHeaders(headers: IHeaders | undefined): MSKRecord['headers'] {
  const out: MSKRecord['headers'] = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      const bytes = Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8');
      out.push({ [name]: [...bytes].map((b) => (b > 127 ? b - 256 : b)) });
    }
  }
  return out;
}

/**
 * Bytes of a record's JSON in the event (for the 6 MB payload limit), without
 * stringifying it: `fixed` is the JSON of the batch's record shape with offset
 * and timestamp 0, value null, no key and no headers (mskRecordFixedBytes); the
 * rest is what varies by record. Base64 and digits need no JSON escaping.
 */
export function mskRecordBytes(r: MSKRecord, fixed: number): number {
  const key = (r as { key?: string }).key;
  return (
    fixed +
    String(r.offset).length - 1 +
    String(r.timestamp).length - 1 +
    (r.value === null ? 0 : r.value.length + 2 - 4) +
    (key === undefined ? 0 : key.length + ',"key":""'.length) +
    (r.headers.length === 0 ? 0 : Buffer.byteLength(JSON.stringify(r.headers)) - 2)
  );
}

export function mskRecordFixedBytes(topic: string, partition: number): number {
  return Buffer.byteLength(JSON.stringify({ topic, partition, offset: 0, timestamp: 0, timestampType: 'CREATE_TIME', value: null, headers: [] }));
}

export class KafkaEventSourceMapping {
  readonly uuid: string;
  readonly options: ResolvedMappingOptions;
  readonly eventSourceArn: string;
  private readonly functionArn: string;
  private readonly bootstrapServers: string;
  private readonly matches: (r: FilterableRecord) => boolean;
  private readonly filtering: boolean;
  private readonly counters = new Map<string, PartitionCounters>();
  private consumer: Consumer | undefined;
  private stopping = false;
  private abandoned = false;
  private readonly stopSignal = new Signal();
  /** Batches being processed, one per partition at most. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly props: KafkaEventSourceMappingProps) {
    const where = `Kafka event source mapping for topic ${props.topic}`;
    if (props.brokers.length === 0) throw new Error(`${where}: brokers must name at least one host:port`);
    this.options = resolveMappingOptions(where, props.options);
    const functionName = props.functionName ?? 'shardflow-stream-processor';
    this.uuid = props.uuid ?? stableMappingUuid(createHash('md5').update(`kafka\0${props.topic}\0${functionName}`).digest('hex'));
    this.functionArn = `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`;
    this.eventSourceArn = props.clusterArn ?? `arn:aws:kafka:us-east-1:000000000000:cluster/shardflow-local/${this.uuid}`;
    this.bootstrapServers = props.brokers.join(',');
    this.filtering = (props.filters?.length ?? 0) > 0;
    this.matches = compileFilterCriteria(props.filters ?? []);
  }

  /** Joins the consumer group and starts consuming. Resolves once the consumer runs. */
  async start(): Promise<void> {
    if (this.consumer) throw new Error(`Kafka event source mapping ${this.uuid} is already started`);
    this.stopping = false;
    this.abandoned = false;
    const o = this.options;
    const kafka = new Kafka({
      clientId: `shardflow-esm-${this.uuid}`,
      brokers: [...this.props.brokers],
      // Errors reach the status view through the counters; kafkajs' own logs would flood a dev terminal.
      logLevel: logLevel.NOTHING,
      connectionTimeout: 5_000,
      requestTimeout: 30_000,
    });
    const consumer = kafka.consumer({
      groupId: this.uuid,
      minBytes: o.batchingWindowMs > 0 ? WINDOW_MIN_BYTES : 1,
      maxWaitTimeInMs: o.batchingWindowMs > 0 ? o.batchingWindowMs : IDLE_FETCH_WAIT_MS,
      maxBytes: MAX_INVOKE_PAYLOAD_BYTES,
      // kafkajs' default 1 MB per partition would split a busy partition's backlog into many
      // fetch round trips, each waiting for the previous batch: let one partition fill the fetch.
      maxBytesPerPartition: MAX_INVOKE_PAYLOAD_BYTES,
      // Lambda retries a failing batch for as long as it takes; the group must not evict us meanwhile.
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
    });
    // Set before run(): the first eachBatch may come before run() resolves, and commits through it.
    this.consumer = consumer;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [this.props.topic], fromBeginning: o.startingPosition === 'TRIM_HORIZON' });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: PARTITIONS_CONCURRENTLY,
        eachBatch: (payload) => {
          const run = this.onBatch(payload);
          const settled = run.catch(() => undefined).finally(() => this.inFlight.delete(settled));
          this.inFlight.add(settled);
          return run;
        },
      });
    } catch (err) {
      this.consumer = undefined;
      await consumer.disconnect().catch(() => undefined);
      throw new Error(`Kafka event source mapping for topic ${this.props.topic} could not start on ${this.bootstrapServers}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Lets the in-flight chunk finish and commit, then leaves the group. After
   * stopTimeoutMs it stops waiting; unsettled records are consumed again later.
   */
  async stop(): Promise<void> {
    const consumer = this.consumer;
    if (!consumer) return;
    this.stopping = true;
    this.stopSignal.notify();
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = this.props.stopTimeoutMs ?? 60_000;
    const timedOut = await Promise.race([
      Promise.all([...this.inFlight]).then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.abandoned = true;
      this.stopSignal.notify();
    }
    await consumer.disconnect().catch((err: unknown) => {
      for (const c of this.counters.values()) c.error(`disconnect failed: ${(err as Error).message}`);
    });
    this.consumer = undefined;
  }

  metrics(): MappingMetrics {
    return {
      uuid: this.uuid,
      eventSourceArn: this.eventSourceArn,
      partitions: [...this.counters.values()].map((c) => c.snapshot()).sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true })),
    };
  }

  private countersFor(id: string): PartitionCounters {
    let c = this.counters.get(id);
    if (!c) this.counters.set(id, (c = new PartitionCounters(id)));
    return c;
  }

  private toRecord(topic: string, partition: number, m: KafkaMessage): MSKRecord {
    const record = {
      topic,
      partition,
      offset: Number(m.offset),
      timestamp: Number(m.timestamp),
      // kafkajs does not expose the batch's timestamp type; topics here use the broker default, CreateTime.
      timestampType: 'CREATE_TIME',
      ...(m.key ? { key: m.key.toString('base64') } : {}),
      value: m.value ? m.value.toString('base64') : null,
      headers: encodeHeaders(m.headers),
    };
    return record as MSKRecord;
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const tp = `${batch.topic}-${batch.partition}`;
    const counters = this.countersFor(tp);
    const o = this.options;

    // Every message of the fetch, in offset order; filtered ones are settled at once.
    const all: PendingMessage[] = [];
    const fixedBytes = mskRecordFixedBytes(batch.topic, batch.partition);
    for (const m of batch.messages) {
      const record = this.toRecord(batch.topic, batch.partition, m);
      counters.m.eventsIn += 1;
      const keep =
        !this.filtering ||
        this.matches({
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          timestamp: record.timestamp,
          timestampType: record.timestampType,
          value: decodeRecordPayload(m.value ? m.value.toString('utf8') : ''),
        } as FilterableRecord);
      if (!keep) counters.m.eventsFiltered += 1;
      all.push({ record, offset: record.offset, arrivalMs: record.timestamp, bytes: mskRecordBytes(record, fixedBytes) + 1, settled: !keep });
    }

    let committed = -1; // index in `all` of the last message behind the commit point
    const commit = async (): Promise<void> => {
      let i = committed;
      while (i + 1 < all.length && all[i + 1]!.settled) i++;
      if (i === committed) return;
      committed = i;
      const next = all[i]!.offset + 1;
      payload.resolveOffset(String(all[i]!.offset));
      await this.consumer?.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(next) }]);
      counters.m.checkpoint = String(next);
      counters.m.recordsBehindLatest = Math.max(0, Number(batch.highWatermark) - next);
    };

    const hooks = this.hooks(tp, counters, payload, commit);
    const kept = all.filter((p) => !p.settled);
    let at = 0;
    try {
      await commit(); // filtered messages at the front
      while (at < kept.length) {
        if (this.stopping || !payload.isRunning() || payload.isStale()) return;
        // A chunk: up to batchSize records and 6 MB of payload.
        const chunk: PendingMessage[] = [];
        let bytes = EVENT_OVERHEAD_BYTES;
        while (at < kept.length && chunk.length < o.batchSize && (chunk.length === 0 || bytes + kept[at]!.bytes <= MAX_INVOKE_PAYLOAD_BYTES)) {
          bytes += kept[at]!.bytes;
          chunk.push(kept[at++]!);
        }
        await processBatch(chunk, hooks);
        await payload.heartbeat();
        this.props.onMetrics?.(this.metrics());
      }
      await commit(); // filtered messages at the end
    } catch (err) {
      if (err instanceof MappingStoppedError) return;
      counters.error(`batch on ${tp} failed: ${(err as Error).message}`);
      throw err;
    } finally {
      this.props.onMetrics?.(this.metrics());
    }
  }

  private hooks(tp: string, counters: PartitionCounters, payload: EachBatchPayload, commit: () => Promise<void>): BatchHooks<PendingMessage> {
    const sleep = async (ms: number): Promise<void> => {
      const until = Date.now() + ms;
      for (;;) {
        if (this.abandoned) throw new MappingStoppedError();
        const left = until - Date.now();
        if (left <= 0) return;
        await this.stopSignal.wait(Math.min(left, 1_000));
        // Long back-offs must not cost the group membership.
        await payload.heartbeat().catch(() => undefined);
      }
    };
    const eventOf = (records: PendingMessage[]): MSKEvent => ({
      eventSource: 'aws:kafka',
      eventSourceArn: this.eventSourceArn,
      bootstrapServers: this.bootstrapServers,
      records: { [tp]: records.map((p) => p.record) },
    });
    return {
      options: this.options,
      arrivalMs: (p) => p.arrivalMs,
      invoke: (records) => invokeHandler(this.props.handler, eventOf(records), records.map((p) => String(p.offset)), this.options.functionTimeoutMs),
      discard: async (records, info) => {
        const dest = this.props.onFailure;
        if (!dest) return;
        const first = records[0]!;
        const last = records[records.length - 1]!;
        const event = eventOf(records);
        const record: InvocationFailureRecord = {
          requestContext: { requestId: info.requestId, functionArn: this.functionArn, condition: info.condition, approximateInvokeCount: info.approximateInvokeCount },
          responseContext: info.response,
          version: '1.0',
          timestamp: new Date().toISOString(),
          KafkaBatchInfo: {
            batchSize: records.length,
            eventSourceArn: this.eventSourceArn,
            bootstrapServers: this.bootstrapServers,
            payloadSize: Buffer.byteLength(JSON.stringify(event)),
            recordsInfo: {
              [tp]: {
                firstRecordOffset: String(first.offset),
                lastRecordOffset: String(last.offset),
                firstRecordTimestamp: isoMillis(first.arrivalMs),
                lastRecordTimestamp: isoMillis(last.arrivalMs),
              },
            },
          },
        };
        let backoff = ERROR_BACKOFF_MIN_MS;
        for (;;) {
          try {
            await dest.deliver({ mappingUuid: this.uuid, source: tp, record, event });
            return;
          } catch (err) {
            counters.error(`on-failure destination ${dest.destination}: ${(err as Error).message}`);
            await sleep(backoff);
            backoff = Math.min(backoff * 2, ERROR_BACKOFF_MAX_MS);
          }
        }
      },
      settle: async (records) => {
        for (const p of records) p.settled = true;
        await commit();
      },
      count: (event, n, detail) => counters.count(event, n, detail),
      sleep,
      abandoned: () => this.abandoned,
    };
  }
}
