/**
 * A deterministic orders workload for pipelines/orders.ts: nested customer
 * objects (some without a country, some without the customer's id, some with
 * the customer as a string), amounts with half-cent edges and non-positive
 * amounts (filtered), and the expected 5-minute aggregates per country,
 * computed here from the events, independently of the engine (cents as
 * Trino's CAST(double AS bigint): round half away from zero).
 */
import { mulberry32 } from '../../core/prng';

export interface OrdersWorkload {
  readonly events: Record<string, unknown>[];
  readonly counts: { raw: number; filtered: number; quarantined: number };
  /** Keyed by `${window_start}|${country ?? ''}`. */
  readonly windows: Map<string, { window_start: number; country: string | null; orders: number; revenue_cents: number; max_amount: number }>;
}

const COUNTRIES = ['DE', 'FR', 'US', 'GB'];
const AMOUNTS = [12.5, 0.125, 99.995, 250, 1.005, 0, -3, 1000.5];
const WINDOW_MS = 300_000;

/** Cents as the pipeline computes them: amount × 100 in doubles, rounded half away from zero. */
export const centsOf = (amount: number): number => {
  const x = amount * 100;
  return x < 0 ? -Math.round(-x) : Math.round(x);
};

/** `n` orders with event times in [startMs, startMs + spanMs). */
export function ordersWorkload(n: number, startMs: number, spanMs = 3_600_000, seed = 15): OrdersWorkload {
  const rand = mulberry32(seed);
  const events: Record<string, unknown>[] = [];
  const counts = { raw: 0, filtered: 0, quarantined: 0 };
  const windows: OrdersWorkload['windows'] = new Map();
  for (let i = 0; i < n; i++) {
    const ts = startMs + Math.floor(rand() * spanMs);
    const amount = rand() < 0.3 ? AMOUNTS[Math.floor(rand() * AMOUNTS.length)]! : Math.round(rand() * 50_000) / 100;
    const r = rand();
    const country = r < 0.1 ? null : COUNTRIES[Math.floor(rand() * COUNTRIES.length)]!;
    let customer: unknown = country === null ? { id: `c${i % 37}` } : { id: `c${i % 37}`, country };
    if (r > 0.98) customer = `c${i % 37}`; // not an object: quarantined
    else if (r > 0.96) customer = { country }; // no id (required): quarantined
    events.push({ order_id: `o${i}`, customer, amount, ts: new Date(ts).toISOString() });
    if (r > 0.96) {
      counts.quarantined++;
      continue;
    }
    const cents = centsOf(amount);
    if (cents <= 0) {
      counts.filtered++;
      continue;
    }
    counts.raw++;
    const ws = Math.floor(ts / WINDOW_MS) * WINDOW_MS;
    const key = `${ws}|${country ?? ''}`;
    const w = windows.get(key) ?? { window_start: ws, country, orders: 0, revenue_cents: 0, max_amount: -Infinity };
    w.orders++;
    w.revenue_cents += cents;
    w.max_amount = Math.max(w.max_amount, amount);
    windows.set(key, w);
  }
  return { events, counts, windows };
}
