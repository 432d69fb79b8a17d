/**
 * What keeps Trino from outliving its test, and from failing late: the
 * watchdog local/trino/server.ts runs the JVM under (exercised here on a
 * stand-in child, so no JVM is needed), and the harness's refusal under CI
 * when Trino is not installed.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
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
