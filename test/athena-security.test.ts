/**
 * The local Athena endpoint as an attacker reaches it (issue 10): queries
 * that try to read files or URLs, the CTE-scope trick, oversized and endless
 * queries, malformed requests. A scratch directory this test makes holds the
 * "secret" files and an "outside" directory nothing may write to.
 */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand, StopQueryExecutionCommand, type QueryExecution } from '@aws-sdk/client-athena';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAthenaQuery, startAthenaEndpoint, type AthenaEndpoint } from '../local/athena';
import { openSandboxedDuckDB } from '../local/athena/sandbox';
import { startS3Emulator } from '../local/services/s3';
import { freePort, type RunningService } from '../local/services/service';
import clickstream from '../pipelines/clickstream';
import { raw, statusOfHead } from './support/raw-http';
import { spawnUntilReady } from './support/ready-parent';

const BUCKET = 'lake';
let tmp: string;
let secretCsv: string;
let outside: string;
let s3Service: RunningService;
let s3: S3Client;
let endpoint: AthenaEndpoint;
let athena: AthenaClient;
/** Counts requests: read_text('http://…') must never reach it. */
let httpTrap: Server;
let trapHits = 0;
let trapPort: number;

const SLOW = 'SELECT count(*) FROM UNNEST(sequence(1, 10000)) AS a(x) CROSS JOIN UNNEST(sequence(1, 10000)) AS b(y) CROSS JOIN UNNEST(sequence(1, 10000)) AS c(z) WHERE (x * y + z) % 7 = 3';

async function start(client: AthenaClient, sql: string, extra: Partial<ConstructorParameters<typeof StartQueryExecutionCommand>[0]> = {}): Promise<string> {
  const out = await client.send(new StartQueryExecutionCommand({ QueryString: sql, QueryExecutionContext: { Database: 'shardflow' }, ...extra }));
  return out.QueryExecutionId!;
}

async function finished(client: AthenaClient, id: string): Promise<QueryExecution> {
  for (;;) {
    const { QueryExecution } = await client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    const state = QueryExecution!.Status!.State!;
    if (state !== 'QUEUED' && state !== 'RUNNING') return QueryExecution!;
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function failure(sql: string, client = athena): Promise<string> {
  const qe = await finished(client, await start(client, sql));
  expect(qe.Status?.State, sql).toBe('FAILED');
  expect(qe.Status?.AthenaError?.ErrorMessage).toBe(qe.Status?.StateChangeReason);
  return qe.Status!.StateChangeReason!;
}

/** One AWS JSON 1.1 call with exactly these headers and body. */
function call(target: string, body: string, headers: Record<string, string> = {}) {
  return raw(endpoint.port, {
    method: 'POST',
    path: '/',
    headers: { Host: `127.0.0.1:${endpoint.port}`, 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': `AmazonAthena.${target}`, 'Content-Length': String(Buffer.byteLength(body)), ...headers },
    body,
  });
}

const token = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-athena-security-'));
  secretCsv = path.join(tmp, 'secret.csv');
  await fs.writeFile(secretCsv, 'secret\nhunter2\n');
  outside = path.join(tmp, 'outside');
  await fs.mkdir(outside);
  s3Service = await startS3Emulator({ port: await freePort(), dataDir: path.join(tmp, 's3'), buckets: [BUCKET] });
  s3 = new S3Client({ endpoint: s3Service.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  endpoint = await startAthenaEndpoint({ port: await freePort(), s3: { endpoint: s3Service.endpoint, bucket: BUCKET }, pipelines: [clickstream], dataDir: path.join(tmp, 'athena') });
  athena = new AthenaClient({ endpoint: endpoint.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  trapPort = await freePort();
  httpTrap = createServer((_req, res) => {
    trapHits++;
    res.end('trap');
  });
  await new Promise<void>((r) => httpTrap.listen(trapPort, '127.0.0.1', () => r()));
}, 60_000);

afterAll(async () => {
  athena?.destroy();
  await endpoint?.stop();
  s3?.destroy();
  await s3Service?.stop();
  await new Promise<void>((r) => (httpTrap ? httpTrap.close(() => r()) : r()));
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

describe('Athena queries cannot reach files or URLs', () => {
  it.each([
    [`SELECT * FROM read_text('/etc/passwd')`],
    [`SELECT * FROM read_csv('/etc/passwd')`],
    [`SELECT * FROM read_blob('/etc/passwd')`],
    [`SELECT * FROM glob('/root/*')`],
    [`SELECT * FROM read_parquet('/etc/passwd')`],
    [`SELECT * FROM query('SELECT 1')`],
  ])('%s fails FUNCTION_NOT_FOUND', async (sql) => {
    expect(await failure(sql)).toMatch(/^FUNCTION_NOT_FOUND: line 1:15: (Table f|F)unction '\w+' not registered/);
  });

  it('a quoted path in FROM (a DuckDB replacement scan) is an unknown table', async () => {
    expect(await failure(`SELECT * FROM "${secretCsv}"`)).toMatch(/^TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog\.shardflow\..*secret\.csv' does not exist/);
  });

  it('read_text of an http URL fails and never makes a request (no httpfs install)', async () => {
    expect(await failure(`SELECT * FROM read_text('http://127.0.0.1:${trapPort}/x')`)).toMatch(/^FUNCTION_NOT_FOUND/);
    expect(trapHits).toBe(0);
  });

  it('CTE names bind per scope: a CTE inside a subquery does not hide a file path beside it', async () => {
    // The CTE is visible only inside subquery `a`; the second FROM item is a path, read as a file before the fix.
    expect(await failure(`SELECT * FROM (WITH "${secretCsv}" AS (SELECT 1) SELECT 1) a, "${secretCsv}"`)).toMatch(/^TABLE_NOT_FOUND: .*secret\.csv' does not exist/);
    // A CTE does not see the CTEs after it, nor (without RECURSIVE) itself.
    expect(await failure(`WITH a AS (SELECT * FROM "${secretCsv}"), "${secretCsv}" AS (SELECT 1) SELECT * FROM a`)).toMatch(/^TABLE_NOT_FOUND/);
    expect(await failure(`WITH "${secretCsv}" AS (SELECT * FROM "${secretCsv}") SELECT * FROM "${secretCsv}"`)).toMatch(/^TABLE_NOT_FOUND/);
  });

  it('visible CTEs, subqueries, VALUES and UNNEST still run', async () => {
    const run = await runAthenaQuery(
      athena,
      `WITH a AS (SELECT 1 AS x), b AS (SELECT x + 1 AS x FROM a)
       SELECT (SELECT max(x) FROM b) AS m, s.y, v.z, u.w
       FROM (SELECT x AS y FROM a WHERE x IN (SELECT x - 1 FROM b)) s
       CROSS JOIN (VALUES (7)) AS v(z) CROSS JOIN UNNEST(ARRAY[10, 20]) AS u(w) ORDER BY u.w`,
      { database: 'shardflow' },
    );
    expect(run.rows).toEqual([['2', '1', '7', '10'], ['2', '1', '7', '20']]);
    const rec = await runAthenaQuery(athena, 'WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT sum(n) AS s FROM t', { database: 'shardflow' });
    expect(rec.rows).toEqual([['6']]);
  });

  it('DuckDB-only relations (PIVOT, DESCRIBE/SUMMARIZE in FROM) are refused', async () => {
    expect(await failure(`SELECT * FROM (SUMMARIZE SELECT 1)`)).toMatch(/^(NOT_SUPPORTED|SYNTAX_ERROR)/);
    expect(await failure(`SELECT * FROM (VALUES (1, 'a')) t(x, y) PIVOT (sum(x) FOR y IN ('a'))`)).toMatch(/^(NOT_SUPPORTED|SYNTAX_ERROR)/);
  });
});

describe('the sandboxed DuckDB', () => {
  it('reads only the allowed directory, installs and loads nothing, and cannot be reconfigured', async () => {
    const allowed = path.join(tmp, 'sandbox-cache');
    await fs.mkdir(allowed, { recursive: true });
    await fs.writeFile(path.join(allowed, 'ok.csv'), 'x\n1\n');
    const db = await openSandboxedDuckDB({ readableDirs: [allowed], tempDir: path.join(tmp, 'sandbox-tmp'), memoryLimit: '256MB', threads: 1 });
    const conn = await db.connect();
    const fails = async (sql: string): Promise<string> => {
      try {
        await conn.runAndReadAll(sql);
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error(`${sql} succeeded in the sandbox`);
    };
    try {
      for (const sql of [`SELECT * FROM read_text('/etc/passwd')`, `SELECT * FROM read_csv('/etc/passwd')`, `SELECT * FROM read_blob('/etc/passwd')`, `SELECT * FROM glob('/root/*')`, `SELECT * FROM '${secretCsv}'`, `SELECT * FROM read_text('${allowed}/../secret.csv')`, `COPY (SELECT 1) TO '${outside}/x.csv'`]) {
        expect(await fails(sql), sql).toMatch(/^Permission Error/);
      }
      expect(await fails(`SELECT * FROM read_text('http://127.0.0.1:${trapPort}/x')`)).toMatch(/^Permission Error/);
      expect(trapHits).toBe(0);
      expect(await fails('INSTALL httpfs')).toMatch(/^Permission Error/);
      expect(await fails('LOAD httpfs')).toMatch(/^Permission Error/);
      for (const sql of ["SET memory_limit = '100GB'", 'SET enable_external_access = true', "SET allowed_directories = ['/']", 'SET threads = 64', 'SET lock_configuration = false', 'RESET enable_external_access']) {
        expect(await fails(sql), sql).toMatch(/configuration has been locked/);
      }
      const settings = (await conn.runAndReadAll(
        "SELECT current_setting('enable_external_access'), current_setting('autoinstall_known_extensions'), current_setting('autoload_known_extensions'), current_setting('allow_community_extensions'), current_setting('lock_configuration'), current_setting('threads'), current_setting('memory_limit'), current_setting('temp_directory')",
      )).getRows()[0]!;
      expect(settings.slice(0, 6)).toEqual([false, false, false, false, true, 1n]);
      expect(String(settings[6])).toMatch(/^2\d\d\.\d MiB$/);
      expect(settings[7]).toBe(path.join(tmp, 'sandbox-tmp'));
      expect((await conn.runAndReadAll(`SELECT * FROM read_csv('${path.join(allowed, 'ok.csv')}')`)).getRows()).toEqual([[1n]]);
      expect(await fs.readdir(outside)).toEqual([]);
    } finally {
      conn.closeSync();
      db.closeSync();
    }
  });
});

describe('time and size limits', () => {
  it('a result over the row cap FAILS with EXCEEDED_OUTPUT_SIZE_LIMIT instead of being held whole', async () => {
    // 5,000,000 rows (Trino's sequence() stops at 10,000 entries, hence the cross join).
    const reason = await failure('SELECT a.x * 10000 + b.y AS n FROM UNNEST(sequence(0, 499)) AS a(x) CROSS JOIN UNNEST(sequence(1, 10000)) AS b(y)');
    expect(reason).toMatch(/^EXCEEDED_OUTPUT_SIZE_LIMIT: Query result exceeds the local Athena endpoint's limit of 1000000 rows/);
  });

  it('a result of several result-page files reads back whole and in order through NextToken', async () => {
    const id = await start(athena, 'SELECT a.x * 1000 + b.y AS n FROM UNNEST(sequence(0, 24)) AS a(x) CROSS JOIN UNNEST(sequence(0, 999)) AS b(y) ORDER BY n');
    expect((await finished(athena, id)).Status?.State).toBe('SUCCEEDED');
    const values: string[] = [];
    let next: string | undefined;
    do {
      const page = await athena.send(new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: next, MaxResults: 1000 }));
      for (const r of page.ResultSet!.Rows!) values.push(r.Data![0]!.VarCharValue!);
      next = page.NextToken;
    } while (next);
    expect(values.length).toBe(25_001);
    expect(values[0]).toBe('n');
    expect(values.slice(1)).toEqual(Array.from({ length: 25_000 }, (_, i) => String(i)));
  });

  it('a query past queryTimeoutMs FAILS with EXCEEDED_TIME_LIMIT; a result over maxResultBytes FAILS too', async () => {
    const small = await startAthenaEndpoint({ port: await freePort(), s3: { endpoint: s3Service.endpoint, bucket: BUCKET }, pipelines: [clickstream], dataDir: path.join(tmp, 'athena-small'), queryTimeoutMs: 5_000, maxResultBytes: 10_000 });
    const client = new AthenaClient({ endpoint: small.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    try {
      expect(await failure(SLOW, client)).toMatch(/^EXCEEDED_TIME_LIMIT: Query exceeded the local Athena endpoint's maximum execution time of 5\.00s/);
      expect(await failure(`SELECT repeat('x', 100) AS s FROM UNNEST(sequence(1, 1000)) AS t(i)`, client)).toMatch(/^EXCEEDED_OUTPUT_SIZE_LIMIT: .*10000 bytes/);
      // The endpoint still answers queries afterwards.
      expect((await runAthenaQuery(client, 'SELECT 1 AS one')).rows).toEqual([['1']]);
    } finally {
      client.destroy();
      await small.stop();
    }
  });
});

describe('queries run off the event loop that serves the emulators', () => {
  it('S3 requests in the same process complete while four slow queries run', async () => {
    // Four is the default concurrency: in-process, the four DuckDB calls held every libuv thread and s3rver's file I/O waited behind them.
    const ids = await Promise.all([0, 1, 2, 3].map(() => start(athena, SLOW)));
    for (const id of ids) {
      for (;;) {
        const { QueryExecution } = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
        expect(QueryExecution!.Status!.State).not.toMatch(/SUCCEEDED|FAILED|CANCELLED/);
        if (QueryExecution!.Status!.State === 'RUNNING') break;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    // Let each query reach DuckDB's execution (a few GetQueryExecution round trips).
    for (let i = 0; i < 10; i++) await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: ids[0] }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'probe/while-querying.txt', Body: 'still here' }));
    const got = await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'probe/while-querying.txt' }))).Body!.transformToString();
    expect(got).toBe('still here');
    // Ordering, not timing: the S3 round trips completed while every slow query was still running.
    for (const id of ids) {
      const { QueryExecution } = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
      expect(QueryExecution!.Status!.State).toBe('RUNNING');
    }
    for (const id of ids) await athena.send(new StopQueryExecutionCommand({ QueryExecutionId: id }));
    for (const id of ids) expect((await finished(athena, id)).Status?.State).toBe('CANCELLED');
  }, 120_000);
});

describe('the query worker process', () => {
  it('does not outlive its parent: SIGKILL of the endpoint process ends the worker too', async () => {
    const dir = path.join(tmp, 'killed-parent');
    const parent = await spawnUntilReady('athena-worker-parent.ts', [dir]);
    try {
      const children = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(parent.pid)], { encoding: 'utf8' })
        .split('\n')
        .filter((line) => line.includes('query-worker.ts'))
        .map((line) => Number(line.trim().split(/\s+/)[0]));
      expect(children.length).toBe(1);
      const alive = (pid: number): boolean => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      expect(alive(children[0]!)).toBe(true);
      parent.kill('SIGKILL');
      // The worker sees its IPC channel close and exits; poll (ordering, not a timing threshold).
      while (alive(children[0]!)) await new Promise((r) => setTimeout(r, 50));
    } finally {
      if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
    }
  }, 60_000);
});

describe('Athena API request validation', () => {
  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'])('X-Amz-Target AmazonAthena.%s does not dispatch', async (op) => {
    const r = await call(op, '{}');
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).__type).toBe('UnknownOperationException');
  });

  it.each(['null', '[]', '"x"', '5', 'true'])('body %s is a 400 InvalidRequestException, not a 500', async (body) => {
    const r = await call('GetQueryExecution', body);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ __type: 'InvalidRequestException', message: expect.stringMatching(/request body must be a JSON object/) });
  });

  it('refuses a Content-Type other than application/x-amz-json-1.1, a foreign Host or Origin, and an oversized body', async () => {
    for (const type of ['text/plain', 'application/json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      expect((await call('ListWorkGroups', '{}', { 'Content-Type': type })).status, type).toBe(415);
    }
    expect((await call('ListWorkGroups', '{}', { Host: `attacker.example:${endpoint.port}` })).status).toBe(421);
    expect((await call('ListWorkGroups', '{}', { Origin: 'http://attacker.example' })).status).toBe(403);
    const head = `POST / HTTP/1.1\nHost: 127.0.0.1:${endpoint.port}\nContent-Type: application/x-amz-json-1.1\nX-Amz-Target: AmazonAthena.StartQueryExecution\nContent-Length: ${200 * 1024 * 1024}`;
    expect(await statusOfHead(endpoint.port, head)).toBe(413);
    expect((await call('ListWorkGroups', '{}')).status).toBe(200);
  });

  it('refuses OutputLocations that are not a valid bucket and a clean prefix, and writes nothing outside the data dir', async () => {
    const up = path.relative(path.join(tmp, 's3'), outside).split(path.sep).join('/');
    for (const loc of [`s3://../../../../${outside.slice(1)}/`, `s3://${up}/`, 's3://Bad_Bucket/x/', 's3://lake/a/../../b/', 's3://lake/a//b/', 's3://lake/./x/', 's3://lake/a\\b/', 's3://ab/', 's3://192.168.0.1/x/', 'file:///tmp/x/']) {
      const r = await call('StartQueryExecution', JSON.stringify({ QueryString: 'SELECT 1', ResultConfiguration: { OutputLocation: loc } }));
      expect(r.status, loc).toBe(400);
      expect(JSON.parse(r.body), loc).toMatchObject({ __type: 'InvalidRequestException', message: expect.stringMatching(/OutputLocation/) });
    }
    expect(await fs.readdir(outside)).toEqual([]);
  });

  it('validates NextToken offsets and numeric fields: 400 InvalidRequestException, at once', async () => {
    const run = await runAthenaQuery(athena, 'SELECT 1 AS x');
    const id = run.queryExecutionId;
    for (const offset of [-1e17, -1, 1.5, 1e17, Number.MAX_SAFE_INTEGER + 2, '3', null]) {
      const r = await call('GetQueryResults', JSON.stringify({ QueryExecutionId: id, NextToken: token({ id, offset }) }));
      expect(r.status, String(offset)).toBe(400);
      expect(JSON.parse(r.body).__type).toBe('InvalidRequestException');
      const l = await call('ListQueryExecutions', JSON.stringify({ NextToken: token({ offset }) }));
      expect(l.status, String(offset)).toBe(400);
      expect(JSON.parse(l.body).__type).toBe('InvalidRequestException');
    }
    for (const t of ['!!!', token({ id: 'another-query', offset: 1 }), token([1]), 5, 'x'.repeat(5000)]) {
      const r = await call('GetQueryResults', JSON.stringify({ QueryExecutionId: id, NextToken: t }));
      expect(r.status, String(t).slice(0, 20)).toBe(400);
    }
    for (const max of [-1, 0, 1.5, 1001, '5', 1e17, true]) {
      const r = await call('GetQueryResults', JSON.stringify({ QueryExecutionId: id, MaxResults: max }));
      expect(r.status, String(max)).toBe(400);
      expect(JSON.parse(r.body).__type).toBe('InvalidRequestException');
    }
    for (const max of [-1, 51, 2.5, '1']) expect((await call('ListQueryExecutions', JSON.stringify({ MaxResults: max }))).status, String(max)).toBe(400);
    for (const body of [{ QueryString: 'SELECT 1', QueryExecutionContext: 'x' }, { QueryString: 'SELECT 1', ExecutionParameters: [1] }, { QueryString: 'SELECT 1', ResultConfiguration: [] }, { QueryString: 5 }, { QueryString: 'SELECT 1', WorkGroup: {} }]) {
      const r = await call('StartQueryExecution', JSON.stringify(body));
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(JSON.parse(r.body).__type).toBe('InvalidRequestException');
    }
    for (const ids of [null, 'x', [1], []]) expect((await call('BatchGetQueryExecution', JSON.stringify({ QueryExecutionIds: ids }))).status).toBe(400);
    // A valid page still works.
    const ok = await call('GetQueryResults', JSON.stringify({ QueryExecutionId: id, MaxResults: 1 }));
    expect(ok.status).toBe(200);
    const next = (JSON.parse(ok.body) as { NextToken: string }).NextToken;
    const page2 = await call('GetQueryResults', JSON.stringify({ QueryExecutionId: id, NextToken: next }));
    expect(JSON.parse(page2.body).ResultSet.Rows).toEqual([{ Data: [{ VarCharValue: '1' }] }]);
  });
});
