/**
 * The local Athena endpoint, driven by an unmodified @aws-sdk/client-athena
 * client, over a lake in s3rver written the way the pipelines write it.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  ListQueryExecutionsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
  GetWorkGroupCommand,
  BatchGetQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KmvSketch, kmvEstimate, lakeTable } from '../core';
import { encodeNdjsonGz, encodeParquet } from '../core/encode';
import { runAthenaQuery, startAthenaEndpoint, translateSql, type AthenaEndpoint } from '../local/athena';
import { freePort, type RunningService } from '../local/services/service';
import { startS3Emulator } from '../local/services/s3';
import clickstream from '../pipelines/clickstream';
import iot from '../pipelines/iot';

const BUCKET = 'lake';
const pipelines = [clickstream, iot];

let tmp: string;
let s3Service: RunningService;
let endpoint: AthenaEndpoint;
let s3: S3Client;
let athena: AthenaClient;
/** Rows written to clickstream_events, per partition "dt/hour". */
const rawRowsPerPartition = new Map<string, number>();
/** Users of each partial sketch, to compute the expected merge. */
const sketchUsers: { category: string; users: string[] }[] = [];

async function startEndpoint(): Promise<AthenaEndpoint> {
  return startAthenaEndpoint({ port: await freePort(), s3: { endpoint: s3Service.endpoint, bucket: BUCKET }, pipelines, dataDir: path.join(tmp, 'athena') });
}

function athenaClient(e: AthenaEndpoint): AthenaClient {
  return new AthenaClient({ endpoint: e.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
}

/** Writes a parquet object with DuckDB's COPY (core/encode.ts does not exist yet) and uploads it. */
async function putParquet(key: string, selectSql: string): Promise<void> {
  const file = path.join(tmp, `${key.replace(/[/=]/g, '_')}`);
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run(`COPY (${selectSql}) TO '${file}' (FORMAT parquet)`);
  c.closeSync();
  db.closeSync();
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: await fs.readFile(file) }));
}

async function waitFor(client: AthenaClient, id: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { QueryExecution } = await client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    const state = QueryExecution!.Status!.State!;
    if (state !== 'QUEUED' && state !== 'RUNNING') return QueryExecution!;
    if (Date.now() > deadline) throw new Error(`query ${id} still ${state}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function start(sql: string, client = athena): Promise<string> {
  const out = await client.send(new StartQueryExecutionCommand({ QueryString: sql, QueryExecutionContext: { Database: 'shardflow' } }));
  return out.QueryExecutionId!;
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-athena-'));
  s3Service = await startS3Emulator({ port: await freePort(), dataDir: path.join(tmp, 's3'), buckets: [BUCKET] });
  s3 = new S3Client({ endpoint: s3Service.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });

  // GIVEN clickstream raw events in four partitions (2,500 rows), written by two "shards".
  const raw = lakeTable(clickstream, 'raw');
  const partitions: [string, string, number, number][] = [
    ['2024-05-01', '00', 0, 700],
    ['2024-05-01', '01', 700, 600],
    ['2024-05-01', '02', 1300, 500],
    ['2024-05-02', '00', 1800, 700],
  ];
  for (const [dt, hour, from, n] of partitions) {
    const half = Math.floor(n / 2);
    for (const [shard, lo, cnt] of [['shardId-000', from, half], ['shardId-001', from + half, n - half]] as const) {
      await putParquet(
        `${raw.location}dt=${dt}/hour=${hour}/${shard}-${lo}-${lo + cnt - 1}.parquet`,
        `SELECT printf('e%05d', i) AS event_id, 'u' || (i % 40) AS user_id, ['books', 'games', 'music'][(i % 3) + 1] AS category, ` +
          `CAST(i AS DOUBLE) + 0.5 AS value, TIMESTAMP '${dt} ${hour}:00:00' + to_seconds(i - ${from}) AS ts FROM range(${lo}, ${lo + cnt}) t(i)`,
      );
    }
    rawRowsPerPartition.set(`${dt}/${hour}`, n);
  }

  // GIVEN clickstream partial aggregates: one window, two shards each with a KMV sketch; 'books' sees 1,500 distinct users (> k).
  const partials = lakeTable(clickstream, 'partials');
  const shards: { shard: string; category: string; from: number; to: number; events: number; total: number; max: number }[] = [
    { shard: 'shardId-000', category: 'books', from: 0, to: 900, events: 900, total: 1000.5, max: 99.5 },
    { shard: 'shardId-001', category: 'books', from: 600, to: 1500, events: 950, total: 500.25, max: 120 },
    { shard: 'shardId-000', category: 'games', from: 0, to: 30, events: 40, total: 10, max: 7 },
    { shard: 'shardId-001', category: 'games', from: 20, to: 50, events: 35, total: 5, max: 9 },
  ];
  for (const s of shards) {
    const users = Array.from({ length: s.to - s.from }, (_, i) => `user-${s.from + i}`);
    sketchUsers.push({ category: s.category, users });
    const sk = new KmvSketch();
    for (const u of users) sk.add(u);
    const row = {
      window_start: Date.UTC(2024, 4, 1, 10, 0),
      window_end: Date.UTC(2024, 4, 1, 10, 1),
      category: s.category,
      events: BigInt(s.events),
      total_value: s.total,
      max_value: s.max,
      users_sketch: sk.values(),
    };
    // The writers' own encoder (core/encode.ts): TIMESTAMP_MILLIS, 3-level LIST of INT64.
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${partials.location}dt=2024-05-01/hour=10/${s.shard}-${s.category}.parquet`, Body: encodeParquet(partials.columns, [row]) }));
  }

  // GIVEN an iot quarantine object (NDJSON.gz, timestamps as Hive strings) and a zero-row parquet object in iot_late.
  const q = lakeTable(iot, 'quarantine');
  const quarantined = [
    { received_at: Date.UTC(2024, 4, 1, 3, 4, 5, 678), source: 'iot-readings-0', position: '17', reason: 'missing field', field: 'ts', payload: 'e30=' },
    { received_at: Date.UTC(2024, 4, 1, 3, 9), source: 'iot-readings-1', position: '18', reason: 'not JSON', field: null, payload: 'eA==' },
  ];
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${q.location}dt=2024-05-01/hour=03/iot-readings-0-17-18.ndjson.gz`, Body: encodeNdjsonGz(q.columns, quarantined) }));
  const late = lakeTable(iot, 'late');
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${late.location}dt=2024-05-01/hour=03/iot-readings-0-1-1.parquet`, Body: encodeParquet(late.columns, []) }));

  endpoint = await startEndpoint();
  athena = athenaClient(endpoint);
}, 60_000);

afterAll(async () => {
  athena?.destroy();
  await endpoint?.stop();
  await s3Service?.stop();
  s3?.destroy();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

describe('local Athena endpoint', () => {
  it('runs a SELECT: header row first, Athena column types, values as Athena prints them', async () => {
    const id = await start(
      `SELECT category, count(*) AS n, max(value) AS max_value, min(ts) AS first_ts, 7 / 2 AS int_div
       FROM shardflow.clickstream_events WHERE dt = '2024-05-01' AND hour = 0 GROUP BY category ORDER BY category`,
    );
    const qe = await waitFor(athena, id);
    expect(qe.Status?.State).toBe('SUCCEEDED');
    expect(qe.StatementType).toBe('DML');
    const res = await athena.send(new GetQueryResultsCommand({ QueryExecutionId: id }));
    const cols = res.ResultSet!.ResultSetMetadata!.ColumnInfo!;
    expect(cols.map((c) => [c.Name, c.Type])).toEqual([
      ['category', 'varchar'],
      ['n', 'bigint'],
      ['max_value', 'double'],
      ['first_ts', 'timestamp'],
      ['int_div', 'integer'],
    ]);
    const rows = res.ResultSet!.Rows!.map((r) => r.Data!.map((d) => d.VarCharValue));
    expect(rows[0]).toEqual(['category', 'n', 'max_value', 'first_ts', 'int_div']);
    // 700 events i = 0..699 in hour 00: i % 3 = 0 → books (234), 1 → games (233), 2 → music (233).
    expect(rows.slice(1)).toEqual([
      ['books', '234', '699.5', '2024-05-01 00:00:00.000', '3'],
      ['games', '233', '697.5', '2024-05-01 00:00:01.000', '3'],
      ['music', '233', '698.5', '2024-05-01 00:00:02.000', '3'],
    ]);
    expect(qe.Statistics!.DataScannedInBytes).toBeGreaterThan(0);
    expect(qe.Statistics!.EngineExecutionTimeInMillis).toBeGreaterThanOrEqual(0);
  });

  it('pages results of more than 1000 rows with NextToken; the header counts toward the first page', async () => {
    const id = await start('SELECT event_id FROM clickstream_events ORDER BY event_id');
    expect((await waitFor(athena, id)).Status?.State).toBe('SUCCEEDED');
    const pages: string[][] = [];
    let next: string | undefined;
    do {
      const page = await athena.send(new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: next, MaxResults: 1000 }));
      pages.push(page.ResultSet!.Rows!.map((r) => r.Data![0]!.VarCharValue!));
      next = page.NextToken;
    } while (next);
    expect(pages.map((p) => p.length)).toEqual([1000, 1000, 501]);
    const all = pages.flat();
    expect(all[0]).toBe('event_id');
    expect(all.slice(1)).toEqual(Array.from({ length: 2500 }, (_, i) => `e${String(i).padStart(5, '0')}`));
    await expect(athena.send(new GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: 1001 }))).rejects.toThrow(/less than or equal to 1000/);
  });

  it('prunes partitions on dt and hour before reading: fewer bytes scanned, the same rows', async () => {
    const pruned = await runAthenaQuery(athena, "SELECT event_id FROM shardflow.clickstream_events e WHERE e.dt = '2024-05-01' AND hour BETWEEN 1 AND 2 ORDER BY event_id", { database: 'shardflow' });
    // concat()/+ 0 hide the partition columns from the analysis: the same filter without pruning.
    const full = await runAthenaQuery(athena, "SELECT event_id FROM shardflow.clickstream_events WHERE concat(dt, '') = '2024-05-01' AND hour + 0 BETWEEN 1 AND 2 ORDER BY event_id", { database: 'shardflow' });
    const inList = await runAthenaQuery(athena, "SELECT count(*) FROM clickstream_events WHERE dt IN ('2024-05-02') AND hour >= 0", { database: 'shardflow' });
    expect(pruned.state).toBe('SUCCEEDED');
    expect(full.state).toBe('SUCCEEDED');
    expect(pruned.rows).toEqual(full.rows);
    expect(pruned.rows).toHaveLength(rawRowsPerPartition.get('2024-05-01/01')! + rawRowsPerPartition.get('2024-05-01/02')!);
    // 4 of 8 objects vs all 8.
    expect(pruned.dataScannedBytes).toBeGreaterThan(0);
    expect(pruned.dataScannedBytes).toBeLessThan(full.dataScannedBytes * 0.75);
    expect(inList.rows).toEqual([[String(rawRowsPerPartition.get('2024-05-02/00'))]]);
    expect(inList.dataScannedBytes).toBeLessThan(full.dataScannedBytes / 2);
  });

  it('merges partial aggregates in the clickstream aggregate view: summed counts, KMV distinct estimates', async () => {
    const run = await runAthenaQuery(athena, 'SELECT category, events, total_value, max_value, users, window_start FROM clickstream_by_category_1m ORDER BY category', { database: 'shardflow' });
    expect(run.stateChangeReason).toBeUndefined();
    const expectUsers = (category: string): number => {
      const merged = new KmvSketch();
      for (const s of sketchUsers.filter((x) => x.category === category)) for (const u of s.users) merged.add(u);
      return kmvEstimate(merged.values());
    };
    expect(expectUsers('games')).toBe(50); // exact below k
    expect(Math.abs(expectUsers('books') - 1500) / 1500).toBeLessThan(0.1); // 1,500 distinct > k: estimated
    expect(run.rows).toEqual([
      ['books', '1850', '1500.75', '120.0', String(expectUsers('books')), '2024-05-01 10:00:00.000'],
      ['games', '75', '15.0', '9.0', '50', '2024-05-01 10:00:00.000'],
    ]);
    expect(run.columns.map((c) => c.Type)).toEqual(['varchar', 'bigint', 'double', 'double', 'bigint', 'timestamp']);
  });

  it('reads NDJSON.gz tables, typed per the lake table (timestamps from ISO strings, NULLs kept)', async () => {
    const run = await runAthenaQuery(athena, 'SELECT received_at, source, field, hour, dt FROM iot_quarantine ORDER BY received_at', { database: 'shardflow' });
    expect(run.state).toBe('SUCCEEDED');
    expect(run.rows).toEqual([
      ['2024-05-01 03:04:05.678', 'iot-readings-0', 'ts', '3', '2024-05-01'],
      ['2024-05-01 03:09:00.000', 'iot-readings-1', null, '3', '2024-05-01'],
    ]);
    expect(run.columns.map((c) => c.Type)).toEqual(['timestamp', 'varchar', 'varchar', 'integer', 'varchar']);
  });

  it.each([
    ['a table with no objects', 'SELECT site, ts FROM iot_readings', false],
    ['a table whose only object has zero rows', 'SELECT site, ts FROM iot_late', true],
  ])('answers %s with an empty typed result, not an error', async (_what, sql, scansBytes) => {
    const run = await runAthenaQuery(athena, sql, { database: 'shardflow' });
    expect(run.stateChangeReason).toBeUndefined();
    expect(run.rows).toEqual([]);
    expect(run.columns.map((c) => [c.Name, c.Type])).toEqual([['site', 'varchar'], ['ts', 'timestamp']]);
    expect(run.dataScannedBytes > 0).toBe(scansBytes);
  });

  it('translates Trino functions DuckDB spells differently', async () => {
    const run = await runAthenaQuery(
      athena,
      `SELECT date_format(TIMESTAMP '2024-05-01 07:08:09', '%Y/%m/%d %H:%i:%s'), from_unixtime(1714547289), to_unixtime(TIMESTAMP '2024-05-01 00:00:00'),
              date_add('hour', 2, TIMESTAMP '2024-05-01 23:00:00'), date_diff('day', TIMESTAMP '2024-05-01 23:00:00', TIMESTAMP '2024-05-02 01:00:00'),
              hour(TIMESTAMP '2024-05-01 12:00:00' AT TIME ZONE 'America/New_York'), CAST(42 AS varchar), cardinality(ARRAY[1, 2, 3]),
              element_at(ARRAY[10, 20, 30], 2), slice(ARRAY[1, 2, 3, 4], 2, 2), array_sort(array_distinct(ARRAY[3, 1, 3, 2])),
              flatten(ARRAY[ARRAY[1], ARRAY[2, 3]]), date_trunc('hour', TIMESTAMP '2024-05-01 07:08:09'), "a b"
       FROM (SELECT 1 AS "a b")`,
    );
    expect(run.stateChangeReason).toBeUndefined();
    expect(run.rows[0]).toEqual([
      '2024/05/01 07:08:09', '2024-05-01 07:08:09.000 UTC', '1.7145216E9', '2024-05-02 01:00:00.000', '0',
      '8', '42', '3', '20', '[2, 3]', '[1, 2, 3]', '[1, 2, 3]', '2024-05-01 07:00:00.000', '1',
    ]);
    expect(run.columns.map((c) => c.Name).slice(0, 2)).toEqual(['_col0', '_col1']);
  });

  it('SELECT *, "$path" returns "$path" once: * leaves the hidden column out, as on Trino', async () => {
    const run = await runAthenaQuery(athena, `SELECT *, "$path" FROM clickstream_events_files WHERE dt = '2024-05-02'`, { database: 'shardflow' });
    expect(run.stateChangeReason).toBeUndefined();
    const names = run.columns.map((c) => c.Name);
    expect(names.filter((n) => n === '$path')).toEqual(['$path']);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual([...lakeTable(clickstream, 'raw').columns.map((c) => c.name), '_from', 'dt', 'hour', '$path']);
    expect(run.rows).toHaveLength(700);
    expect(run.rows[0]![names.length - 1]).toMatch(/^s3:\/\/lake\/.*dt=2024-05-02\/hour=00\/shardId-00[01]-\d+-\d+\.parquet$/);
    const qualified = await runAthenaQuery(athena, `SELECT f.*, f."$path" FROM clickstream_events_files f WHERE dt = '2024-05-02' LIMIT 1`, { database: 'shardflow' });
    expect(qualified.columns.map((c) => c.Name).filter((n) => n === '$path')).toEqual(['$path']);
  });

  it('approx_distinct and approx_percentile run on the raw table', async () => {
    const run = await runAthenaQuery(athena, "SELECT approx_distinct(user_id), approx_percentile(value, 0.5) FROM clickstream_events WHERE dt = '2024-05-02'", { database: 'shardflow' });
    expect(run.state).toBe('SUCCEEDED');
    // Exact locally (within any error bound Athena documents); DuckDB's own HyperLogLog was up to 19 % off.
    expect(run.rows[0]![0]).toBe('40');
    expect(Math.abs(Number(run.rows[0]![1]) - 2150)).toBeLessThan(30); // median of 1800.5..2499.5
  });

  it.each([
    ['SELEC 1', /^SYNTAX_ERROR: line 1:1: mismatched input 'SELEC'/],
    ['SELECT category\nFROM clickstream_events WHERE', /^SYNTAX_ERROR: line 2:30: mismatched input '<EOF>'/],
    ['SELECT * FROM shardflow.nope', /^TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog\.shardflow\.nope' does not exist$/],
    ['SELECT * FROM nodb.t', /^SCHEMA_NOT_FOUND: line 1:15: Schema 'nodb' does not exist$/],
    ['SELECT nosuchcol FROM clickstream_events', /^COLUMN_NOT_FOUND: line 1:8: Column 'nosuchcol' cannot be resolved$/],
    ['SELECT frobnicate(1)', /^FUNCTION_NOT_FOUND: line 1:8: Function 'frobnicate' not registered$/],
    ["INSERT INTO clickstream_events VALUES ('x')", /^NOT_SUPPORTED: line 1:1: INSERT statements are not supported/],
    ["UNLOAD (SELECT 1) TO 's3://x/' WITH (format = 'PARQUET')", /^NOT_SUPPORTED: line 1:1: UNLOAD statements/],
    ['SELECT qdigest_agg(x) FROM (VALUES 1.5e0) t(x)', /^NOT_SUPPORTED: line 1:8: Function 'qdigest_agg' is not supported/],
    ['SELECT duckdb_functions()', /^FUNCTION_NOT_FOUND: line 1:8: Function 'duckdb_functions' not registered/],
  ])('fails %j with an Athena-style reason', async (sql, reason) => {
    const qe = await waitFor(athena, await start(sql));
    expect(qe.Status?.State).toBe('FAILED');
    expect(qe.Status?.StateChangeReason).toMatch(reason);
    expect(qe.Status?.AthenaError?.ErrorCategory).toBe(2);
    await expect(athena.send(new GetQueryResultsCommand({ QueryExecutionId: qe.QueryExecutionId! }))).rejects.toThrow(reason);
  });

  it('cancels a running query with StopQueryExecution', async () => {
    const id = await start(
      'SELECT count(*) FROM UNNEST(sequence(1, 10000)) AS a(x) CROSS JOIN UNNEST(sequence(1, 10000)) AS b(y) CROSS JOIN UNNEST(sequence(1, 10000)) AS c(z) WHERE (x * y + z) % 7 = 3',
    );
    for (let i = 0; i < 200; i++) {
      const { QueryExecution } = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
      if (QueryExecution!.Status!.State === 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await athena.send(new StopQueryExecutionCommand({ QueryExecutionId: id }));
    const qe = await waitFor(athena, id, 10_000);
    expect(qe.Status?.State).toBe('CANCELLED');
  });

  it('writes the result CSV to the output location: header row, every value quoted', async () => {
    const run = await runAthenaQuery(athena, `SELECT 'a"b' AS s, CAST(NULL AS varchar) AS n, 1.5 AS d`, { outputLocation: `s3://${BUCKET}/my-results/` });
    expect(run.outputLocation).toBe(`s3://${BUCKET}/my-results/${run.queryExecutionId}.csv`);
    const obj = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `my-results/${run.queryExecutionId}.csv` }));
    expect(await obj.Body!.transformToString()).toBe('"s","n","d"\n"a""b",,"1.5"\n');
  });

  it('honours ClientRequestToken idempotency, lists executions, answers SHOW TABLES and DESCRIBE', async () => {
    const token = 'shardflow-test-token-0000000000000001';
    const a = await athena.send(new StartQueryExecutionCommand({ QueryString: 'SELECT 1', ClientRequestToken: token }));
    const b = await athena.send(new StartQueryExecutionCommand({ QueryString: 'SELECT 1', ClientRequestToken: token }));
    expect(b.QueryExecutionId).toBe(a.QueryExecutionId);
    await expect(athena.send(new StartQueryExecutionCommand({ QueryString: 'SELECT 2', ClientRequestToken: token }))).rejects.toThrow(/Idempotent parameters do not match/);
    const list = await athena.send(new ListQueryExecutionsCommand({ MaxResults: 2 }));
    expect(list.QueryExecutionIds).toHaveLength(2);
    expect(list.NextToken).toBeDefined();
    const batch = await athena.send(new BatchGetQueryExecutionCommand({ QueryExecutionIds: [a.QueryExecutionId!, '00000000-0000-0000-0000-000000000000'] }));
    expect(batch.QueryExecutions?.map((q) => q.QueryExecutionId)).toEqual([a.QueryExecutionId]);
    expect(batch.UnprocessedQueryExecutionIds?.[0]?.QueryExecutionId).toBe('00000000-0000-0000-0000-000000000000');
    const wg = await athena.send(new GetWorkGroupCommand({ WorkGroup: 'primary' }));
    expect(wg.WorkGroup?.Configuration?.ResultConfiguration?.OutputLocation).toBe(endpoint.defaultOutputLocation);

    const show = await runAthenaQuery(athena, "SHOW TABLES IN shardflow 'clickstream*'");
    // As in Glue: each compacted table's storage table (<name>_files) next to it.
    expect(show.rows.map((r) => r[0])).toEqual([
      'clickstream_by_category_1m',
      'clickstream_events',
      'clickstream_events_files',
      'clickstream_late',
      'clickstream_late_files',
      'clickstream_partials',
      'clickstream_partials_files',
      'clickstream_quarantine',
    ]);
    expect(show.outputLocation).toMatch(/\.txt$/);
    const desc = await runAthenaQuery(athena, 'DESCRIBE clickstream_partials', { database: 'shardflow' });
    expect(desc.rows.map((r) => r[0]!.split('\t')[0]!.trim())).toContain('users_sketch');
    expect(desc.rows.map((r) => r[0])).toContain('# Partition Information');
  });

  it('binds ExecutionParameters, prunes on DATE literals and exposes information_schema', async () => {
    const { QueryExecutionId: id } = await athena.send(
      new StartQueryExecutionCommand({
        QueryString: 'SELECT count(*) FROM clickstream_events WHERE dt = ? AND hour = ?',
        ExecutionParameters: ["'2024-05-01'", '2'],
        QueryExecutionContext: { Database: 'shardflow' },
      }),
    );
    const qe = await waitFor(athena, id!);
    const res = await athena.send(new GetQueryResultsCommand({ QueryExecutionId: id }));
    expect(res.ResultSet!.Rows![1]!.Data![0]!.VarCharValue).toBe(String(rawRowsPerPartition.get('2024-05-01/02')));
    const byDate = await runAthenaQuery(athena, "SELECT count(*) FROM clickstream_events WHERE dt = DATE '2024-05-01' AND hour = 2", { database: 'shardflow' });
    expect(byDate.rows).toEqual(res.ResultSet!.Rows!.slice(1).map((r) => [r.Data![0]!.VarCharValue]));
    expect(byDate.dataScannedBytes).toBe(qe.Statistics!.DataScannedInBytes);
    const info = await runAthenaQuery(athena, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'shardflow' AND table_name LIKE 'iot%' ORDER BY 1", { database: 'shardflow' });
    expect(info.rows.map((r) => r[0])).toEqual(['iot_by_site_5m', 'iot_late', 'iot_late_files', 'iot_partials', 'iot_partials_files', 'iot_quarantine', 'iot_readings', 'iot_readings_files']);
  });

  it('keeps query history and results across a restart', async () => {
    const before = await runAthenaQuery(athena, 'SELECT count(*) AS n FROM clickstream_events', { database: 'shardflow' });
    await endpoint.stop();
    athena.destroy();
    endpoint = await startEndpoint();
    athena = athenaClient(endpoint);
    const qe = (await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: before.queryExecutionId }))).QueryExecution!;
    expect(qe.Status?.State).toBe('SUCCEEDED');
    expect(qe.Statistics?.DataScannedInBytes).toBe(before.dataScannedBytes);
    const res = await athena.send(new GetQueryResultsCommand({ QueryExecutionId: before.queryExecutionId }));
    expect(res.ResultSet!.Rows!.map((r) => r.Data![0]!.VarCharValue)).toEqual(['n', '2500']);
  });
});

describe('translateSql', () => {
  it('rewrites the aggregate view functions and keeps source positions', () => {
    const t = translateSql('SELECT slice(array_sort(array_distinct(flatten(array_agg(s)))), 1, 1024) FROM shardflow.p');
    expect(t.sql).toContain('list_slice(list_concat(list_sort(list_distinct(flatten(array_agg(s))))');
    expect(t.sql).toContain('(1) + (1024) - 1');
    expect(t.sourceOffset(t.sql.indexOf('shardflow'))).toBe('SELECT slice(array_sort(array_distinct(flatten(array_agg(s)))), 1, 1024) FROM '.length);
  });

  it('rejects backquoted identifiers and two statements with a position', () => {
    expect(() => translateSql('SELECT `a` FROM t')).toThrow(/SYNTAX_ERROR: line 1:8: backquoted identifiers/);
    expect(() => translateSql('SELECT 1; SELECT 2')).toThrow(/SYNTAX_ERROR: line 1:11: Only one sql statement is allowed/);
  });
});
