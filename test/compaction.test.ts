/**
 * Compaction on real services (s3rver + the local Athena endpoint): a sealed
 * hour of many batch objects becomes one object and every query answers the
 * same at every step — while compaction runs, after a crash between any two
 * steps, and after the sources are retired. An unsealed hour is refused.
 * The Glue current view's SQL (core/lake-table.ts currentView), run on the
 * storage table, agrees with the local endpoint's own rule throughout.
 */
import type { AthenaClient } from '@aws-sdk/client-athena';
import { DeleteObjectsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentView, encodeParquet, lakeTable, type LakeColumn } from '../core';
import {
  compactPartition,
  compactPipeline,
  listPartitionObjects,
  manifestKeyOf,
  RETIRE_AFTER_MS,
  recoverCompactions,
  SimulatedCrash,
  type CompactionStep,
} from '../functions/compactor/compaction';
import { runAthenaQuery } from '../functions/query-runner/athena-query';
import { silentLogger } from '../functions/shared/logger';
import { createStreamProcessor } from '../functions/stream-processor/handler';
import clickstream from '../pipelines/clickstream';
import { kinesisEvent, kinesisRecord } from './support/events';
import { TestLake } from './support/test-lake';

const BUCKET = 'compaction-lake';
const HOURS = [9, 10, 11, 12, 13];
const BATCHES = 12;
const PER_BATCH = 250;
const day = '2026-03-01';
const hh = (h: number) => String(h).padStart(2, '0');
/** Long after the seal of every hour (1 day max record age + 10 min lateness + 1 h margin). */
const LATER_MS = Date.UTC(2026, 2, 3);
const LATER = () => LATER_MS;
/** After the sources' retirement wait. */
const RETIRE = () => LATER_MS + RETIRE_AFTER_MS + 1;
/** After the wait of anything published at RETIRE. */
const FINAL = () => LATER_MS + 2 * (RETIRE_AFTER_MS + 1);

let lake: TestLake;
let s3: S3Client;
let athena: AthenaClient;

beforeAll(async () => {
  lake = await TestLake.start('compaction', BUCKET);
  ({ s3 } = lake);
  const handler = createStreamProcessor(clickstream, { s3, bucket: BUCKET, logger: silentLogger });
  let seq = 0;
  for (const h of HOURS) {
    for (let b = 0; b < BATCHES; b++) {
      const records = Array.from({ length: PER_BATCH }, (_, i) => {
        const ts = Date.UTC(2026, 2, 1, h, 0, 0) + (b * PER_BATCH + i) * 1_100; // spread over the hour
        const ev = { event_id: `e${seq}`, user_id: `u${seq % 97}`, category: ['books', 'games', 'toys'][seq % 3], value: 11 + (seq % 50), ts };
        return kinesisRecord(ev, { seq: seq++, arrivalMs: ts + 1_000 });
      });
      const res = await handler(kinesisEvent(records));
      expect(res.batchItemFailures).toEqual([]);
    }
  }
  athena = await lake.startAthena([clickstream]);
}, 180_000);

afterAll(async () => {
  await lake?.stop();
});

interface Answers {
  /** count, sum, distinct ids of the raw table's hour. */
  raw: string[];
  /** The same through the Glue current view's SQL on the storage table. */
  glueView: string[];
  /** Every row of the aggregate view in the hour. */
  view: string[][];
}

const rawTotals = (from: string, h: number) => `SELECT count(*), sum(value), count(DISTINCT event_id) FROM ${from} WHERE dt = '${day}' AND hour = ${h}`;

async function answers(h: number): Promise<Answers> {
  const raw = await runAthenaQuery(athena, { sql: rawTotals('clickstream_events', h) });
  const glueView = await runAthenaQuery(athena, { sql: rawTotals(`(${currentView(lakeTable(clickstream, 'raw')).sql}) v`, h) });
  const view = await runAthenaQuery(athena, {
    sql: `SELECT window_start, category, events, total_value, max_value, users FROM clickstream_by_category_1m WHERE window_start >= TIMESTAMP '${day} ${hh(h)}:00:00' AND window_start < TIMESTAMP '${day} ${hh(h)}:59:59.999' ORDER BY 1, 2`,
  });
  return { raw: raw.rows[0]!.map(String), glueView: glueView.rows[0]!.map(String), view: view.rows.map((r) => r.map(String)) };
}

/** Rows in the storage table: every object listed, superseded ones included. */
async function storedRows(h: number): Promise<number> {
  const r = await runAthenaQuery(athena, { sql: `SELECT count(*) FROM clickstream_events_files WHERE dt = '${day}' AND hour = ${h}` });
  return Number(r.rows[0]![0]);
}

const objectsIn = async (table: string, h: number) =>
  (await listPartitionObjects(s3, BUCKET, `tables/${table}/dt=${day}/hour=${hh(h)}/`)).map((o) => o.key.slice(o.key.lastIndexOf('/') + 1));

describe('compactPartition', () => {
  it('refuses sources that hold a column the table no longer declares with two types, naming it and both objects, and compacts nothing', async () => {
    const raw = lakeTable(clickstream, 'raw');
    const prefix = `${raw.location}dt=2026-02-01/hour=05/`;
    const put = async (name: string, extra: LakeColumn, value: string | number) => {
      const row = { event_id: name, user_id: 'u1', category: 'books', value: 1, ts: Date.UTC(2026, 1, 1, 5), [extra.name]: value };
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}${name}.parquet`, Body: encodeParquet([...raw.columns, extra], [row]) }));
    };
    await put('a', { name: 'coupon', type: 'string' }, 'SPRING');
    await put('b', { name: 'coupon', type: 'double' }, 0.5);
    try {
      await expect(compactPartition({ s3, bucket: BUCKET, pipeline: clickstream, partition: { dt: '2026-02-01', hour: '05' }, now: LATER })).rejects.toThrow(
        `column coupon, which clickstream_events no longer declares, is string in ${prefix}a.parquet and double in ${prefix}b.parquet: one compacted object cannot keep both; nothing was compacted`,
      );
      expect((await listPartitionObjects(s3, BUCKET, prefix)).map((o) => o.key.slice(prefix.length)).sort()).toEqual(['a.parquet', 'b.parquet']);
    } finally {
      // The other tests compact every sealed hour of the table.
      const manifest = manifestKeyOf(raw.name, { dt: '2026-02-01', hour: '05' });
      await s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [...['a', 'b'].map((n) => ({ Key: `${prefix}${n}.parquet` })), { Key: manifest }] } }));
    }
  });

  it('refuses a partition that a late or retried batch may still write, and says until when', async () => {
    await expect(compactPartition({ s3, bucket: BUCKET, pipeline: clickstream, partition: { dt: day, hour: '09' }, now: () => Date.UTC(2026, 2, 1, 12) }))
      .rejects.toThrow(/partition tables\/clickstream_events\/dt=2026-03-01\/hour=09\/ of table clickstream_events is not sealed until 2026-03-02T11:10:00.000Z/);
  });

  it('publishes one object per sealed hour that hides its sources at once, retires them later, and every answer stays the same', async () => {
    const before = await answers(9);
    expect(Number(before.raw[0])).toBe(BATCHES * PER_BATCH);
    expect(before.glueView).toEqual(before.raw);
    expect(await objectsIn('clickstream_events', 9)).toHaveLength(BATCHES);

    // Publish: the compacted object and its sources are both in the partition, and nothing counts twice.
    const raw = await compactPartition({ s3, bucket: BUCKET, pipeline: clickstream, partition: { dt: day, hour: '09' }, now: LATER });
    const partials = await compactPartition({ s3, bucket: BUCKET, pipeline: clickstream, role: 'partials', partition: { dt: day, hour: '09' }, now: LATER });
    expect(raw.manifest).toMatchObject({ state: 'published', rows: BATCHES * PER_BATCH });
    expect(raw.manifest!.sources).toHaveLength(BATCHES);
    expect(partials.manifest!.state).toBe('published');
    expect(await objectsIn('clickstream_events', 9)).toHaveLength(BATCHES + 1);
    expect(await storedRows(9)).toBe(2 * BATCHES * PER_BATCH);
    expect(await answers(9)).toEqual(before);
    // Before the wait is over, running again retires nothing and says when it will.
    const early = await compactPartition({ s3, bucket: BUCKET, pipeline: clickstream, partition: { dt: day, hour: '09' }, now: LATER });
    expect(early.skipped).toMatch(/^sources of tables\/clickstream_events\/dt=2026-03-01\/hour=09\/compacted-.*\.parquet are retired after 2026-03-03T01:00:00.000Z$/);

    // Retire.
    const retired = await compactPartition({ s3, bucket: BUCKET, pipeline: clickstream, partition: { dt: day, hour: '09' }, now: RETIRE });
    await compactPartition({ s3, bucket: BUCKET, pipeline: clickstream, role: 'partials', partition: { dt: day, hour: '09' }, now: RETIRE });
    expect(retired.manifest!.state).toBe('done');
    expect(await objectsIn('clickstream_events', 9)).toEqual([`compacted-${raw.manifest!.id}.parquet`]);
    expect(await objectsIn('clickstream_partials', 9)).toEqual([`compacted-${partials.manifest!.id}.parquet`]);
    expect(await storedRows(9)).toBe(BATCHES * PER_BATCH);
    expect(await answers(9)).toEqual(before);
    // The staging object and the manifest are gone too (a pass lists only unfinished manifests); running again finds nothing to do.
    expect((await listPartitionObjects(s3, BUCKET, '_shardflow/compaction/')).filter((o) => o.key.includes('hour=09'))).toEqual([]);
    const again = await compactPartition({ s3, bucket: BUCKET, pipeline: clickstream, partition: { dt: day, hour: '09' }, now: RETIRE });
    expect(again.skipped).toBe(`1 current object(s) in tables/clickstream_events/dt=${day}/hour=09/`);
  });

  describe.each([
    ['plan', 10],
    ['stage', 11],
    ['publish', 12],
  ] as const)('a crash after %s', (step: CompactionStep, h: number) => {
    it('leaves every answer unchanged; running again finishes it exactly', async () => {
      const before = await answers(h);
      await expect(compactPartition({ s3, bucket: BUCKET, pipeline: clickstream, partition: { dt: day, hour: hh(h) }, now: LATER, crashAfter: step })).rejects.toBeInstanceOf(SimulatedCrash);
      expect(await answers(h)).toEqual(before);

      if (step === 'publish') {
        // A crash in the middle of retiring: half the sources deleted, the rest still listed.
        const sources = (await listPartitionObjects(s3, BUCKET, `tables/clickstream_events/dt=${day}/hour=${hh(h)}/`)).filter((o) => !o.key.includes('/compacted-'));
        await s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: sources.slice(0, BATCHES / 2).map((o) => ({ Key: o.key })) } }));
        expect(await answers(h)).toEqual(before);
      }

      // Recovery publishes what was not yet published (retiring an hour later), and retires what was.
      const first = await recoverCompactions(s3, BUCKET, clickstream, { now: RETIRE });
      expect(first.map((m) => [m.partition.hour, m.state])).toEqual([[hh(h), step === 'publish' ? 'done' : 'published']]);
      expect(await answers(h)).toEqual(before);
      const second = await recoverCompactions(s3, BUCKET, clickstream, { now: FINAL });
      expect(second.map((m) => [m.partition.hour, m.state])).toEqual(step === 'publish' ? [] : [[hh(h), 'done']]);
      expect(await objectsIn('clickstream_events', h)).toEqual([`compacted-${first[0]!.id}.parquet`]);
      expect(await answers(h)).toEqual(before);
    });
  });

  it('merges late-table objects only once no retry can rewrite them: late batches land in sealed hours', async () => {
    // Two late batches for hour 11, arriving now (a day and more after their events).
    const handler = createStreamProcessor(clickstream, { s3, bucket: BUCKET, logger: silentLogger });
    const ts = Date.UTC(2026, 2, 1, 11, 30);
    for (const b of [0, 1]) {
      const records = Array.from({ length: 20 }, (_, i) => kinesisRecord({ event_id: `late${b}-${i}`, user_id: 'u', category: 'books', value: 50, ts }, { seq: 900_000 + b * 100 + i, arrivalMs: Date.now() }));
      expect((await handler(kinesisEvent(records))).batchItemFailures).toEqual([]);
    }
    const partition = { dt: day, hour: '11' };
    expect(await objectsIn('clickstream_late', 11)).toHaveLength(2);
    // Written just now: a retry could still rewrite them.
    const young = await compactPartition({ s3, bucket: BUCKET, pipeline: clickstream, role: 'late', partition, now: Date.now });
    expect(young.skipped).toBe(`0 current object(s) in tables/clickstream_late/dt=${day}/hour=11/`);
    // Past the maximum record age (+ 1 h): merged.
    const settled = await compactPartition({ s3, bucket: BUCKET, pipeline: clickstream, role: 'late', partition, now: () => Date.now() + clickstream.processing.maxRecordAgeMs + 2 * 3_600_000 });
    expect(settled.manifest).toMatchObject({ state: 'published', rows: 40 });
  });

  it('a plan whose sources changed before anything was published is dropped, with the reason', async () => {
    const h = 13;
    await expect(compactPartition({ s3, bucket: BUCKET, pipeline: clickstream, partition: { dt: day, hour: hh(h) }, now: LATER, crashAfter: 'plan' })).rejects.toBeInstanceOf(SimulatedCrash);
    // A (hypothetical) rewrite of one source after planning.
    const handler = createStreamProcessor(clickstream, { s3, bucket: BUCKET, logger: silentLogger });
    const ts = Date.UTC(2026, 2, 1, h, 30);
    const first = 4 * BATCHES * PER_BATCH; // hour 13's first batch: same object name, other content
    await handler(kinesisEvent(Array.from({ length: PER_BATCH }, (_, i) => kinesisRecord({ event_id: `x${i}`, user_id: 'u', category: 'books', value: 99, ts }, { seq: first + i, arrivalMs: ts + 1_000 }))));
    await expect(compactPartition({ s3, bucket: BUCKET, pipeline: clickstream, partition: { dt: day, hour: hh(h) }, now: LATER })).rejects.toThrow(/changed since compaction .* was planned; the plan was dropped, nothing was published/);
    expect(await objectsIn('clickstream_events', h)).toHaveLength(BATCHES);
  });
});

describe('compactPipeline (what `shardflow compact`, the hourly pass in `dev` and the compactor Lambda run)', () => {
  it('answers the same while it runs, and leaves one object per sealed partition of every Parquet table', async () => {
    const before = await Promise.all(HOURS.map(answers));
    // A pass in `dev` on fresh data: nothing is sealed.
    const early = await compactPipeline(s3, BUCKET, clickstream, { now: () => Date.UTC(2026, 2, 1, 14) });
    expect(early.compacted).toEqual([]);
    expect(early.skipped).toBeGreaterThan(0);

    // Readers keep querying while the passes publish and then retire.
    let stop = false;
    const seen: Answers[][] = [];
    const reader = (async () => {
      while (!stop) seen.push(await Promise.all(HOURS.map(answers)));
    })();
    const pass = await compactPipeline(s3, BUCKET, clickstream, { now: LATER });
    const retirePass = await compactPipeline(s3, BUCKET, clickstream, { now: FINAL });
    stop = true;
    await reader;
    const again = await compactPipeline(s3, BUCKET, clickstream, { now: FINAL });

    expect(seen.length).toBeGreaterThan(0);
    for (const s of seen) expect(s).toEqual(before);
    for (const h of HOURS) {
      expect(await objectsIn('clickstream_events', h)).toHaveLength(1);
      expect(await objectsIn('clickstream_partials', h)).toHaveLength(1);
    }
    expect(await Promise.all(HOURS.map(answers))).toEqual(before);
    expect(pass.compacted.map((m) => m.state)).toContain('published');
    expect(retirePass.recovered.map((m) => m.state)).toContain('done');
    expect(again.compacted).toEqual([]);
    expect(again.recovered).toEqual([]);
  });
});
