/**
 * Lake partitions and idempotent object names (docs/architecture.md "Idempotent writes").
 * Partitions are UTC event time: dt=YYYY-MM-DD/hour=HH.
 */

export interface PartitionValues {
  /** yyyy-MM-dd, UTC. */
  readonly dt: string;
  /** 00-23, UTC. */
  readonly hour: string;
}

export function partitionOf(epochMs: number): PartitionValues {
  const iso = new Date(epochMs).toISOString(); // 2026-11-25T07:05:00.000Z
  return { dt: iso.slice(0, 10), hour: iso.slice(11, 13) };
}

export function partitionPath(p: PartitionValues): string {
  return `dt=${p.dt}/hour=${p.hour}`;
}

/** Identity of a batch, from the input alone, so that a retried batch rewrites the same objects. */
export type BatchIdentity =
  | { readonly kind: 'kinesis'; readonly shardId: string; readonly firstSequence: string; readonly lastSequence: string }
  | { readonly kind: 'kafka'; readonly topic: string; readonly partition: number; readonly firstOffset: string; readonly lastOffset: string };

/** `<shardId>-<firstSequence>-<lastSequence>` or `<topic>-<partition>-<firstOffset>-<lastOffset>`. */
export function batchObjectName(b: BatchIdentity): string {
  return b.kind === 'kinesis'
    ? `${b.shardId}-${b.firstSequence}-${b.lastSequence}`
    : `${b.topic}-${b.partition}-${b.firstOffset}-${b.lastOffset}`;
}

/** The stream position a batch came from: a Kinesis shard or a Kafka topic-partition. */
export function batchSourceKey(b: BatchIdentity): string {
  return b.kind === 'kinesis' ? b.shardId : `${b.topic}-${b.partition}`;
}

/** Batch range as big integers (sequence numbers are up to 56 decimal digits). */
export function batchRange(b: BatchIdentity): { first: bigint; last: bigint } {
  return b.kind === 'kinesis'
    ? { first: BigInt(b.firstSequence), last: BigInt(b.lastSequence) }
    : { first: BigInt(b.firstOffset), last: BigInt(b.lastOffset) };
}
