/**
 * What keeps Trino from outliving its test, and from failing late: the
 * watchdog local/trino/server.ts runs the JVM under (exercised here on a
 * stand-in child, so no JVM is needed), and the harness's refusal under CI
 * when Trino is not installed; and the client's resubmission of statements
 * a node refused before it ran them.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TrinoClient, TrinoQueryError } from '../local/trino/client';
import { WATCHDOG } from '../local/trino/server';
import { startTestTrino } from './support/trino';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}

describe('Trino watchdog', () => {
  it('kills the child within seconds when the Node process that started it is SIGKILLed', async () => {
    // A parent Node process that starts the watchdog over `sleep`, prints the sleep's pid, and waits.
    const script = `
      const { spawn } = require('node:child_process');
      const w = spawn('bash', ['-c', process.argv[1], 'trino-watchdog', String(process.pid), 'sleep', '600'], { detached: true, stdio: 'ignore' });
      setTimeout(() => {
        const ps = require('node:child_process').execFileSync('pgrep', ['-P', String(w.pid), '-f', '^sleep 600$']).toString().trim();
        process.stdout.write(ps + '\\n');
      }, 500);
      setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['-e', script, WATCHDOG], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const childPid = await new Promise<number>((resolve, reject) => {
        parent.stdout.once('data', (b: Buffer) => resolve(Number(b.toString().trim())));
        parent.once('exit', () => reject(new Error('parent exited before reporting its child')));
      });
      expect(alive(childPid)).toBe(true);

      process.kill(parent.pid!, 'SIGKILL');
      expect(await waitUntil(() => !alive(childPid), 5_000)).toBe(true);
    } finally {
      if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
    }
  });

  it('passes the child exit code through and leaves a live parent alone', async () => {
    const run = spawn('bash', ['-c', WATCHDOG, 'trino-watchdog', String(process.pid), 'bash', '-c', 'exit 7'], { stdio: 'ignore' });
    const code = await new Promise<number | null>((resolve) => run.once('exit', resolve));
    expect(code).toBe(7);
  });
});

describe('startTestTrino', () => {
  const saved = { cache: process.env.SHARDFLOW_CACHE, ci: process.env.CI };
  afterEach(() => {
    if (saved.cache === undefined) delete process.env.SHARDFLOW_CACHE;
    else process.env.SHARDFLOW_CACHE = saved.cache;
    if (saved.ci === undefined) delete process.env.CI;
    else process.env.CI = saved.ci;
  });

  it('under CI=true fails at once, saying what to run, when Trino is not installed', async () => {
    const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-no-trino-'));
    process.env.SHARDFLOW_CACHE = empty;
    process.env.CI = 'true';
    try {
      await expect(startTestTrino({ tmp: empty, s3Endpoint: 'http://127.0.0.1:1' })).rejects.toThrow(
        `Trino 476 is not installed in ${path.join(empty, 'trino-476')}: run \`bash scripts/setup-trino.sh\` (.ci/run does) before the tests`,
      );
    } finally {
      await fs.rm(empty, { recursive: true, force: true });
    }
  });
});

describe('TrinoClient and a node that is not yet (or no longer) scheduling', () => {
  /** A stand-in coordinator: the first `refusals` statements fail NO_NODES_AVAILABLE (as Trino's first response carries it), then one row. */
  async function coordinator(refusals: number): Promise<{ url: string; posts: () => number; close: () => Promise<void> }> {
    let posts = 0;
    const server = http.createServer((req, res) => {
      res.setHeader('Content-Type', 'application/json');
      const stats = { state: 'FINISHED', processedRows: 0, processedBytes: 0, physicalInputBytes: 0, totalSplits: 0, completedSplits: 0, elapsedTimeMillis: 1 };
      if (req.method === 'POST') {
        posts++;
        const id = `q${posts}`;
        const error = { message: 'No nodes available to run query', errorName: 'NO_NODES_AVAILABLE', errorType: 'INSUFFICIENT_RESOURCES' };
        res.end(JSON.stringify(posts <= refusals ? { id, stats: { ...stats, state: 'FAILED' }, error } : { id, columns: [{ name: '_col0', type: 'integer' }], data: [[1]], stats }));
        return;
      }
      res.statusCode = 404;
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, posts: () => posts, close: () => new Promise((r) => server.close(() => r())) };
  }

  it('resubmits a statement refused with NO_NODES_AVAILABLE (nothing ran) and returns its rows', async () => {
    const c = await coordinator(2);
    try {
      const r = await new TrinoClient(c.url).query('SELECT 1');
      expect(r.rows).toEqual([[1]]);
      expect(c.posts()).toBe(3);
    } finally {
      await c.close();
    }
  });

  it('gives up after noNodesRetryMs with the error Trino gave', async () => {
    const c = await coordinator(Number.POSITIVE_INFINITY);
    try {
      const err = await new TrinoClient(c.url).query('SELECT 1', { noNodesRetryMs: 300 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TrinoQueryError);
      expect((err as TrinoQueryError).errorName).toBe('NO_NODES_AVAILABLE');
      expect(c.posts()).toBeGreaterThan(1);
    } finally {
      await c.close();
    }
  });
});
