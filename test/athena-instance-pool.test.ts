/**
 * The local Athena engine keeps its sandboxed DuckDB instances warm between
 * queries (sandbox.ts SandboxPool, engine.ts): an instance is reused only
 * after everything a query created on it is gone, it stays locked, and a
 * failed, cancelled or timed-out query leaves nothing behind for the next.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCatalog, LakeReader } from '../local/athena/catalog';
import { AthenaQueryEngine, detachCatalog, QueryCancelled, type EngineOptions } from '../local/athena/engine';
import { SandboxPool, type SandboxOptions } from '../local/athena/sandbox';
import { AthenaQueryError } from '../local/athena/sql-translate';
import { localS3Client } from '../local/aws-clients';
import { startS3Emulator } from '../local/services/s3';
import { freePort, type RunningService } from '../local/services/service';
import clickstream from '../pipelines/clickstream';

const SLOW = 'SELECT count(*) FROM UNNEST(sequence(1, 10000)) AS a(x) CROSS JOIN UNNEST(sequence(1, 10000)) AS b(y) CROSS JOIN UNNEST(sequence(1, 10000)) AS c(z) WHERE (x * y + z) % 7 = 3';

let tmp: string;
let sandbox: SandboxOptions;
let s3Service: RunningService;
/** An empty lake: the queries list it, and find no objects. */
let s3: S3Client;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-pool-'));
  await fs.mkdir(path.join(tmp, 'cache'));
  s3Service = await startS3Emulator({ port: await freePort(), dataDir: path.join(tmp, 's3') });
  s3 = localS3Client(s3Service.endpoint);
  await s3.send(new CreateBucketCommand({ Bucket: 'lake' }));
  sandbox = { readableDirs: [path.join(tmp, 'cache')], tempDir: path.join(tmp, 'duckdb-tmp'), memoryLimit: '256MB', threads: 1 };
});
afterAll(async () => {
  s3.destroy();
  await s3Service.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

function engine(overrides: Partial<EngineOptions> = {}): AthenaQueryEngine {
  return new AthenaQueryEngine(buildCatalog([clickstream]), new LakeReader({ s3, bucket: 'lake', cacheDir: path.join(tmp, 'cache') }), {
    sandbox,
    limits: { timeoutMs: 60_000, maxResultRows: 1000, maxResultBytes: 1 << 20 },
    ...overrides,
  });
}

const rowsOf = async (e: AthenaQueryEngine, sql: string) => (await e.run(sql, { database: 'shardflow' })).rows;
const codeOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (err) {
    return err instanceof AthenaQueryError ? err.code : (err as Error).name;
  }
  throw new Error('query succeeded');
};

describe('warm DuckDB instances', () => {
  it('sequential queries reuse one instance, each seeing the catalog afresh', async () => {
    const e = engine();
    try {
      for (let i = 0; i < 5; i++) expect(await rowsOf(e, `SELECT ${i} AS i, count(*) AS n FROM clickstream_events`)).toEqual([[String(i), '0']]);
      expect(e.instancesOpened).toBe(1);
    } finally {
      e.close();
    }
  });

  it("'per-query' opens a new instance for every query", async () => {
    const e = engine({ instances: 'per-query' });
    for (let i = 0; i < 3; i++) expect(await rowsOf(e, 'SELECT 1 AS one')).toEqual([['1']]);
    expect(e.instancesOpened).toBe(3);
  });

  it('concurrent queries never share an instance, and the instances are reused afterwards', async () => {
    const e = engine();
    try {
      const answers = await Promise.all([1, 2, 3].map((i) => rowsOf(e, `SELECT ${i} AS i FROM clickstream_events RIGHT JOIN (VALUES 1) AS v(x) ON true`)));
      expect(answers).toEqual([[['1']], [['2']], [['3']]]);
      expect(e.instancesOpened).toBe(3);
      await Promise.all([1, 2, 3].map((i) => rowsOf(e, `SELECT ${i} AS i`)));
      expect(e.instancesOpened).toBe(3);
    } finally {
      e.close();
    }
  });

  it('after a failed, a cancelled and a timed-out query the same instance answers the next one', async () => {
    const e = engine({ limits: { timeoutMs: 1_500, maxResultRows: 1000, maxResultBytes: 1 << 20 } });
    try {
      expect(await codeOf(e.run('SELECT nope FROM clickstream_events', { database: 'shardflow' }))).toBe('COLUMN_NOT_FOUND');
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 300);
      expect(await codeOf(e.run(SLOW, { database: 'shardflow', signal: ac.signal }))).toBe(new QueryCancelled().name);
      expect(await codeOf(e.run(SLOW, { database: 'shardflow' }))).toBe('EXCEEDED_TIME_LIMIT');
      expect(await rowsOf(e, 'SELECT count(*) AS n FROM clickstream_events')).toEqual([['0']]);
      expect(e.instancesOpened).toBe(1);
    } finally {
      e.close();
    }
  });
});

describe('SandboxPool', () => {
  it('gives back a detached instance still locked; one with anything left over is not reusable', async () => {
    const pool = new SandboxPool(sandbox, 2);
    try {
      const db = await pool.acquire();
      const conn = await db.connect();
      await conn.run("ATTACH ':memory:' AS awsdatacatalog");
      await conn.run('CREATE SCHEMA awsdatacatalog.d');
      await conn.run('CREATE VIEW awsdatacatalog.d.v AS SELECT 1');
      conn.closeSync();
      expect(await detachCatalog(db)).toBe(true);
      pool.release(db, true);
      const again = await pool.acquire();
      expect(again).toBe(db);
      expect(pool.opened).toBe(1);
      const c2 = await again.connect();
      expect((await c2.runAndReadAll("SELECT database_name FROM duckdb_databases() WHERE NOT internal")).getRows()).toEqual([['memory']]);
      expect((await c2.runAndReadAll("SELECT current_setting('lock_configuration'), current_setting('enable_external_access')")).getRows()).toEqual([[true, false]]);
      await expect(c2.run('SET enable_external_access = true')).rejects.toThrow(/configuration has been locked/);
      // Something the catalog does not hold (the engine's allow-list admits no such DDL): not clean.
      await c2.run('CREATE TABLE leftover (x INTEGER)');
      c2.closeSync();
      expect(await detachCatalog(again)).toBe(false);
      pool.release(again, false);
      await pool.acquire().then((fresh) => {
        expect(fresh).not.toBe(db);
        pool.release(fresh, true);
      });
      expect(pool.opened).toBe(2);
    } finally {
      pool.close();
    }
  });
});
