/**
 * A local Kinesis event source mapping that behaves like Lambda's: it polls
 * every shard, batches records, filters them with FilterCriteria, invokes the
 * handler with the exact KinesisStreamEvent shape, honours its answer
 * (batch-retry.ts), checkpoints per shard, and sends given-up batches to the
 * on-failure destination.
 *
 * Ordering: one reader per shard; with parallelizationFactor N, records go to
 * N lanes by the MD5 of their partition key (as Kinesis hashes keys), so one
 * key always lands in the same lane and stays in order. The shard checkpoint
 * is the last record before which every record is settled, so a restart never
 * skips one; stop() drains what was read, so a clean restart repeats none.
 */
import { createHash } from 'node:crypto';
import {
  DescribeStreamSummaryCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  type GetShardIteratorCommandInput,
  type KinesisClient,
  type Shard,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { compileFilterCriteria, decodeRecordPayload, type FilterableRecord } from '../../core/event-pattern';
import {
  invokeHandler,
  isoMillis,
  MappingStoppedError,
  processBatch,
  resolveMappingOptions,
  Signal,
  stableMappingUuid,
  type BatchHooks,
  type EventSourceMappingCommonProps,
  type ResolvedMappingOptions,
} from './batch-retry';
import { BatchLane } from './batch-lane';
import type { CheckpointStore, ShardCheckpoint } from './checkpoint-store';
import { getRecordsRaw, type RawKinesisRecord } from './kinesis-raw-records';
import { PartitionCounters, type MappingMetrics } from './metrics';
import type { InvocationFailureRecord } from './on-failure-destination';

export interface KinesisEventSourceMappingProps extends EventSourceMappingCommonProps<KinesisStreamEvent> {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  /** Where shard checkpoints live (FileCheckpointStore for `<dataDir>/<uuid>.json`). */
  readonly checkpoints: CheckpointStore;
  /** @default arn:aws:iam::<stream account>:role/shardflow-local */
  readonly invokeIdentityArn?: string;
  /** Interval between ListShards calls that pick up new shards after a reshard, in ms. @default 10000 */
  readonly shardDiscoveryIntervalMs?: number;
}

/** Lane of a partition key: MD5 of the key as a 128-bit number (Kinesis' hash key), modulo the lane count. */
export function partitionKeyLane(partitionKey: string, lanes: number): number {
  if (lanes <= 1) return 0;
  const hash = BigInt(`0x${createHash('md5').update(partitionKey, 'utf8').digest('hex')}`);
  return Number(hash % BigInt(lanes));
}

/** Kinesis GetRecords returns at most 10,000 records per call (Kinesis API reference). */
const GET_RECORDS_LIMIT = 10_000;
/**
 * Idle polling: Lambda polls an idle shard about once per second. Locally a poll
 * of an idle shard costs the emulator well under a millisecond, while every ms
 * of poll interval is latency the first events of a send wait before they are
 * read: poll an idle shard every 50 ms at first, backing off to 250 ms.
 */
const IDLE_POLL_MIN_MS = 50;
const IDLE_POLL_MAX_MS = 250;
/**
 * endWindowWhenQuiet: the shard counts as quiet once a poll came back empty and no
 * record has been read for this long (the idle poll that follows an empty one), so a
 * momentary gap between a producer's PutRecords calls does not cut a batch.
 */
const QUIET_MS = IDLE_POLL_MIN_MS;
/** Back-off after a throttle or error, in ms (doubles up to the max). */
const ERROR_BACKOFF_MIN_MS = 200;
const ERROR_BACKOFF_MAX_MS = 5_000;
/** JSON of `{"Records":[]}` plus separators: the event's own bytes beside its records. */
const EVENT_OVERHEAD_BYTES = 16;

interface PendingRecord {
  readonly record: KinesisStreamRecord;
  readonly seq: string;
  readonly arrivalMs: number;
  readonly bytes: number;
  /** When the record was read into its lane (Date.now()): its batch's window runs from here. */
  readonly readAt: number;
  settled: boolean;
}

/** A queue of records for one lane, with Lambda's batching window (batch-lane.ts). */
class Lane extends BatchLane<PendingRecord> {
  /** @param quiet whether the shard has gone quiet (endWindowWhenQuiet). */
  constructor(private readonly quiet: () => boolean = () => false) {
    // Records read before a stop are still handed out: stop() drains what was read.
    super(EVENT_OVERHEAD_BYTES, true);
  }

  push(p: PendingRecord): void {
    this.enqueue(p);
    this.signal.notify();
  }

  /** The shard's state changed (a poll came back empty): a waiting window looks again. */
  poke(): void {
    this.signal.notify();
  }

  // Quiet is known only when a poll comes back empty, which pokes the lane: until then, wait for the window.
  protected quietIn(): number | undefined {
    return this.quiet() ? 0 : undefined;
  }
}

/**
 * Bytes of a record's JSON that vary from record to record of one shard; the
 * rest (ARNs, region, shard id, field names) is the same for all of them, so a
 * shard reader measures it once instead of stringifying every record for the
 * 6 MB payload limit. Base64, digits and numbers need no JSON escaping.
 */
export function kinesisRecordVariableBytes(r: KinesisStreamRecord): number {
  const k = r.kinesis;
  return Buffer.byteLength(JSON.stringify(k.partitionKey)) + k.data.length + 2 * k.sequenceNumber.length + String(k.approximateArrivalTimestamp).length;
}

interface StreamIdentity {
  readonly arn: string;
  readonly region: string;
  readonly account: string;
}

export class KinesisEventSourceMapping {
  readonly uuid: string;
  readonly options: ResolvedMappingOptions;
  private functionArn = '';
  private readonly matches: (r: FilterableRecord) => boolean;
  private readonly filtering: boolean;
  private stream: StreamIdentity | undefined;
  private readonly readers = new Map<string, ShardReader>();
  private readonly counters = new Map<string, PartitionCounters>();
  private running = false;
  private stopping = false;
  private abandonedFlag = false;
  private readonly stopSignal = new Signal();
  private discovery: Promise<void> | undefined;

  constructor(private readonly props: KinesisEventSourceMappingProps) {
    const where = `Kinesis event source mapping for stream ${props.streamName}`;
    this.options = resolveMappingOptions(where, props.options);
    const functionName = props.functionName ?? 'shardflow-stream-processor';
    this.uuid = props.uuid ?? stableMappingUuid(createHash('md5').update(`kinesis\0${props.streamName}\0${functionName}`).digest('hex'));
    this.filtering = (props.filters?.length ?? 0) > 0;
    // Compiling here rejects a bad pattern when the mapping is created, as Lambda does.
    this.matches = compileFilterCriteria(props.filters ?? []);
  }

  get eventSourceArn(): string {
    return this.stream?.arn ?? '';
  }

  /** Resolves the stream, reads checkpoints and starts one reader per shard. Resolves once polling has begun. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`Kinesis event source mapping ${this.uuid} is already started`);
    this.running = true;
    this.stopping = false;
    this.abandonedFlag = false;
    try {
      const summary = await this.props.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: this.props.streamName }));
      const arn = summary.StreamDescriptionSummary?.StreamARN;
      if (!arn) throw new Error(`DescribeStreamSummary for stream ${this.props.streamName} returned no StreamARN`);
      const parts = arn.split(':');
      this.stream = { arn, region: parts[3] || 'us-east-1', account: parts[4] || '000000000000' };
      this.functionArn = `arn:aws:lambda:${this.stream.region}:${this.stream.account}:function:${this.props.functionName ?? 'shardflow-stream-processor'}`;
      await this.discoverShards(await this.props.checkpoints.load(), true);
    } catch (err) {
      this.running = false;
      throw err;
    }
    this.discovery = this.discoveryLoop();
  }

  /**
   * Stops reading, lets every lane finish the records already read (so the
   * checkpoint covers them), writes the last checkpoints. After stopTimeoutMs
   * it stops waiting: unsettled records are read again at the next start.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    this.stopSignal.notify();
    const all = Promise.all([...this.readers.values()].map((r) => r.done)).then(() => this.discovery);
    const timeoutMs = this.props.stopTimeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.abandonedFlag = true;
      this.stopSignal.notify();
    }
    this.readers.clear();
    this.running = false;
  }

  metrics(): MappingMetrics {
    return {
      uuid: this.uuid,
      eventSourceArn: this.eventSourceArn,
      partitions: [...this.counters.values()].map((c) => c.snapshot()).sort((a, b) => a.id.localeCompare(b.id)),
    };
  }

  // ---- internals shared with ShardReader -----------------------------------

  /** @internal */
  get isStopping(): boolean {
    return this.stopping;
  }

  /** @internal */
  get isAbandoned(): boolean {
    return this.abandonedFlag;
  }

  /** @internal Waits up to ms, cut short by stop(). */
  waitOrStop(ms: number): Promise<void> {
    return this.stopSignal.wait(ms);
  }

  /** @internal */
  emitMetrics(): void {
    this.props.onMetrics?.(this.metrics());
  }

  private async discoveryLoop(): Promise<void> {
    const every = this.props.shardDiscoveryIntervalMs ?? 10_000;
    while (!this.stopping) {
      await this.waitOrStop(every);
      if (this.stopping) return;
      try {
        await this.discoverShards(await this.props.checkpoints.load(), false);
      } catch (err) {
        for (const c of this.counters.values()) c.error(`ListShards failed: ${(err as Error).message}`);
      }
    }
  }

  private async listShards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let token: string | undefined;
    do {
      const out = await this.props.kinesis.send(
        token ? new ListShardsCommand({ NextToken: token }) : new ListShardsCommand({ StreamName: this.props.streamName }),
      );
      shards.push(...(out.Shards ?? []));
      token = out.NextToken;
    } while (token);
    return shards;
  }

  private async discoverShards(checkpoints: ReadonlyMap<string, ShardCheckpoint>, initial: boolean): Promise<void> {
    for (const shard of await this.listShards()) {
      const id = shard.ShardId!;
      if (this.readers.has(id)) continue;
      const cp = checkpoints.get(id);
      if (cp?.closed) continue;
      const parent = shard.ParentShardId ? this.readers.get(shard.ParentShardId) : undefined;
      let counters = this.counters.get(id);
      if (!counters) this.counters.set(id, (counters = new PartitionCounters(id)));
      if (cp?.sequenceNumber) counters.m.checkpoint = cp.sequenceNumber;
      // Shards created by a reshard after the start are read from their beginning, after their parent (as Lambda does).
      const position: GetShardIteratorCommandInput['ShardIteratorType'] = initial ? this.options.startingPosition : 'TRIM_HORIZON';
      const reader = new ShardReader(this, id, cp?.sequenceNumber, position, parent?.done, counters);
      this.readers.set(id, reader);
      reader.start();
    }
  }

  /** @internal */
  get ctx(): {
    props: KinesisEventSourceMappingProps;
    stream: StreamIdentity;
    functionArn: string;
    filtering: boolean;
    matches: (r: FilterableRecord) => boolean;
  } {
    return { props: this.props, stream: this.stream!, functionArn: this.functionArn, filtering: this.filtering, matches: this.matches };
  }
}

/** Reads one shard and runs its lanes. */
class ShardReader {
  done!: Promise<void>;
  private readonly lanes: Lane[];
  /** Records read and not yet behind the checkpoint, in shard order. */
  private inflight: PendingRecord[] = [];
  private readonly progress = new Signal();
  private checkpointSeq: string | undefined;
  private lastReadSeq: string | undefined;
  private shardEnded = false;
  /** JSON bytes every record of this shard has beside kinesisRecordVariableBytes. */
  private fixedRecordBytes: number | undefined;
  /** Date.now() of the last poll that returned records, and whether the latest poll returned none. */
  private lastRecordsAt = 0;
  private lastPollEmpty = false;

  constructor(
    private readonly mapping: KinesisEventSourceMapping,
    private readonly shardId: string,
    checkpoint: string | undefined,
    private readonly startPosition: GetShardIteratorCommandInput['ShardIteratorType'],
    private readonly parentDone: Promise<void> | undefined,
    private readonly counters: PartitionCounters,
  ) {
    this.checkpointSeq = checkpoint;
    this.lastReadSeq = checkpoint;
    const quiet = (): boolean => this.lastPollEmpty && Date.now() - this.lastRecordsAt >= QUIET_MS;
    this.lanes = Array.from({ length: mapping.options.parallelizationFactor }, () => new Lane(quiet));
  }

  start(): void {
    this.done = this.run().catch((err: unknown) => {
      if (!(err instanceof MappingStoppedError)) this.counters.error(`shard reader stopped: ${(err as Error).message}`);
    });
  }

  /** Records read ahead of the checkpoint: enough for every lane to fill a batch twice. */
  private get readAhead(): number {
    const o = this.mapping.options;
    return Math.min(o.batchSize * o.parallelizationFactor * 2, 100_000);
  }

  private async run(): Promise<void> {
    if (this.parentDone) await this.parentDone;
    const workers = this.lanes.map((lane) => this.laneLoop(lane));
    try {
      await this.pollLoop();
    } finally {
      for (const lane of this.lanes) lane.close();
      await Promise.all(workers);
    }
    if (this.shardEnded && this.inflight.length === 0 && !this.mapping.isAbandoned) {
      await this.mapping.ctx.props.checkpoints.save(this.shardId, { sequenceNumber: this.checkpointSeq, closed: true });
    }
  }

  private async iterator(): Promise<string | undefined> {
    const { props } = this.mapping.ctx;
    const input: GetShardIteratorCommandInput = this.lastReadSeq
      ? { StreamName: props.streamName, ShardId: this.shardId, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: this.lastReadSeq }
      : { StreamName: props.streamName, ShardId: this.shardId, ShardIteratorType: this.startPosition };
    let backoff = ERROR_BACKOFF_MIN_MS;
    while (!this.mapping.isStopping) {
      try {
        const out = await props.kinesis.send(new GetShardIteratorCommand(input));
        return out.ShardIterator;
      } catch (err) {
        this.counters.error(`GetShardIterator(${input.ShardIteratorType}) on ${this.shardId} failed: ${(err as Error).message}`);
        await this.mapping.waitOrStop(backoff);
        backoff = Math.min(backoff * 2, ERROR_BACKOFF_MAX_MS);
      }
    }
    return undefined;
  }

  private async pollLoop(): Promise<void> {
    const { props } = this.mapping.ctx;
    let iterator = await this.iterator();
    let idle = IDLE_POLL_MIN_MS;
    let backoff = ERROR_BACKOFF_MIN_MS;
    while (!this.mapping.isStopping && iterator) {
      const room = this.readAhead - this.inflight.length;
      if (room <= 0) {
        await this.progress.wait(250);
        continue;
      }
      let out;
      try {
        out = await getRecordsRaw(props.kinesis, iterator, Math.min(GET_RECORDS_LIMIT, room));
        backoff = ERROR_BACKOFF_MIN_MS;
      } catch (err) {
        const name = (err as Error).name;
        this.counters.error(`GetRecords on ${this.shardId} failed: ${name}: ${(err as Error).message}`);
        this.mapping.emitMetrics();
        if (name === 'ExpiredIteratorException') {
          iterator = await this.iterator();
          continue;
        }
        // Throttles (ProvisionedThroughputExceeded, LimitExceeded) and other errors: back off and retry.
        await this.mapping.waitOrStop(backoff);
        backoff = Math.min(backoff * 2, ERROR_BACKOFF_MAX_MS);
        continue;
      }
      const records = out.records;
      if (out.millisBehindLatest !== undefined) this.counters.m.millisBehindLatest = out.millisBehindLatest;
      if (records.length > 0) {
        this.lastRecordsAt = Date.now();
        this.lastPollEmpty = false;
        this.accept(records);
      } else {
        this.lastPollEmpty = true;
        if (this.mapping.options.endWindowWhenQuiet) for (const lane of this.lanes) lane.poke();
      }
      this.mapping.emitMetrics();
      iterator = out.nextShardIterator;
      if (!iterator) {
        this.shardEnded = true; // a closed shard (after a split or merge) has no next iterator once read to its end
        return;
      }
      if (records.length === 0) {
        await this.mapping.waitOrStop(idle);
        idle = Math.min(idle * 2, IDLE_POLL_MAX_MS);
      } else {
        idle = IDLE_POLL_MIN_MS;
      }
    }
  }

  private accept(records: RawKinesisRecord[]): void {
    const { stream, filtering, matches } = this.mapping.ctx;
    const invokeIdentityArn = this.mapping.ctx.props.invokeIdentityArn ?? `arn:aws:iam::${stream.account}:role/shardflow-local`;
    let filteredAny = false;
    for (const r of records) {
      const seq = r.sequenceNumber;
      const arrivalMs = r.arrivalMs;
      const record: KinesisStreamRecord = {
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: r.partitionKey,
          sequenceNumber: seq,
          data: r.data,
          // Lambda gives seconds since the epoch with a millisecond fraction.
          approximateArrivalTimestamp: arrivalMs / 1000,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${this.shardId}:${seq}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn,
        awsRegion: stream.region,
        eventSourceARN: stream.arn,
      };
      this.lastReadSeq = seq;
      this.counters.m.eventsIn += 1;
      const keep =
        !filtering ||
        matches({
          kinesisSchemaVersion: '1.0',
          partitionKey: record.kinesis.partitionKey,
          sequenceNumber: seq,
          approximateArrivalTimestamp: record.kinesis.approximateArrivalTimestamp,
          data: decodeRecordPayload(Buffer.from(r.data, 'base64').toString('utf8')),
        } as FilterableRecord);
      const variable = kinesisRecordVariableBytes(record);
      this.fixedRecordBytes ??= Buffer.byteLength(JSON.stringify(record)) - variable;
      const pending: PendingRecord = { record, seq, arrivalMs, bytes: this.fixedRecordBytes + variable + 1, readAt: Date.now(), settled: !keep };
      this.inflight.push(pending);
      if (keep) this.lanes[partitionKeyLane(record.kinesis.partitionKey, this.lanes.length)]!.push(pending);
      else {
        this.counters.m.eventsFiltered += 1;
        filteredAny = true;
      }
    }
    if (filteredAny) void this.advance().catch((err: unknown) => this.counters.error(`checkpoint write failed: ${(err as Error).message}`));
  }

  /** Moves the checkpoint past every settled record at the front and persists it. */
  private async advance(): Promise<void> {
    let moved = false;
    while (this.inflight.length > 0 && this.inflight[0]!.settled) {
      this.checkpointSeq = this.inflight.shift()!.seq;
      moved = true;
    }
    this.progress.notify();
    if (!moved || this.checkpointSeq === undefined) return;
    this.counters.m.checkpoint = this.checkpointSeq;
    await this.mapping.ctx.props.checkpoints.save(this.shardId, { sequenceNumber: this.checkpointSeq });
  }

  private async laneLoop(lane: Lane): Promise<void> {
    const hooks = this.hooks();
    for (;;) {
      const batch = await lane.take(this.mapping.options);
      if (batch.length === 0) return;
      await processBatch(batch, hooks);
      this.mapping.emitMetrics();
    }
  }

  private hooks(): BatchHooks<PendingRecord> {
    const { props, functionArn, stream } = this.mapping.ctx;
    const mapping = this.mapping;
    return {
      options: mapping.options,
      arrivalMs: (p) => p.arrivalMs,
      invoke: (records) =>
        invokeHandler(props.handler, { Records: records.map((p) => p.record) }, records.map((p) => p.seq), mapping.options.functionTimeoutMs),
      discard: async (records, info) => {
        if (!props.onFailure) return;
        const first = records[0]!;
        const last = records[records.length - 1]!;
        const record: InvocationFailureRecord = {
          requestContext: { requestId: info.requestId, functionArn, condition: info.condition, approximateInvokeCount: info.approximateInvokeCount },
          responseContext: info.response,
          version: '1.0',
          timestamp: new Date().toISOString(),
          KinesisBatchInfo: {
            shardId: this.shardId,
            startSequenceNumber: first.seq,
            endSequenceNumber: last.seq,
            approximateArrivalOfFirstRecord: isoMillis(first.arrivalMs),
            approximateArrivalOfLastRecord: isoMillis(last.arrivalMs),
            batchSize: records.length,
            streamArn: stream.arn,
          },
        };
        const event: KinesisStreamEvent = { Records: records.map((p) => p.record) };
        // Lambda keeps trying to deliver; the shard waits meanwhile (its checkpoint cannot pass these records).
        let backoff = ERROR_BACKOFF_MIN_MS;
        for (;;) {
          try {
            await props.onFailure.deliver({ mappingUuid: mapping.uuid, source: this.shardId, record, event });
            return;
          } catch (err) {
            this.counters.error(`on-failure destination ${props.onFailure.destination}: ${(err as Error).message}`);
            await this.sleepUnlessAbandoned(backoff);
            backoff = Math.min(backoff * 2, ERROR_BACKOFF_MAX_MS * 2);
          }
        }
      },
      settle: async (records) => {
        for (const p of records) p.settled = true;
        await this.advance();
      },
      count: (event, n, detail) => this.counters.count(event, n, detail),
      sleep: (ms) => this.sleepUnlessAbandoned(ms),
      abandoned: () => mapping.isAbandoned,
    };
  }

  /** Retry back-off: cut short (with MappingStoppedError) only when stop() gives up on in-flight work. */
  private async sleepUnlessAbandoned(ms: number): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      if (this.mapping.isAbandoned) throw new MappingStoppedError();
      const left = until - Date.now();
      if (left <= 0) return;
      await this.mapping.waitOrStop(Math.min(left, 250));
    }
  }
}
