/**
 * The on-failure destination of an event source mapping: where Lambda sends a
 * record of a batch it gave up on (retries exhausted, records too old). Shared
 * by the Kinesis and Kafka mapping emulators.
 *
 * Record format and S3 key layout as AWS documents them (Lambda developer guide,
 * "Retain discarded batch records for a Kinesis Data Streams event source" and
 * "Capturing discarded batches for an Amazon MSK event source"):
 * - a JSON document with requestContext, responseContext, version "1.0",
 *   timestamp, and KinesisBatchInfo or KafkaBatchInfo;
 * - S3 destinations also get `payload`: the whole invocation event as an escaped
 *   JSON string;
 * - S3 key: aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>
 *   (Kafka: the "topic-partition" takes the place of the shard id).
 */
import { randomUUID } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamEvent, MSKEvent } from 'aws-lambda';

/** Why Lambda discarded the batch (requestContext.condition). */
export type FailureCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded' | 'MaximumPayloadSizeExceeded';

export interface FailureRequestContext {
  readonly requestId: string;
  readonly functionArn: string;
  readonly condition: FailureCondition;
  /** Invocations that included these records (0 when they expired before any). */
  readonly approximateInvokeCount: number;
}

export interface FailureResponseContext {
  readonly statusCode: number;
  readonly executedVersion: string;
  /** 'Unhandled' when the function threw or timed out; absent for a partial-failure response. */
  readonly functionError?: 'Unhandled';
}

export interface KinesisBatchInfo {
  readonly shardId: string;
  readonly startSequenceNumber: string;
  readonly endSequenceNumber: string;
  /** ISO-8601 UTC with milliseconds. */
  readonly approximateArrivalOfFirstRecord: string;
  readonly approximateArrivalOfLastRecord: string;
  readonly batchSize: number;
  readonly streamArn: string;
}

export interface KafkaRecordsInfo {
  readonly firstRecordOffset: string;
  readonly lastRecordOffset: string;
  /** ISO-8601 UTC with milliseconds. */
  readonly firstRecordTimestamp: string;
  readonly lastRecordTimestamp: string;
}

export interface KafkaBatchInfo {
  readonly batchSize: number;
  readonly eventSourceArn: string;
  readonly bootstrapServers: string;
  /** Bytes of the invocation payload (the event JSON). */
  readonly payloadSize: number;
  /** Keyed by "topic-partition". */
  readonly recordsInfo: Readonly<Record<string, KafkaRecordsInfo>>;
}

/** The invocation record Lambda sends to an on-failure destination. */
export interface InvocationFailureRecord {
  readonly requestContext: FailureRequestContext;
  /** null when the function never answered for these records (e.g. they expired before an invocation). */
  readonly responseContext: FailureResponseContext | null;
  readonly version: '1.0';
  /** When Lambda gave up, ISO-8601 UTC with milliseconds. */
  readonly timestamp: string;
  readonly KinesisBatchInfo?: KinesisBatchInfo;
  readonly KafkaBatchInfo?: KafkaBatchInfo;
  /** S3 destinations only: the whole invocation event as a JSON string. */
  readonly payload?: string;
}

export interface FailedBatch {
  /** The mapping's UUID (first key segment under aws/lambda/). */
  readonly mappingUuid: string;
  /** Shard id (Kinesis) or "topic-partition" (Kafka). */
  readonly source: string;
  readonly record: InvocationFailureRecord;
  /** The event as the function would have received it (records of the discarded batch). */
  readonly event: KinesisStreamEvent | MSKEvent;
}

/** Where discarded batches go. `deliver` returns a locator (S3: the object key). */
export interface OnFailureDestination {
  /** ARN-like name for status views and logs, e.g. arn:aws:s3:::bucket. */
  readonly destination: string;
  deliver(batch: FailedBatch): Promise<string>;
}

/** An on-failure destination write failed: names the bucket and key. */
export class OnFailureDeliveryError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'OnFailureDeliveryError';
  }
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** aws/lambda/<ESM-UUID>/<source>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>, all in UTC. */
export function onFailureObjectKey(mappingUuid: string, source: string, at: Date, id: string = randomUUID()): string {
  const y = pad(at.getUTCFullYear(), 4);
  const mo = pad(at.getUTCMonth() + 1);
  const d = pad(at.getUTCDate());
  const stamp = `${y}-${mo}-${d}T${pad(at.getUTCHours())}.${pad(at.getUTCMinutes())}.${pad(at.getUTCSeconds())}`;
  return `aws/lambda/${mappingUuid}/${source}/${y}/${mo}/${d}/${stamp}-${id}`;
}

/** Writes invocation records, with the payload, to an S3 bucket under AWS's key layout. */
export class S3OnFailureDestination implements OnFailureDestination {
  readonly destination: string;

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {
    this.destination = `arn:aws:s3:::${bucket}`;
  }

  async deliver(batch: FailedBatch): Promise<string> {
    const at = new Date(batch.record.timestamp);
    const key = onFailureObjectKey(batch.mappingUuid, batch.source, Number.isNaN(at.getTime()) ? new Date() : at);
    const body: InvocationFailureRecord = { ...batch.record, payload: JSON.stringify(batch.event) };
    try {
      await this.s3.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: JSON.stringify(body), ContentType: 'application/json' }),
      );
    } catch (err) {
      throw new OnFailureDeliveryError(`Writing the on-failure record to s3://${this.bucket}/${key} failed: ${(err as Error).message}`, err);
    }
    return key;
  }
}
