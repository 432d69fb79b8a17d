/**
 * The local Athena endpoint's short paths (issue 11): result objects stored
 * in the S3 emulator by the endpoint itself, small results handed over with
 * the query's end, lake objects read where the emulator keeps them and listed
 * from its files, parse trees and instances kept per query shape. Each must
 * answer exactly what the long path answers.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { GetQueryExecutionCommand, GetQueryResultsCommand, type AthenaClient } from '@aws-sdk/client-athena';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { lakeTable } from '../core';
import { fetchResults, runAthenaQuery, startQuery } from '../functions/query-runner/athena-query';
import { silentLogger } from '../functions/shared/logger';
import { createStreamProcessor } from '../functions/stream-processor/handler';
import { startAthenaEndpoint } from '../local/athena';
import { LakeReader } from '../local/athena/catalog';
import { QueryStore, RESULT_PAGE_ROWS, type QueryRecord, type SmallResult } from '../local/athena/query-store';
import { toCsv } from '../local/athena/result-format';
import { localAthenaClient } from '../local/aws-clients';
import { s3ObjectFile } from '../local/services/s3';
import { freePort } from '../local/services/service';
import clickstream from '../pipelines/clickstream';
import { kinesisEvent, kinesisRecord } from './support/events';
import { listKeys } from './support/lake';
import { TestLake } from './support/test-lake';

const BUCKET = 'lake';
const DAY = '2026-06-01';
const HOUR = Date.UTC(2026, 5, 1, 9);

let lake: TestLake;
let s3: S3Client;

const endpoint = (watched: boolean): Promise<{ client: AthenaClient; dataDir: string }> => lake.addAthena([clickstream], { watched });

let seq = 0;
async function writeBatch(startMs: number, n: number): Promise<void> {
  const handler = createStreamProcessor(clickstream, { s3, bucket: BUCKET, logger: silentLogger });
  const records = Array.from({ length: n }, (_, i) => {
    const ts = startMs + i * 1000;
    const s = seq++;
    return kinesisRecord({ event_id: `f${s}`, user_id: `u${s % 5}`, category: ['books', 'games', 'toys'][s % 3], value: 10 + (s % 7), ts }, { seq: s, arrivalMs: ts + 500 });
  });
  await handler(kinesisEvent(records));
}

async function filesUnder(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
  } catch {
    return [];
  }
}

const count = async (client: AthenaClient, where = `dt = '${DAY}'`): Promise<number> =>
  Number((await runAthenaQuery(client, { sql: `SELECT count(*) FROM clickstream_events WHERE ${where}` }, { pollInitialMs: 1, pollMaxMs: 5 })).rows[0]![0]);

beforeAll(async () => {
  lake = await TestLake.start('fast', BUCKET);
  ({ s3 } = lake);
  for (let i = 0; i < 4; i++) await writeBatch(HOUR + i * 60_000, 6 + i);
});

afterAll(async () => {
  await lake?.stop();
});

describe('result objects', () => {
  it('a result object is readable by GetObject, whole, the moment GetQueryExecution says SUCCEEDED (watched and listing endpoints)', async () => {
    for (const { client } of [await endpoint(true), await endpoint(false)]) {
      for (let i = 0; i < 8; i++) {
        const sql = `SELECT category, count(*) AS n, ${i} AS run FROM clickstream_events WHERE dt = '${DAY}' GROUP BY category ORDER BY category`;
        const id = await startQuery(client, { sql });
        let qe;
        // Polled without a pause: the first SUCCEEDED is the moment that counts.
        do qe = (await client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }))).QueryExecution!;
        while (qe.Status!.State === 'QUEUED' || qe.Status!.State === 'RUNNING');
        expect(qe.Status!.State).toBe('SUCCEEDED');
        const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(qe.ResultConfiguration!.OutputLocation!)!;
        const body = await (await s3.send(new GetObjectCommand({ Bucket: m[1], Key: m[2] }))).Body!.transformToString();
        const { columnInfo, rows } = await fetchResults(client, qe);
        expect(rows).toHaveLength(3);
        expect(body).toBe(toCsv(columnInfo.map((c) => c.Name!), rows));
      }
    }
  }, 60_000);

  it('a small result the endpoint stored itself is read back whole after the endpoint restarts (watched)', async () => {
    const dataDir = path.join(lake.tmp, 'restarted');
    const start = async () => {
      const ep = await startAthenaEndpoint({ port: await freePort(), s3: { endpoint: lake.s3Endpoint, bucket: BUCKET, emulator: lake.emulator }, pipelines: [clickstream], dataDir });
      return { ep, client: localAthenaClient(ep.endpoint) };
    };
    const sql = `SELECT category, count(*) AS n FROM clickstream_events WHERE dt = '${DAY}' GROUP BY category ORDER BY category`;
    const first = await start();
    let id: string;
    let before: Awaited<ReturnType<typeof fetchResults>>;
    try {
      id = await startQuery(first.client, { sql });
      let qe;
      do qe = (await first.client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }))).QueryExecution!;
      while (qe.Status!.State === 'QUEUED' || qe.Status!.State === 'RUNNING');
      expect(qe.Status!.State).toBe('SUCCEEDED');
      before = await fetchResults(first.client, qe);
      expect(before.rows).toHaveLength(3);
    } finally {
      first.client.destroy();
      await first.ep.stop();
    }
    const second = await start();
    try {
      const qe = (await second.client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }))).QueryExecution!;
      expect(qe.Status!.State).toBe('SUCCEEDED');
      const after = await fetchResults(second.client, qe);
      expect(after).toEqual(before);
      // Paged from the stored file as from memory: the header row, then one row per page.
      const page = await second.client.send(new GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: 2 }));
      expect(page.ResultSet!.Rows!.map((r) => r.Data!.map((d) => d.VarCharValue))).toEqual([['category', 'n'], before.rows[0]]);
      expect(page.NextToken).toBeDefined();
      const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(qe.ResultConfiguration!.OutputLocation!)!;
      const body = await (await s3.send(new GetObjectCommand({ Bucket: m[1], Key: m[2] }))).Body!.transformToString();
      expect(body).toBe(toCsv(before.columnInfo.map((c) => c.Name!), before.rows));
    } finally {
      second.client.destroy();
      await second.ep.stop();
    }
  }, 60_000);

  it('an output bucket that does not exist FAILS the query, as on Athena, on both endpoints', async () => {
    for (const { client } of [await endpoint(true), await endpoint(false)]) {
      const r = await runAthenaQuery(client, { sql: 'SELECT 1', outputLocation: 's3://no-such-results-bucket/x/' }, { pollInitialMs: 1, pollMaxMs: 5 }).catch((e: Error) => e);
      expect(r).toBeInstanceOf(Error);
      expect((r as Error).message).toContain('Unable to verify/create output bucket no-such-results-bucket');
    }
  }, 30_000);
});

describe('query records', () => {
  it('saves of one record asked for before its write starts are one write of its latest state; later saves still follow in order', async () => {
    const dir = path.join(lake.tmp, 'records');
    const store = await QueryStore.open(dir);
    const rec: QueryRecord = { id: 'q1', query: 'SELECT 1', database: 'shardflow', workGroup: 'primary', outputLocation: 's3://lake/x/q1.csv', state: 'QUEUED', statementType: 'DML', submittedAt: Date.now(), dataScannedBytes: 0 };
    const onDisk = async () => (JSON.parse(await fs.readFile(path.join(dir, 'queries', 'q1.json'), 'utf8')) as QueryRecord).state;
    const writes = vi.spyOn(fs, 'writeFile');
    try {
      const added = store.add(rec);
      rec.state = 'RUNNING';
      const running = store.save(rec);
      await Promise.all([added, running]);
      expect(writes).toHaveBeenCalledTimes(1);
      expect(await onDisk()).toBe('RUNNING');
      rec.state = 'SUCCEEDED';
      await store.save(rec);
      expect(writes).toHaveBeenCalledTimes(2);
      expect(await onDisk()).toBe('SUCCEEDED');
    } finally {
      writes.mockRestore();
    }
  });
});

describe('small results kept in memory', () => {
  const small = (n: number): SmallResult => ({
    header: { columns: [{ CatalogName: 'hive', SchemaName: '', TableName: '', Name: 'n', Label: 'n', Type: 'integer', Precision: 10, Scale: 0, Nullable: 'UNKNOWN', CaseSensitive: false }], headerRow: true, rowCount: 1, pageRows: RESULT_PAGE_ROWS },
    rows: [[String(n)]],
  });

  it('a small result is still answered after later results pushed its rows out of memory (read from its header file)', async () => {
    const dir = path.join(lake.tmp, 'small-results');
    const store = await QueryStore.open(dir);
    store.commitSmall('first', small(0));
    for (let i = 1; i <= 40; i++) store.commitSmall(`later-${i}`, small(i));
    const header = await store.resultHeader('first');
    expect(header?.rowCount).toBe(1);
    expect(await store.resultRows('first', header!, 0, 10)).toEqual([['0']]);
    // A new store (a restarted endpoint) reads the same from the file.
    const reopened = await QueryStore.open(dir);
    const again = await reopened.resultHeader('later-7');
    expect(await reopened.resultRows('later-7', again!, 0, 10)).toEqual([['7']]);
  });

  it('GetQueryResults of a query answers its rows after 40 later queries (watched endpoint)', async () => {
    const { client } = await endpoint(true);
    const first = await runAthenaQuery(client, { sql: 'SELECT 4242 AS n' });
    for (let i = 0; i < 40; i++) await runAthenaQuery(client, { sql: `SELECT ${i} AS n` });
    const out = await client.send(new GetQueryResultsCommand({ QueryExecutionId: first.queryExecutionId }));
    expect(out.ResultSet?.Rows?.map((r) => r.Data?.map((d) => d.VarCharValue))).toEqual([['n'], ['4242']]);
  }, 60_000);
});

describe('lake objects read in place (watched endpoint)', () => {
  it('reads first versions where the emulator keeps them, copies a rewritten object, and answers "$path" the same for both', async () => {
    const { client, dataDir } = await endpoint(true);
    const cache = path.join(dataDir, 'lake-cache');
    const keys = (await listKeys(s3, BUCKET, `${lakeTable(clickstream, 'raw').location}dt=${DAY}/`)).map((k) => k.key);
    expect(keys.length).toBeGreaterThan(1);
    const total = await count(client);
    expect(total).toBeGreaterThan(0);
    expect(await filesUnder(cache)).toEqual([]);
    // The first object rewritten with the second's bytes: a new version of the key.
    const second = await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: keys[1]! }))).Body!.transformToByteArray();
    const first = await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: keys[0]! }))).Body!.transformToByteArray();
    const firstRows = async (c: AthenaClient) => count(c, `"$path" = 's3://${BUCKET}/${keys[0]}'`);
    const nFirst = await firstRows(client);
    const nSecond = await count(client, `"$path" = 's3://${BUCKET}/${keys[1]}'`);
    expect(nFirst).toBeGreaterThan(0);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: keys[0]!, Body: second }));
    expect(await count(client)).toBe(total - nFirst + nSecond);
    expect(await firstRows(client)).toBe(nSecond);
    expect(await filesUnder(cache)).toHaveLength(1);
    // Back to its first bytes: that version is the one read in place.
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: keys[0]!, Body: first }));
    expect(await count(client)).toBe(total);
    expect(await firstRows(client)).toBe(nFirst);
  }, 60_000);

  it("lists a prefix from the emulator's files exactly as its ListObjects does", async () => {
    const raw = lakeTable(clickstream, 'raw');
    // Not data objects of the table: hidden names, another extension, outside any partition.
    for (const key of [`${raw.location}dt=${DAY}/hour=09/_staging.parquet`, `${raw.location}dt=${DAY}/hour=09/notes.txt`, `${raw.location}loose.parquet`]) {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x' }));
    }
    const cacheDir = path.join(lake.tmp, 'list-cache');
    const listed = new LakeReader({ s3, bucket: BUCKET, cacheDir });
    const root = path.join(path.resolve(lake.emulator.directory), BUCKET, '/');
    const fromFiles = new LakeReader({ s3, bucket: BUCKET, cacheDir, objectFile: (k) => s3ObjectFile(lake.emulator.directory, BUCKET, k), inPlace: { objectRoot: root } });
    for (const prefix of [raw.location, `${raw.location}dt=${DAY}/`, `${raw.location}dt=${DAY}/hour=09/`, `${raw.location}dt=1999-01-01/`]) {
      expect(await fromFiles.listPrefix(raw, prefix)).toEqual(await listed.listPrefix(raw, prefix));
    }
    expect((await fromFiles.listPrefix(raw, raw.location)).length).toBeGreaterThan(0);
    // A prefix made of a query's constant never walks out of the bucket's directory: it is the
    // emulator's to refuse, as it refuses that listing.
    await expect(fromFiles.listPrefix(raw, `${raw.location}dt=../../../`)).rejects.toThrow(/segment/);
  }, 30_000);
});

describe('work kept per query shape', () => {
  it('two query shapes in turn keep an instance each; the same shape over new objects keeps its own', async () => {
    const { engine, close } = await lake.watchedEngine([clickstream], 'shape');
    try {
      // Another hour, so that the two shapes read different objects.
      await writeBatch(HOUR + 2 * 3_600_000, 4);
      const hour = async () => Number((await engine.run(`SELECT count(*) FROM clickstream_events WHERE dt = '${DAY}' AND hour = 9`, { database: 'shardflow' })).rows[0]![0]);
      const all = async () => Number((await engine.run('SELECT count(*) FROM clickstream_events', { database: 'shardflow' })).rows[0]![0]);
      const h0 = await hour();
      const a0 = await all();
      for (let i = 0; i < 3; i++) {
        expect(await hour()).toBe(h0);
        expect(await all()).toBe(a0);
      }
      expect(engine.instancesOpened).toBe(2);
      await writeBatch(HOUR + 30 * 60_000, 5);
      // The batch is all in hour 9: both shapes see the same new rows.
      const added = (await hour()) - h0;
      expect(added).toBeGreaterThan(0);
      expect(await all()).toBe(a0 + added);
      expect(engine.instancesOpened).toBe(2);
    } finally {
      close();
    }
  }, 60_000);

  it('a repeated query runs its kept prepared statement until the views it reads change, then sees the new objects', async () => {
    const { engine, close } = await lake.watchedEngine([clickstream], 'prepared');
    try {
      const sql = `SELECT count(*) FROM clickstream_events WHERE dt = '${DAY}' AND hour = 9`;
      const n = async () => Number((await engine.run(sql, { database: 'shardflow' })).rows[0]![0]);
      const n0 = await n();
      const prepared = engine.statementsPrepared;
      for (let i = 0; i < 3; i++) expect(await n()).toBe(n0);
      expect(engine.statementsPrepared).toBe(prepared);
      // DuckDB would run the kept statement over the view's old files: the new batch must show.
      await writeBatch(HOUR + 45 * 60_000, 3);
      expect(await n()).toBe(n0 + 3);
      expect(engine.statementsPrepared).toBe(prepared + 1);
      expect(await n()).toBe(n0 + 3);
      expect(engine.statementsPrepared).toBe(prepared + 1);
    } finally {
      close();
    }
  }, 60_000);

  it('a query parsed once fails again with the same error and position, and its result does not leak into another database', async () => {
    const { client } = await endpoint(true);
    const bad = "SELECT 1\nFROM clickstream_events e JOIN no_such_table t ON true";
    for (let i = 0; i < 2; i++) {
      const r = await runAthenaQuery(client, { sql: bad }, { pollInitialMs: 1, pollMaxMs: 5 }).catch((e: Error) => e);
      expect((r as Error).message).toContain("TABLE_NOT_FOUND: line 2:32: Table 'awsdatacatalog.shardflow.no_such_table' does not exist");
    }
    expect(await count(client)).toBeGreaterThan(0);
    // Unqualified names resolve in the query's database on a kept connection too.
    const other = await runAthenaQuery(client, { sql: 'SELECT count(*) FROM clickstream_events', database: 'no_such_db' }, { pollInitialMs: 1, pollMaxMs: 5 }).catch((e: Error) => e);
    expect((other as Error).message).toContain("SCHEMA_NOT_FOUND");
  }, 30_000);
});
