/**
 * Small-query latency of the local Athena endpoint (issue: local runtime speed):
 * one day of clickstream data as the stream processor writes it (24 hourly
 * partitions × 30 batches: 720 raw objects), then the one-hour question with a
 * dt/hour predicate, run N times through the Athena API (StartQueryExecution,
 * GetQueryExecution, GetQueryResults) with objects already cached. Two
 * endpoints on the same lake, queried in turn so that load drift hits both:
 * DuckDB instances kept warm (the default) and one instance per query (the
 * old path). The floor: DuckDB (@duckdb/node-api) reading the same hour's
 * Parquet files directly, same run. Answers are checked equal.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { runAthenaQuery } from '../../functions/query-runner/athena-query';
import { startAthenaEndpoint, type AthenaEndpoint } from '../../local/athena';
import { localAthenaClient, localS3Client } from '../../local/aws-clients';
import { startS3Emulator } from '../../local/services/s3';
import { freePort } from '../../local/services/service';
import clickstream from '../../pipelines/clickstream';
import { CLICKSTREAM_DAY, writeClickstreamDay } from './clickstream-day';
import { result, type BenchSuiteOutput } from './types';

const BUCKET = 'bench-small-query';
const DAY = CLICKSTREAM_DAY;
const BATCHES_PER_HOUR = 30;
const EVENTS_PER_BATCH = 200;
const RUNS = 40;
const SQL = `SELECT category, count(*) AS n FROM clickstream_events WHERE dt = '${DAY}' AND hour = 12 GROUP BY category`;
/** Poll GetQueryExecution every 1-2 ms: the numbers are the endpoint's, not the client's back-off (default 100 ms first poll). */
const POLL = { pollInitialMs: 1, pollMaxMs: 2 };

const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
};

export async function benchAthenaSmallQuery(): Promise<BenchSuiteOutput> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-bench-small-query-'));
  const s3Service = await startS3Emulator({ port: await freePort(), dataDir: path.join(tmp, 's3') });
  const s3 = localS3Client(s3Service.endpoint);
  const endpoints: AthenaEndpoint[] = [];
  let floorDb: DuckDBInstance | undefined;
  try {
    await writeClickstreamDay(s3, BUCKET, { batchesPerHour: BATCHES_PER_HOUR, eventsPerBatch: EVENTS_PER_BATCH });

    // The floor's files: the hour's raw objects, downloaded once.
    const hourPrefix = `tables/clickstream_events/dt=${DAY}/hour=12/`;
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: hourPrefix, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!).filter((k) => k.endsWith('.parquet')));
      token = page.NextContinuationToken;
    } while (token);
    const floorDir = path.join(tmp, 'floor');
    await fs.mkdir(floorDir);
    const files: string[] = [];
    for (const [i, key] of keys.entries()) {
      const file = path.join(floorDir, `${i}.parquet`);
      await fs.writeFile(file, await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToByteArray());
      files.push(file);
    }
    floorDb = await DuckDBInstance.create(':memory:', { threads: '2' });
    const floorConn = await floorDb.connect();
    const floorSql = `SELECT category, count(*) AS n FROM read_parquet([${files.map((f) => `'${f}'`).join(', ')}]) GROUP BY category`;

    const modes = ['pooled', 'per-query'] as const;
    const clients = [];
    for (const mode of modes) {
      const ep = await startAthenaEndpoint({ port: await freePort(), s3: { endpoint: s3Service.endpoint, bucket: BUCKET }, pipelines: [clickstream], dataDir: path.join(tmp, `athena-${mode}`), queryInstances: mode });
      endpoints.push(ep);
      clients.push(localAthenaClient(ep.endpoint));
    }
    const answer = (rows: readonly (readonly unknown[])[]) => JSON.stringify(rows.map((r) => r.map(String)).sort());
    const expected = answer((await floorConn.runAndReadAll(floorSql)).getRows());
    // First query of each endpoint fetches the objects; not measured.
    for (const [i, c] of clients.entries()) {
      const got = answer((await runAthenaQuery(c, { sql: SQL }, POLL)).rows);
      if (got !== expected) throw new Error(`${modes[i]} endpoint answered ${got}, DuckDB on the files ${expected}`);
    }
    const samples: Record<(typeof modes)[number] | 'floor', number[]> = { pooled: [], 'per-query': [], floor: [] };
    for (let r = 0; r < RUNS; r++) {
      for (const [i, c] of clients.entries()) {
        const t = performance.now();
        await runAthenaQuery(c, { sql: SQL }, POLL);
        samples[modes[i]!].push(performance.now() - t);
      }
      const t = performance.now();
      await floorConn.runAndReadAll(floorSql);
      samples.floor.push(performance.now() - t);
    }
    floorConn.closeSync();

    const p = (k: keyof typeof samples, q: number) => quantile(samples[k], q);
    const ms = (x: number) => x.toFixed(1);
    const note = (k: keyof typeof samples) => `queries/s at p50; p50 ${ms(p(k, 0.5))} ms, p95 ${ms(p(k, 0.95))} ms`;
    const results = [
      result('local Athena small query (warm DuckDB instances) vs DuckDB on the files', 1000 / p('pooled', 0.5), 'DuckDB reading the same Parquet files', 1000 / p('floor', 0.5), `${note('pooled')}; floor p50 ${ms(p('floor', 0.5))} ms`),
      result('local Athena small query (one DuckDB instance per query) vs DuckDB on the files', 1000 / p('per-query', 0.5), 'DuckDB reading the same Parquet files', 1000 / p('floor', 0.5), `${note('per-query')}; floor p50 ${ms(p('floor', 0.5))} ms`),
      result('local Athena small query: warm instances vs one instance per query', 1000 / p('pooled', 0.5), 'one DuckDB instance per query', 1000 / p('per-query', 0.5), 'queries/s at p50, same run, queried in turn'),
    ];
    const markdown = [
      '## Local Athena: small query latency',
      '',
      `One day of clickstream data written by the stream processor (${24 * BATCHES_PER_HOUR} raw objects, ${(24 * BATCHES_PER_HOUR * EVENTS_PER_BATCH).toLocaleString('en-US')} events), then \`${SQL}\` (${keys.length} objects) ${RUNS} times through the Athena API on two endpoints over the same lake, queried in turn, objects already cached. The client polls every 1–2 ms so the times are the endpoint's. Floor: DuckDB (\`@duckdb/node-api\`, one open connection) reading the same hour's files directly, same run. Answers checked equal. Goal (issue 11): p50 ≤ 30 ms, p95 ≤ 60 ms.`,
      '',
      '| path | p50 ms | p95 ms | × floor at p50 |',
      '|---|---:|---:|---:|',
      `| Athena API, DuckDB instances kept warm (default) | ${ms(p('pooled', 0.5))} | ${ms(p('pooled', 0.95))} | ${(p('pooled', 0.5) / p('floor', 0.5)).toFixed(1)} |`,
      `| Athena API, one DuckDB instance per query | ${ms(p('per-query', 0.5))} | ${ms(p('per-query', 0.95))} | ${(p('per-query', 0.5) / p('floor', 0.5)).toFixed(1)} |`,
      `| floor: DuckDB on the files | ${ms(p('floor', 0.5))} | ${ms(p('floor', 0.95))} | 1.0 |`,
      '',
      'Command: `npm run bench -- --only athena-small-query`.',
    ].join('\n');
    for (const c of clients) c.destroy();
    return { results, markdown };
  } finally {
    floorDb?.closeSync();
    for (const ep of endpoints) await ep.stop();
    s3.destroy();
    await s3Service.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
