/**
 * A deterministic clickstream workload with everything a real stream has:
 * valid events, events the filter drops, malformed records, late and
 * out-of-order events. It also computes, on its own (plain maps, not the
 * engine), what the lake must contain, so tests compare against an
 * independent answer.
 */

export interface GeneratedRecord {
  /** The record payload as sent (JSON text, or garbage for malformed ones). */
  readonly text: string;
  readonly arrivalMs: number;
  readonly kind: 'raw' | 'filtered' | 'quarantined' | 'late';
}

export interface ExpectedWindow {
  window_start: number;
  category: string;
  events: number;
  total_value: number;
  max_value: number;
  users: Set<string>;
}

export interface ClickstreamWorkload {
  readonly records: GeneratedRecord[];
  readonly counts: { raw: number; filtered: number; quarantined: number; late: number };
  /** Keyed by `${window_start}|${category}`. */
  readonly windows: Map<string, ExpectedWindow>;
}

/** The shared seeded PRNG (re-exported for the other workloads). */
export { mulberry32 as prng } from '../../core/prng';
import { mulberry32 as prng } from '../../core/prng';

const CATEGORIES = ['books', 'games', 'music', 'garden', 'toys'];
const ALLOWED_LATENESS_MS = 10 * 60_000;

/**
 * `arrivalStepMs` 0 with `startMs` = now models a live send, where arrival is
 * the real put time: `onTheLimit: false` then keeps events away from the
 * lateness limit, where a second of send time would decide their fate.
 */
export function clickstreamWorkload(n: number, opts: { seed?: number; startMs?: number; arrivalStepMs?: number; onTheLimit?: boolean } = {}): ClickstreamWorkload {
  const rand = prng(opts.seed ?? 42);
  const start = opts.startMs ?? Date.UTC(2026, 10, 25, 9, 55, 0);
  const step = opts.arrivalStepMs ?? 60; // 10,000 events span 10 minutes of arrival time, crossing an hour
  const records: GeneratedRecord[] = [];
  const counts = { raw: 0, filtered: 0, quarantined: 0, late: 0 };
  const windows = new Map<string, ExpectedWindow>();

  for (let i = 0; i < n; i++) {
    const arrivalMs = start + i * step;
    const r = rand();
    if (r < 0.03) {
      const bad = [
        '{"event_id": "broken', // not JSON
        JSON.stringify({ event_id: `e${i}`, user_id: 'u1', category: 'books', ts: new Date(arrivalMs).toISOString() }), // value missing
        JSON.stringify({ event_id: `e${i}`, user_id: 'u1', category: 'books', value: 'high', ts: new Date(arrivalMs).toISOString() }), // wrong type
        JSON.stringify({ event_id: `e${i}`, user_id: 'u1', category: 'books', value: 50, ts: 'last tuesday' }), // bad timestamp
        '[]',
      ][i % 5]!;
      records.push({ text: bad, arrivalMs, kind: 'quarantined' });
      counts.quarantined++;
      continue;
    }
    // Out of order: event time up to 90 s before arrival; 4 % are 11-40 min late; a few exactly at the limit.
    let delay = Math.floor(rand() * 90_000);
    const lateRoll = rand();
    if (lateRoll < 0.04) delay = ALLOWED_LATENESS_MS + 60_000 + Math.floor(rand() * 29 * 60_000);
    else if (lateRoll < 0.045 && opts.onTheLimit !== false) delay = ALLOWED_LATENESS_MS; // on the limit: not late
    const ts = arrivalMs - delay;
    const value = Math.round(rand() * 10_000) / 100; // 0.00 - 100.00; ≤ 10 is filtered
    const category = CATEGORIES[Math.floor(rand() * CATEGORIES.length)]!;
    const user = `u${Math.floor(rand() * 300)}`;
    const event = {
      event_id: `e${i}`,
      user_id: user,
      category,
      value,
      // Producers send either form; both must work.
      ts: i % 2 === 0 ? new Date(ts).toISOString() : ts,
    };
    const text = JSON.stringify(event);
    if (!(value > 10)) {
      records.push({ text, arrivalMs, kind: 'filtered' });
      counts.filtered++;
    } else if (arrivalMs - ts > ALLOWED_LATENESS_MS) {
      records.push({ text, arrivalMs, kind: 'late' });
      counts.late++;
    } else {
      records.push({ text, arrivalMs, kind: 'raw' });
      counts.raw++;
      const ws = ts - (ts % 60_000);
      const key = `${ws}|${category}`;
      let w = windows.get(key);
      if (!w) windows.set(key, (w = { window_start: ws, category, events: 0, total_value: 0, max_value: -Infinity, users: new Set() }));
      w.events++;
      w.total_value += value;
      w.max_value = Math.max(w.max_value, value);
      w.users.add(user);
    }
  }
  return { records, counts, windows };
}
