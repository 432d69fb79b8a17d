/**
 * Compaction bench: one day of clickstream data as the stream processor writes
 * it (24 hourly partitions × 30 batches of 200 events: one raw and one partials
 * object per batch and partition), queried through the local Athena endpoint
 * before and after compacting every partition of both tables. Reports query
 * time on a fresh endpoint (every object fetched) and warm (objects cached),
 * and the objects each query reads.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { runAthenaQuery } from '../../functions/query-runner/athena-query';
import { startAthenaEndpoint } from '../../local/athena';
import { localAthenaClient, localS3Client } from '../../local/aws-clients';
import { compactPartition, listPartitionObjects, RETIRE_AFTER_MS } from '../../functions/compactor/compaction';
import { startS3Emulator } from '../../local/services/s3';
import { freePort } from '../../local/services/service';
import clickstream from '../../pipelines/clickstream';
import { CLICKSTREAM_DAY, writeClickstreamDay } from './clickstream-day';
import { benchScratchDir, result, type BenchSuiteOutput } from './types';

const BUCKET = 'bench-compaction';
const DAY = CLICKSTREAM_DAY;
const BATCHES_PER_HOUR = 30;
const EVENTS_PER_BATCH = 200;
const WARM_RUNS = 5;
const QUERIES = {
  raw: `SELECT category, count(*), sum(value), max(value) FROM clickstream_events WHERE dt = '${DAY}' GROUP BY category`,
  view: `SELECT category, sum(events), sum(total_value) FROM clickstream_by_category_1m WHERE window_start >= TIMESTAMP '${DAY} 00:00:00' AND window_start < TIMESTAMP '2026-03-02 00:00:00' GROUP BY category`,
};

interface Timing { coldMs: number; warmMs: number; rows: string }

export async function benchCompaction(): Promise<BenchSuiteOutput> {
  const tmp = await benchScratchDir('shardflow-bench-compaction');
  const s3Service = await startS3Emulator({ port: await freePort(), dataDir: path.join(tmp, 's3') });
  const s3 = localS3Client(s3Service.endpoint);
  try {
    await writeClickstreamDay(s3, BUCKET, { batchesPerHour: BATCHES_PER_HOUR, eventsPerBatch: EVENTS_PER_BATCH });

    const objects = async () => {
      const count = async (t: string) => (await listPartitionObjects(s3, BUCKET, `tables/${t}/dt=${DAY}/`)).filter((o) => o.key.endsWith('.parquet')).length;
      return { raw: await count('clickstream_events'), partials: await count('clickstream_partials') };
    };

    // A fresh endpoint (empty object cache) per measurement: the first query fetches every object.
    let round = 0;
    const measure = async (sql: string): Promise<Timing> => {
      const ep = await startAthenaEndpoint({ port: await freePort(), s3: { endpoint: s3Service.endpoint, bucket: BUCKET }, pipelines: [clickstream], dataDir: path.join(tmp, `athena-${round++}`) });
      const athena = localAthenaClient(ep.endpoint);
      try {
        const t0 = performance.now();
        const first = await runAthenaQuery(athena, { sql });
        const coldMs = performance.now() - t0;
        const warm: number[] = [];
        for (let i = 0; i < WARM_RUNS; i++) {
          const t = performance.now();
          await runAthenaQuery(athena, { sql });
          warm.push(performance.now() - t);
        }
        return { coldMs, warmMs: warm.sort((a, b) => a - b)[Math.floor(WARM_RUNS / 2)]!, rows: JSON.stringify([...first.rows].sort()) };
      } finally {
        athena.destroy();
        await ep.stop();
      }
    };

    const objectsBefore = await objects();
    const before = { raw: await measure(QUERIES.raw), view: await measure(QUERIES.view) };
    const t0 = performance.now();
    const compactAll = async (now: number) => {
      for (let h = 0; h < 24; h++) {
        const partition = { dt: DAY, hour: String(h).padStart(2, '0') };
        await compactPartition({ s3, bucket: BUCKET, pipeline: clickstream, partition, now: () => now });
        await compactPartition({ s3, bucket: BUCKET, pipeline: clickstream, role: 'partials', partition, now: () => now });
      }
    };
    await compactAll(Date.UTC(2026, 2, 4));
    const compactMs = performance.now() - t0;
    // Published, sources not yet retired: readers list both and skip the sources.
    const objectsPublished = await objects();
    const published = { raw: await measure(QUERIES.raw), view: await measure(QUERIES.view) };
    await compactAll(Date.UTC(2026, 2, 4) + RETIRE_AFTER_MS + 1);
    const objectsAfter = await objects();
    const after = { raw: await measure(QUERIES.raw), view: await measure(QUERIES.view) };
    for (const k of ['raw', 'view'] as const) {
      if (before[k].rows !== after[k].rows || before[k].rows !== published[k].rows) {
        throw new Error(`compaction changed the answer of the ${k} query: ${before[k].rows} → ${published[k].rows} (published) → ${after[k].rows} (retired)`);
      }
    }

    const events = 24 * BATCHES_PER_HOUR * EVENTS_PER_BATCH;
    const results = [
      result('day query on raw, fresh endpoint: compacted vs batch objects', 1000 / after.raw.coldMs, 'batch objects', 1000 / before.raw.coldMs, `queries/s; ${objectsBefore.raw} → ${objectsAfter.raw} objects, ${before.raw.coldMs.toFixed(0)} → ${after.raw.coldMs.toFixed(0)} ms`),
      result('day query on raw, cached objects', 1000 / after.raw.warmMs, 'batch objects', 1000 / before.raw.warmMs, `queries/s; median of ${WARM_RUNS}; ${before.raw.warmMs.toFixed(0)} → ${after.raw.warmMs.toFixed(0)} ms`),
      result('day query on the view (partials), fresh endpoint', 1000 / after.view.coldMs, 'batch objects', 1000 / before.view.coldMs, `queries/s; ${objectsBefore.partials} → ${objectsAfter.partials} objects, ${before.view.coldMs.toFixed(0)} → ${after.view.coldMs.toFixed(0)} ms`),
      result('day query on the view (partials), cached objects', 1000 / after.view.warmMs, 'batch objects', 1000 / before.view.warmMs, `queries/s; median of ${WARM_RUNS}; ${before.view.warmMs.toFixed(0)} → ${after.view.warmMs.toFixed(0)} ms`),
    ];
    const ms = (x: number) => x.toFixed(0);
    const markdown = [
      '## Compaction (local Athena endpoint)',
      '',
      `One day of clickstream data written by the stream processor: ${events.toLocaleString('en-US')} events in ${24 * BATCHES_PER_HOUR} batches, one raw and one partials object per batch. Every hourly partition of both tables is then compacted (${ms(compactMs)} ms for all 48 merges and publishes), the same queries run while the sources are still listed (published) and again after they are retired; answers are checked equal at each step.`,
      '',
      '| query | objects listed: before → published → retired | fresh endpoint, ms: before → published → retired | cached, ms: before → published → retired |',
      '|---|---|---|---|',
      `| raw table, one day | ${objectsBefore.raw} → ${objectsPublished.raw} → ${objectsAfter.raw} | ${ms(before.raw.coldMs)} → ${ms(published.raw.coldMs)} → ${ms(after.raw.coldMs)} | ${ms(before.raw.warmMs)} → ${ms(published.raw.warmMs)} → ${ms(after.raw.warmMs)} |`,
      `| aggregate view, one day | ${objectsBefore.partials} → ${objectsPublished.partials} → ${objectsAfter.partials} | ${ms(before.view.coldMs)} → ${ms(published.view.coldMs)} → ${ms(after.view.coldMs)} | ${ms(before.view.warmMs)} → ${ms(published.view.warmMs)} → ${ms(after.view.warmMs)} |`,
      '',
      '"Fresh endpoint" is the first query of a new endpoint, which fetches every object from S3; "cached" is the median of the next runs. Command: `npm run bench -- --only compaction`.',
    ].join('\n');
    return { results, markdown };
  } finally {
    s3.destroy();
    await s3Service.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
