/**
 * `npm run demo` (scripts/demo.ts) as a user runs it: the real services, every
 * example pipeline (clickstream and orders on Kinesis, iot on Kafka), and a
 * query of every aggregate view. Each pipeline's counts must add up to what was
 * sent, and every view must answer with rows.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { pipelines } from '../pipelines';

const run = promisify(execFile);
let dir: string | undefined;

afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

it('sends to every example pipeline, accounts for every event, and shows every aggregate view', async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-demo-'));
  const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
    timeout: 240_000,
    env: { ...process.env, SHARDFLOW_DEMO_DIR: dir, DEMO_EVENTS: '2000', NO_COLOR: '1' },
    maxBuffer: 16 * 1024 * 1024,
  });
  for (const p of pipelines) {
    const m = new RegExp(`demo: ${p.name}: received (\\d+) = raw (\\d+) \\+ filtered (\\d+) \\+ quarantined (\\d+) \\+ late (\\d+);`).exec(stderr);
    expect(m, `${p.name} in:\n${stderr}`).not.toBeNull();
    const [received, raw, filtered, quarantined, late] = m!.slice(1).map(Number) as [number, number, number, number, number];
    expect(received, p.name).toBe(2000);
    expect(raw + filtered + quarantined + late, p.name).toBe(received);
    // The demo sends 10 late and 10 malformed events to each pipeline.
    expect(quarantined, p.name).toBe(10);
    expect(late, p.name).toBe(10);
    for (const a of p.aggregates) {
      const at = stdout.indexOf(`SELECT * FROM ${p.database}.${a.view} `);
      expect(at, `${a.view} in:\n${stdout}`).toBeGreaterThanOrEqual(0);
      const rows = /\((\d+) rows, /.exec(stdout.slice(at));
      expect(Number(rows?.[1]), a.view).toBeGreaterThan(0);
    }
  }
  expect(pipelines.map((p) => p.name)).toContain('orders');
  expect(stderr).toContain('demo: stopped.');
}, 300_000);
