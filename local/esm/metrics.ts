/** Per-shard (Kinesis) or per-partition (Kafka) counters of a mapping, for `shardflow status`. */

export interface PartitionMetrics {
  /** Shard id (Kinesis) or "topic-partition" (Kafka). */
  readonly id: string;
  /** Kinesis: MillisBehindLatest of the last GetRecords; null before the first read or for Kafka. */
  readonly millisBehindLatest: number | null;
  /** Kafka: high watermark minus the next offset to read; null when unknown or for Kinesis. */
  readonly recordsBehindLatest: number | null;
  /** Records read from the source. */
  readonly eventsIn: number;
  /** Records dropped by FilterCriteria before any invocation. */
  readonly eventsFiltered: number;
  /** Invocations of the function. */
  readonly batches: number;
  /** Invocations that failed (threw, timed out, malformed answer, or reported batch item failures). */
  readonly failures: number;
  /** Retries of records after a failure (bisection does not count). */
  readonly retries: number;
  /** Records given up on: sent to the on-failure destination, or dropped when there is none. */
  readonly discarded: number;
  /** Last committed position (sequence number, or next Kafka offset). */
  readonly checkpoint: string | null;
  readonly lastError: { readonly message: string; readonly at: string } | null;
}

export interface MappingMetrics {
  readonly uuid: string;
  /** Stream or cluster ARN. */
  readonly eventSourceArn: string;
  readonly partitions: readonly PartitionMetrics[];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class PartitionCounters {
  readonly m: Mutable<PartitionMetrics>;

  constructor(id: string) {
    this.m = {
      id,
      millisBehindLatest: null,
      recordsBehindLatest: null,
      eventsIn: 0,
      eventsFiltered: 0,
      batches: 0,
      failures: 0,
      retries: 0,
      discarded: 0,
      checkpoint: null,
      lastError: null,
    };
  }

  error(message: string): void {
    this.m.lastError = { message, at: new Date().toISOString() };
  }

  count(event: 'invocation' | 'failure' | 'retry' | 'discarded', n: number, detail?: string): void {
    if (event === 'invocation') this.m.batches += 1;
    else if (event === 'failure') {
      this.m.failures += 1;
      if (detail) this.error(detail);
    } else if (event === 'retry') this.m.retries += 1;
    else this.m.discarded += n;
  }

  snapshot(): PartitionMetrics {
    return { ...this.m };
  }
}
