/**
 * Compaction on real services (s3rver + the local Athena endpoint): a sealed
 * hour of many batch objects becomes one object and every query answers the
 * same; an unsealed hour is refused; a crash after any step is finished by
 * running compaction again, and readers see the documented states on the way
 * (unchanged before publish; sources and compacted object together between
 * publish and retire — the one window docs/compaction.md states).
 */
import type { AthenaClient } from '@aws-sdk/client-athena';
import { type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAthenaQuery } from '../functions/query-runner/athena-query';
import { silentLogger } from '../functions/shared/logger';
import { createStreamProcessor } from '../functions/stream-processor/handler';
import { compactPartition, compactPipeline, listPartitionObjects, recoverCompactions, SimulatedCrash, type CompactionStep } from '../local/compaction';
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
const LATER = () => Date.UTC(2026, 2, 3);

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

async function hourTotals(h: number): Promise<{ raw: string[]; view: string[][] }> {
  const raw = await runAthenaQuery(athena, { sql: `SELECT count(*), sum(value), count(DISTINCT event_id) FROM clickstream_events WHERE dt = '${day}' AND hour = ${h}` });
  const view = await runAthenaQuery(athena, {
    sql: `SELECT window_start, category, events, total_value, max_value, users FROM clickstream_by_category_1m WHERE window_start >= TIMESTAMP '${day} ${hh(h)}:00:00' AND window_start < TIMESTAMP '${day} ${hh(h)}:59:59.999' ORDER BY 1, 2`,
  });
  return { raw: raw.rows[0]!.map(String), view: view.rows.map((r) => r.map(String)) };
}

const objectsIn = async (table: string, h: number) =>
  (await listPartitionObjects(s3, BUCKET, `tables/${table}/dt=${day}/hour=${hh(h)}/`)).map((o) => o.key.slice(o.key.lastIndexOf('/') + 1));

describe('compactPartition', () => {
  it('refuses a partition that a late or retried batch may still write, and says until when', async () => {
    await expect(compactPartition({ s3, bucket: BUCKET, pipeline: clickstream, partition: { dt: day, hour: '09' }, now: () => Date.UTC(2026, 2, 1, 12) }))
      .rejects.toThrow(/partition tables\/clickstream_events\/dt=2026-03-01\/hour=09\/ of table clickstream_events is not sealed until 2026-03-02T11:10:00.000Z/);
  });

  it('turns a sealed hour of batch objects into one, raw and partials, and every answer stays the same', async () => {
    const before = await hourTotals(9);
    expect(Number(before.raw[0])).toBe(BATCHES * PER_BATCH);
    expect(await objectsIn('clickstream_events', 9)).toHaveLength(BATCHES);

    const raw = await compactPartition({ s3, bucket: BUCKET, pipeline: clickstream, partition: { dt: day, hour: '09' }, now: LATER });
    const partials = await compactPartition({ s3, bucket: BUCKET, pipeline: clickstream, role: 'partials', partition: { dt: day, hour: '09' }, now: LATER });

    expect(raw.manifest).toMatchObject({ state: 'done', rows: BATCHES * PER_BATCH });
    expect(raw.manifest!.sources).toHaveLength(BATCHES);
    expect(partials.manifest!.state).toBe('done');
    expect(await objectsIn('clickstream_events', 9)).toEqual([`compacted-${raw.manifest!.id}.parquet`]);
    expect(await objectsIn('clickstream_partials', 9)).toEqual([`compacted-${partials.manifest!.id}.parquet`]);
    expect(await hourTotals(9)).toEqual(before);
    // The staging object is gone too; running again finds nothing to do.
    expect((await listPartitionObjects(s3, BUCKET, '_shardflow/compaction/')).filter((o) => o.key.endsWith('.parquet'))).toEqual([]);
    const again = await compactPartition({ s3, bucket: BUCKET, pipeline: clickstream, partition: { dt: day, hour: '09' }, now: LATER });
    expect(again.skipped).toBe(`1 object(s) in tables/clickstream_events/dt=${day}/hour=09/`);
  });

  describe.each([
    ['plan', 10, 1],
    ['stage', 11, 1],
    ['publish', 12, 2], // the documented window: sources and compacted object both listed
  ] as const)('a crash after %s', (step: CompactionStep, h: number, factor: number) => {
    it(`leaves readers ${factor === 1 ? 'unaffected' : 'seeing both, until recovery'}; running again finishes it exactly`, async () => {
      const before = await hourTotals(h);
      await expect(compactPartition({ s3, bucket: BUCKET, pipeline: clickstream, partition: { dt: day, hour: hh(h) }, now: LATER, crashAfter: step })).rejects.toBeInstanceOf(SimulatedCrash);

      const during = await hourTotals(h);
      expect(Number(during.raw[0])).toBe(factor * Number(before.raw[0]));
      expect(during.raw[2]).toBe(before.raw[2]); // distinct event ids: nothing missing, only duplicated

      const recovered = await recoverCompactions(s3, BUCKET, clickstream, LATER);
      expect(recovered.map((m) => [m.partition.hour, m.state])).toEqual([[hh(h), 'done']]);
      expect(await objectsIn('clickstream_events', h)).toEqual([`compacted-${recovered[0]!.id}.parquet`]);
      expect(await hourTotals(h)).toEqual(before);
    });
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

describe('compactPipeline (what `shardflow compact` and the hourly pass in `dev` run)', () => {
  it('leaves one object per sealed partition of every Parquet table, and every answer the same', async () => {
    // Prepare
    const before = await Promise.all(HOURS.map(hourTotals));
    // Act: first while no hour is sealed (a pass in `dev` on fresh data), then later.
    const early = await compactPipeline(s3, BUCKET, clickstream, () => Date.UTC(2026, 2, 1, 14));
    const pass = await compactPipeline(s3, BUCKET, clickstream, LATER);
    const again = await compactPipeline(s3, BUCKET, clickstream, LATER);
    // Assess
    for (const h of HOURS) {
      expect(await objectsIn('clickstream_events', h)).toHaveLength(1);
      expect(await objectsIn('clickstream_partials', h)).toHaveLength(1);
    }
    expect(await Promise.all(HOURS.map(hourTotals))).toEqual(before);
    expect(early.compacted).toEqual([]);
    expect(early.skipped).toBeGreaterThan(0);
    expect(pass.compacted.length + pass.recovered.length).toBeGreaterThan(0);
    expect(again.compacted).toEqual([]);
  });
});
