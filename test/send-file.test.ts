/**
 * `shardflow send --file` with CSV, folders and globs, as a user runs it (a
 * child process) against a running local runtime: every row arrives once,
 * typed by the schema; a value of the wrong type is quarantined with its
 * reason; a malformed CSV sends nothing.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
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

async function until(what: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!what() && Date.now() < deadline) await new Promise((res) => setTimeout(res, 200));
}

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-send-file-'));
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

describe('shardflow send --file', () => {
  it('refuses a malformed CSV with file:line and sends nothing from any file', async () => {
    const dir = path.join(dataDir, 'bad');
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, 'a.csv'), 'event_id,user_id,category,value,ts\ne1,u1,books,50,2026-01-01T00:00:00Z\n');
    await fs.writeFile(path.join(dir, 'b.csv'), 'event_id,user_id,category,value,ts\r\ne2,u1,"books\r\n,50,x\r\n');
    const r = await shardflow('send', 'clickstream', '--file', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${path.join(dir, 'b.csv')}:2: not valid CSV (CSV_QUOTE_NOT_CLOSED)`);
    expect(r.stderr).toContain('nothing was sent');
    await new Promise((res) => setTimeout(res, 1_500));
    expect(rt.status()[0]!.counts.received).toBe(0);
  });

  it('sends a folder and a glob of CSV and NDJSON, each file once, typed by the schema, with a per-file summary', async () => {
    const dir = path.join(dataDir, 'in');
    await fs.mkdir(path.join(dir, 'more'), { recursive: true });
    const ts = new Date().toISOString();
    await fs.writeFile(path.join(dir, 'a.csv'), `\uFEFFevent_id,user_id,category,value,ts\r\ne1,u1,"books, used",42.5,${ts}\r\ne2,u2,toys,lots,${ts}\r\n`);
    await fs.writeFile(path.join(dir, 'b.ndjson'), JSON.stringify({ event_id: 'e3', user_id: 'u3', category: 'toys', value: 99, ts }) + '\n');
    await fs.writeFile(path.join(dir, 'more', 'c.csv'), `ts,value,category,user_id,event_id\n${Date.parse(ts)},11,books,u4,e4\n${Date.parse(ts)},3,books,u4,e5\n`);
    // the folder, then a glob that matches a.csv again and more/c.csv: a.csv is sent once
    const r = await shardflow('send', 'clickstream', '--file', dir, path.join(dir, '**/*.csv'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('3 file(s), 5 row(s):');
    expect(r.stdout).toContain(`${path.join(dir, 'a.csv')} (csv): 2 row(s), sent 2, failed 0; 1 with a value that is not its field's type, sent for the pipeline to quarantine (first: ${path.join(dir, 'a.csv')}:3: column "value" (double): "lots")`);
    expect(r.stdout).toContain(`${path.join(dir, 'b.ndjson')} (ndjson): 1 row(s), sent 1, failed 0`);
    expect(r.stdout).toContain(`${path.join(dir, 'more', 'c.csv')} (csv): 2 row(s), sent 2, failed 0`);
    expect(r.stdout).toMatch(/clickstream: sent 5, failed 0, retried 0/);
    await until(() => rt.status()[0]!.counts.received >= 5);
    // e5 (value 3) is filtered by value > 10; e2 quarantined; the rest raw
    expect(rt.status()[0]!.counts).toMatchObject({ received: 5, raw: 3, filtered: 1, quarantined: 1, late: 0 });
    await until(() => rt.status()[0]!.counts.objects >= 3);
    const athena = localAthenaClient(rt.info.endpoints.athena);
    try {
      const rows = await runAthenaQuery(athena, { sql: `SELECT event_id, user_id, category, value, CAST(ts AS varchar) FROM clickstream_events ORDER BY event_id` });
      const iso = ts.replace('T', ' ');
      expect(rows.rows.map((x) => x.slice(0, 4))).toEqual([['e1', 'u1', 'books, used', '42.5'], ['e3', 'u3', 'toys', '99.0'], ['e4', 'u4', 'books', '11.0']]);
      expect(rows.rows.map((x) => x[4]!.slice(0, 19))).toEqual([iso.slice(0, 19), iso.slice(0, 19), iso.slice(0, 19)]);
      const q = await runAthenaQuery(athena, { sql: 'SELECT reason, field FROM clickstream_quarantine' });
      expect(q.rows).toHaveLength(1);
      expect(q.rows[0]![1]).toBe('value');
      expect(q.rows[0]![0]).toMatch(/finite number/);
    } finally {
      athena.destroy();
    }
  });

  it('refuses to send for a definition whose schema the lake cannot follow, before sending anything', async () => {
    const dir = path.join(dataDir, 'changed', 'pipelines');
    await fs.mkdir(dir, { recursive: true });
    const core = JSON.stringify(path.resolve('core/index.ts'));
    await fs.writeFile(path.join(dir, 'clickstream.ts'), `import { definePipeline, kinesisSource } from ${core};
export default definePipeline({ name: 'clickstream', source: kinesisSource({ stream: 'clickstream-events' }), schema: { event_id: 'string', user_id: 'string', category: 'string', value: 'string', ts: 'timestamp' }, eventTime: 'ts', tables: { raw: 'clickstream_events', partials: 'clickstream_partials', late: 'clickstream_late', quarantine: 'clickstream_quarantine' } });
`);
    const before = rt.status()[0]!.counts.received;
    const r = await shardflow('--pipelines', dir, 'send', 'clickstream', '--count', '3');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Pipeline "clickstream": schema evolution:');
    expect(r.stderr).toContain('schema.value: changed from double to string');
    await new Promise((res) => setTimeout(res, 1_500));
    expect(rt.status()[0]!.counts.received).toBe(before);
  });
});
