/**
 * The stream-processor handler against a real S3-protocol server (s3rver):
 * a 10,000-record Kinesis batch mixing valid, filtered, malformed, late and
 * out-of-order records, read back with DuckDB and checked exactly; retries
 * and bisected batches leave the lake as one clean run would.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStreamProcessor } from '../functions/stream-processor/handler';
import { silentLogger } from '../functions/shared/logger';
import { startS3Emulator } from '../local/services/s3';
import { freePort, type RunningService } from '../local/services/service';
import clickstream from '../pipelines/clickstream';
import iot from '../pipelines/iot';
import { clickstreamWorkload, type ClickstreamWorkload } from './support/clickstream-events';
import { kinesisEvent, kinesisRecord, mskEvent, mskRecord, sequenceNumber } from './support/events';
import { downloadLake, duckQuery, listKeys } from './support/lake';

let s3Service: RunningService;
let s3: S3Client;
let tmp: string;
let bucketNo = 0;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-sp-'));
  s3Service = await startS3Emulator({ port: await freePort(), dataDir: path.join(tmp, 's3') });
  s3 = new S3Client({ endpoint: s3Service.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
});

afterAll(async () => {
  s3?.destroy();
  await s3Service?.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

async function newBucket(): Promise<string> {
  const name = `lake-${++bucketNo}`;
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

function eventFor(w: ClickstreamWorkload, from = 0, to = w.records.length) {
  return kinesisEvent(w.records.slice(from, to).map((r, i) => kinesisRecord(r.text, { seq: from + i, arrivalMs: r.arrivalMs, raw: true })));
}

/** Reads the clickstream lake of a bucket back through DuckDB. */
async function readClickstreamLake(bucket: string) {
  const dir = await fs.mkdtemp(path.join(tmp, `${bucket}-`));
  await downloadLake(s3, bucket, dir, '');
  const glob = (loc: string, ext: string) => `'${dir}/${loc}**/*${ext}'`;
  const count = async (loc: string, reader: string) => {
    try {
      return Number((await duckQuery(`SELECT count(*) AS n FROM ${reader}`))[0]!.n);
    } catch (err) {
      if (/No files found/.test((err as Error).message)) return 0;
      throw err;
    }
  };
  const raw = await count('tables/clickstream_events/', `read_parquet(${glob('tables/clickstream_events/', '.parquet')}, hive_partitioning = true)`);
  const late = await count('tables/clickstream_late/', `read_parquet(${glob('tables/clickstream_late/', '.parquet')}, hive_partitioning = true)`);
  const quarantined = await count('quarantine/clickstream/', `read_json(${glob('quarantine/clickstream/', '.ndjson.gz')}, format = 'newline_delimited')`);
  const windows = await duckQuery(`
    SELECT epoch_ms(window_start) AS window_start, category,
           SUM(events)::BIGINT AS events, SUM(total_value) AS total_value, MAX(max_value) AS max_value,
           len(list_distinct(flatten(list(users_sketch))))::BIGINT AS users
    FROM read_parquet(${glob('tables/clickstream_partials/', '.parquet')}, hive_partitioning = true)
    GROUP BY ALL ORDER BY 1, 2`);
  return { dir, raw, late, quarantined, windows };
}

describe('stream processor on a 10,000-record Kinesis batch', () => {
  const workload = clickstreamWorkload(10_000);
  let bucket: string;

  beforeAll(async () => {
    bucket = await newBucket();
  });

  it('accounts for every record: raw + filtered + quarantined + late = received', async () => {
    // Prepare
    const handler = createStreamProcessor(clickstream, { s3, bucket, logger: silentLogger });
    const c = workload.counts;
    expect(c.raw + c.filtered + c.quarantined + c.late).toBe(10_000);
    expect(Math.min(c.raw, c.filtered, c.quarantined, c.late)).toBeGreaterThan(100);

    // Act
    const res = await handler(eventFor(workload));

    // Assess
    expect(res.batchItemFailures).toEqual([]);
    const lake = await readClickstreamLake(bucket);
    expect(lake.raw).toBe(c.raw);
    expect(lake.late).toBe(c.late);
    expect(lake.quarantined).toBe(c.quarantined);
  });

  it('writes exact aggregates per window and category, late and out-of-order events included correctly', async () => {
    const lake = await readClickstreamLake(bucket);
    const expected = [...workload.windows.values()].sort((a, b) => a.window_start - b.window_start || a.category.localeCompare(b.category));
    expect(lake.windows).toHaveLength(expected.length);
    lake.windows.forEach((got, i) => {
      const want = expected[i]!;
      expect(Number(got.window_start)).toBe(want.window_start);
      expect(got.category).toBe(want.category);
      expect(Number(got.events)).toBe(want.events);
      expect(Number(got.total_value)).toBeCloseTo(want.total_value, 6);
      expect(Number(got.max_value)).toBe(want.max_value);
      expect(Number(got.users)).toBe(want.users.size);
    });
  });

  it('quarantines malformed records with a reason naming the field, and keeps the payload', async () => {
    const lake = await readClickstreamLake(bucket);
    const rows = await duckQuery(`SELECT reason, field, payload, position FROM read_json('${lake.dir}/quarantine/clickstream/**/*.ndjson.gz', format = 'newline_delimited') ORDER BY position`);
    expect(rows).toHaveLength(workload.counts.quarantined);
    const reasons = new Set(rows.map((r) => `${r.field}: ${String(r.reason).replace(/,.*$/, '')}`));
    expect([...reasons].sort()).toEqual(expect.arrayContaining([
      // V8's JSON.parse message differs between Node versions: match its start only.
      expect.stringMatching(/^: record is not valid JSON: Unterminated string/),
      'value: required field "value" is missing',
      'value: field "value" must be a finite number',
      'ts: field "ts" must be an ISO-8601 date-time with offset (2026-11-25T07:05:00Z) or epoch milliseconds',
      ': record must be a JSON object',
    ]));
    const first = rows[0]!;
    const original = workload.records[Number(BigInt(String(first.position)) - BigInt(sequenceNumber(0)))]!;
    expect(Buffer.from(String(first.payload), 'base64').toString('utf8')).toBe(original.text);
  });

  it('is idempotent: the same batch again leaves the lake unchanged', async () => {
    const before = await listKeys(s3, bucket, 'tables/');
    const handler = createStreamProcessor(clickstream, { s3, bucket, logger: silentLogger });
    const res = await handler(eventFor(workload));
    expect(res.batchItemFailures).toEqual([]);
    const after = await listKeys(s3, bucket, 'tables/');
    expect(after.map((o) => [o.key, o.etag])).toEqual(before.map((o) => [o.key, o.etag]));
    const lake = await readClickstreamLake(bucket);
    expect(lake.raw).toBe(workload.counts.raw);
  });
});

describe('stream processor under failures', () => {
  const workload = clickstreamWorkload(4_000, { seed: 7 });

  it('writes nothing more once it has reported a failure: a slow write of a failed attempt cannot land after its retry', async () => {
    // Prepare: the first data write fails at once; every other data write takes 300 ms.
    const bucket = await newBucket();
    const slow = new S3Client({ endpoint: s3Service.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    let puts = 0;
    let landed = 0;
    slow.middlewareStack.add(
      (next, ctx) => async (args) => {
        const input = args.input as { Key?: string };
        if (ctx.commandName !== 'PutObjectCommand' || !input.Key?.startsWith('tables/')) return next(args);
        if (++puts === 1) throw new Error('injected: connection reset');
        await new Promise((r) => setTimeout(r, 300));
        const out = await next(args);
        landed++;
        return out;
      },
      { step: 'initialize', name: 'slowWrites' },
    );
    const failing = createStreamProcessor(clickstream, { s3: slow, bucket, logger: silentLogger });

    // Act
    const res = await failing(eventFor(workload));
    const landedAtReturn = landed;
    await new Promise((r) => setTimeout(r, 1_000));

    // Assess: every write it started had settled when it returned, and none started after the failure.
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: sequenceNumber(0) }]);
    expect(landed).toBe(landedAtReturn);
    expect(puts).toBe(landedAtReturn + 1);
    slow.destroy();
  });

  it('reports the first record of a batch that was not written, and a bisected retry double counts nothing', async () => {
    // Prepare: a client whose 3rd data PutObject fails, as a throttled or crashed write would.
    const bucket = await newBucket();
    const faulty = new S3Client({ endpoint: s3Service.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    let puts = 0;
    faulty.middlewareStack.add(
      (next, ctx) => async (args) => {
        const input = args.input as { Key?: string };
        if (ctx.commandName === 'PutObjectCommand' && input.Key?.startsWith('tables/') && ++puts === 3) throw new Error('injected: connection reset');
        return next(args);
      },
      { step: 'initialize', name: 'faultInjection' },
    );
    const failing = createStreamProcessor(clickstream, { s3: faulty, bucket, logger: silentLogger });
    const healthy = createStreamProcessor(clickstream, { s3, bucket, logger: silentLogger });

    // Act: the whole batch fails midway; Lambda bisects and retries both halves.
    const res = await failing(eventFor(workload));
    const left = await healthy(eventFor(workload, 0, 2_000));
    const right = await healthy(eventFor(workload, 2_000));

    // Assess
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: sequenceNumber(0) }]);
    expect(left.batchItemFailures).toEqual([]);
    expect(right.batchItemFailures).toEqual([]);
    const lake = await readClickstreamLake(bucket);
    expect(lake.raw).toBe(workload.counts.raw);
    expect(lake.late).toBe(workload.counts.late);
    expect(lake.quarantined).toBe(workload.counts.quarantined);
    expect(lake.windows.reduce((n, w) => n + Number(w.events), 0)).toBe(workload.counts.raw);
    faulty.destroy();
  });

  it('a retry from the reported record with more records appended replaces the first attempt', async () => {
    const bucket = await newBucket();
    const handler = createStreamProcessor(clickstream, { s3, bucket, logger: silentLogger });
    // First attempt [0, 1000) is written; then (as after a timeout) Lambda retries from 0 with [0, 3000).
    await handler(eventFor(workload, 0, 1_000));
    await handler(eventFor(workload, 0, 3_000));
    await handler(eventFor(workload, 3_000));
    const lake = await readClickstreamLake(bucket);
    expect(lake.raw).toBe(workload.counts.raw);
    expect(lake.windows.reduce((n, w) => n + Number(w.events), 0)).toBe(workload.counts.raw);
  });
});

describe('stream processor on an MSK event', () => {
  it('processes each topic-partition as its own batch and names objects <topic>-<partition>-<first>-<last>', async () => {
    const bucket = await newBucket();
    const handler = createStreamProcessor(iot, { s3, bucket, logger: silentLogger });
    const t = Date.UTC(2026, 10, 25, 12, 0, 0);
    const records = [0, 1, 2].flatMap((partition) =>
      Array.from({ length: 10 }, (_, i) =>
        mskRecord({ device_id: `d${i}`, site: partition === 0 ? 'north' : 'south', temperature: i === 0 ? null : 20 + i, humidity: 50, ts: t + i * 1000 }, { topic: 'iot-readings', partition, offset: 100 + i, timestampMs: t + i * 1000 + 500 }),
      ),
    );
    const res = await handler(mskEvent(records));
    expect(res.batchItemFailures).toEqual([]);
    const keys = (await listKeys(s3, bucket, 'tables/iot_readings/')).map((k) => k.key);
    expect(keys).toEqual([0, 1, 2].map((p) => `tables/iot_readings/dt=2026-11-25/hour=12/iot-readings-${p}-100-109.parquet`));
    const dir = await fs.mkdtemp(path.join(tmp, 'iot-'));
    await downloadLake(s3, bucket, dir, 'tables/');
    const rows = await duckQuery(`SELECT site, SUM(readings)::BIGINT AS readings, SUM(avg_temperature_sum) / SUM(avg_temperature_count) AS avg_t FROM read_parquet('${dir}/tables/iot_partials/**/*.parquet') GROUP BY site ORDER BY site`);
    // temperature null (i = 0) is filtered out: 9 readings per partition, temperatures 21..29.
    expect(rows).toEqual([
      { site: 'north', readings: 9n, avg_t: 25 },
      { site: 'south', readings: 18n, avg_t: 25 },
    ]);
  });
});
