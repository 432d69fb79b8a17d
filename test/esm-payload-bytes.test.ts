/**
 * The mappings count each record's JSON bytes toward Lambda's 6 MB payload
 * limit without stringifying every record; the count must equal the JSON's.
 */
import type { KinesisStreamRecord, MSKRecord } from 'aws-lambda';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mskRecordBytes, mskRecordFixedBytes } from '../local/esm/kafka-mapping';
import { kinesisRecordVariableBytes } from '../local/esm/kinesis-mapping';

const base64 = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('base64'));
const bytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v));

describe('payload bytes of a record', () => {
  it('Kinesis: the shard’s fixed part measured on one record plus each record’s variable part is its JSON size', () => {
    const shardId = 'shardId-000000000003';
    const record = (pk: string, seq: string, data: string, arrivalMs: number): KinesisStreamRecord => ({
      kinesis: { kinesisSchemaVersion: '1.0', partitionKey: pk, sequenceNumber: seq, data, approximateArrivalTimestamp: arrivalMs / 1000 },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${shardId}:${seq}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/shardflow-local',
      awsRegion: 'us-east-1',
      eventSourceARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/s',
    });
    const first = record('k', '49590338271490256608559692538361571095921575989136588898', 'eyJhIjoxfQ==', 1_767_225_600_123);
    const fixed = bytes(first) - kinesisRecordVariableBytes(first);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 256 }), fc.bigInt({ min: 0n, max: 10n ** 56n }), base64, fc.integer({ min: 0, max: 4_102_444_800_000 }), (pk, seq, data, ms) => {
        const r = record(pk, seq.toString(), data, ms);
        expect(fixed + kinesisRecordVariableBytes(r)).toBe(bytes(r));
      }),
      { numRuns: 500 },
    );
  });

  it('Kafka: the batch’s fixed part plus each record’s offset, timestamp, key, value and headers is its JSON size', () => {
    const header = fc.dictionary(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), fc.array(fc.integer({ min: -128, max: 127 }), { maxLength: 20 }), { minKeys: 1, maxKeys: 1 });
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
        fc.nat({ max: 1_000 }),
        fc.nat(),
        fc.integer({ min: -1, max: 4_102_444_800_000 }),
        fc.option(base64, { nil: undefined }),
        fc.option(base64, { nil: null }),
        fc.array(header, { maxLength: 3 }),
        (topic, partition, offset, timestamp, key, value, headers) => {
          const r = { topic, partition, offset, timestamp, timestampType: 'CREATE_TIME', ...(key !== undefined ? { key } : {}), value, headers } as unknown as MSKRecord;
          expect(mskRecordBytes(r, mskRecordFixedBytes(topic, partition))).toBe(bytes(r));
        },
      ),
      { numRuns: 500 },
    );
  });
});
