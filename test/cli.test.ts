/**
 * The `shardflow` command as a user runs it (a child process), against a
 * running local runtime: bad input gets a clear error and loses no data.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localAthenaClient } from '../local/aws-clients';
import { runAthenaQuery } from '../local/query';
import { startLocalRuntime, type LocalRuntime } from '../local/runtime';
import { freePort } from '../local/services/service';
import clickstream from '../pipelines/clickstream';

const run = promisify(execFile);
let dataDir: string;
let rt: LocalRuntime;

async function shardflow(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ['cli/shardflow.mjs', '--data-dir', dataDir, ...args], { timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-cli-'));
  rt = await startLocalRuntime({
    pipelines: [clickstream],
    dataDir,
    ports: { kinesis: await freePort(), s3: await freePort(), athena: await freePort() },
  });
}, 180_000);

afterAll(async () => {
  await rt?.stop();
  await fs.rm(dataDir, { recursive: true, force: true });
}, 60_000);

describe('shardflow CLI', () => {
  it('sends events from a file, malformed lines included, and none is lost', async () => {
    const file = path.join(dataDir, 'events.ndjson');
    const ts = new Date().toISOString();
    await fs.writeFile(file, [
      JSON.stringify({ event_id: 'a', user_id: 'u1', category: 'books', value: 42, ts }),
      '{"event_id": "b", "value": ', // malformed: must be quarantined, not dropped
      JSON.stringify({ event_id: 'c', user_id: 'u2', category: 'books', value: 5, ts }), // filtered
    ].join('\n') + '\n');
    const r = await shardflow('send', 'clickstream', '--file', file);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/clickstream: sent 3, failed 0, retried 0/);
    const deadline = Date.now() + 60_000;
    while (rt.status()[0]!.counts.received < 3 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 200));
    expect(rt.status()[0]!.counts).toMatchObject({ received: 3, raw: 1, filtered: 1, quarantined: 1, late: 0 });
  });

  it('prints query results as a table, CSV and JSON', async () => {
    const csv = await shardflow('query', '--format', 'csv', 'SELECT event_id, value FROM clickstream_events');
    expect(csv.code).toBe(0);
    expect(csv.stdout.trim().split('\n')).toEqual(['event_id,value', 'a,42.0']);
    const json = await shardflow('query', '--format', 'json', 'SELECT reason FROM clickstream_quarantine');
    expect(JSON.parse(json.stdout.trim()).reason).toMatch(/record is not valid JSON/);
    const table = await shardflow('query', 'SELECT category, events FROM clickstream_by_category_1m');
    expect(table.stdout).toMatch(/category\s+│\s+events\n─+┼─+\nbooks\s+│\s+1/);
  });

  it.each([
    [['send', 'nope'], /unknown pipeline "nope" \(known: clickstream, iot, orders\)/],
    [['query', 'SELEC 1'], /SYNTAX_ERROR: line 1:1/],
    [['query', 'SELECT * FROM nope'], /TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.shardflow.nope' does not exist/],
    [['send', 'clickstream', '--count', '0'], /--count must be a whole number ≥ 1 \(given "0"\)/],
  ])('fails clearly: shardflow %j', async (args, message) => {
    const r = await shardflow(...args);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
  });

  it('refuses a port in use, naming it, and leaves the running runtime untouched', async () => {
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((res) => blocker.listen(port, '127.0.0.1', () => res()));
    try {
      const other = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-cli-port-'));
      const r = await shardflow('--data-dir', other, 'dev', '--no-status', '--no-ui', '--s3-port', String(port), '--kinesis-port', String(await freePort()), '--athena-port', String(await freePort()), '--kafka-port', String(await freePort()));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`S3 emulator \\(s3rver\\): port ${port} on 127.0.0.1 is already in use`));
      await fs.rm(other, { recursive: true, force: true });
    } finally {
      blocker.close();
    }
    const athena = localAthenaClient(rt.info.endpoints.athena);
    const still = await runAthenaQuery(athena, { sql: 'SELECT count(*) FROM clickstream_events' });
    athena.destroy();
    expect(still.rows).toEqual([['1']]);
  });

  it('status shows the services, the per-shard status and every lake table with its partitions', async () => {
    await new Promise((res) => setTimeout(res, 1_200)); // the runtime writes its status file every second
    const r = await shardflow('status');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/kinesis\s+http:\/\/127\.0\.0\.1:\d+/);
    expect(r.stdout).toMatch(/clickstream\s+kinesis:clickstream-events/);
    expect(r.stdout).toMatch(/shardflow\.clickstream_events\s+parquet\s+1\s+1\s+\d+\s+dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}/);
    expect(r.stdout).toMatch(/shardflow\.clickstream_quarantine\s+ndjson\.gz\s+1\s+1/);
  });

  it('says how to start dev when none is running', async () => {
    const other = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-cli-none-'));
    const r = await shardflow('--data-dir', other, 'query', 'SELECT 1');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no `shardflow dev` is running on .*: start one with `npx shardflow dev`/);
    await fs.rm(other, { recursive: true, force: true });
  });
});
