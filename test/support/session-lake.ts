/**
 * A session-window pipeline (`visits`: every measure kind, sessions per
 * user_id with a 5-minute gap, a derived column) and a lake of it: random streams
 * (test/support/session-streams.ts) on three days, each starting at 22:30 so
 * that sessions run past midnight, their batches sent through the real
 * stream-processor handler in reverse order, bridging events last. Returns
 * what the view must show, from the JS twin of the view.
 */
import {
  approxDistinct,
  approxPercentile,
  avg,
  col,
  count,
  countIf,
  definePipeline,
  field,
  kinesisSource,
  max,
  maxBy,
  min,
  minBy,
  session,
  sum,
  type PipelineInput,
} from '../../core';
import { finalizePartialRows } from '../../core/partial-aggregate';
import { compilePipeline, processBatch, type SourceRecord } from '../../core/process-batch';
import type { Row } from '../../core/schema';
import { silentLogger } from '../../functions/shared/logger';
import { createStreamProcessor } from '../../functions/stream-processor/handler';
import { kinesisEvent, kinesisRecord, SHARD } from './events';
import { sessionStream, T0, type SessionEvent } from './session-streams';
import type { TestLake } from './test-lake';

export const GAP = 5 * 60_000;
const DAY = 86_400_000;

export const visitsInput: PipelineInput = {
  name: 'visits',
  source: kinesisSource({ stream: 'visits' }),
  schema: { user_id: { type: 'string', required: false }, v: { type: 'double', required: false }, ts: 'timestamp' },
  eventTime: 'ts',
  // A derived column in a measure: written to the raw table by the handler, recomputed by backfill.
  derive: { v_cents: col('v').mul(100).cast('bigint') },
  aggregate: {
    groupBy: ['user_id'],
    window: session({ gap: '5 minutes' }),
    measures: {
      events: count(),
      vals: count('v'),
      total: sum('v'),
      cents: sum('v_cents'),
      lo: min('v'),
      hi: max('v'),
      mean: avg('v'),
      big: countIf(field('v').gt(100)),
      first_v: minBy('v', 'ts'),
      last_v: maxBy('v', 'ts'),
      pct: approxPercentile('v', [0.5, 0.9]),
      distinct_v: approxDistinct('v'),
    },
    view: 'visits_sessions_5m',
  },
};
export const visits = definePipeline(visitsInput);
export const visitsAgg = visits.aggregates[0]!;

/** Records of a batch as the engine takes them, arriving a second after their event time (on time). */
export function sourceRecords(batch: readonly SessionEvent[]): SourceRecord[] {
  return batch.map((e) => ({
    data: Buffer.from(JSON.stringify({ user_id: e.key, v: e.v, ts: e.t })).toString('base64'),
    arrivalTime: e.t + 1_000,
    position: String(e.id),
    source: SHARD,
  }));
}

export interface SessionLake {
  /** Every event written. */
  readonly events: readonly SessionEvent[];
  /** The batches as sent, in order. */
  readonly batches: readonly (readonly SessionEvent[])[];
  /** The partial rows the batches wrote, with the partition path of each. */
  readonly partials: readonly { readonly path: string; readonly row: Row }[];
  /** What the view shows (finalizePartialRows of every partial, closed as of `now`). */
  readonly sessions: readonly Row[];
  /** The day of the first stream's start (22:30 UTC), epoch ms. */
  readonly firstStart: number;
}

export async function writeSessionLake(lake: TestLake, now = Date.now()): Promise<SessionLake> {
  const handler = createStreamProcessor(visits, { s3: lake.s3, bucket: lake.bucket, logger: silentLogger });
  const compiled = compilePipeline(visits);
  const firstStart = Date.UTC(2026, 2, 2, 22, 30);
  const events: SessionEvent[] = [];
  const batches: SessionEvent[][] = [];
  for (let d = 0; d < 3; d++) {
    const shift = firstStart + d * DAY - T0;
    const s = sessionStream(900 + d, GAP, { perGroup: 40 });
    const moved = (b: readonly SessionEvent[]) => b.map((e) => ({ ...e, id: e.id + d * 100_000, t: e.t + shift }));
    events.push(...moved(s.events));
    batches.push(...s.batches.map(moved).reverse());
  }
  const partials: { path: string; row: Row }[] = [];
  let seq = 0;
  for (const b of batches) {
    const res = await handler(kinesisEvent(b.map((e) => kinesisRecord({ user_id: e.key, v: e.v, ts: e.t }, { seq: seq++, arrivalMs: e.t + 1_000 }))));
    if (res.batchItemFailures.length > 0) throw new Error(`batch failed: ${JSON.stringify(res.batchItemFailures)}`);
    const out = processBatch(compiled, sourceRecords(b));
    for (const [path, rows] of out.partials.get(visitsAgg.partials) ?? []) for (const row of rows) partials.push({ path, row });
  }
  const sessions = finalizePartialRows(visitsAgg, partials.map((x) => x.row), { now, allowedLatenessMs: visits.allowedLatenessMs });
  return { events, batches, partials, sessions, firstStart };
}

/** An Athena timestamp text ('2026-03-02 22:30:00.000', maybe ' UTC') as epoch ms. */
export function athenaTime(text: string): number {
  return Date.parse(`${text.replace(/ UTC$/, '').replace(' ', 'T')}Z`);
}

/**
 * Differences between a view's answer (Athena's text per value) and the JS
 * rows it must equal, matched on (user_id, window_start): numbers within a
 * relative 1e-9, timestamps as instants, booleans as text; [] when they agree.
 */
export function viewDifferences(answer: { readonly columns: readonly string[]; readonly rows: readonly (readonly (string | null)[])[] }, want: readonly Row[], limit = 10): string[] {
  const out: string[] = [];
  const pos = new Map(answer.columns.map((c, i) => [c, i]));
  const key = (user: unknown, start: number) => `${user === null ? '∅' : String(user)} @ ${new Date(start).toISOString()}`;
  const got = new Map(answer.rows.map((r) => [key(r[pos.get('user_id')!] ?? null, athenaTime(r[pos.get('window_start')!]!)), r]));
  if (answer.rows.length !== want.length) out.push(`rows: view ${answer.rows.length}, expected ${want.length}`);
  for (const w of want) {
    if (out.length >= limit) break;
    const k = key(w.user_id ?? null, Number(w.window_start));
    const r = got.get(k);
    if (!r) {
      out.push(`${k}: missing from the view`);
      continue;
    }
    for (const [c, v] of Object.entries(w)) {
      const i = pos.get(c);
      if (i === undefined) {
        out.push(`${k}: the view has no column ${c}`);
        continue;
      }
      const text = r[i] ?? null;
      const same =
        v === null || v === undefined ? text === null
        : text === null ? false
        : c === 'window_start' || c === 'window_end' ? athenaTime(text) === Number(v)
        : typeof v === 'boolean' ? text === String(v)
        : typeof v === 'number' ? Math.abs(Number(text) - v) <= 1e-9 * Math.max(1, Math.abs(v))
        : text === String(v);
      if (!same) out.push(`${k}: ${c} view ${text} expected ${String(v)}`);
    }
  }
  return out;
}
