/**
 * Random event streams for the session-window tests (seeded: core/prng.ts),
 * built to hit the edges: pauses just below, at and just above the gap, several
 * groups (one of them null), events out of order, and late events that fall
 * between two sessions of other batches and bridge them. Plus an independent
 * reference: sessions as the connected components of "closer than gap" over
 * all events of a group, found by brute force, not by sorting and cutting.
 */
import { mulberry32 } from '../../core/prng';
import { cutSessions } from '../../core/session';

export interface SessionEvent {
  readonly id: number;
  /** The group; null is a group of its own. */
  readonly key: string | null;
  /** Event time, epoch ms. */
  readonly t: number;
  /** A measured value; null sometimes (count(field), sum, min, max skip it). */
  readonly v: number | null;
}

/** A session with count(*), count(v), sum(v), min(v), max(v) (null when it has no v). */
export interface SessionTotals {
  readonly key: string | null;
  readonly start: number;
  readonly end: number;
  readonly events: number;
  readonly values: number;
  readonly sum: number | null;
  readonly min: number | null;
  readonly max: number | null;
}

export interface SessionStream {
  readonly gapMs: number;
  readonly events: readonly SessionEvent[];
  /** The same events split into batches in arrival order; bridging events come in the last ones. */
  readonly batches: readonly (readonly SessionEvent[])[];
  /** How many events were placed to bridge two sessions (so a test can check it exercised some). */
  readonly bridges: number;
}

const KEYS = ['alice', 'bob', 'carol', null] as const;
export const T0 = Date.UTC(2026, 2, 2, 9, 0, 0);

/** A stream of a few dozen events per group with the given gap. */
export function sessionStream(seed: number, gapMs: number, opts: { perGroup?: number; maxBatches?: number } = {}): SessionStream {
  const rand = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const perGroup = opts.perGroup ?? 30;
  const events: SessionEvent[] = [];
  const bridging: SessionEvent[] = [];
  let id = 0;
  const value = () => (rand() < 0.15 ? null : int(-500, 1000));
  for (const key of KEYS.slice(0, int(2, KEYS.length))) {
    let t = T0 + int(0, 3 * gapMs);
    for (let i = 0; i < perGroup; i++) {
      events.push({ id: id++, key, t, v: value() });
      // Pauses at the edges of the gap, short ones, and long ones.
      const pick = rand();
      const step =
        pick < 0.15 ? gapMs - 1
        : pick < 0.3 ? gapMs
        : pick < 0.4 ? gapMs + 1
        : pick < 0.7 ? int(0, gapMs / 2)
        : pick < 0.85 ? int(gapMs + 1, 2 * gapMs - 2)
        : int(2 * gapMs, 6 * gapMs);
      // A pause of gap..2·gap−2 leaves room for one event strictly within gap of both sides: a bridge that comes late.
      if (step > gapMs && step <= 2 * gapMs - 2 && rand() < 0.5) bridging.push({ id: id++, key, t: t + int(step - gapMs + 1, gapMs - 1), v: value() });
      t += step;
    }
  }
  const shuffled = shuffle(events, rand);
  const nBatches = int(1, opts.maxBatches ?? 8);
  const cuts = [...new Set(Array.from({ length: nBatches - 1 }, () => int(1, Math.max(1, shuffled.length - 1))))].sort((a, b) => a - b);
  const batches: SessionEvent[][] = [];
  let from = 0;
  for (const c of [...cuts, shuffled.length]) {
    batches.push(shuffled.slice(from, c));
    from = c;
  }
  // Bridges arrive after the sessions they join, in one or two batches of their own.
  const split = int(0, bridging.length);
  for (const b of [shuffle(bridging.slice(0, split), rand), shuffle(bridging.slice(split), rand)]) if (b.length > 0) batches.push(b);
  return { gapMs, events: [...events, ...bridging], batches: batches.filter((b) => b.length > 0), bridges: bridging.length };
}

function shuffle<T>(xs: readonly T[], rand: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function totals(key: string | null, es: readonly SessionEvent[], gapMs: number): SessionTotals {
  const vs = es.flatMap((e) => (e.v === null ? [] : [e.v]));
  const ts = es.map((e) => e.t);
  return {
    key,
    start: Math.min(...ts),
    end: Math.max(...ts) + gapMs,
    events: es.length,
    values: vs.length,
    sum: vs.length === 0 ? null : vs.reduce((a, b) => a + b, 0),
    min: vs.length === 0 ? null : Math.min(...vs),
    max: vs.length === 0 ? null : Math.max(...vs),
  };
}

/** Reference sessions of all events: per group, connected components of |tᵢ − tⱼ| < gap (union-find over every pair). */
export function onePassSessions(events: readonly SessionEvent[], gapMs: number): SessionTotals[] {
  const out: SessionTotals[] = [];
  for (const key of new Set(events.map((e) => e.key))) {
    const es = events.filter((e) => e.key === key);
    const parent = es.map((_, i) => i);
    const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
    for (let i = 0; i < es.length; i++) for (let j = i + 1; j < es.length; j++) if (Math.abs(es[i]!.t - es[j]!.t) < gapMs) parent[find(i)] = find(j);
    const comps = new Map<number, SessionEvent[]>();
    es.forEach((e, i) => {
      const r = find(i);
      comps.set(r, [...(comps.get(r) ?? []), e]);
    });
    for (const c of comps.values()) out.push(totals(key, c, gapMs));
  }
  return sortSessions(out);
}

/** One batch's partial sessions, cut by core/session.ts cutSessions, with naive totals. */
export function partialSessions(batch: readonly SessionEvent[], gapMs: number): SessionTotals[] {
  const out: SessionTotals[] = [];
  for (const key of new Set(batch.map((e) => e.key))) {
    const es = batch.filter((e) => e.key === key).sort((a, b) => a.t - b.t);
    for (const c of cutSessions(es.map((e) => e.t), gapMs)) out.push(totals(key, es.slice(c.first, c.last + 1), gapMs));
  }
  return out;
}

export function sortSessions(xs: readonly SessionTotals[]): SessionTotals[] {
  const k = (s: SessionTotals) => s.key ?? '\u0000';
  return [...xs].sort((a, b) => (k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : a.start - b.start));
}

/** The partial columns the SQL tests give each partial session, and their merges (as a measure registry would). */
export const SQL_MEASURES = {
  partialColumns: ['events', 'vals', 'total', 'lo', 'hi'],
  merge: ['SUM(events) AS events', 'SUM(vals) AS vals', 'SUM(total) AS total', 'MIN(lo) AS lo', 'MAX(hi) AS hi'],
  finalize: ['events', 'vals', 'total', 'lo', 'hi'],
} as const;

const sqlTime = (ms: number) => {
  const iso = new Date(ms).toISOString();
  return `TIMESTAMP '${iso.slice(0, 10)} ${iso.slice(11, 23)}'`;
};
const sqlNum = (x: number | null) => (x === null ? 'CAST(NULL AS bigint)' : String(x));

/**
 * A query over hand-built partial sessions: `WITH partials (…) AS (VALUES …)`
 * then `viewSql` (written over the relation `partials`), its times read back as
 * epoch milliseconds so both engines print them alike.
 */
export function overPartials(parts: readonly SessionTotals[], viewSql: string): string {
  const rows = parts.map(
    (p) => `(${p.key === null ? 'CAST(NULL AS varchar)' : `'${p.key}'`}, ${sqlTime(p.start)}, ${sqlTime(p.end)}, ${[p.events, p.values, p.sum, p.min, p.max].map(sqlNum).join(', ')})`,
  );
  const epoch = (c: string) => `date_diff('millisecond', TIMESTAMP '1970-01-01 00:00:00.000', ${c})`;
  return (
    `WITH partials (user_id, window_start, window_end, ${SQL_MEASURES.partialColumns.join(', ')}) AS (VALUES\n  ${rows.join(',\n  ')})\n` +
    `SELECT user_id, ${epoch('window_start')} AS start_ms, ${epoch('window_end')} AS end_ms, events, vals, total, lo, hi, dt, hour\n` +
    `FROM (\n${viewSql}\n) v\nORDER BY user_id NULLS FIRST, start_ms`
  );
}

/** Rows of `overPartials`'s query as the reference's totals, with the dt and hour the view gave each. */
export function totalsOfRows(rows: readonly (readonly unknown[])[]): (SessionTotals & { dt: string; hour: number })[] {
  const n = (x: unknown) => (x === null ? null : Number(x));
  return rows.map((r) => ({
    key: r[0] === null ? null : String(r[0]),
    start: Number(r[1]),
    end: Number(r[2]),
    events: Number(r[3]),
    values: Number(r[4]),
    sum: n(r[5]),
    min: n(r[6]),
    max: n(r[7]),
    dt: String(r[8]),
    hour: Number(r[9]),
  }));
}

/** The measures of SQL_MEASURES as aggregates over raw events (user_id, ts, v), for the backfill's SQL. */
export const RAW_MEASURES = {
  items: ['COUNT(*) AS events', 'COUNT(v) AS vals', 'SUM(v) AS total', 'MIN(v) AS lo', 'MAX(v) AS hi'],
  columns: ['events', 'vals', 'total', 'lo', 'hi'],
} as const;

/** A query over hand-built raw events `raw (user_id, ts, v)`, then `sql` (over `raw`), read back as `overPartials` does. */
export function overEvents(events: readonly SessionEvent[], sql: string): string {
  const rows = events.map((e) => `(${e.key === null ? 'CAST(NULL AS varchar)' : `'${e.key}'`}, ${sqlTime(e.t)}, ${sqlNum(e.v)})`);
  const epoch = (c: string) => `date_diff('millisecond', TIMESTAMP '1970-01-01 00:00:00.000', ${c})`;
  return (
    `WITH raw (user_id, ts, v) AS (VALUES\n  ${rows.join(',\n  ')})\n` +
    `SELECT user_id, ${epoch('window_start')} AS start_ms, ${epoch('window_end')} AS end_ms, events, vals, total, lo, hi, 'dt', 0\n` +
    `FROM (\n${sql}\n) v\nORDER BY user_id NULLS FIRST, start_ms`
  );
}
