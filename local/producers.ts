/**
 * Producers behind `shardflow send`: Kinesis PutRecords and Kafka (kafkajs),
 * batched within the services' limits, retrying only what failed, and
 * returning what could not be sent so that nothing is lost silently.
 */
import { PutRecordsCommand, type KinesisClient, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import type { Producer } from 'kafkajs';
import type { Pipeline } from '../core';

export interface OutgoingRecord {
  /** The record payload (JSON text for events). */
  readonly data: string;
  readonly partitionKey: string;
}

export interface SendReport {
  sent: number;
  failed: number;
  /** Record-level retries (a record retried twice counts twice). */
  retried: number;
  /** Records that could not be sent after all retries, with the last error code. */
  failures: { record: OutgoingRecord; error: string }[];
}

export interface SendOptions {
  /** Events per second; unlimited when absent. */
  readonly rate?: number;
  /** Called after every batch with the running totals. */
  readonly onProgress?: (r: SendReport) => void;
  /** Retries of a failed record before it is reported as failed. @default 8 */
  readonly maxRetries?: number;
}

// Kinesis PutRecords limits: 500 records and 5 MiB per call; 1 MiB per record (data + partition key).
export const KINESIS_MAX_RECORDS = 500;
export const KINESIS_MAX_CALL_BYTES = 5 * 1024 * 1024;
export const KINESIS_MAX_RECORD_BYTES = 1024 * 1024;
/** Messages per kafkajs sendBatch: large enough to amortise a round trip, small enough for the default 1 MB request cap. */
export const KAFKA_BATCH = 500;

export class RecordTooLargeError extends Error {
  constructor(readonly index: number, readonly bytes: number) {
    super(`record ${index} is ${bytes} bytes with its partition key; Kinesis accepts at most ${KINESIS_MAX_RECORD_BYTES} bytes per record`);
    this.name = 'RecordTooLargeError';
  }
}

/** The partition key field: keeps one entity's events in order (user_id, device_id …). */
export function partitionKeyField(p: Pipeline): string | null {
  const strings = p.schema.filter((f) => f.type === 'string' && f.required);
  return (strings.find((f) => f.name.endsWith('_id') && f.name !== 'event_id') ?? strings[0])?.name ?? null;
}

/** Keys from the event's root to a field's value: its `path` (a nested field, core/schema.ts), else its name. */
function keyPath(p: Pipeline, name: string): readonly string[] {
  const f = p.schema.find((x) => x.name === name) as { readonly path?: unknown } | undefined;
  const path = f?.path;
  if (Array.isArray(path)) return path as string[];
  return typeof path === 'string' && path !== '' ? path.split('.') : [name];
}

export function toOutgoing(p: Pipeline, event: Record<string, unknown>, index: number): OutgoingRecord {
  const keyField = partitionKeyField(p);
  let v: unknown = event;
  if (keyField !== null) for (const k of keyPath(p, keyField)) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined;
  const key = keyField !== null && typeof v === 'string' && v !== '' ? v : `k${index}`;
  return { data: JSON.stringify(event), partitionKey: key };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A token bucket in events per second. */
function pacer(rate: number | undefined): (n: number) => Promise<void> {
  if (!rate || rate <= 0) return async () => {};
  const started = performance.now();
  let sent = 0;
  return async (n) => {
    sent += n;
    const due = started + (sent / rate) * 1000;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
  };
}

/** Groups records into PutRecords calls within the count and size limits. */
export function* kinesisBatches(records: Iterable<OutgoingRecord>): Generator<OutgoingRecord[]> {
  let batch: OutgoingRecord[] = [];
  let bytes = 0;
  let index = 0;
  for (const r of records) {
    const size = Buffer.byteLength(r.data) + Buffer.byteLength(r.partitionKey);
    if (size > KINESIS_MAX_RECORD_BYTES) throw new RecordTooLargeError(index, size);
    if (batch.length === KINESIS_MAX_RECORDS || bytes + size > KINESIS_MAX_CALL_BYTES) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(r);
    bytes += size;
    index++;
  }
  if (batch.length > 0) yield batch;
}

export async function sendToKinesis(client: KinesisClient, stream: string, records: Iterable<OutgoingRecord>, opts: SendOptions = {}): Promise<SendReport> {
  const report: SendReport = { sent: 0, failed: 0, retried: 0, failures: [] };
  const pace = pacer(opts.rate);
  const maxRetries = opts.maxRetries ?? 8;
  for (const batch of kinesisBatches(records)) {
    await pace(batch.length);
    let pending = batch;
    for (let attempt = 0; pending.length > 0; attempt++) {
      let failedNow: { record: OutgoingRecord; error: string }[];
      try {
        const res = await client.send(new PutRecordsCommand({
          StreamName: stream,
          Records: pending.map((r): PutRecordsRequestEntry => ({ Data: Buffer.from(r.data), PartitionKey: r.partitionKey })),
        }));
        failedNow = [];
        (res.Records ?? []).forEach((entry, i) => {
          if (entry.ErrorCode) failedNow.push({ record: pending[i]!, error: `${entry.ErrorCode}: ${entry.ErrorMessage ?? ''}`.trim() });
        });
        report.sent += pending.length - failedNow.length;
      } catch (err) {
        // The whole call failed (throttled, connection reset): every record is retried.
        const e = err as Error;
        if (e.name === 'ResourceNotFoundException') throw new Error(`Kinesis stream "${stream}" does not exist: is \`shardflow dev\` running, or was the stack deployed?`);
        failedNow = pending.map((record) => ({ record, error: `${e.name}: ${e.message}` }));
      }
      if (failedNow.length === 0) break;
      if (attempt >= maxRetries) {
        report.failed += failedNow.length;
        report.failures.push(...failedNow);
        break;
      }
      report.retried += failedNow.length;
      pending = failedNow.map((f) => f.record);
      // Exponential backoff with full jitter, capped at 5 s (AWS's retry guidance).
      await sleep(Math.random() * Math.min(5_000, 100 * 2 ** attempt));
    }
    opts.onProgress?.(report);
  }
  return report;
}

export async function sendToKafka(producer: Producer, topic: string, records: Iterable<OutgoingRecord>, opts: SendOptions = {}): Promise<SendReport> {
  const report: SendReport = { sent: 0, failed: 0, retried: 0, failures: [] };
  const pace = pacer(opts.rate);
  const maxRetries = opts.maxRetries ?? 8;
  let batch: OutgoingRecord[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    await pace(batch.length);
    for (let attempt = 0; ; attempt++) {
      try {
        // acks -1: the broker confirms the write is in the log before we count it sent.
        await producer.send({ topic, acks: -1, messages: batch.map((r) => ({ key: r.partitionKey, value: r.data })) });
        report.sent += batch.length;
        break;
      } catch (err) {
        const e = err as Error;
        if (attempt >= maxRetries) {
          report.failed += batch.length;
          report.failures.push(...batch.map((record) => ({ record, error: `${e.name}: ${e.message}` })));
          break;
        }
        report.retried += batch.length;
        await sleep(Math.random() * Math.min(5_000, 100 * 2 ** attempt));
      }
    }
    batch = [];
    opts.onProgress?.(report);
  };
  for (const r of records) {
    batch.push(r);
    if (batch.length >= KAFKA_BATCH) await flush();
  }
  await flush();
  return report;
}
