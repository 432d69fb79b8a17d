/**
 * Local Athena endpoint latency (issue 11: interactive queries): one day of
 * clickstream data as the stream processor writes it at one batch a minute
 * (24 hourly partitions × 60 batches: 1,440 raw and 1,440 partials objects),
 * queried through the Athena API (StartQueryExecution, GetQueryExecution,
 * GetQueryResults) by the same client code that runs against AWS.
 *
 * - fresh day: the first query of a new endpoint over the whole day (every
 *   object listed and read), on a watched endpoint (objects read in place) and
 *   on one that lists and downloads, and the first one-hour query of another one.
 * - small query: the one-hour question with a dt/hour predicate, N times,
 *   warm, against the floor: DuckDB (@duckdb/node-api) reading the same
 *   hour's Parquet files directly, same run, queried in turn. Also on an
 *   endpoint that is not told of the lake's changes (lists per query). The
 *   watched runs are split into the client's three steps (StartQueryExecution,
 *   GetQueryExecution until SUCCEEDED, GetQueryResults) and the endpoint's
 *   EngineExecutionTimeInMillis.
 * - pruning: the same question without a partition predicate (a function of
 *   ts selects the hour), same endpoint, in turn.
 * - view range: the aggregate view with a window_start range only, against the
 *   same range with dt/hour bounds and against no bound at all.
 * Answers are checked equal wherever two paths ask the same question.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, ListObjectsCommand, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { fetchResults, runAthenaQuery, startQuery, waitForQuery } from '../../functions/query-runner/athena-query';
import { startAthenaEndpoint, type AthenaEndpoint } from '../../local/athena';
import { localAthenaClient, localS3Client } from '../../local/aws-clients';
import { startS3Emulator, type S3Emulator } from '../../local/services/s3';
import { freePort } from '../../local/services/service';
import clickstream from '../../pipelines/clickstream';
import { CLICKSTREAM_DAY, writeClickstreamDay } from './clickstream-day';
import { benchScratchDir, result, type BenchSuiteOutput } from './types';

const BUCKET = 'bench-small-query';
const DAY = CLICKSTREAM_DAY;
/** One batch a minute. */
const BATCHES_PER_HOUR = 60;
const EVENTS_PER_BATCH = 100;
const RUNS = 40;
const SQL = `SELECT category, count(*) AS n FROM clickstream_events WHERE dt = '${DAY}' AND hour = 12 GROUP BY category`;
const UNPRUNED_SQL = `SELECT category, count(*) AS n FROM clickstream_events WHERE date_format(ts, '%Y-%m-%d %H') = '${DAY} 12' GROUP BY category`;
const DAY_SQL = `SELECT category, count(*) AS n FROM clickstream_events WHERE dt = '${DAY}' GROUP BY category`;
const VIEW = 'clickstream_by_category_1m';
const RANGE = `window_start >= TIMESTAMP '${DAY} 12:00:00' AND window_start < TIMESTAMP '${DAY} 13:00:00'`;
const VIEW_RANGE_SQL = `SELECT category, sum(events) AS events FROM ${VIEW} WHERE ${RANGE} GROUP BY category`;
const VIEW_BOUNDED_SQL = `SELECT category, sum(events) AS events FROM ${VIEW} WHERE dt = '${DAY}' AND hour = 12 AND ${RANGE} GROUP BY category`;
const VIEW_UNBOUNDED_SQL = `SELECT category, sum(events) AS events FROM ${VIEW} WHERE date_format(window_start, '%Y-%m-%d %H') = '${DAY} 12' GROUP BY category`;
/** Poll GetQueryExecution every 1-2 ms: the numbers are the endpoint's, not the client's back-off (default 100 ms first poll). */
const POLL = { pollInitialMs: 1, pollMaxMs: 2 };

const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
};
const answer = (rows: readonly (readonly unknown[])[]): string => JSON.stringify(rows.map((r) => r.map(String)).sort());

async function listKeys(s3: S3Client, prefix: string): Promise<{ key: string; size: number }[]> {
  const out: { key: string; size: number }[] = [];
  // Version 1 with markers: s3rver's V2 continuation token needs DES, which OpenSSL 3 refuses (local/athena/catalog.ts).
  let marker: string | undefined;
  for (;;) {
    const page = await s3.send(new ListObjectsCommand({ Bucket: BUCKET, Prefix: prefix, Marker: marker }));
    const contents = page.Contents ?? [];
    out.push(...contents.filter((o) => o.Key!.endsWith('.parquet')).map((o) => ({ key: o.Key!, size: o.Size ?? 0 })));
    if (!page.IsTruncated || contents.length === 0) return out;
    marker = contents[contents.length - 1]!.Key;
  }
}

export async function benchAthenaSmallQuery(): Promise<BenchSuiteOutput> {
  const tmp = await benchScratchDir('shardflow-bench-small-query');
  const s3Service: S3Emulator = await startS3Emulator({ port: await freePort(), dataDir: path.join(tmp, 's3') });
  const s3 = localS3Client(s3Service.endpoint);
  const endpoints: AthenaEndpoint[] = [];
  let floorDb: DuckDBInstance | undefined;
  let round = 0;
  const endpoint = async (watched: boolean) => {
    const ep = await startAthenaEndpoint({
      port: await freePort(),
      s3: { endpoint: s3Service.endpoint, bucket: BUCKET, ...(watched ? { emulator: s3Service } : {}) },
      pipelines: [clickstream],
      dataDir: path.join(tmp, `athena-${round++}`),
    });
    endpoints.push(ep);
    await ep.ready();
    return { ep, client: localAthenaClient(ep.endpoint) };
  };
  const query = async (c: ReturnType<typeof localAthenaClient>, sql: string) => {
    const t = performance.now();
    const r = await runAthenaQuery(c, { sql }, POLL);
    return { ms: performance.now() - t, rows: r.rows, scanned: r.dataScannedBytes };
  };
  /** runAthenaQuery's calls one by one, timed: the watched small query's breakdown. */
  const stepped = async (c: ReturnType<typeof localAthenaClient>, sql: string) => {
    const t0 = performance.now();
    const id = await startQuery(c, { sql });
    const t1 = performance.now();
    const qe = await waitForQuery(c, id, POLL);
    const t2 = performance.now();
    const { rows } = await fetchResults(c, qe);
    const t3 = performance.now();
    return { ms: t3 - t0, start: t1 - t0, wait: t2 - t1, results: t3 - t2, engine: qe.Statistics?.EngineExecutionTimeInMillis ?? 0, rows };
  };
  const step = (what: string) => process.stderr.write(`athena-small-query: ${what}\n`);
  try {
    step('writing the day');
    await writeClickstreamDay(s3, BUCKET, { batchesPerHour: BATCHES_PER_HOUR, eventsPerBatch: EVENTS_PER_BATCH });
    const rawObjects = await listKeys(s3, 'tables/clickstream_events/');
    const partialObjects = await listKeys(s3, 'tables/clickstream_partials/');
    const hourPartials = partialObjects.filter((o) => o.key.includes(`dt=${DAY}/hour=12/`));

    // The floor's files: the hour's raw objects, downloaded once.
    const hourKeys = rawObjects.filter((o) => o.key.includes(`dt=${DAY}/hour=12/`)).map((o) => o.key);
    const floorDir = path.join(tmp, 'floor');
    await fs.mkdir(floorDir);
    const files: string[] = [];
    for (const [i, key] of hourKeys.entries()) {
      const file = path.join(floorDir, `${i}.parquet`);
      await fs.writeFile(file, await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToByteArray());
      files.push(file);
    }
    floorDb = await DuckDBInstance.create(':memory:', { threads: '2' });
    const floorConn = await floorDb.connect();
    const floorSql = `SELECT category, count(*) AS n FROM read_parquet([${files.map((f) => `'${f}'`).join(', ')}]) GROUP BY category`;
    const expected = answer((await floorConn.runAndReadAll(floorSql)).getRows());
    const check = (what: string, rows: readonly (readonly unknown[])[], want = expected): void => {
      const got = answer(rows);
      if (got !== want) throw new Error(`${what} answered ${got}, expected ${want}`);
    };

    step('fresh endpoints');
    // The day's floor: DuckDB on all the day's raw files, a new instance (cold) and again (warm).
    const dayDir = path.join(tmp, 'floor-day');
    await fs.mkdir(dayDir);
    const dayFiles: string[] = [];
    for (const [i, o] of rawObjects.entries()) {
      const file = path.join(dayDir, `${i}.parquet`);
      await fs.writeFile(file, await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: o.key }))).Body!.transformToByteArray());
      dayFiles.push(file);
    }
    const dayFloorSql = `SELECT category, count(*) AS n FROM read_parquet([${dayFiles.map((f) => `'${f}'`).join(', ')}]) GROUP BY category`;
    const dayDb = await DuckDBInstance.create(':memory:', { threads: '2' });
    const dayConn = await dayDb.connect();
    let t0 = performance.now();
    const dayExpected = answer((await dayConn.runAndReadAll(dayFloorSql)).getRows());
    const dayFloorCold = performance.now() - t0;
    t0 = performance.now();
    await dayConn.runAndReadAll(dayFloorSql);
    const dayFloorWarm = performance.now() - t0;
    dayConn.closeSync();
    dayDb.closeSync();

    // Fresh day: the first query of a new endpoint (its worker started), nothing cached.
    const freshDay = await endpoint(true);
    const dayFirst = await query(freshDay.client, DAY_SQL);
    const daySecond = await query(freshDay.client, DAY_SQL);
    check('first whole-day query', dayFirst.rows, dayExpected);
    const freshListing = await endpoint(false);
    const dayListingFirst = await query(freshListing.client, DAY_SQL);
    check('first whole-day query, listing endpoint', dayListingFirst.rows, dayExpected);
    const freshHour = await endpoint(true);
    const hourFirst = await query(freshHour.client, SQL);
    check('first one-hour query', hourFirst.rows);

    // Warm: the watched endpoint (the one dev runs), one that lists per query, and the floor, in turn.
    const watched = freshHour;
    const listing = await endpoint(false);
    check('listing endpoint', (await query(listing.client, SQL)).rows);
    check('unpruned query', (await query(watched.client, UNPRUNED_SQL)).rows);
    const viewRange = await query(watched.client, VIEW_RANGE_SQL);
    const viewBounded = await query(watched.client, VIEW_BOUNDED_SQL);
    const viewUnbounded = await query(watched.client, VIEW_UNBOUNDED_SQL);
    check('view with window_start range', viewRange.rows, answer(viewBounded.rows));
    check('view without partition bound', viewUnbounded.rows, answer(viewBounded.rows));
    step('warm runs');
    const samples: Record<'watched' | 'listing' | 'floor' | 'unpruned' | 'viewRange' | 'viewBounded' | 'viewUnbounded' | 'start' | 'wait' | 'results' | 'engine', number[]> = {
      watched: [], listing: [], floor: [], unpruned: [], viewRange: [], viewBounded: [], viewUnbounded: [], start: [], wait: [], results: [], engine: [],
    };
    for (let r = 0; r < RUNS; r++) {
      const w = await stepped(watched.client, SQL);
      if (r === 0) check('watched query, stepped', w.rows);
      samples.watched.push(w.ms);
      samples.start.push(w.start);
      samples.wait.push(w.wait);
      samples.results.push(w.results);
      samples.engine.push(w.engine);
      samples.listing.push((await query(listing.client, SQL)).ms);
      const t = performance.now();
      await floorConn.runAndReadAll(floorSql);
      samples.floor.push(performance.now() - t);
      samples.unpruned.push((await query(watched.client, UNPRUNED_SQL)).ms);
      if (r % 4 === 0) {
        samples.viewRange.push((await query(watched.client, VIEW_RANGE_SQL)).ms);
        samples.viewBounded.push((await query(watched.client, VIEW_BOUNDED_SQL)).ms);
        samples.viewUnbounded.push((await query(watched.client, VIEW_UNBOUNDED_SQL)).ms);
      }
    }
    floorConn.closeSync();

    const p = (k: keyof typeof samples, q: number) => quantile(samples[k], q);
    const ms = (x: number) => x.toFixed(1);
    const partialsHourBytes = hourPartials.reduce((n, o) => n + o.size, 0);
    const partialsDayBytes = partialObjects.reduce((n, o) => n + o.size, 0);
    const results = [
      result('local Athena small query (warm engine, watched lake) vs DuckDB on the files', 1000 / p('watched', 0.5), 'DuckDB reading the same Parquet files', 1000 / p('floor', 0.5), `queries/s at p50; p50 ${ms(p('watched', 0.5))} ms, p95 ${ms(p('watched', 0.95))} ms (goal p50 ≤ 30, p95 ≤ 60); floor p50 ${ms(p('floor', 0.5))} ms`),
      result('local Athena small query (listing per query) vs DuckDB on the files', 1000 / p('listing', 0.5), 'DuckDB reading the same Parquet files', 1000 / p('floor', 0.5), `queries/s at p50; p50 ${ms(p('listing', 0.5))} ms, p95 ${ms(p('listing', 0.95))} ms`),
      result('local Athena: one hour with a dt/hour predicate vs no partition predicate, a day of 1,440 objects', 1000 / p('watched', 0.5), 'same question, no partition predicate', 1000 / p('unpruned', 0.5), `queries/s at p50 (goal ratio ≥ 10); p50 ${ms(p('watched', 0.5))} vs ${ms(p('unpruned', 0.5))} ms`),
      result('local Athena fresh day: first query of a new endpoint over 1,440 objects', 1000 / dayFirst.ms, 'the same query, warm', 1000 / daySecond.ms, `queries/s; ${ms(dayFirst.ms)} ms (goal ≤ 1000 ms) vs ${ms(daySecond.ms)} ms warm; listing endpoint (downloads) ${ms(dayListingFirst.ms)} ms; DuckDB alone on the day's files ${ms(dayFloorCold)} ms cold, ${ms(dayFloorWarm)} ms warm; first one-hour query of a new endpoint ${ms(hourFirst.ms)} ms`),
      result('local Athena: aggregate view with a window_start range vs the same range with dt/hour bounds', 1000 / p('viewRange', 0.5), 'same range with dt/hour bounds', 1000 / p('viewBounded', 0.5), `queries/s at p50; bytes scanned ${viewRange.scanned} vs ${viewBounded.scanned} (the hour's partials ${partialsHourBytes}, the day's ${partialsDayBytes}); unbounded view ${ms(p('viewUnbounded', 0.5))} ms`),
    ];
    const markdown = [
      '## Local Athena: interactive queries',
      '',
      `One day of clickstream data written by the stream processor at one batch a minute (${rawObjects.length.toLocaleString('en-US')} raw and ${partialObjects.length.toLocaleString('en-US')} partials objects, ${(24 * BATCHES_PER_HOUR * EVENTS_PER_BATCH).toLocaleString('en-US')} events), queried through the Athena API; the client polls every 1–2 ms so the times are the endpoint's. "Watched": the endpoint is told of every object the S3 emulator stores or removes and reads the emulator's files in place (what \`dev\` runs); "listing": it lists the tables a query reads, per query. Warm rows: ${RUNS} runs each, queried in turn with the floor, DuckDB (\`@duckdb/node-api\`, one open connection) reading the same hour's ${files.length} Parquet files directly, same run. Answers checked equal. Goals (issue 11): p50 ≤ 30 ms, p95 ≤ 60 ms; pruned ≥ 10× faster than unpruned; first query of a new endpoint over 1,440 objects ≤ 1 s.`,
      '',
      '| query | path | p50 ms | p95 ms | × floor at p50 |',
      '|---|---|---:|---:|---:|',
      `| one hour, dt/hour predicate (${files.length} objects) | Athena API, watched | ${ms(p('watched', 0.5))} | ${ms(p('watched', 0.95))} | ${(p('watched', 0.5) / p('floor', 0.5)).toFixed(1)} |`,
      `| same | Athena API, listing per query | ${ms(p('listing', 0.5))} | ${ms(p('listing', 0.95))} | ${(p('listing', 0.5) / p('floor', 0.5)).toFixed(1)} |`,
      `| same | floor: DuckDB on the files | ${ms(p('floor', 0.5))} | ${ms(p('floor', 0.95))} | 1.0 |`,
      `| same hour, no partition predicate (\`date_format(ts, …)\`, ${rawObjects.length.toLocaleString('en-US')} objects) | Athena API, watched | ${ms(p('unpruned', 0.5))} | ${ms(p('unpruned', 0.95))} | ${(p('unpruned', 0.5) / p('floor', 0.5)).toFixed(1)} |`,
      `| aggregate view, \`${RANGE}\` only | Athena API, watched | ${ms(p('viewRange', 0.5))} | ${ms(p('viewRange', 0.95))} | |`,
      `| aggregate view, same range and \`dt\`/\`hour\` bounds | Athena API, watched | ${ms(p('viewBounded', 0.5))} | ${ms(p('viewBounded', 0.95))} | |`,
      `| aggregate view, the hour by \`date_format(window_start, …)\` (no bound) | Athena API, watched | ${ms(p('viewUnbounded', 0.5))} | ${ms(p('viewUnbounded', 0.95))} | |`,
      '',
      `Where the watched one-hour query's time goes (p50 of each step, ${RUNS} runs): StartQueryExecution ${ms(p('start', 0.5))} ms, GetQueryExecution until SUCCEEDED ${ms(p('wait', 0.5))} ms (the endpoint's EngineExecutionTimeInMillis ${ms(p('engine', 0.5))} ms, whole milliseconds from RUNNING to SUCCEEDED, result object stored), GetQueryResults ${ms(p('results', 0.5))} ms.`,
      '',
      `Pruned vs unpruned: ${(p('unpruned', 0.5) / p('watched', 0.5)).toFixed(1)}× at p50. View range: bytes scanned ${viewRange.scanned.toLocaleString('en-US')} with the window_start range alone, ${viewBounded.scanned.toLocaleString('en-US')} with dt/hour bounds, ${viewUnbounded.scanned.toLocaleString('en-US')} unbounded (the hour's partials are ${partialsHourBytes.toLocaleString('en-US')} bytes, the day's ${partialsDayBytes.toLocaleString('en-US')}).`,
      '',
      '| fresh endpoint (worker started, nothing listed or cached) | ms |',
      '|---|---:|',
      `| first query over the whole day (\`${DAY_SQL}\`, ${rawObjects.length.toLocaleString('en-US')} objects) | ${ms(dayFirst.ms)} |`,
      `| the same query again | ${ms(daySecond.ms)} |`,
      `| the first query on an endpoint not told of the lake's changes (lists, downloads and copies every object) | ${ms(dayListingFirst.ms)} |`,
      `| floor: DuckDB on the day's ${dayFiles.length.toLocaleString('en-US')} files, a new instance / again | ${ms(dayFloorCold)} / ${ms(dayFloorWarm)} |`,
      `| first one-hour query (${files.length} objects) | ${ms(hourFirst.ms)} |`,
      '',
      'Command: `npm run bench -- --only athena-small-query`.',
    ].join('\n');
    for (const c of [freshDay.client, freshListing.client, watched.client, listing.client]) c.destroy();
    return { results, markdown };
  } finally {
    floorDb?.closeSync();
    for (const ep of endpoints) await ep.stop();
    s3.destroy();
    await s3Service.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
