/**
 * The batching both local event source mappings share: records wait in a lane
 * until a batch is full (batchSize, or the 6 MB invoke payload), or its window
 * has run out, or (endWindowWhenQuiet) the source has gone quiet with enough
 * records gathered. As on Lambda, the window runs from the moment the batch's
 * first record was read, not from the take: records that queued while the
 * previous batch was in the handler have been gathering all that time.
 *
 * What "quiet" means is the source's (quietIn): Kinesis, a GetRecords came back
 * empty and nothing was read for a while; Kafka, a fetch reached the high
 * watermark and no record came for a while.
 */
import { EARLY_WINDOW_END_MIN_RECORDS, MAX_INVOKE_PAYLOAD_BYTES, Signal, type ResolvedMappingOptions } from './batch-retry';

export interface LaneRecord {
  /** The record's bytes in the invoke payload. */
  readonly bytes: number;
  /** When it was read (Date.now()): its batch's window runs from here. */
  readonly readAt: number;
}

export abstract class BatchLane<T extends LaneRecord> {
  protected queue: T[] = [];
  protected queuedBytes = 0;
  protected closed = false;
  protected readonly signal = new Signal();

  /**
   * @param eventOverheadBytes the payload's bytes beside its records
   * @param drainOnClose whether take() still hands out what is queued once closed (else [])
   */
  constructor(
    private readonly eventOverheadBytes: number,
    private readonly drainOnClose: boolean,
  ) {}

  /** Milliseconds until the source counts as quiet (≤ 0: quiet now); undefined while it cannot be. */
  protected abstract quietIn(now: number): number | undefined;

  /** Called after a batch is taken. */
  protected taken(_o: ResolvedMappingOptions): void {}

  protected enqueue(p: T): void {
    this.queue.push(p);
    this.queuedBytes += p.bytes;
  }

  close(): void {
    this.closed = true;
    this.signal.notify();
  }

  /** A whole next batch is queued. */
  full(o: ResolvedMappingOptions): boolean {
    return this.queue.length >= o.batchSize || this.queuedBytes + this.eventOverheadBytes >= MAX_INVOKE_PAYLOAD_BYTES;
  }

  /** The next batch (see the module comment); [] once the lane is closed (and, with drainOnClose, empty). */
  async take(o: ResolvedMappingOptions): Promise<T[]> {
    while (this.queue.length === 0) {
      if (this.closed) return [];
      await this.signal.wait(1_000);
    }
    const deadline = this.queue[0]!.readAt + o.batchingWindowMs;
    const early = o.endWindowWhenQuiet ? Math.min(o.batchSize, EARLY_WINDOW_END_MIN_RECORDS) : Infinity;
    while (!this.closed && !this.full(o)) {
      const now = Date.now();
      let wait = deadline - now;
      if (wait <= 0) break;
      if (this.queue.length >= early) {
        const quietIn = this.quietIn(now);
        if (quietIn !== undefined) {
          if (quietIn <= 0) break;
          wait = Math.min(wait, quietIn);
        }
      }
      await this.signal.wait(wait);
    }
    if (this.closed && !this.drainOnClose) return [];
    let n = 0;
    let bytes = this.eventOverheadBytes;
    while (n < this.queue.length && n < o.batchSize && (n === 0 || bytes + this.queue[n]!.bytes <= MAX_INVOKE_PAYLOAD_BYTES)) bytes += this.queue[n++]!.bytes;
    const out = this.queue.splice(0, n);
    this.queuedBytes -= bytes - this.eventOverheadBytes;
    this.taken(o);
    return out;
  }
}
