/**
 * The Kafka event source mapping emulator against a real Kafka broker (KRaft,
 * started here; needs Java 17 and the jars from `bash scripts/setup-kafka.sh`,
 * which the broker module runs on first use) and s3rver as the on-failure
 * destination. The handler is a recording fake that throws on a failed batch,
 * as the stream processor does for MSK.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { MSKEvent, MSKRecord } from 'aws-lambda';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EventSourceMappingOptions } from '../local/esm/batch-retry';
import { KafkaEventSourceMapping, type KafkaEventSourceMappingProps } from '../local/esm/kafka-mapping';
import { S3OnFailureDestination, type InvocationFailureRecord } from '../local/esm/on-failure-destination';
import { createTopicIfMissing, startKafkaBroker } from '../local/services/kafka';
import { startS3Emulator } from '../local/services/s3';
import { freePort, type RunningService } from '../local/services/service';

const BUCKET = 'esm-kafka-failures';

let root: string;
let broker: RunningService;
let s3Service: RunningService;
let s3: S3Client;
let kafka: Kafka;
let producer: Producer;
const running: KafkaEventSourceMapping[] = [];

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-esm-kafka-'));
  try {
    [broker, s3Service] = await Promise.all([
      startKafkaBroker({ port: await freePort(), dataDir: path.join(root, 'kafka') }),
      startS3Emulator({ port: await freePort(), dataDir: path.join(root, 's3'), buckets: [BUCKET] }),
    ]);
  } catch (err) {
    throw new Error(`Cannot start the Kafka broker or S3 emulator for this test (Kafka needs Java 17+ and the jars: run \`bash scripts/setup-kafka.sh\`): ${(err as Error).message}`, { cause: err });
  }
  // s3rver accepts only its own access key (S3RVER).
  s3 = new S3Client({ endpoint: s3Service.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  kafka = new Kafka({ clientId: 'esm-kafka-test', brokers: [broker.endpoint], logLevel: logLevel.NOTHING });
  producer = kafka.producer();
  await producer.connect();
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((m) => m.stop()));
});

afterAll(async () => {
  await producer?.disconnect().catch(() => undefined);
  s3?.destroy();
  await Promise.allSettled([broker?.stop(), s3Service?.stop()]);
  await fs.rm(root, { recursive: true, force: true });
});

// ---- helpers -----------------------------------------------------------------

interface Call {
  readonly event: MSKEvent;
  readonly records: MSKRecord[];
}

const text = (b64: string | null | undefined): string => Buffer.from(b64 ?? '', 'base64').toString('utf8');
const n = (r: MSKRecord): number => (JSON.parse(text(r.value)) as { n: number }).n;

function recorder(fail: (records: MSKRecord[]) => boolean = () => false, delayMs = 0) {
  const calls: Call[] = [];
  const handler = async (event: MSKEvent): Promise<unknown> => {
    const records = Object.values(event.records).flat();
    calls.push({ event, records });
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    if (fail(records)) throw new Error('batch failed');
    return { batchItemFailures: [] };
  };
  return { calls, handler };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
}

let topicNo = 0;
async function freshTopic(partitions = 1): Promise<string> {
  const topic = `esm-${process.pid}-${topicNo++}`;
  await createTopicIfMissing([broker.endpoint], topic, partitions);
  return topic;
}

async function send(topic: string, from: number, count: number, partition = (_i: number) => 0, value = (i: number) => JSON.stringify({ n: i })): Promise<void> {
  await producer.send({
    topic,
    messages: Array.from({ length: count }, (_, j) => ({ partition: partition(from + j), key: `k${from + j}`, value: value(from + j), headers: { source: 'test' } })),
  });
}

function mapping(topic: string, handler: KafkaEventSourceMappingProps['handler'], options: EventSourceMappingOptions, extra: Partial<KafkaEventSourceMappingProps> = {}) {
  const m = new KafkaEventSourceMapping({
    brokers: [broker.endpoint],
    topic,
    handler,
    options: { batchingWindowMs: 100, retryBaseDelayMs: 10, ...options },
    onFailure: new S3OnFailureDestination(s3, BUCKET),
    uuid: `7e57${topicNo}-0000-4000-8000-${topic}`,
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

// ---- tests -------------------------------------------------------------------

describe('KafkaEventSourceMapping', () => {
  it('delivers each partition’s records once and in offset order, in the MSK event shape, at most batchSize per call', async () => {
    const topic = await freshTopic(2);
    await send(topic, 0, 20, (i) => i % 2);
    const { calls, handler } = recorder();
    const m = mapping(topic, handler, { batchSize: 4 });
    await m.start();

    await waitFor('20 records', () => calls.flatMap((c) => c.records).length >= 20);

    for (const c of calls) {
      expect(Object.keys(c.event.records)).toHaveLength(1);
      expect(c.records.length).toBeLessThanOrEqual(4);
    }
    for (const p of [0, 1]) {
      const recs = calls.flatMap((c) => c.records).filter((r) => r.partition === p);
      expect(recs.map((r) => r.offset)).toEqual([...Array(10).keys()]);
      expect(recs.map(n)).toEqual(Array.from({ length: 10 }, (_, j) => p + 2 * j));
    }
    const first = calls.find((c) => c.records[0]!.partition === 0)!;
    expect(first.event).toMatchObject({ eventSource: 'aws:kafka', eventSourceArn: m.eventSourceArn, bootstrapServers: broker.endpoint });
    expect(Object.keys(first.event.records)).toEqual([`${topic}-0`]);
    expect(first.records[0]).toEqual({
      topic,
      partition: 0,
      offset: 0,
      timestamp: expect.any(Number),
      timestampType: 'CREATE_TIME',
      key: Buffer.from('k0').toString('base64'),
      value: Buffer.from(JSON.stringify({ n: 0 })).toString('base64'),
      headers: [{ source: [...Buffer.from('test')] }],
    });
    await waitFor('commits at the partition ends', () => m.metrics().partitions.every((p) => p.checkpoint === '10') && m.metrics().partitions.length === 2);
  });

  it('bisects a failing batch, sends the poison record alone to S3 in AWS’s Kafka format, commits past it and carries on', async () => {
    const topic = await freshTopic();
    await send(topic, 0, 6, undefined, (i) => JSON.stringify({ n: i, ...(i === 2 ? { poison: true } : {}) }));
    const { calls, handler } = recorder((records) => records.some((r) => text(r.value).includes('poison')));
    const m = mapping(topic, handler, { batchSize: 6, maxRetryAttempts: 1 });
    await m.start();

    await waitFor('the records after the poison', () => calls.some((c) => c.records.some((r) => n(r) === 5) && c.records.length < 6));
    await send(topic, 6, 1);
    await waitFor('a record sent later', () => calls.some((c) => c.records.some((r) => n(r) === 6)));

    // Halves 6 → 3+3 → 2+1, one retry of the poison alone, then on.
    expect(calls.map((c) => c.records.map(n))).toEqual([[0, 1, 2, 3, 4, 5], [0, 1, 2], [0, 1], [2], [2], [3, 4, 5], [6]]);
    const failures = await failureRecords(m.uuid);
    expect(failures).toHaveLength(1);
    const { key, record } = failures[0]!;
    expect(key).toMatch(new RegExp(`^aws/lambda/${m.uuid}/${topic}-0/\\d{4}/\\d{2}/\\d{2}/\\d{4}-\\d{2}-\\d{2}T\\d{2}\\.\\d{2}\\.\\d{2}-[0-9a-f-]{36}$`));
    expect(record).toMatchObject({
      requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 4 },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      KafkaBatchInfo: {
        batchSize: 1,
        eventSourceArn: m.eventSourceArn,
        bootstrapServers: broker.endpoint,
        payloadSize: expect.any(Number),
        recordsInfo: { [`${topic}-0`]: { firstRecordOffset: '2', lastRecordOffset: '2', firstRecordTimestamp: expect.stringMatching(/Z$/), lastRecordTimestamp: expect.stringMatching(/Z$/) } },
      },
    });
    const payload = JSON.parse(record.payload!) as MSKEvent;
    expect(payload.records[`${topic}-0`]!.map(n)).toEqual([2]);
    await waitFor('commit past the later record', () => m.metrics().partitions[0]?.checkpoint === '7');
  });

  it('resumes from the group’s committed offsets after stop/start: no record twice, none skipped', async () => {
    const topic = await freshTopic();
    await send(topic, 0, 20);
    const a = recorder(() => false, 100);
    const uuid = `resume-${topic}`;
    const first = mapping(topic, a.handler, { batchSize: 5 }, { uuid });
    await first.start();
    await waitFor('a first batch', () => a.calls.length >= 1);
    await first.stop();
    const before = a.calls.flatMap((c) => c.records).map(n);

    await send(topic, 20, 5);
    const b = recorder();
    const second = mapping(topic, b.handler, { batchSize: 5 }, { uuid });
    await second.start();
    await waitFor('all 25 records', () => before.length + b.calls.flatMap((c) => c.records).length >= 25);
    await new Promise((r) => setTimeout(r, 300));

    expect(before.length).toBeLessThan(20);
    expect([...before, ...b.calls.flatMap((c) => c.records).map(n)]).toEqual([...Array(25).keys()]);
  });

  it('skips records older than maxRecordAgeMs and those FilterCriteria drop (plain-string values included)', async () => {
    const topic = await freshTopic();
    await send(topic, 0, 2, undefined, (i) => JSON.stringify({ n: i, kind: 'click' }));
    await new Promise((r) => setTimeout(r, 1_300));
    await producer.send({
      topic,
      messages: [
        { partition: 0, value: JSON.stringify({ n: 2, kind: 'click' }) },
        { partition: 0, value: JSON.stringify({ n: 3, kind: 'view' }) },
        { partition: 0, value: 'plain text' },
        { partition: 0, value: JSON.stringify({ n: 5, kind: 'click' }) },
      ],
    });
    const { calls, handler } = recorder();
    const m = mapping(topic, handler, { batchSize: 10, maxRecordAgeMs: 1_000 }, { filters: [{ pattern: JSON.stringify({ value: { kind: ['click'] } }) }] });
    await m.start();

    await waitFor('commit past every record', () => m.metrics().partitions[0]?.checkpoint === '6');
    expect(calls.flatMap((c) => c.records).map(n)).toEqual([2, 5]);
    expect(m.metrics().partitions[0]).toMatchObject({ eventsIn: 6, eventsFiltered: 2, discarded: 2 });
    const failures = await failureRecords(m.uuid);
    expect(failures.map((f) => f.record.requestContext.condition)).toEqual(['RecordAgeExceeded']);
    expect(failures[0]!.record.KafkaBatchInfo!.recordsInfo[`${topic}-0`]).toMatchObject({ firstRecordOffset: '0', lastRecordOffset: '1' });
  });

  it('gathers a batch across fetches up to batchSize, never losing or repeating a record at a fetch boundary', async () => {
    const topic = await freshTopic();
    const { calls, handler } = recorder();
    // No early end: a batch ends when full or when its window (from its first record's fetch) is out.
    const m = mapping(topic, handler, { batchSize: 400, batchingWindowMs: 3_000 });
    await m.start();
    // 10 sends of 100 records of 2 KB, each its own fetch or few: more than a 1 MB fetch holds.
    const pad = 'x'.repeat(2_048);
    for (let i = 0; i < 10; i++) {
      await send(topic, i * 100, 100, undefined, (j) => JSON.stringify({ n: j, pad }));
      await new Promise((r) => setTimeout(r, 20));
    }

    await waitFor('1000 records committed', () => m.metrics().partitions[0]?.checkpoint === '1000');
    expect(calls.map((c) => c.records.length)).toEqual([400, 400, 200]);
    const offsets = calls.flatMap((c) => c.records.map((r) => r.offset));
    expect(offsets).toEqual([...Array(1000).keys()]);
    expect(calls.flatMap((c) => c.records).map(n)).toEqual([...Array(1000).keys()]);
  });

  it('ends a window that only dev’s cap shortened once the partition is quiet; a trickle still waits out its window', async () => {
    const topic = await freshTopic();
    const { calls, handler } = recorder();
    // A window far longer than the waits below: the batch can only have come from the quiet end.
    const m = mapping(topic, handler, { batchSize: 1_000, batchingWindowMs: 60_000, endWindowWhenQuiet: true });
    // Both sends land before the mapping starts: sent while it ran, a pause of more than the quiet
    // time between them (a loaded machine) would rightly end the batch at 150.
    await send(topic, 0, 150);
    await send(topic, 150, 150);
    await m.start();

    await waitFor('the batch of 300, well before its 60 s window', () => calls.length > 0, 15_000);
    expect(calls.map((c) => c.records.map(n))).toEqual([[...Array(300).keys()]]);
    // Fewer than EARLY_WINDOW_END_MIN_RECORDS: quiet or not, these wait for the window.
    await send(topic, 300, 5);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(calls).toHaveLength(1);
    await waitFor('the commit of the batch', () => m.metrics().partitions[0]?.checkpoint === '300');
  });

  it('runs the partitions’ batches at once, as Lambda does, each partition still in offset order', async () => {
    const topic = await freshTopic(2);
    await send(topic, 0, 10, (i) => i % 2);
    // The first invocation holds until the other partition has been invoked too: run one partition
    // after the other, this never happens (the hold gives up after 10 s and the test fails).
    const started = new Set<number>();
    let bothAtOnce: boolean | undefined;
    const calls: MSKRecord[][] = [];
    const handler = async (event: MSKEvent): Promise<unknown> => {
      const records = Object.values(event.records).flat();
      calls.push(records);
      const p = records[0]!.partition;
      started.add(p);
      if (calls.length === 1) {
        const until = Date.now() + 10_000;
        while (!started.has(1 - p) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
        bothAtOnce = started.has(1 - p);
      }
      return { batchItemFailures: [] };
    };
    const m = mapping(topic, handler, { batchSize: 10 });
    await m.start();

    await waitFor('10 records and the first invocation’s end', () => calls.flat().length >= 10 && bothAtOnce !== undefined);
    expect(bothAtOnce).toBe(true);
    for (const p of [0, 1]) expect(calls.flat().filter((r) => r.partition === p).map(n)).toEqual([0, 2, 4, 6, 8].map((i) => i + p));
  });
});
