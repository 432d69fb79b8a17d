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
import { BatchLane } from './batch-lane';
import { PartitionCounters, type MappingMetrics } from './metrics';
import type { InvocationFailureRecord } from './on-failure-destination';

export interface KafkaEventSourceMappingProps extends EventSourceMappingCommonProps<MSKEvent> {
  /** Bootstrap brokers, host:port. */
  readonly brokers: readonly string[];
  readonly topic: string;
  /** eventSourceArn of the events. @default arn:aws:kafka:us-east-1:000000000000:cluster/shardflow-local/<uuid> */
  readonly clusterArn?: string;
  /** How long a partition read to its high watermark must go without a new record to count as quiet (endWindowWhenQuiet), ms. @default 50 */
  readonly quietMs?: number;
}

interface PendingMessage {
  readonly record: MSKRecord;
  readonly offset: number;
  readonly arrivalMs: number;
  readonly bytes: number;
  /** When the record was fetched (Date.now()): its batch's window runs from here. */
  readonly readAt: number;
  settled: boolean;
}

/** JSON of the event around its records (eventSource, ARNs, the "topic-partition" key). */
const EVENT_OVERHEAD_BYTES = 1_024;
/**
 * The broker's longest wait on a fetch, in ms. Fetches ask for 1 byte, so the broker answers as
 * soon as a partition has anything new; the batching window is the partition lane's (PartitionLane),
 * not the fetch's, and a window gathers records across as many fetches as it takes. This bounds
 * how long stop() waits for a fetch of an idle topic.
 */
const FETCH_WAIT_MS = 100;
/**
 * endWindowWhenQuiet: a partition counts as quiet once its last fetch read it to the high
 * watermark and no fetch has brought it a record for this long. A producer sending without
 * pause adds records every few ms, so a short gap between its requests does not cut a batch.
 */
const QUIET_MS = 50;
/**
 * Partitions whose batches run at once. Lambda processes an MSK topic's partitions
 * concurrently (up to one invocation per partition, each partition in offset order);
 * kafkajs' default of 1 would hand the fetched batches out one after another.
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

/**
 * One topic-partition's records between the fetch and the handler. kafkajs hands each fetch's
 * records to eachBatch, which queues them here and returns, so the consumer fetches on while the
 * handler runs; the lane's worker takes batches with Lambda's rules and commits as they settle.
 * A full queue (a next batch's worth) pauses the partition's fetches until the worker takes it.
 */
class PartitionLane extends BatchLane<PendingMessage> {
  // The queue (BatchLane's) holds the records for the handler (not filtered out), fetched and not yet in a batch, in offset order.
  /** Every fetched record behind no commit yet, filtered ones included (settled at once), in offset order. */
  private pending: PendingMessage[] = [];
  private committedUpTo = 0;
  /** Offset after the last record taken from a fetch: a fetch that reads from before it again (after a rejoin) is skipped up to it. */
  next = -1;
  highWatermark = 0;
  /** The last fetch read the partition to its high watermark. */
  private caughtUp = false;
  private lastFetchAt = 0;
  private resume: (() => void) | undefined;
  private commits: Promise<void> = Promise.resolve();
  worker: Promise<void> = Promise.resolve();

  constructor(
    readonly tp: string,
    private readonly quietMs: number,
  ) {
    // A closed lane hands out nothing more: what it holds is behind no commit and is fetched again.
    super(EVENT_OVERHEAD_BYTES, false);
  }

  /** Records of one fetch (offset order, none before `next`), and where the partition's log ended then. */
  push(records: readonly PendingMessage[], lastOffset: number, highWatermark: number, now: number): void {
    for (const p of records) {
      this.pending.push(p);
      if (!p.settled) this.enqueue(p);
    }
    this.next = Math.max(this.next, lastOffset + 1);
    this.highWatermark = highWatermark;
    this.caughtUp = lastOffset + 1 >= highWatermark;
    if (records.length > 0) this.lastFetchAt = now;
    this.signal.notify();
  }

  pauseUntilTaken(resume: () => void): void {
    this.resume ??= resume;
  }

  private resumeFetching(): void {
    const r = this.resume;
    this.resume = undefined;
    r?.();
  }

  /**
   * The group was joined again: kafkajs fetches again from the committed offsets. Records not yet
   * in a batch are dropped (fetched again); those in a batch or settled stay, and are skipped when
   * fetched again.
   */
  rewind(): void {
    const first = this.queue[0];
    if (first) {
      const keep = this.pending.findIndex((p) => p.offset >= first.offset);
      this.pending.length = keep < 0 ? this.pending.length : keep;
      this.next = first.offset;
    }
    this.queue = [];
    this.queuedBytes = 0;
    this.caughtUp = false;
    this.resumeFetching();
  }

  /** Drops every record behind no commit, once no commit runs; returns the offset to fetch them again from. */
  async reset(): Promise<number> {
    await this.commits;
    const offset = this.pending[this.committedUpTo]?.offset ?? this.next;
    this.pending.length = this.committedUpTo;
    this.queue = [];
    this.queuedBytes = 0;
    this.next = offset;
    this.caughtUp = false;
    this.resumeFetching();
    return offset;
  }

  // Quiet: the last fetch read the partition to its high watermark, and no record came for quietMs.
  protected quietIn(now: number): number | undefined {
    return this.caughtUp ? this.lastFetchAt + this.quietMs - now : undefined;
  }

  // A next batch queued in full pauses this partition's fetches (fetching more only fills memory); taking it resumes them.
  protected override taken(o: ResolvedMappingOptions): void {
    if (!this.full(o)) this.resumeFetching();
  }

  /**
   * Commits past every settled record at the front (last offset + 1), one commit at a time so a
   * later offset never lands before an earlier one. `send` retries until it succeeds or throws.
   */
  commit(send: (offset: number) => Promise<void>): Promise<void> {
    const run = this.commits.then(async () => {
      let i = this.committedUpTo;
      while (i < this.pending.length && this.pending[i]!.settled) i++;
      if (i === this.committedUpTo) return;
      await send(this.pending[i - 1]!.offset + 1);
      this.committedUpTo = i;
      if (i > 4_096) {
        this.pending.splice(0, i);
        this.committedUpTo = 0;
      }
    });
    this.commits = run.catch(() => undefined);
    return run;
  }
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
  /** Per topic-partition ("topic-partition"), from its first fetch. */
  private readonly lanes = new Map<string, PartitionLane>();
  /** endWindowWhenQuiet's QUIET_MS; a prop only so that tests can tell a quiet end from a full window. */
  private readonly quietMs: number;

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
    this.quietMs = props.quietMs ?? QUIET_MS;
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
      minBytes: 1,
      maxWaitTimeInMs: FETCH_WAIT_MS,
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
    // A (re)join makes kafkajs fetch again from the committed offsets (a new generation's offset
    // manager); the lanes drop what they had not batched yet, and lanes of partitions no longer
    // assigned end once their batch in the handler has settled.
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const assigned = new Set((payload.memberAssignment[this.props.topic] ?? []).map((p) => `${this.props.topic}-${p}`));
      for (const [tp, lane] of this.lanes) {
        lane.rewind();
        if (!assigned.has(tp)) {
          lane.close();
          this.lanes.delete(tp);
        }
      }
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [this.props.topic], fromBeginning: o.startingPosition === 'TRIM_HORIZON' });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: PARTITIONS_CONCURRENTLY,
        eachBatch: async (payload) => this.onBatch(payload),
      });
    } catch (err) {
      this.consumer = undefined;
      await consumer.disconnect().catch(() => undefined);
      throw new Error(`Kafka event source mapping for topic ${this.props.topic} could not start on ${this.bootstrapServers}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Lets the batches in the handler finish and commit, then leaves the group. After
   * stopTimeoutMs it stops waiting; unsettled records are consumed again later.
   */
  async stop(): Promise<void> {
    const consumer = this.consumer;
    if (!consumer) return;
    this.stopping = true;
    this.stopSignal.notify();
    const lanes = [...this.lanes.values()];
    for (const lane of lanes) lane.close();
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = this.props.stopTimeoutMs ?? 60_000;
    const timedOut = await Promise.race([
      Promise.all(lanes.map((l) => l.worker)).then(() => false),
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
    this.lanes.clear();
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

  /** A fetch's records of one partition: into its lane; the lane's worker batches them. */
  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (this.stopping) return;
    const tp = `${batch.topic}-${batch.partition}`;
    const counters = this.countersFor(tp);
    let lane = this.lanes.get(tp);
    if (!lane) {
      const created = new PartitionLane(tp, this.quietMs);
      this.lanes.set(tp, created);
      // runLane handles its batches' errors; anything else must not become an unhandled rejection in dev.
      created.worker = this.runLane(created, batch.topic, batch.partition, counters).catch((err: unknown) => counters.error(`lane ${tp} ended: ${(err as Error).message}`));
      lane = created;
    }
    const now = Date.now();
    const out: PendingMessage[] = [];
    const fixedBytes = mskRecordFixedBytes(batch.topic, batch.partition);
    for (const m of batch.messages) {
      const offset = Number(m.offset);
      if (offset < lane.next) continue; // fetched again after a rejoin: already in a batch or settled
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
      out.push({ record, offset, arrivalMs: record.timestamp, bytes: mskRecordBytes(record, fixedBytes) + 1, readAt: now, settled: !keep });
    }
    const last = Number(batch.lastOffset());
    lane.push(out, last, Number(batch.highWatermark), now);
    // The fetch position only: the group's committed offset moves when a batch settles.
    payload.resolveOffset(batch.lastOffset());
    if (lane.full(this.options)) lane.pauseUntilTaken(payload.pause());
    // Filtered records at the front of the lane need no batch to be committed past.
    if (out.some((p) => p.settled)) void lane.commit((offset) => this.commitOffset(lane, batch.topic, batch.partition, counters, offset)).catch(() => undefined);
  }

  /** A lane's worker: batches one after another, in offset order, until the lane closes. */
  private async runLane(lane: PartitionLane, topic: string, partition: number, counters: PartitionCounters): Promise<void> {
    const commit = (): Promise<void> => lane.commit((offset) => this.commitOffset(lane, topic, partition, counters, offset));
    const hooks = this.hooks(lane.tp, counters, commit);
    for (;;) {
      const chunk = await lane.take(this.options);
      if (chunk.length === 0 || this.stopping) return;
      try {
        await processBatch(chunk, hooks);
      } catch (err) {
        if (err instanceof MappingStoppedError) return;
        // Not the handler's failure (processBatch deals with those): after a back-off, read the
        // partition again from the first record behind no commit, as a restarted consumer would.
        counters.error(`batch on ${lane.tp} failed: ${(err as Error).message}`);
        await this.stopSignal.wait(ERROR_BACKOFF_MIN_MS);
        if (this.stopping) return;
        const offset = await lane.reset();
        this.consumer?.seek({ topic, partition, offset: String(offset) });
      } finally {
        this.props.onMetrics?.(this.metrics());
      }
    }
  }

  /** Commits `offset` for the partition, retrying with back-off until it succeeds or the mapping is abandoned. */
  private async commitOffset(lane: PartitionLane, topic: string, partition: number, counters: PartitionCounters, offset: number): Promise<void> {
    let backoff = ERROR_BACKOFF_MIN_MS;
    for (;;) {
      const consumer = this.consumer;
      if (!consumer) throw new MappingStoppedError();
      try {
        await consumer.commitOffsets([{ topic, partition, offset: String(offset) }]);
        counters.m.checkpoint = String(offset);
        counters.m.recordsBehindLatest = Math.max(0, lane.highWatermark - offset);
        return;
      } catch (err) {
        counters.error(`commit of ${lane.tp} at ${offset} failed: ${(err as Error).message}`);
        if (this.abandoned) throw new MappingStoppedError();
        await this.stopSignal.wait(backoff);
        backoff = Math.min(backoff * 2, ERROR_BACKOFF_MAX_MS);
      }
    }
  }

  private hooks(tp: string, counters: PartitionCounters, commit: () => Promise<void>): BatchHooks<PendingMessage> {
    const sleep = async (ms: number): Promise<void> => {
      const until = Date.now() + ms;
      for (;;) {
        if (this.abandoned) throw new MappingStoppedError();
        const left = until - Date.now();
        if (left <= 0) return;
        // The consumer heartbeats meanwhile: its fetches go on while a lane's batch waits.
        await this.stopSignal.wait(Math.min(left, 1_000));
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
