/**
 * The warm local Athena engine (issue 11): the lake index kept by the S3
 * emulator's change reports, results streamed page by page, and partitions
 * pruned through the aggregate view by a window_start range.
 *
 * Every query must see every object written before it started: the loop below
 * writes through the real S3 API (the stream processor's handler, PutObject,
 * DeleteObjects, CopyObject) and queries through the real Athena API at once,
 * on an endpoint told of the changes and on one that lists per query.
 */
import { CopyObjectCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { AthenaClient } from '@aws-sdk/client-athena';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lakeTable } from '../core';
import { runAthenaQuery } from '../functions/query-runner/athena-query';
import { silentLogger } from '../functions/shared/logger';
import { createStreamProcessor } from '../functions/stream-processor/handler';
import { partitionsOfTimeRange, planFromParseTree, timestampConstant } from '../local/athena/query-plan';
import { type S3ObjectChange } from '../local/services/s3';
import clickstream from '../pipelines/clickstream';
import { listKeys } from './support/lake';
import { TestLake } from './support/test-lake';
import { kinesisEvent, kinesisRecord } from './support/events';

const BUCKET = 'lake';
const HOUR = Date.UTC(2026, 4, 1, 10);
const POLL = { pollInitialMs: 2, pollMaxMs: 10 };

let lake: TestLake;
let s3: S3Client;

async function endpoint(watched: boolean): Promise<AthenaClient> {
  return (await lake.addAthena([clickstream], { watched })).client;
}

async function rows(client: AthenaClient, sql: string): Promise<readonly (string | null)[][]> {
  const r = await runAthenaQuery(client, { sql }, POLL);
  return r.rows;
}

let seq = 0;
/** One batch through the real handler: `n` events at `startMs` + i s (raw objects and partials). */
async function writeBatch(startMs: number, n: number): Promise<void> {
  const handler = createStreamProcessor(clickstream, { s3, bucket: BUCKET, logger: silentLogger });
  const records = Array.from({ length: n }, (_, i) => {
    const ts = startMs + i * 1000;
    const s = seq++;
    return kinesisRecord({ event_id: `e${s}`, user_id: `u${s % 7}`, category: ['books', 'games'][s % 2], value: 20 + (s % 5), ts }, { seq: s, arrivalMs: ts + 500 });
  });
  await handler(kinesisEvent(records));
}

beforeAll(async () => {
  lake = await TestLake.start('warm', BUCKET);
  ({ s3 } = lake);
});

afterAll(async () => {
  await lake?.stop();
});

describe('S3 emulator change reports', () => {
  it('reports PutObject, CopyObject, DeleteObject and DeleteObjects before answering them', async () => {
    const seen: S3ObjectChange[] = [];
    const off = lake.emulator.onObjectChange((c) => seen.push(c));
    try {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'scratch/a.txt', Body: 'hello' }));
      expect(seen).toEqual([{ bucket: BUCKET, key: 'scratch/a.txt', etag: '5d41402abc4b2a76b9719d911017c592', size: 5 }]);
      await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'scratch/b.txt', CopySource: `${BUCKET}/scratch/a.txt` }));
      expect(seen[1]).toEqual({ bucket: BUCKET, key: 'scratch/b.txt', etag: '5d41402abc4b2a76b9719d911017c592', size: 5 });
      await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'scratch/a.txt' }));
      await s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: 'scratch/b.txt' }] } }));
      expect(seen.slice(2)).toEqual([{ bucket: BUCKET, key: 'scratch/a.txt' }, { bucket: BUCKET, key: 'scratch/b.txt' }]);
    } finally {
      off();
    }
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'scratch/c.txt', Body: 'x' }));
    expect(seen).toHaveLength(4);
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'scratch/c.txt' }));
  });
});

describe('queries see every object written before they started', () => {
  it('write then query at once, in a loop: batches, an overwrite, a copy and deletes, on a watched and a listing endpoint', async () => {
    const watched = await endpoint(true);
    const listing = await endpoint(false);
    const raw = lakeTable(clickstream, 'raw');
    let events = 0;
    const check = async (): Promise<void> => {
      for (const c of [watched, listing]) {
        expect(await rows(c, `SELECT count(*) FROM clickstream_events WHERE dt = '2026-05-01'`)).toEqual([[String(events)]]);
        expect(await rows(c, 'SELECT coalesce(sum(events), 0) FROM clickstream_by_category_1m')).toEqual([[String(events)]]);
      }
    };
    await check();
    for (let i = 0; i < 12; i++) {
      // Batches of 5-16 events, one a minute, crossing into the next hour.
      const n = 5 + i;
      await writeBatch(HOUR + 50 * 60_000 + i * 60_000, n);
      events += n;
      await check();
    }
    // An object rewritten in place (same key, other rows), an object copied in, one deleted, two deleted at once.
    const objects = (await listKeys(s3, BUCKET, raw.location)).filter((o) => o.key.endsWith('.parquet'));
    const [first, second, third, fourth] = objects;
    const bytesOf = async (key: string) => (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToByteArray();
    const countOf = async (key: string) => Number((await rows(watched, `SELECT count(*) FROM clickstream_events_files WHERE "$path" = 's3://${BUCKET}/${key}'`))[0]![0]);
    const n1 = await countOf(first!.key);
    const n2 = await countOf(second!.key);
    const n3 = await countOf(third!.key);
    const n4 = await countOf(fourth!.key);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: first!.key, Body: await bytesOf(second!.key) }));
    events += n2 - n1;
    expect(await rows(watched, `SELECT count(*) FROM clickstream_events WHERE dt = '2026-05-01'`)).toEqual([[String(events)]]);
    expect(await rows(listing, `SELECT count(*) FROM clickstream_events WHERE dt = '2026-05-01'`)).toEqual([[String(events)]]);
    const copyKey = first!.key.replace(/[^/]*$/, 'copied-0-0.parquet');
    await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: copyKey, CopySource: `${BUCKET}/${third!.key}` }));
    events += n3;
    expect(await rows(watched, `SELECT count(*) FROM clickstream_events WHERE dt = '2026-05-01'`)).toEqual([[String(events)]]);
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: copyKey }));
    events -= n3;
    expect(await rows(watched, `SELECT count(*) FROM clickstream_events WHERE dt = '2026-05-01'`)).toEqual([[String(events)]]);
    await s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: third!.key }, { Key: fourth!.key }] } }));
    events -= n3 + n4;
    for (const c of [watched, listing]) expect(await rows(c, `SELECT count(*) FROM clickstream_events WHERE dt = '2026-05-01'`)).toEqual([[String(events)]]);
  }, 120_000);

  it('a watched engine lists each table once, however many queries and writes follow', async () => {
    const { engine, close } = await lake.watchedEngine([clickstream], 'engine');
    try {
      const count = async () => Number((await engine.run('SELECT count(*) FROM clickstream_events', { database: 'shardflow' })).rows[0]![0]);
      const before = await count();
      await writeBatch(HOUR + 3 * 3_600_000, 4);
      expect(await count()).toBe(before + 4);
      await writeBatch(HOUR + 3 * 3_600_000 + 60_000, 3);
      expect(await count()).toBe(before + 7);
      await engine.run('SELECT sum(events) FROM clickstream_by_category_1m', { database: 'shardflow' });
      // clickstream_events (its storage table shares the location) and clickstream_partials.
      expect(engine.listings).toBe(2);
      expect(engine.instancesOpened).toBe(1);
    } finally {
      close();
    }
  }, 60_000);
});

describe('pruning through the aggregate view by window_start', () => {
  it('reads only the partials of the partitions a window_start range can touch (bytes scanned = those objects)', async () => {
    const client = await endpoint(true);
    // Three hours of partials: 14:00-16:59, a batch every 20 minutes.
    for (let m = 0; m < 180; m += 20) await writeBatch(Date.UTC(2026, 4, 2, 14) + m * 60_000, 6);
    const partials = (await listKeys(s3, BUCKET, lakeTable(clickstream, 'partials').location)).filter((o) => o.key.includes('dt=2026-05-02/'));
    const bytesOfHours = (...hours: number[]) => partials.filter((o) => hours.some((h) => o.key.includes(`/hour=${h}/`))).reduce((n, o) => n + o.size, 0);
    const cases: [string, number[]][] = [
      ["window_start >= TIMESTAMP '2026-05-02 15:00:00' AND window_start < TIMESTAMP '2026-05-02 16:00:00'", [15]],
      ["window_start >= TIMESTAMP '2026-05-02 15:00:00' AND window_start <= TIMESTAMP '2026-05-02 16:00:00'", [15, 16]],
      ["window_start BETWEEN TIMESTAMP '2026-05-02 14:30:00' AND TIMESTAMP '2026-05-02 15:10:00'", [14, 15]],
      ["window_start > TIMESTAMP '2026-05-02 15:59:59.999'", [15, 16]],
      ["v.window_start = TIMESTAMP '2026-05-02 16:20:00'", [16]],
      // The view's own dt/hour still narrow; together with the range, both apply.
      ["hour = 14 AND window_start >= TIMESTAMP '2026-05-02 14:00:00'", [14]],
    ];
    for (const [where, hours] of cases) {
      const r = await runAthenaQuery(client, { sql: `SELECT sum(events) FROM clickstream_by_category_1m v WHERE ${where}` }, POLL);
      expect(r.dataScannedBytes, where).toBe(bytesOfHours(...hours));
      // The same answer as the whole view filtered the same way, with the range written so that it cannot prune.
      const whole = await runAthenaQuery(client, { sql: `SELECT sum(events) FROM (SELECT * FROM clickstream_by_category_1m) v WHERE ${where}` }, POLL);
      expect(r.rows, where).toEqual(whole.rows);
      expect(whole.dataScannedBytes).toBeGreaterThan(r.dataScannedBytes);
    }
  }, 120_000);

  it('bounds partitions from timestamp constants as DuckDB reads them, and nothing from anything else', () => {
    const parse = (v: string) => timestampConstant({ class: 'CONSTANT', value: { is_null: false, value: v } });
    expect(parse('2026-05-02 15:00:00')).toBe(Date.UTC(2026, 4, 2, 15));
    expect(parse('2026-05-02T15:00:00.250Z')).toBe(Date.UTC(2026, 4, 2, 15, 0, 0, 250));
    expect(parse('2026-05-02 17:00:00+02')).toBe(Date.UTC(2026, 4, 2, 15));
    expect(parse('2026-05-02 10:30-04:30')).toBe(Date.UTC(2026, 4, 2, 15));
    expect(parse('2026-05-02')).toBe(Date.UTC(2026, 4, 2));
    expect(parse('2026-02-30 00:00:00')).toBeUndefined();
    expect(parse('yesterday')).toBeUndefined();
    expect(timestampConstant({ class: 'CONSTANT', value: { is_null: false, value: 5 } })).toBeUndefined();
    const inRange = partitionsOfTimeRange({ lo: { ms: Date.UTC(2026, 4, 2, 15, 30), inclusive: true }, hi: { ms: Date.UTC(2026, 4, 2, 17), inclusive: false } });
    expect([14, 15, 16, 17].map((hour) => inRange({ dt: '2026-05-02', hour }))).toEqual([false, true, true, false]);
    // OR does not bound: the plan carries no range for it.
    const plan = planFromParseTree(
      JSON.stringify({
        error: false,
        statements: [{ node: { type: 'SELECT_NODE', select_list: [], from_table: { type: 'BASE_TABLE', table_name: 'v', alias: '', query_location: 0 }, where_clause: { class: 'CONJUNCTION', type: 'CONJUNCTION_OR', children: [] } } }],
      }),
    );
    expect('tables' in plan && plan.tables[0]!.timeRanges.size).toBe(0);
  });
});

describe('results streamed page by page', () => {
  it('a result larger than a result page and than the in-memory text reads back whole, through the API and the CSV', async () => {
    const client = await endpoint(true);
    const n = 12_000;
    const r = await runAthenaQuery(client, { sql: `SELECT x, lpad(CAST(x AS varchar), 400, '*') AS pad FROM UNNEST(sequence(1, ${n})) AS t(x) ORDER BY x` }, POLL);
    expect(r.rows).toHaveLength(n);
    expect(r.rows[n - 1]).toEqual([String(n), `${'*'.repeat(400 - String(n).length)}${n}`]);
    const key = r.outputLocation!.replace(`s3://${BUCKET}/`, '');
    const csv = await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToString();
    const lines = csv.trimEnd().split('\n');
    expect(lines).toHaveLength(n + 1);
    expect(lines[0]).toBe('"x","pad"');
    expect(lines[n]).toBe(`"${n}","${'*'.repeat(400 - String(n).length)}${n}"`);
    expect(csv.length).toBeGreaterThan(4 * 1024 * 1024);
  }, 60_000);
});

describe('tables of more than 1,000 objects', () => {
  it('lists them whole (s3rver builds ListObjectsV2 continuation tokens with DES, which OpenSSL 3 refuses)', async () => {
    await writeBatch(Date.UTC(2026, 5, 1, 0), 3);
    const raw = lakeTable(clickstream, 'raw');
    const [one] = (await listKeys(s3, BUCKET, `${raw.location}dt=2026-06-01/`)).filter((o) => o.key.endsWith('.parquet'));
    const body = await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: one!.key }))).Body!.transformToByteArray();
    const copies = 1_050;
    for (let i = 0; i < copies; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${raw.location}dt=2026-06-01/hour=0${(i + j) % 2}/copy-${i + j}-0-0.parquet`, Body: body }))));
    }
    const sql = "SELECT count(*) FROM clickstream_events WHERE dt = '2026-06-01'";
    for (const watched of [false, true]) expect(await rows(await endpoint(watched), sql), `watched: ${watched}`).toEqual([[String(3 * (copies + 1))]]);
  }, 180_000);
});
