/**
 * The web UI of `shardflow dev`, in a real headless Chromium (Debian's
 * `chromium`, driven by playwright-core): the real CLI runs `dev` on a temp
 * data dir and free ports, the real `send` sends events, and the test reads
 * what a person would see. Screenshots of each page go to
 * test-artifacts/ui/ (gitignored).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ListQueryExecutionsCommand } from '@aws-sdk/client-athena';
import { localAthenaClient, localS3Client } from '../local/aws-clients';
import { S3OnFailureDestination } from '../local/esm/on-failure-destination';
import type { PipelineStatus, RuntimeInfo } from '../local/runtime';
import { freePort } from '../local/services/service';

const run = promisify(execFile);
/** How long a poll waits for the page: a view query can take seconds on a loaded 2-core machine. */
const POLL = { timeout: 30_000 };
const ROOT = path.resolve(__dirname, '..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'ui');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let dir: string;
let dev: ChildProcess;
let devLog = '';
let url: string;
let browser: Browser;
let page: Page;

// What the test sends, and so what the UI must show.
const CATEGORIES = { books: 7, games: 5, toys: 3 } as const; // events kept (value > 10) per category
const FILTERED = 4; // value ≤ 10
const MALFORMED = ['{"event_id": "m1", "value": ', 'this is not json'];
const MISSING_FIELD = JSON.stringify({ event_id: 'm3', user_id: 'u', value: 50, ts: new Date().toISOString() }); // no category
const LATE = 2; // an hour old: later than the allowed 10 minutes
const IOT_EVENTS = 300;
const KEPT = Object.values(CATEGORIES).reduce((a, b) => a + b, 0);
/** The event time of every on-time event: they share a window, even across a minute boundary. */
const sentTs = new Date(Date.now() - 5_000).toISOString();
const TOTAL = KEPT + FILTERED + MALFORMED.length + 1 + LATE;

function cli(...args: string[]) {
  return run(process.execPath, ['cli/shardflow.mjs', '--pipelines', path.join(dir, 'pipelines'), '--data-dir', path.join(dir, 'data'), ...args], { cwd: ROOT, timeout: 60_000 });
}

async function shot(name: string): Promise<void> {
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** A request to the UI server with exactly these headers, Host included (fetch cannot set Host). */
function rawRequest(method: string, pathname: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: Number(u.port), path: pathname, method, headers: body === undefined ? headers : { ...headers, 'Content-Length': String(Buffer.byteLength(body)) } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const rawGet = (pathname: string, headers: Record<string, string>) => rawRequest('GET', pathname, headers);

/** Query executions the local Athena endpoint has seen. */
async function queryCount(): Promise<number> {
  const info = JSON.parse(await fs.readFile(path.join(dir, 'data', 'runtime.json'), 'utf8')) as RuntimeInfo;
  const athena = localAthenaClient(info.endpoints.athena);
  let n = 0;
  let token: string | undefined;
  do {
    const r = await athena.send(new ListQueryExecutionsCommand({ NextToken: token, MaxResults: 50 }));
    n += r.QueryExecutionIds?.length ?? 0;
    token = r.NextToken;
  } while (token);
  athena.destroy();
  return n;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`the UI test needs Chromium at ${CHROMIUM} (Debian's chromium package): run \`bash scripts/setup-browser.sh\`, or set CHROMIUM_PATH`);
  }
  await fs.mkdir(ARTIFACTS, { recursive: true });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-ui-'));
  // Both example pipelines, one on Kinesis (shards, iterator age) and one on Kafka (partitions, offset lag).
  await fs.mkdir(path.join(dir, 'pipelines'));
  for (const name of ['clickstream', 'iot']) {
    await fs.writeFile(path.join(dir, 'pipelines', `${name}.mts`), `export { default } from ${JSON.stringify(path.join(ROOT, 'pipelines', `${name}.ts`))};\n`);
  }
  const ports = { kinesis: await freePort(), s3: await freePort(), athena: await freePort(), kafka: await freePort(), ui: await freePort() };
  // `timeout` bounds dev's life even if this test process is killed before afterAll.
  dev = spawn('timeout', ['-k', '10', '300', process.execPath, 'cli/shardflow.mjs', '--pipelines', path.join(dir, 'pipelines'), '--data-dir', path.join(dir, 'data'), 'dev', '--no-status',
    '--kinesis-port', String(ports.kinesis), '--s3-port', String(ports.s3), '--athena-port', String(ports.athena), '--kafka-port', String(ports.kafka), '--ui-port', String(ports.ui)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  process.once('exit', () => dev.kill('SIGKILL'));
  url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dev did not print its UI URL within 90 s:\n${devLog}`)), 90_000);
    const read = (c: Buffer) => {
      devLog += c.toString('utf8');
      const m = /web UI: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(devLog);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    dev.stdout!.on('data', read);
    dev.stderr!.on('data', read);
    dev.once('exit', (code) => reject(new Error(`dev exited (${code}) before its UI was up:\n${devLog}`)));
  });
  expect(url).toBe(`http://127.0.0.1:${ports.ui}/`);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
  page.setDefaultTimeout(30_000);
}, 150_000);

afterAll(async () => {
  await browser?.close();
  if (dev && dev.exitCode === null) {
    const exited = new Promise((r) => dev.once('exit', r));
    dev.kill('SIGTERM');
    await exited;
  }
  if (dir) await fs.rm(dir, { recursive: true, force: true });
}, 60_000);

describe('shardflow dev web UI', () => {
  afterEach(async (ctx) => {
    // What the page showed when a test failed, beside the screenshots of the passing ones.
    if (ctx.task.result?.state === 'fail' && page) await shot(`failed-${ctx.task.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}`).catch(() => undefined);
  });

  it('shows the counts sent on the overview, live', async () => {
    const ts = sentTs;
    const old = new Date(Date.now() - 3_600_000).toISOString();
    const lines: string[] = [];
    let i = 0;
    for (const [category, n] of Object.entries(CATEGORIES)) for (let k = 0; k < n; k++) lines.push(JSON.stringify({ event_id: `e${i++}`, user_id: `u${k}`, category, value: 20 + k, ts }));
    for (let k = 0; k < FILTERED; k++) lines.push(JSON.stringify({ event_id: `f${k}`, user_id: 'u', category: 'books', value: 5, ts }));
    for (let k = 0; k < LATE; k++) lines.push(JSON.stringify({ event_id: `l${k}`, user_id: 'u', category: 'books', value: 99, ts: old }));
    lines.push(...MALFORMED, MISSING_FIELD);
    await fs.writeFile(path.join(dir, 'events.ndjson'), lines.join('\n') + '\n');
    const sent = await cli('send', 'clickstream', '--file', path.join(dir, 'events.ndjson'));
    expect(sent.stdout).toMatch(new RegExp(`clickstream: sent ${TOTAL}, failed 0`));

    await page.goto(url);
    const text = (k: string) => page.getByTestId(`clickstream-${k}`);
    await expect.poll(() => text('received').textContent(), { timeout: 60_000 }).toBe(String(TOTAL));
    // Records read from the stream come from the once-a-second samples: at most a sample behind.
    await expect.poll(() => text('events-in').textContent(), POLL).toBe(String(TOTAL));
    expect(await text('raw').textContent()).toBe(String(KEPT));
    expect(await text('filtered').textContent()).toBe(String(FILTERED));
    expect(await text('quarantined').textContent()).toBe(String(MALFORMED.length + 1));
    expect(await text('late').textContent()).toBe(String(LATE));
    expect(await text('errors').textContent()).toBe('0');
    expect(Number(await text('objects').textContent())).toBeGreaterThan(0);
    // Two shards, each a row, and the sparkline drawn.
    expect(await page.locator('[data-testid=pipeline-clickstream] tbody tr td:first-child').allTextContents()).toEqual(['shardId-000000000000', 'shardId-000000000001']);
    expect(await text('lag').textContent()).toMatch(/^\d+ ms$/);
    expect(await page.getByTestId('clickstream-chart-rate').locator('canvas').count()).toBeGreaterThan(0);

    // The Kafka pipeline: its three partitions, offset lag, and every record accounted for.
    const iot = await cli('send', 'iot', '--count', String(IOT_EVENTS));
    expect(iot.stdout).toMatch(new RegExp(`iot: sent ${IOT_EVENTS}, failed 0`));
    const n = async (k: string) => Number((await page.getByTestId(`iot-${k}`).textContent())!.replace(/,/g, ''));
    await expect.poll(() => n('received'), { timeout: 60_000 }).toBe(IOT_EVENTS);
    expect((await n('raw')) + (await n('filtered')) + (await n('quarantined')) + (await n('late'))).toBe(IOT_EVENTS);
    const card = page.getByTestId('pipeline-iot');
    expect(await card.locator('tbody tr td:first-child').allTextContents()).toEqual(['iot-readings-0', 'iot-readings-1', 'iot-readings-2']);
    expect(await card.locator('.stat-label').allTextContents()).toContain('offset lag');
    await expect.poll(() => page.getByTestId('iot-lag').textContent(), POLL).toBe('0 rec');
    await page.waitForTimeout(1_500); // another sample or two for the charts
    await shot('overview');
  });

  it('shows the aggregate windows of a pipeline, the open one as open', async () => {
    await page.getByTestId('nav-clickstream').click();
    const table = page.getByTestId('windows-table');
    await table.waitFor();
    for (const [category, n] of Object.entries(CATEGORIES)) {
      const row = table.locator('tr', { hasText: category });
      await expect.poll(() => row.count(), POLL).toBe(1);
      const cells = await row.locator('td').allTextContents();
      expect(cells[3]).toBe(String(n)); // window_start, window_end, category, events
      expect(cells[4]).toMatch(/^open until \d{2}:\d{2}:\d{2}Z$/);
    }
    expect(await page.getByTestId('windows-chart').locator('canvas').count()).toBeGreaterThan(0);
    // Live: two more books events in the same window show up without a reload, as their batch lands.
    const more = [0, 1].map((k) => JSON.stringify({ event_id: `x${k}`, user_id: 'ux', category: 'books', value: 30, ts: sentTs }));
    await fs.writeFile(path.join(dir, 'more.ndjson'), more.join('\n') + '\n');
    await cli('send', 'clickstream', '--file', path.join(dir, 'more.ndjson'));
    await expect.poll(async () => (await table.locator('tr', { hasText: 'books' }).locator('td').allTextContents())[3], POLL).toBe(String(CATEGORIES.books + 2));
    await page.getByTestId('measure').selectOption('max_value');
    await expect.poll(async () => (await table.locator('tr', { hasText: 'toys' }).locator('td').allTextContents())[3], POLL).toBe('22.0');
    await shot('pipeline-windows');
  });

  it('browses the quarantine with each record\'s reason and original payload, and the late records', async () => {
    await page.getByTestId('tab-quarantine').click();
    const table = page.getByTestId('quarantine-table');
    await table.waitFor();
    await expect.poll(() => table.locator('tbody tr').count(), POLL).toBe(MALFORMED.length + 1);
    const reasons = await table.locator('.reason').allTextContents();
    expect(reasons.filter((r) => /not valid JSON/.test(r))).toHaveLength(2);
    expect(reasons.some((r) => /category/.test(r))).toBe(true);
    const row = table.locator('tr', { hasText: 'this is not json' });
    await row.locator('details summary').click();
    expect(await row.locator('details pre').textContent()).toBe('this is not json');
    await shot('pipeline-quarantine');

    await page.getByTestId('tab-late').click();
    const late = page.getByTestId('late-table');
    await late.waitFor();
    await expect.poll(() => late.locator('tbody tr').count(), POLL).toBe(LATE);
    expect((await late.locator('thead th').allTextContents()).some((h) => h.startsWith('lateness_ms'))).toBe(true);
    await shot('pipeline-late');
  });

  it('lists failed batches from the on-failure destination and scheduled-query runs', async () => {
    // A discarded batch, written by the destination the mapping itself uses, under the mapping's UUID.
    const data = path.join(dir, 'data');
    const info = JSON.parse(await fs.readFile(path.join(data, 'runtime.json'), 'utf8')) as RuntimeInfo;
    const status = JSON.parse(await fs.readFile(path.join(data, 'status.json'), 'utf8')) as { pipelines: PipelineStatus[] };
    const uuid = status.pipelines[0]!.mapping!.uuid;
    const s3 = localS3Client(info.endpoints.s3);
    const at = new Date().toISOString();
    await new S3OnFailureDestination(s3, info.failureBucket).deliver({
      mappingUuid: uuid,
      source: 'shardId-000000000001',
      record: {
        requestContext: { requestId: 'r1', functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:shardflow-clickstream-processor', condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 },
        responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
        version: '1.0',
        timestamp: at,
        KinesisBatchInfo: { shardId: 'shardId-000000000001', startSequenceNumber: '111', endSequenceNumber: '222', approximateArrivalOfFirstRecord: at, approximateArrivalOfLastRecord: at, batchSize: 2, streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/clickstream-events' },
      },
      event: { Records: [] },
    });
    s3.destroy();
    await page.getByTestId('tab-failed').click();
    const failed = page.getByTestId('failed-batches');
    await expect.poll(() => failed.locator('tbody tr').count(), POLL).toBe(1);
    const cells = await failed.locator('tbody tr td').allTextContents();
    expect(cells.slice(1, 6)).toEqual(['RetryAttemptsExhausted', 'shardId-000000000001', '2', '111 … 222', '3']);
    // The discarded invocation event, as the destination stored it, on opening the row.
    await failed.locator('tbody tr details summary').click();
    expect(JSON.parse((await failed.locator('tbody tr details pre').textContent())!)).toEqual({ Records: [] });
    await shot('pipeline-failed-batches');

    const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 + 3_600_000).toISOString();
    await cli('run-query', 'clickstream', 'top_categories_hourly', '--at', hour);
    await page.getByTestId('tab-scheduled').click();
    const runs = page.getByTestId('runs-top_categories_hourly');
    await expect.poll(() => runs.locator('tbody tr').count(), POLL).toBe(1);
    expect(await runs.locator('tbody tr td').nth(2).textContent()).toBe('SUCCEEDED');
    await shot('pipeline-scheduled');
  });

  it('runs SQL in the console: result table, bytes scanned, chart, CSV, and Athena errors with line and column', async () => {
    await page.getByTestId('nav-sql').click();
    const sql = 'SELECT category, SUM(events) AS events\nFROM clickstream_by_category_1m\nGROUP BY category\nORDER BY category';
    await page.getByTestId('sql-editor').fill(sql);
    await page.getByTestId('run-query').click();
    const table = page.getByTestId('result-table');
    await table.waitFor();
    const rows = await table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    const expected = Object.entries(CATEGORIES).map(([c, n]) => [c, String(c === 'books' ? n + 2 : n)]);
    expect(rows).toEqual(expected);
    expect(await page.getByTestId('bytes-scanned').textContent()).toMatch(/^[\d.]+ (B|KiB|MiB)$/);
    expect(await page.getByTestId('result-chart').locator('canvas').count()).toBeGreaterThan(0);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-csv').click()]);
    const csv = await fs.readFile((await download.path())!, 'utf8');
    expect(csv.trim().split('\n')).toEqual(['"category","events"', ...expected.map(([c, n]) => `"${c}","${n}"`)]);
    await shot('console-result');
    await page.getByTestId('chart-kind').selectOption('line');
    expect(await page.getByTestId('result-chart').locator('canvas').count()).toBeGreaterThan(0);

    await page.getByTestId('sql-editor').fill('SELECT category,\n  nope\nFROM clickstream_events');
    await page.getByTestId('run-query').click();
    await page.getByTestId('query-error').waitFor();
    expect(await page.getByTestId('error-code').textContent()).toBe('COLUMN_NOT_FOUND');
    expect(await page.getByTestId('error-position').textContent()).toBe('line 2, column 3');
    await shot('console-error');
  });

  it('pages through a result by Athena\'s NextToken', async () => {
    const raw = KEPT + 2;
    const rows = raw * 3;
    await page.getByTestId('sql-editor').fill('SELECT event_id, k FROM clickstream_events CROSS JOIN (VALUES (1), (2), (3)) AS t(k) ORDER BY event_id, k');
    await page.locator('label', { hasText: 'page size' }).locator('select').selectOption('25');
    await page.getByTestId('run-query').click();
    const info = page.getByTestId('page-info');
    await expect.poll(() => info.textContent(), POLL).toBe('rows 1–25');
    const first = await page.getByTestId('result-table').locator('tbody tr').first().locator('td').allTextContents();
    await page.getByTestId('page-next').click();
    await expect.poll(() => info.textContent(), POLL).toBe('rows 26–50');
    await page.getByTestId('page-next').click();
    await expect.poll(() => info.textContent(), POLL).toBe(`rows 51–${rows}`);
    expect(await page.getByTestId('result-table').locator('tbody tr').count()).toBe(rows - 50);
    expect(await page.getByTestId('page-next').isDisabled()).toBe(true);
    await page.getByTestId('page-prev').click();
    await page.getByTestId('page-prev').click();
    await expect.poll(() => info.textContent(), POLL).toBe('rows 1–25');
    expect(await page.getByTestId('result-table').locator('tbody tr').first().locator('td').allTextContents()).toEqual(first);
    await shot('console-paged');
  });

  it('refuses a foreign Host or Origin, cross-site fetches, and API calls without its header', async () => {
    const u = new URL(url);
    const own = { Host: u.host, 'X-Shardflow-UI': '1' };
    expect((await rawGet('/api/overview', own)).status).toBe(200);
    expect((await rawGet('/api/overview', { ...own, Host: `evil.example:${u.port}` })).status).toBe(421);
    expect((await rawGet('/', { Host: 'evil.example' })).status).toBe(421);
    const foreign = await rawGet('/api/overview', { ...own, Origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body).message).toMatch(/web UI refuses requests from web pages of other origins \(Origin "http:\/\/evil\.example"\)/);
    expect((await rawGet('/api/overview', { ...own, 'Sec-Fetch-Site': 'cross-site' })).status).toBe(403);
    expect((await rawGet('/api/overview', { Host: u.host })).status).toBe(403);
    expect((await rawGet('/../../etc/passwd', { Host: u.host })).status).toBe(400);
    expect((await rawGet('/%2e%2e/package.json', { Host: u.host })).status).toBe(400);
    expect((await rawGet('/package.json', { Host: u.host })).status).toBe(404);
    // Only JSON POSTs with the UI's header start anything.
    const sql = JSON.stringify({ sql: 'SELECT 1' });
    const queries = await queryCount();
    expect((await rawRequest('POST', '/api/queries', { ...own, 'Content-Type': 'text/plain' }, sql)).status).toBe(415);
    expect((await rawRequest('POST', '/api/queries', { ...own, 'Content-Type': 'application/x-www-form-urlencoded' }, 'sql=SELECT+1')).status).toBe(415);
    expect((await rawRequest('POST', '/api/queries', { Host: u.host, 'Content-Type': 'application/json' }, sql)).status).toBe(403);
    expect((await rawRequest('POST', '/api/queries', { ...own, 'Content-Type': 'application/json' }, JSON.stringify({ sql: 'x'.repeat(1_100_000) }))).status).toBe(413);
    expect(await queryCount()).toBe(queries);
    const ok = await rawRequest('POST', '/api/queries', { ...own, 'Content-Type': 'application/json' }, sql);
    expect(ok.status).toBe(200);
    expect(await queryCount()).toBe(queries + 1);
    const index = await fetch(url);
    expect(index.headers.get('content-security-policy')).toMatch(/script-src 'self'/);

    // A page on another origin (another loopback port) cannot read the API, nor start a query with a form-style POST.
    const before = await queryCount();
    const other = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<!doctype html><title>other</title>');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
    const otherPort = (other.address() as { port: number }).port;
    try {
      const p2 = await browser.newPage();
      await p2.goto(`http://127.0.0.1:${otherPort}/`);
      const result = await p2.evaluate(async (target) => {
        const out: string[] = [];
        try {
          const r = await fetch(`${target}api/overview`, { headers: { 'X-Shardflow-UI': '1' } });
          out.push(`read ${r.status}`);
        } catch {
          out.push('read blocked');
        }
        try {
          // A "simple" request needs no preflight; it arrives, is refused (text/plain, no X-Shardflow-UI), and the page sees an opaque answer.
          const r2 = await fetch(`${target}api/queries`, { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: '{"sql":"SELECT 1"}' });
          out.push(`post ${r2.type}`);
        } catch {
          out.push('post blocked');
        }
        return out;
      }, url);
      expect(result).toEqual(['read blocked', 'post opaque']);
      await p2.close();
    } finally {
      other.close();
    }
    // The no-cors POST reached the server, which refused it: it started no query.
    expect(await queryCount()).toBe(before);
  });
});
