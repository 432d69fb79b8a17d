/** Typed factories for AWS stream events (Powertools style): tests build events, never hand-written JSON. */
import type { KinesisStreamEvent, KinesisStreamRecord, MSKEvent, MSKRecord } from 'aws-lambda';

export const SHARD = 'shardId-000000000000';

/** Kinesis sequence numbers: long decimal strings, increasing within a shard. */
export function sequenceNumber(n: number): string {
  return `4959${String(n).padStart(52, '0')}`;
}

export function kinesisRecord(
  body: unknown,
  opts: { seq: number; arrivalMs: number; shardId?: string; raw?: boolean; partitionKey?: string },
): KinesisStreamRecord {
  const text = opts.raw ? String(body) : JSON.stringify(body);
  const shardId = opts.shardId ?? SHARD;
  const seq = sequenceNumber(opts.seq);
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: opts.partitionKey ?? 'pk',
      sequenceNumber: seq,
      data: Buffer.from(text, 'utf8').toString('base64'),
      approximateArrivalTimestamp: opts.arrivalMs / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${shardId}:${seq}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/shardflow-test',
    awsRegion: 'us-east-1',
    eventSourceARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/clickstream-events',
  };
}

export function kinesisEvent(records: KinesisStreamRecord[]): KinesisStreamEvent {
  return { Records: records };
}

export function mskRecord(body: unknown, opts: { topic: string; partition: number; offset: number; timestampMs: number; raw?: boolean }): MSKRecord {
  const text = opts.raw ? String(body) : JSON.stringify(body);
  return {
    topic: opts.topic,
    partition: opts.partition,
    offset: opts.offset,
    timestamp: opts.timestampMs,
    timestampType: 'CREATE_TIME',
    key: Buffer.from(`k${opts.offset}`).toString('base64'),
    value: Buffer.from(text, 'utf8').toString('base64'),
    headers: [],
  };
}

export function mskEvent(records: MSKRecord[]): MSKEvent {
  const grouped: Record<string, MSKRecord[]> = {};
  for (const r of records) (grouped[`${r.topic}-${r.partition}`] ??= []).push(r);
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/shardflow/abc',
    bootstrapServers: 'b-1.shardflow:9098',
    records: grouped,
  };
}
