/**
 * Batch backfill agrees with streaming. 200,000 clickstream events (valid,
 * filtered, malformed, late, out of order; 40 minutes across an hour boundary)
 * go through the real stream-processor handler in Kinesis batches of 1,000
 * against s3rver. Then the backfill SQL over the raw table and the streaming
 * aggregate view run through the local Athena endpoint over the same windows:
 * row for row, counts and maxes are exact, sums agree to double rounding, and
 * the distinct counts agree within the error of both sketches — each also
 * checked against the truth the test computes from what it sent.
 */
import type { AthenaClient } from '@aws-sdk/client-athena';
import { type S3Client } from '@aws-sdk/client-s3';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerBatchCommands } from '../cli/batch-commands';
import { compareWithView, KMV_K, KMV_RELATIVE_ERROR, planBackfill } from '../core';
import { runAthenaQuery, type QueryResult } from '../functions/query-runner/athena-query';
import { silentLogger } from '../functions/shared/logger';
import { createStreamProcessor } from '../functions/stream-processor/handler';
import { localTarget } from '../local/targets';
import clickstream from '../pipelines/clickstream';
import { prng } from './support/clickstream-events';
import { kinesisEvent, kinesisRecord } from './support/events';
import { TestLake } from './support/test-lake';

const N = 200_000;
const BATCH = 1_000; // the pipeline's Lambda batch size
const BUCKET = 'backfill-lake';
const T0 = Date.UTC(2026, 2, 1, 9, 40, 0);
const LATENESS_MS = 10 * 60_000;
interface Truth { events: number; total: number; max: number; users: Set<string> }

/** Categories are skewed so that some windows hold more than k = 1024 distinct users (KMV then estimates) and some fewer (exact). */
function workload() {
  const rand = prng(2026);
  const cats: [string, number][] = [['books', 0.55], ['games', 0.25], ['music', 0.15], ['toys', 0.05]];
  const records: { text: string; arrivalMs: number }[] = [];
  const truth = new Map<string, Truth>();
  const counts = { raw: 0, filtered: 0, quarantined: 0, late: 0 };
  for (let i = 0; i < N; i++) {
    const arrivalMs = T0 + i * 12; // 200,000 × 12 ms = 40 minutes of arrival time
    if (rand() < 0.01) {
      records.push({ text: i % 2 ? '{"event_id": "cut' : JSON.stringify({ event_id: `e${i}`, category: 'books', ts: arrivalMs }), arrivalMs });
      counts.quarantined++;
      continue;
    }
    const delay = rand() < 0.03 ? LATENESS_MS + 60_000 + Math.floor(rand() * 9 * 60_000) : Math.floor(rand() * 90_000);
    const ts = arrivalMs - delay;
    const value = Math.round(rand() * 10_000) / 100;
    let x = rand();
    const category = cats.find(([, w]) => (x -= w) < 0)?.[0] ?? 'toys';
    const user = `u${Math.floor(rand() * 1_000_000)}`;
    records.push({ text: JSON.stringify({ event_id: `e${i}`, user_id: user, category, value, ts: i % 2 ? ts : new Date(ts).toISOString() }), arrivalMs });
    if (!(value > 10)) counts.filtered++;
    else if (arrivalMs - ts > LATENESS_MS) counts.late++;
    else {
      counts.raw++;
      const key = `${ts - (ts % 60_000)}|${category}`;
      const t = truth.get(key) ?? { events: 0, total: 0, max: -Infinity, users: new Set<string>() };
      t.events++;
      t.total += value;
      t.max = Math.max(t.max, value);
      t.users.add(user);
      truth.set(key, t);
    }
  }
  return { records, truth, counts };
}

const parseTs = (s: string) => Date.parse(`${s.replace(' UTC', '').replace(' ', 'T')}Z`);
const rowKey = (r: readonly (string | null)[]) => `${parseTs(r[0]!)}|${r[2]}`;

let lake: TestLake;
let s3: S3Client;
let athena: AthenaClient;
const w = workload();

beforeAll(async () => {
  lake = await TestLake.start('backfill', BUCKET);
  ({ s3 } = lake);
  // The streaming path: the real handler, one Kinesis batch of 1,000 records at a time.
  const handler = createStreamProcessor(clickstream, { s3, bucket: BUCKET, logger: silentLogger });
  for (let from = 0; from < N; from += BATCH) {
    const batch = w.records.slice(from, from + BATCH).map((r, i) => kinesisRecord(r.text, { seq: from + i, arrivalMs: r.arrivalMs, raw: true }));
    const res = await handler(kinesisEvent(batch));
    if (res.batchItemFailures.length) throw new Error(`batch at ${from} failed: ${JSON.stringify(res.batchItemFailures)}`);
  }
  athena = await lake.startAthena([clickstream]);
}, 240_000);

afterAll(async () => {
  await lake?.stop();
});

const windowStarts = [...w.truth.keys()].map((k) => Number(k.split('|')[0]));
const FIRST = Math.min(...windowStarts);
const LAST = Math.max(...windowStarts);

/** Relative errors of estimates against the truth, for windows above `min` distinct users. */
function relErrors(rows: readonly (readonly (string | null)[])[], col: number, min = 0): number[] {
  return rows.flatMap((r) => {
    const n = w.truth.get(rowKey(r))!.users.size;
    return n >= min ? [(Number(r[col]) - n) / n] : [];
  });
}
const rms = (xs: number[]) => Math.sqrt(xs.reduce((s, x) => s + x * x, 0) / xs.length);

describe('backfill over the raw table agrees with the streaming view', () => {
  let backfill: QueryResult;
  let view: QueryResult;
  let exact: QueryResult;

  beforeAll(async () => {
    const plan = planBackfill(clickstream, { from: FIRST, to: LAST + 60_000 });
    // One after another, so each query's bytes scanned and time are its own.
    backfill = await runAthenaQuery(athena, { sql: plan.sql });
    view = await runAthenaQuery(athena, { sql: plan.viewSql });
    exact = await runAthenaQuery(athena, { sql: planBackfill(clickstream, { from: FIRST, to: LAST + 60_000 }, { exactDistinct: true }).sql });
  }, 120_000);

  it('the lake holds every event the workload says it should', () => {
    expect(w.counts.raw + w.counts.filtered + w.counts.quarantined + w.counts.late).toBe(N);
    expect(Math.min(w.counts.filtered, w.counts.quarantined, w.counts.late)).toBeGreaterThan(1_000);
    expect(view.rows.reduce((s, r) => s + Number(r[3]), 0)).toBe(w.counts.raw);
  });

  it('row for row: same windows and groups; counts, sums and maxes equal each other and the truth', () => {
    expect(backfill.columns.map((c) => c.name)).toEqual(['window_start', 'window_end', 'category', 'events', 'total_value', 'max_value', 'users']);
    expect(view.columns.map((c) => c.name)).toEqual(backfill.columns.map((c) => c.name));
    expect(backfill.rows.length).toBe(w.truth.size);
    expect(view.rows.length).toBe(w.truth.size);
    backfill.rows.forEach((b, i) => {
      const v = view.rows[i]!;
      const t = w.truth.get(rowKey(b))!;
      expect(rowKey(v)).toBe(rowKey(b));
      expect(parseTs(b[1]!)).toBe(parseTs(v[1]!));
      expect([Number(b[3]), Number(v[3])]).toEqual([t.events, t.events]);
      expect(Math.abs(Number(b[4]) - Number(v[4]))).toBeLessThanOrEqual(1e-9 * t.total);
      expect(Number(b[4])).toBeCloseTo(t.total, 6);
      expect([Number(b[5]), Number(v[5])]).toEqual([t.max, t.max]);
    });
  });

  it('distinct users: KMV exact below k, within its error above; batch HLL within its error; compareWithView finds no difference', () => {
    const below = view.rows.filter((r) => w.truth.get(rowKey(r))!.users.size < KMV_K);
    const above = view.rows.filter((r) => w.truth.get(rowKey(r))!.users.size >= KMV_K);
    expect(Math.min(below.length, above.length)).toBeGreaterThan(20);
    for (const r of below) expect(Number(r[6])).toBe(w.truth.get(rowKey(r))!.users.size);
    const kmv = relErrors(above, 6);
    expect(Math.max(...kmv.map(Math.abs))).toBeLessThan(4 * KMV_RELATIVE_ERROR);
    expect(rms(kmv)).toBeLessThan(1.5 * KMV_RELATIVE_ERROR);

    // The local endpoint's approx_distinct counts exactly (Athena's is within 2.3 % standard error).
    const hll = relErrors(backfill.rows, 6);
    expect(Math.max(...hll.map(Math.abs))).toBe(0);
    // COUNT(DISTINCT) in the batch is the truth itself.
    for (const r of exact.rows) expect(Number(r[6])).toBe(w.truth.get(rowKey(r))!.users.size);

    // At compareWithView's defaults (Athena's error bound, 4 σ), as `backfill --compare` runs.
    const cmp = compareWithView(clickstream, backfill, view);
    expect(cmp.differences).toEqual([]);
    expect(cmp.matched).toBe(w.truth.size);
    const cmpExact = compareWithView(clickstream, exact, view, { batchDistinctError: 0 });
    expect(cmpExact.differences).toEqual([]);
    console.log(`backfill: ${w.truth.size} windows×groups (${above.length} above k); KMV rms ${(rms(kmv) * 100).toFixed(2)} % max ${(Math.max(...kmv.map(Math.abs)) * 100).toFixed(2)} %; local HLL rms ${(rms(hll) * 100).toFixed(2)} % max ${(Math.max(...hll.map(Math.abs)) * 100).toFixed(2)} %`);
  });

  it('a sub-range covers exactly its windows, reads fewer bytes, and a disagreement is reported', async () => {
    const from = Date.UTC(2026, 2, 1, 10, 0, 0);
    const plan = planBackfill(clickstream, { from: from + 30_000, to: from + 10 * 60_000 }); // 10:00:30 → first window 10:01
    expect(plan.sql).toContain("r.dt = '2026-03-01'");
    expect(plan.sql).toContain('r.hour BETWEEN 10 AND 10');
    const b = await runAthenaQuery(athena, { sql: plan.sql });
    const v = await runAthenaQuery(athena, { sql: plan.viewSql });
    const starts = [...new Set(b.rows.map((r) => parseTs(r[0]!)))].sort((x, y) => x - y);
    expect(starts).toEqual(Array.from({ length: 9 }, (_, i) => from + (i + 1) * 60_000));
    expect(b.dataScannedBytes * 2).toBeLessThan(backfill.dataScannedBytes);
    expect(compareWithView(clickstream, b, v).differences).toEqual([]);

    // A streaming view that lost one event in one window is caught, by window, group and column.
    const tampered = { columns: v.columns, rows: v.rows.map((r, i) => (i === 3 ? [r[0]!, r[1]!, r[2]!, String(Number(r[3]) - 1), ...r.slice(4)] : r)) };
    const diff = compareWithView(clickstream, b, tampered).differences;
    expect(diff).toEqual([expect.objectContaining({ column: 'events', reason: 'counts differ by 1' })]);
  });
});

describe('shardflow backfill', () => {
  it('--compare prints the agreement of backfill and view, and the rows without it', async () => {
    const out: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((m: unknown) => void out.push(String(m)));
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const program = new Command('shardflow').exitOverride();
      registerBatchCommands(program, { target: async () => localTarget('local', { athena: lake.athenaEndpoint, s3: lake.s3Endpoint }), pipelinesDir: () => 'pipelines' });
      await program.parseAsync(['backfill', 'clickstream', '--from', '2026-03-01T10:00:00Z', '--to', '2026-03-01T10:05:00Z', '--compare'], { from: 'user' });
      await program.parseAsync(['backfill', 'clickstream', '--from', '2026-03-01T10:00', '--to', '2026-03-01T10:01', '--format', 'csv'], { from: 'user' });
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
    const rows = [...w.truth.keys()].filter((k) => Number(k.split('|')[0]) >= Date.UTC(2026, 2, 1, 10) && Number(k.split('|')[0]) < Date.UTC(2026, 2, 1, 10, 5)).length;
    expect(out[0]).toBe(`backfill ${rows} row(s), streaming view ${rows} row(s): ${rows} agree, 0 difference(s)`);
    expect(out[1]!.split('\n')[0]).toBe('window_start,window_end,category,events,total_value,max_value,users');
  });
});

describe('planBackfill', () => {
  it('hopping windows UNNEST the window starts of each event and keep those in range', () => {
    const hop = { ...clickstream, aggregates: [{ ...clickstream.aggregates[0]!, window: { kind: 'hopping' as const, sizeMs: 300_000, everyMs: 60_000 } }] };
    const plan = planBackfill(hop, { from: Date.UTC(2026, 2, 1, 10, 0), to: Date.UTC(2026, 2, 1, 11, 0) });
    expect(plan.sql).toContain('CROSS JOIN UNNEST(sequence(0, 4)) AS h (k)');
    expect(plan.eventTimeTo - plan.eventTimeFrom).toBe(60 * 60_000 + 4 * 60_000);
  });

  it('names the pipeline when no window starts in the range', () => {
    expect(() => planBackfill(clickstream, { from: Date.UTC(2026, 2, 1, 10, 0, 10), to: Date.UTC(2026, 2, 1, 10, 0, 50) })).toThrow(/Pipeline "clickstream": no window starts in \[2026-03-01T10:00:10.000Z, 2026-03-01T10:00:50.000Z\) \(windows start every 60 s\)/);
  });
});

describe('hopping backfill on the local endpoint', () => {
  it('counts each event in size / every windows', async () => {
    const hop = { ...clickstream, aggregates: [{ ...clickstream.aggregates[0]!, window: { kind: 'hopping' as const, sizeMs: 180_000, everyMs: 60_000 } }] };
    const from = Date.UTC(2026, 2, 1, 10, 0);
    const plan = planBackfill(hop, { from, to: from + 5 * 60_000 });
    const r = await runAthenaQuery(athena, { sql: plan.sql });
    // A 3-minute window starting at s = the tumbling 1-minute counts of s, s+1, s+2.
    for (const row of r.rows) {
      const s = parseTs(row[0]!);
      const want = [0, 1, 2].reduce((n, k) => n + (w.truth.get(`${s + k * 60_000}|${row[2]}`)?.events ?? 0), 0);
      expect(Number(row[3])).toBe(want);
    }
    expect(new Set(r.rows.map((x) => parseTs(x[0]!))).size).toBe(5);
  });
});
