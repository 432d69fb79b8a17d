/**
 * The Kinesis event source mapping emulator against a real Kinesis emulator
 * (kinesalite) and a real S3 emulator (s3rver, the on-failure destination),
 * both started here on free ports. The handler is a recording fake, so each
 * test asserts exactly what Lambda would have invoked it with.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStreamIfMissing, localKinesisClient } from '../local/aws-clients';
import type { EventSourceMappingOptions } from '../local/esm/batch-retry';
import { FileCheckpointStore } from '../local/esm/checkpoint-store';
import { KinesisEventSourceMapping, partitionKeyLane } from '../local/esm/kinesis-mapping';
import { S3OnFailureDestination, type InvocationFailureRecord } from '../local/esm/on-failure-destination';
import { startKinesisEmulator } from '../local/services/kinesis';
import { startS3Emulator } from '../local/services/s3';
import { freePort, type RunningService } from '../local/services/service';

const BUCKET = 'esm-failures';
const SHARD = 'shardId-000000000000';

let root: string;
let kinesisService: RunningService;
let s3Service: RunningService;
let kinesis: KinesisClient;
let s3: S3Client;
const running: KinesisEventSourceMapping[] = [];

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-esm-kinesis-'));
  [kinesisService, s3Service] = await Promise.all([
    startKinesisEmulator({ engine: 'kinesalite', port: await freePort(), dataDir: path.join(root, 'kinesis') }),
    startS3Emulator({ port: await freePort(), dataDir: path.join(root, 's3'), buckets: [BUCKET] }),
  ]);
  kinesis = localKinesisClient(kinesisService.endpoint);
  // s3rver accepts only its own access key (S3RVER), not aws-clients' LOCAL_CREDENTIALS.
  s3 = new S3Client({ endpoint: s3Service.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((m) => m.stop()));
});

afterAll(async () => {
  kinesis?.destroy();
  s3?.destroy();
  await Promise.allSettled([kinesisService?.stop(), s3Service?.stop()]);
  await fs.rm(root, { recursive: true, force: true });
});

// ---- helpers -----------------------------------------------------------------

interface Seen {
  readonly pk: string;
  readonly seq: string;
  readonly body: string;
}

interface Call {
  readonly records: Seen[];
  readonly at: number;
  readonly event: KinesisStreamEvent;
}

const seen = (r: KinesisStreamRecord): Seen => ({
  pk: r.kinesis.partitionKey,
  seq: r.kinesis.sequenceNumber,
  body: Buffer.from(r.kinesis.data, 'base64').toString('utf8'),
});

/** A handler that records each invocation, then answers with `answer` (or throws what it throws). */
function recorder(answer: (records: Seen[], call: number) => unknown | Promise<unknown> = () => ({ batchItemFailures: [] })) {
  const calls: Call[] = [];
  const handler = async (event: KinesisStreamEvent): Promise<unknown> => {
    const records = event.Records.map(seen);
    calls.push({ records, at: Date.now(), event });
    return answer(records, calls.length - 1);
  };
  return { calls, handler };
}

async function put(stream: string, items: { pk: string; body: string }[]): Promise<string[]> {
  const out = await kinesis.send(
    new PutRecordsCommand({ StreamName: stream, Records: items.map((i) => ({ PartitionKey: i.pk, Data: Buffer.from(i.body) })) }),
  );
  expect(out.FailedRecordCount ?? 0).toBe(0);
  return (out.Records ?? []).map((r) => r.SequenceNumber!);
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
}

let streamNo = 0;
async function freshStream(): Promise<string> {
  const name = `esm-${process.pid}-${streamNo++}`;
  await createStreamIfMissing(kinesis, name, 1);
  return name;
}

function mapping(stream: string, handler: (e: KinesisStreamEvent) => Promise<unknown>, options: EventSourceMappingOptions, extra: Partial<ConstructorParameters<typeof KinesisEventSourceMapping>[0]> = {}) {
  const uuid = extra.uuid ?? `0000${streamNo}-test-4000-8000-${stream}`.replace(/[^A-Za-z0-9-]/g, '-');
  const m = new KinesisEventSourceMapping({
    kinesis,
    streamName: stream,
    handler,
    options: { retryBaseDelayMs: 10, ...options },
    checkpoints: new FileCheckpointStore(path.join(root, 'checkpoints'), uuid),
    onFailure: new S3OnFailureDestination(s3, BUCKET),
    uuid,
    ...extra,
  });
  running.push(m);
  return m;
}

async function failureRecords(uuid: string): Promise<{ key: string; record: InvocationFailureRecord }[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `aws/lambda/${uuid}/` }));
  const out = [];
  for (const o of listed.Contents ?? []) {
    const obj = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: o.Key }));
    out.push({ key: o.Key!, record: JSON.parse(await obj.Body!.transformToString()) as InvocationFailureRecord });
  }
  return out;
}

const n = (s: Seen): number => (JSON.parse(s.body) as { n: number }).n;
const bodies = (count: number, pk: (i: number) => string = () => 'pk', from = 0) =>
  Array.from({ length: count }, (_, i) => ({ pk: pk(from + i), body: JSON.stringify({ n: from + i }) }));

// ---- tests -------------------------------------------------------------------

describe('KinesisEventSourceMapping', () => {
  it('delivers every record once and in order, in Lambda’s event shape, in full batches or after the batching window', async () => {
    // Prepare
    const stream = await freshStream();
    const { calls, handler } = recorder();
    const m = mapping(stream, handler, { batchSize: 10, batchingWindowMs: 800 });
    await m.start();

    // Act: 25 records in one PutRecords call
    const putAt = Date.now();
    const seqs = await put(stream, bodies(25, (i) => `user-${i % 5}`));
    await waitFor('25 records', () => calls.flatMap((c) => c.records).length === 25);

    // Assess: two full batches at once, the remainder only after the 800 ms window
    expect(calls.map((c) => c.records.length)).toEqual([10, 10, 5]);
    // Full batches go at once (back to back), the remainder waits out the window.
    expect(calls[1]!.at - calls[0]!.at).toBeLessThan(500);
    expect(calls[2]!.at - calls[1]!.at).toBeGreaterThanOrEqual(700);
    expect(calls.flatMap((c) => c.records).map(n)).toEqual([...Array(25).keys()]);
    expect(calls.flatMap((c) => c.records).map((r) => r.seq)).toEqual(seqs);

    const r = calls[0]!.event.Records[0]!;
    expect(r).toEqual({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: 'user-0',
        sequenceNumber: seqs[0],
        data: Buffer.from(JSON.stringify({ n: 0 })).toString('base64'),
        approximateArrivalTimestamp: expect.any(Number),
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${SHARD}:${seqs[0]}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: expect.stringMatching(/^arn:aws:iam::\d{12}:role\//),
      awsRegion: 'us-east-1',
      eventSourceARN: expect.stringMatching(new RegExp(`^arn:aws:kinesis:us-east-1:\\d{12}:stream/${stream}$`)),
    });
    // Seconds since the epoch, with the milliseconds as a fraction.
    expect(Math.abs(r.kinesis.approximateArrivalTimestamp - putAt / 1000)).toBeLessThan(5);
    expect(m.metrics().partitions[0]).toMatchObject({ id: SHARD, eventsIn: 25, batches: 3, failures: 0, checkpoint: seqs[24] });
  });

  it('retries from the lowest record named in batchItemFailures and checkpoints the batch end', async () => {
    const stream = await freshStream();
    const seqs = await put(stream, bodies(8));
    const { calls, handler } = recorder((records, call) =>
      call === 0 ? { batchItemFailures: [{ itemIdentifier: records[5]!.seq }, { itemIdentifier: records[3]!.seq }] } : {},
    );
    const m = mapping(stream, handler, { batchSize: 8, batchingWindowMs: 200 });
    await m.start();

    await waitFor('the retry', () => calls.length === 2);
    await new Promise((r) => setTimeout(r, 300));

    expect(calls.map((c) => c.records.map(n))).toEqual([[0, 1, 2, 3, 4, 5, 6, 7], [3, 4, 5, 6, 7]]);
    await waitFor('checkpoint at the last record', () => m.metrics().partitions[0]?.checkpoint === seqs[7]);
    expect(m.metrics().partitions[0]).toMatchObject({ failures: 1, retries: 1, discarded: 0 });
  });

  it('treats an itemIdentifier outside the batch as a failure of the whole batch', async () => {
    const stream = await freshStream();
    await put(stream, bodies(3));
    const { calls, handler } = recorder((_r, call) => (call === 0 ? { batchItemFailures: [{ itemIdentifier: 'nope' }] } : null));
    const m = mapping(stream, handler, { batchSize: 3, batchingWindowMs: 100, bisectBatchOnError: false });
    await m.start();
    await waitFor('the retry', () => calls.length === 2);
    expect(calls[1]!.records.map(n)).toEqual([0, 1, 2]);
    expect(m.metrics().partitions[0]!.lastError?.message).toMatch(/itemIdentifier "nope" names no record/);
  });

  it('bisects a failing batch until the poison record stands alone, sends it to S3 in AWS’s format, and carries on', async () => {
    // Prepare: record 5 of 8 makes the function throw
    const stream = await freshStream();
    const items = bodies(8);
    items[5] = { pk: 'pk', body: JSON.stringify({ n: 5, poison: true }) };
    const seqs = await put(stream, items);
    const { calls, handler } = recorder((records) => {
      if (records.some((r) => r.body.includes('poison'))) throw new Error('cannot digest poison');
      return { batchItemFailures: [] };
    });
    const m = mapping(stream, handler, { batchSize: 8, batchingWindowMs: 100, maxRetryAttempts: 1, bisectBatchOnError: true });

    // Act
    await m.start();
    await waitFor('records 6 and 7', () => calls.some((c) => c.records.some((r) => n(r) === 7) && c.records.length <= 2));
    const more = await put(stream, bodies(2, () => 'pk', 8));
    await waitFor('records put after the poison', () => calls.some((c) => c.records.some((r) => n(r) === 9)));

    // Assess: halves 8 → 4+4 → 2 → 1, one retry of the poison alone, then on
    expect(calls.map((c) => c.records.map(n))).toEqual([
      [0, 1, 2, 3, 4, 5, 6, 7],
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [4, 5],
      [4],
      [5],
      [5],
      [6, 7],
      [8, 9],
    ]);
    const failures = await failureRecords(m.uuid);
    expect(failures).toHaveLength(1);
    const { key, record } = failures[0]!;
    expect(key).toMatch(new RegExp(`^aws/lambda/${m.uuid}/${SHARD}/\\d{4}/\\d{2}/\\d{2}/\\d{4}-\\d{2}-\\d{2}T\\d{2}\\.\\d{2}\\.\\d{2}-[0-9a-f-]{36}$`));
    expect(record).toEqual({
      requestContext: {
        requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        functionArn: expect.stringMatching(/^arn:aws:lambda:us-east-1:\d{12}:function:/),
        condition: 'RetryAttemptsExhausted',
        // [8], [4-7], [4,5], [5], [5] again: the invocations that held the poison record
        approximateInvokeCount: 5,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      KinesisBatchInfo: {
        shardId: SHARD,
        startSequenceNumber: seqs[5],
        endSequenceNumber: seqs[5],
        approximateArrivalOfFirstRecord: expect.stringMatching(/Z$/),
        approximateArrivalOfLastRecord: expect.stringMatching(/Z$/),
        batchSize: 1,
        streamArn: m.eventSourceArn,
      },
      payload: expect.any(String),
    });
    const payload = JSON.parse(record.payload!) as KinesisStreamEvent;
    expect(payload.Records.map(seen)).toEqual([{ pk: 'pk', seq: seqs[5], body: items[5]!.body }]);
    await waitFor('checkpoint past the later records', () => m.metrics().partitions[0]?.checkpoint === more[1]);
  });

  it('skips records older than maxRecordAgeMs to the on-failure destination without invoking', async () => {
    const stream = await freshStream();
    const old = await put(stream, bodies(3));
    await new Promise((r) => setTimeout(r, 1_300));
    await put(stream, bodies(2, () => 'pk', 3));
    const { calls, handler } = recorder();
    const m = mapping(stream, handler, { batchSize: 10, batchingWindowMs: 100, maxRecordAgeMs: 1_000 });
    await m.start();

    await waitFor('the fresh records', () => calls.length === 1);
    expect(calls[0]!.records.map(n)).toEqual([3, 4]);
    const failures = await failureRecords(m.uuid);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.record).toMatchObject({
      requestContext: { condition: 'RecordAgeExceeded', approximateInvokeCount: 0 },
      responseContext: null,
      KinesisBatchInfo: { startSequenceNumber: old[0], endSequenceNumber: old[2], batchSize: 3 },
    });
  });

  it('resumes from its checkpoint file after stop/start: no record twice, none skipped', async () => {
    // Prepare: a slow function, so that stop() comes while records are still unread
    const stream = await freshStream();
    await put(stream, bodies(30));
    const slow = () => new Promise((r) => setTimeout(() => r({ batchItemFailures: [] }), 60));
    const a = recorder(slow);
    const uuid = `resume-${stream}`;
    const first = mapping(stream, a.handler, { batchSize: 5, batchingWindowMs: 50 }, { uuid });
    await first.start();
    await waitFor('a first batch', () => a.calls.length >= 1);

    // Act: a clean stop, more records, a new mapping over the same checkpoint file
    await first.stop();
    const before = a.calls.flatMap((c) => c.records).map(n);
    await put(stream, bodies(10, () => 'pk', 30));
    const b = recorder();
    const second = mapping(stream, b.handler, { batchSize: 5, batchingWindowMs: 50 }, { uuid });
    await second.start();
    await waitFor('all 40 records', () => before.length + b.calls.flatMap((c) => c.records).length >= 40);
    await new Promise((r) => setTimeout(r, 300));

    // Assess
    const after = b.calls.flatMap((c) => c.records).map(n);
    expect(before.length).toBeLessThan(30);
    expect([...before, ...after]).toEqual([...Array(40).keys()]);
    const file = JSON.parse(await fs.readFile(path.join(root, 'checkpoints', `${uuid}.json`), 'utf8')) as { shards: Record<string, { sequenceNumber: string }> };
    expect(file.shards[SHARD]!.sequenceNumber).toBe(b.calls.at(-1)!.records.at(-1)!.seq);
  });

  it('with parallelization factor 2 runs two batches at once and keeps each partition key in order', async () => {
    // Prepare: two keys in each lane
    const keys: string[] = [];
    for (let i = 0, lane0 = 0, lane1 = 0; keys.length < 4; i++) {
      const k = `key-${i}`;
      if (partitionKeyLane(k, 2) === 0 && lane0 < 2) {
        lane0++;
        keys.push(k);
      } else if (partitionKeyLane(k, 2) === 1 && lane1 < 2) {
        lane1++;
        keys.push(k);
      }
    }
    const stream = await freshStream();
    await put(stream, bodies(40, (i) => keys[i % 4]!));
    let active = 0;
    let maxActive = 0;
    const { calls, handler } = recorder(async () => {
      maxActive = Math.max(maxActive, ++active);
      await new Promise((r) => setTimeout(r, 40));
      active--;
      return { batchItemFailures: [] };
    });
    const m = mapping(stream, handler, { batchSize: 4, batchingWindowMs: 50, parallelizationFactor: 2 });

    await m.start();
    await waitFor('40 records', () => calls.flatMap((c) => c.records).length === 40);

    expect(maxActive).toBe(2);
    for (const c of calls) expect(new Set(c.records.map((r) => partitionKeyLane(r.pk, 2))).size).toBe(1);
    for (const k of keys) {
      const ns = calls.flatMap((c) => c.records).filter((r) => r.pk === k).map(n);
      expect(ns).toEqual(Array.from({ length: 10 }, (_, j) => keys.indexOf(k) + 4 * j));
    }
  });

  it('drops records that match no FilterCriteria pattern (non-JSON data included) and checkpoints past them', async () => {
    const stream = await freshStream();
    const seqs = await put(stream, [
      { pk: 'a', body: JSON.stringify({ kind: 'click', n: 0 }) },
      { pk: 'a', body: JSON.stringify({ kind: 'view', n: 1 }) },
      { pk: 'a', body: 'not json at all' },
      { pk: 'a', body: JSON.stringify({ kind: 'click', n: 3 }) },
      { pk: 'a', body: JSON.stringify({ kind: 'view', n: 4 }) },
    ]);
    const { calls, handler } = recorder();
    const m = mapping(stream, handler, { batchSize: 10, batchingWindowMs: 100 }, { filters: [{ pattern: JSON.stringify({ data: { kind: ['click'] } }) }] });
    await m.start();

    await waitFor('checkpoint past the last (filtered) record', () => m.metrics().partitions[0]?.checkpoint === seqs[4]);
    expect(calls.flatMap((c) => c.records).map(n)).toEqual([0, 3]);
    expect(m.metrics().partitions[0]).toMatchObject({ eventsIn: 5, eventsFiltered: 3 });
  });

  it('runs the batching window from the first record’s read: records that queued during a slow invocation go at once after it', async () => {
    const stream = await freshStream();
    const slowMs = 1_500;
    const { calls, handler } = recorder(async (_records, call) => {
      if (call === 0) await new Promise((r) => setTimeout(r, slowMs));
      return {};
    });
    const m = mapping(stream, handler, { batchSize: 100, batchingWindowMs: 1_000 });
    await m.start();

    await put(stream, bodies(3));
    await waitFor('the first invocation', () => calls.length === 1);
    // Read while the first batch is in the handler: their window (1 s) is over by the time it returns.
    await put(stream, bodies(3, () => 'pk', 3));
    await waitFor('the second invocation', () => calls.length === 2);

    expect(calls.map((c) => c.records.map(n))).toEqual([[0, 1, 2], [3, 4, 5]]);
    // Measured from the first invocation's return, the window would add another second.
    expect(calls[1]!.at - calls[0]!.at).toBeLessThan(slowMs + 700);
  });
});

describe('KinesisEventSourceMapping with endWindowWhenQuiet (a dev-capped window)', () => {
  it('ends a window of at least 100 records once the shard is quiet: each burst is one batch, every record once and in order', async () => {
    const stream = await freshStream();
    const { calls, handler } = recorder();
    // A window far longer than the test may run: only ending early delivers the batches.
    const m = mapping(stream, handler, { batchSize: 10_000, batchingWindowMs: 300_000, endWindowWhenQuiet: true });
    await m.start();

    const seqs: string[] = [];
    for (let burst = 0; burst < 3; burst++) {
      seqs.push(...(await put(stream, bodies(250, (i) => `user-${i % 7}`, burst * 250))));
      await waitFor(`burst ${burst}`, () => calls.length === burst + 1);
    }

    expect(calls.map((c) => c.records.length)).toEqual([250, 250, 250]);
    expect(calls.flatMap((c) => c.records).map(n)).toEqual([...Array(750).keys()]);
    expect(calls.flatMap((c) => c.records).map((r) => r.seq)).toEqual(seqs);
    await waitFor('the checkpoint', () => m.metrics().partitions[0]?.checkpoint === seqs[749]);
    expect(m.metrics().partitions[0]).toMatchObject({ eventsIn: 750, batches: 3, failures: 0 });
  });

  it('lets a window of fewer records wait out its length, quiet or not, so a trickle makes no more batches', async () => {
    const stream = await freshStream();
    const { calls, handler } = recorder();
    const m = mapping(stream, handler, { batchSize: 10_000, batchingWindowMs: 5_000, endWindowWhenQuiet: true });
    await m.start();

    // Three records with quiet gaps between them, well inside one window.
    for (let i = 0; i < 3; i++) {
      await put(stream, bodies(1, () => 'pk', i));
      await new Promise((r) => setTimeout(r, 200));
    }
    await waitFor('the batch', () => calls.length > 0, 20_000);

    expect(calls.map((c) => c.records.map(n))).toEqual([[0, 1, 2]]);
  });

  it('is off unless asked for', () => {
    const m = mapping('esm-unused', async () => ({}), { batchingWindowMs: 250 });
    expect(m.options.endWindowWhenQuiet).toBe(false);
  });
});
