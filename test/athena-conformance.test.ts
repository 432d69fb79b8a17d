/**
 * The conformance corpus (test/athena-conformance/corpus.ts) on Trino 476 —
 * what Athena engine v3 runs — and on the local endpoint's engine (DuckDB
 * through local/athena/sql-translate.ts). Each query either gives the same
 * answer (normalised as test/athena-conformance/compare.ts documents) or fails
 * locally with NOT_SUPPORTED; a different answer fails the test. The
 * per-category table is the one in docs/athena-sql.md.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCatalog, LakeReader } from '../local/athena/catalog';
import { AthenaQueryEngine } from '../local/athena/engine';
import { freePort, type RunningService } from '../local/services/service';
import { startS3Emulator } from '../local/services/s3';
import { startTrino, type RunningTrino } from '../local/trino/server';
import clickstream from '../pipelines/clickstream';
import iot from '../pipelines/iot';
import { difference, isOrdered, trinoText, type ComparableResult } from './athena-conformance/compare';
import { CATEGORIES, CORPUS, type CorpusQuery } from './athena-conformance/corpus';

const CONCURRENCY = 4;

type Outcome = { kind: 'agree' } | { kind: 'not-supported'; message: string } | { kind: 'differ'; message: string };

let tmp: string;
let s3: RunningService;
let trino: RunningTrino;
let engine: AthenaQueryEngine;
const outcomes = new Map<CorpusQuery, Outcome>();

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-conformance-'));
  s3 = await startS3Emulator({ port: await freePort(), dataDir: path.join(tmp, 's3'), buckets: ['lake'] });
  trino = await startTrino({ dataDir: path.join(tmp, 'trino'), s3Endpoint: s3.endpoint });
  const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  // The endpoint's sandbox and limits (server.ts defaults), so the corpus runs as users' queries do.
  engine = new AthenaQueryEngine(buildCatalog([clickstream, iot]), new LakeReader({ s3: client, bucket: 'lake', cacheDir: path.join(tmp, 'cache') }), {
    sandbox: { readableDirs: [path.join(tmp, 'cache')], tempDir: path.join(tmp, 'duckdb-tmp'), memoryLimit: '1GB', threads: 2 },
    limits: { timeoutMs: 600_000, maxResultRows: 1_000_000, maxResultBytes: 64 * 1024 * 1024 },
  });
}, 300_000);

afterAll(async () => {
  await trino?.stop();
  await s3?.stop();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

async function onTrino(q: CorpusQuery): Promise<ComparableResult> {
  const r = await trino.query(q.sql, { timeZone: 'UTC' });
  return { columns: r.columns.map((c) => ({ name: c.name, type: c.type })), rows: r.rows.map((row) => row.map((v, i) => trinoText(v, r.columns[i]!.type))) };
}

async function locally(q: CorpusQuery): Promise<ComparableResult> {
  const r = await engine.run(q.sql, { database: 'shardflow' });
  return { columns: r.columns.map((c) => ({ name: c.Name, type: c.Type })), rows: r.rows };
}

describe('Athena SQL conformance corpus: Trino 476 vs the local endpoint', () => {
  it('has at least 150 queries with unique ids', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(150);
    expect(new Set(CORPUS.map((q) => q.id)).size).toBe(CORPUS.length);
  });

  it('runs every query on Trino, and locally each gives the same answer or NOT_SUPPORTED', async () => {
    const trinoFailures: string[] = [];
    const run = async (q: CorpusQuery): Promise<void> => {
      const [expected, actual] = await Promise.allSettled([onTrino(q), locally(q)]);
      if (expected.status === 'rejected') {
        trinoFailures.push(`${q.id}: ${(expected.reason as Error).message}`);
        return;
      }
      let outcome: Outcome;
      if (actual.status === 'fulfilled') {
        const d = difference(expected.value, actual.value, { ordered: isOrdered(q.sql), tolerance: q.tolerance ?? 1e-9 });
        outcome = d === null ? { kind: 'agree' } : { kind: 'differ', message: d };
      } else {
        const message = (actual.reason as Error).message;
        outcome = message.startsWith('NOT_SUPPORTED: ') ? { kind: 'not-supported', message } : { kind: 'differ', message: `local error: ${message}` };
      }
      outcomes.set(q, outcome);
    };
    // A few at a time: each engine answers one query in tens of milliseconds, mostly waiting.
    let next = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < CORPUS.length) await run(CORPUS[next++]!);
    }));
    expect(trinoFailures, 'every corpus query must be valid Athena SQL').toEqual([]);

    const table = CATEGORIES.map((category) => {
      const qs = CORPUS.filter((q) => q.category === category);
      const count = (k: Outcome['kind']): number => qs.filter((q) => outcomes.get(q)!.kind === k).length;
      return `| ${category} | ${qs.length} | ${count('agree')} | ${count('not-supported')} | ${count('differ')} |`;
    });
    const all = [...outcomes.values()];
    const agree = all.filter((o) => o.kind === 'agree').length;
    console.log([...table, `| **all** | ${all.length} | ${agree} | ${all.filter((o) => o.kind === 'not-supported').length} | ${all.filter((o) => o.kind === 'differ').length} |`].join('\n'));

    const differing = CORPUS.filter((q) => outcomes.get(q)!.kind === 'differ').map((q) => `${q.id}: ${(outcomes.get(q) as { message: string }).message}\n  ${q.sql}`);
    expect(differing, 'queries whose local answer differs from Trino (fix the translator or fail NOT_SUPPORTED)').toEqual([]);
  }, 600_000);

  it('publishes the same agreement table in docs/athena-sql.md', async () => {
    expect(outcomes.size, 'the corpus run above must have completed').toBe(CORPUS.length);
    const doc = await fs.readFile(path.join(__dirname, '..', 'docs', 'athena-sql.md'), 'utf8');
    for (const category of CATEGORIES) {
      const qs = CORPUS.filter((q) => q.category === category);
      const count = (k: Outcome['kind']): number => qs.filter((q) => outcomes.get(q)!.kind === k).length;
      expect(doc).toContain(`| ${category} | ${qs.length} | ${count('agree')} | ${count('not-supported')} | ${count('differ')} |`);
    }
  });
});
