/**
 * AWS event shapes → engine batches. Lambda invokes a Kinesis function per
 * shard, and an MSK function with records keyed by "topic-partition"; either
 * way each batch here is one contiguous range of one shard or partition.
 */
import type { KinesisStreamEvent, MSKEvent } from 'aws-lambda';
import type { BatchIdentity, SourceRecord } from '../../core';

export interface SourceBatch {
  readonly identity: BatchIdentity;
  readonly records: SourceRecord[];
  /** What to report to Lambda when this batch fails: its first record. */
  readonly firstItemIdentifier: string;
}

export function isKinesisEvent(e: unknown): e is KinesisStreamEvent {
  const r = (e as KinesisStreamEvent)?.Records;
  return Array.isArray(r) && (r.length === 0 || r[0]?.eventSource === 'aws:kinesis');
}

export function isMskEvent(e: unknown): e is MSKEvent {
  const ev = e as MSKEvent;
  return (ev?.eventSource === 'aws:kafka' || ev?.eventSource === 'SelfManagedKafka') && typeof ev.records === 'object';
}

/** Shard id from a Kinesis eventID ("shardId-000000000000:4954…"). */
function shardOf(eventID: string): string {
  const i = eventID.indexOf(':');
  return i < 0 ? eventID : eventID.slice(0, i);
}

export function kinesisBatches(event: KinesisStreamEvent): SourceBatch[] {
  const byShard = new Map<string, SourceRecord[]>();
  for (const r of event.Records) {
    const shardId = shardOf(r.eventID);
    let list = byShard.get(shardId);
    if (!list) byShard.set(shardId, (list = []));
    list.push({
      data: r.kinesis.data,
      // approximateArrivalTimestamp is seconds with a fraction.
      arrivalTime: Math.round(r.kinesis.approximateArrivalTimestamp * 1000),
      position: r.kinesis.sequenceNumber,
      source: shardId,
    });
  }
  return [...byShard].map(([shardId, records]) => ({
    identity: { kind: 'kinesis', shardId, firstSequence: records[0]!.position, lastSequence: records[records.length - 1]!.position },
    records,
    firstItemIdentifier: records[0]!.position,
  }));
}

export function mskBatches(event: MSKEvent): SourceBatch[] {
  const out: SourceBatch[] = [];
  for (const recs of Object.values(event.records)) {
    if (recs.length === 0) continue;
    const first = recs[0]!;
    const source = `${first.topic}-${first.partition}`;
    const records: SourceRecord[] = recs.map((r) => ({
      data: r.value ?? '',
      arrivalTime: r.timestamp,
      position: String(r.offset),
      source,
    }));
    out.push({
      identity: {
        kind: 'kafka',
        topic: first.topic,
        partition: first.partition,
        firstOffset: String(first.offset),
        lastOffset: String(recs[recs.length - 1]!.offset),
      },
      records,
      firstItemIdentifier: String(first.offset),
    });
  }
  return out;
}
