/**
 * The web UI's server side without a browser: the bundle build, the sampled
 * history behind the live charts, Athena error parsing, the API's refusals,
 * and the `dev` flags.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localAthenaClient, localS3Client } from '../local/aws-clients';
import type { PipelineStatus, RuntimeInfo } from '../local/runtime';
import { freePort } from '../local/services/service';
import { parseAthenaError } from '../local/ui/api';
import { buildUi, ensureUiBuilt } from '../local/ui/build';
import { sampleOf, StatusHistory } from '../local/ui/history';
import { startUiServer, type UiServer } from '../local/ui/server';
import clickstream from '../pipelines/clickstream';

const run = promisify(execFile);
let tmp: string;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-ui-unit-'));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

function status(eventsIn: [number, number], lag: [number | null, number | null], counts: Partial<PipelineStatus['counts']> = {}): PipelineStatus {
  const part = (i: 0 | 1) => ({ id: `shardId-00000000000${i}`, millisBehindLatest: lag[i], recordsBehindLatest: null, eventsIn: eventsIn[i], eventsFiltered: 0, batches: 1, failures: i, retries: 2 * i, discarded: 0, checkpoint: null, lastError: null });
  return {
    pipeline: 'clickstream',
    source: 'kinesis:clickstream-events',
    counts: { received: 0, raw: 0, filtered: 0, quarantined: 0, late: 0, partials: 0, objects: 0, batches: 0, ...counts },
    mapping: { uuid: 'u', eventSourceArn: 'arn', partitions: [part(0), part(1)] },
  };
}

describe('UI history', () => {
  it('samples the runtime counters: events/s between samples, the largest lag, sums over shards', () => {
    const first = sampleOf(status([10, 5], [null, 300]), 1_000, undefined);
    expect(first).toMatchObject({ eventsIn: 15, eventsPerSec: null, lagMs: 300, lagRecords: null, failures: 1, retries: 2 });
    const second = sampleOf(status([40, 25], [1200, 300], { received: 65, quarantined: 2 }), 3_000, first);
    expect(second).toMatchObject({ eventsIn: 65, eventsPerSec: 25, lagMs: 1200, received: 65, quarantined: 2 });
  });

  it('keeps only the last keepMs of samples', () => {
    let t = 0;
    let n = 0;
    const h = new StatusHistory(() => [status([(n += 10), 0], [0, 0])], { keepMs: 5_000, now: () => t });
    for (t = 0; t <= 10_000; t += 1_000) h.sample();
    const s = h.of('clickstream');
    expect(s.map((x) => x.t)).toEqual([5_000, 6_000, 7_000, 8_000, 9_000, 10_000]);
    expect(s.every((x) => x.eventsPerSec === 10)).toBe(true);
    expect(h.of('nope')).toEqual([]);
  });
});

describe('Athena errors', () => {
  it.each([
    ["COLUMN_NOT_FOUND: line 2:3: Column 'nope' cannot be resolved", { code: 'COLUMN_NOT_FOUND', line: 2, column: 3, message: "Column 'nope' cannot be resolved" }],
    ['SYNTAX_ERROR: line 1:1: mismatched input', { code: 'SYNTAX_ERROR', line: 1, column: 1, message: 'mismatched input' }],
    ['GENERIC_INTERNAL_ERROR: disk full', { code: 'GENERIC_INTERNAL_ERROR', line: null, column: null, message: 'disk full' }],
    ['Query did not finish', { code: null, line: null, column: null, message: 'Query did not finish' }],
  ])('parses %j', (reason, parsed) => {
    expect(parseAthenaError(reason)).toEqual(parsed);
  });
});

describe('UI bundle', () => {
  it('builds index.html, app.js and app.css, referring to nothing off the server', async () => {
    const out = path.join(tmp, 'dist');
    const r = await buildUi(out);
    expect((await fs.readdir(out)).sort()).toEqual(['app.css', 'app.js', 'index.html']);
    expect(r.bytes).toBeGreaterThan(10_000);
    const html = await fs.readFile(path.join(out, 'index.html'), 'utf8');
    expect([...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1])).toEqual(['/app.css', '/app.js']);
    const css = await fs.readFile(path.join(out, 'app.css'), 'utf8');
    expect(css).not.toMatch(/url\((?!["']?data:)/);
  });

  it('is built on demand when missing', async () => {
    const out = path.join(tmp, 'on-demand');
    await ensureUiBuilt(out);
    expect((await fs.readdir(out)).sort()).toEqual(['app.css', 'app.js', 'index.html']);
  });
});

describe('UI server', () => {
  let ui: UiServer;
  let port: number;
  const headers = { 'X-Shardflow-UI': '1' };
  beforeAll(async () => {
    port = await freePort();
    const info: RuntimeInfo = { pid: process.pid, startedAt: new Date().toISOString(), endpoints: { s3: 'http://127.0.0.1:1', athena: 'http://127.0.0.1:1' }, lakeBucket: 'shardflow-lake', failureBucket: 'shardflow-failures', pipelines: ['clickstream'] };
    const st = () => [status([3, 4], [0, 0], { received: 7 })];
    const s3 = localS3Client(info.endpoints.s3);
    const athena = localAthenaClient(info.endpoints.athena);
    ui = await startUiServer({ port, distDir: path.join(tmp, 'dist'), sources: { info, pipelines: [clickstream], status: st, s3, athena, history: new StatusHistory(st) } });
  });
  afterAll(async () => {
    await ui?.stop();
  });

  it('serves the bundle with a strict CSP, and the overview from the runtime status', async () => {
    const page = await fetch(ui.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const o = (await (await fetch(`${ui.url}api/overview`, { headers })).json()) as { pipelines: { name: string; counts: { received: number }; eventsIn: number; partitions: unknown[] }[] };
    expect(o.pipelines.map((p) => [p.name, p.counts.received, p.eventsIn, p.partitions.length])).toEqual([['clickstream', 7, 7, 2]]);
  });

  it('describes a pipeline from its definition', async () => {
    const d = (await (await fetch(`${ui.url}api/pipelines/clickstream`, { headers })).json()) as { filter: string; aggregates: { view: string; partials: string; measures: { name: string }[] }[]; allowedLatenessMs: number };
    expect(d.aggregates.map((a) => [a.view, a.partials])).toEqual([['clickstream_by_category_1m', 'clickstream_partials']]);
    expect(d.aggregates[0]!.measures.map((m) => m.name)).toEqual(['events', 'total_value', 'max_value', 'users']);
    expect(d.allowedLatenessMs).toBe(600_000);
    expect(d.filter).toMatch(/"value" > /);
  });

  it.each([
    ['/api/pipelines/nope', 404, /no pipeline named "nope" \(known: clickstream\)/],
    ['/api/queries/not-an-id', 400, /not a query execution id: "not-an-id"/],
    ['/api/pipelines/clickstream/windows?measure=bogus', 400, /measure must be one of events, total_value, max_value, users \(given "bogus"\)/],
    ['/api/pipelines/clickstream/windows?minutes=0', 400, /minutes must be a whole number from 1 to 10080 \(given "0"\)/],
    ['/api/queries/00000000-0000-0000-0000-000000000000/results?size=5000', 400, /size must be a whole number from 1 to 999/],
    ['/api/nothing', 404, /no such API: GET \/api\/nothing/],
  ])('answers %s with %i and a message naming what is wrong', async (p, code, message) => {
    const r = await fetch(`http://127.0.0.1:${port}${p}`, { headers });
    expect(r.status).toBe(code);
    expect(((await r.json()) as { error: string }).error).toMatch(message);
  });

  it('refuses API calls without its header, other methods, bodies that are not JSON objects, and unknown files', async () => {
    expect((await fetch(`${ui.url}api/overview`)).status).toBe(403);
    expect((await fetch(`${ui.url}api/overview`, { method: 'DELETE', headers })).status).toBe(405);
    const notObject = await fetch(`${ui.url}api/queries`, { method: 'POST', headers: { ...headers, 'Content-Type': 'application/json' }, body: '[1]' });
    expect(notObject.status).toBe(400);
    expect(((await notObject.json()) as { error: string }).error).toBe('the request body is not a JSON object');
    const noSql = await fetch(`${ui.url}api/queries`, { method: 'POST', headers: { ...headers, 'Content-Type': 'application/json' }, body: '{"sql":" "}' });
    expect(((await noSql.json()) as { error: string }).error).toBe('sql must be a non-empty string');
    const badTable = await fetch(`${ui.url}api/pipelines/clickstream/browse`, { method: 'POST', headers: { ...headers, 'Content-Type': 'application/json' }, body: '{"table":"raw"}' });
    expect(((await badTable.json()) as { error: string }).error).toBe('table must be "late" or "quarantine" (given "raw")');
    expect((await fetch(`${ui.url}app.js.map`)).status).toBe(404);
    expect((await fetch(`${ui.url}app.js`, { method: 'POST' })).status).toBe(405);
  });

  it('answers 502 naming the endpoint when Athena does not answer', async () => {
    const r = await fetch(`${ui.url}api/queries/00000000-0000-0000-0000-000000000000`, { headers });
    expect(r.status).toBe(502);
    expect(((await r.json()) as { error: string }).error).toMatch(/^the local endpoint failed: /);
  });

  it('fails clearly when its port is taken', async () => {
    await expect(startUiServer({ port, distDir: path.join(tmp, 'dist'), sources: null as never })).rejects.toThrow(new RegExp(`web UI: port ${port} on 127.0.0.1 is already in use`));
  });
});

describe('dev flags', () => {
  it('lists --ui-port and --no-ui, and rejects a bad port before starting anything', async () => {
    const help = await run(process.execPath, ['cli/shardflow.mjs', 'dev', '--help'], { cwd: path.resolve(__dirname, '..') });
    expect(help.stdout).toMatch(/--ui-port <port>\s+web UI port \(loopback\) \(default: 4571\)/);
    expect(help.stdout).toMatch(/--no-ui\s+do not serve the web UI/);
    const bad = await run(process.execPath, ['cli/shardflow.mjs', 'dev', '--ui-port', '0'], { cwd: path.resolve(__dirname, '..') }).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(1);
    expect((bad as { stderr: string }).stderr).toMatch(/--ui-port must be a whole number ≥ 1 \(given "0"\)/);
  });
});
