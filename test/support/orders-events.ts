/**
 * A deterministic orders workload for pipelines/orders.ts, shaped like a shop's
 * stream: nested `customer` objects (some customers without a country), orders
 * out of order and spread over rounds of sending (so one customer's session is
 * cut into partial sessions by different batches and shards, and an order of a
 * later round can bridge two earlier partial sessions), late orders, and
 * malformed records. It computes on its own, with plain loops over what it
 * generated (not the engine), what the lake and both views must hold, so tests
 * compare against an independent answer.
 */
import { prng } from './clickstream-events';

const MIN = 60_000;
/** pipelines/orders.ts: allowedLateness, the session gap, the tumbling window. */
export const ORDERS_LATENESS_MS = 60 * MIN;
export const ORDERS_SESSION_GAP_MS = 30 * MIN;
export const ORDERS_WINDOW_MS = 5 * MIN;
const COUNTRIES = ['DE', 'FR', 'US', 'JP', 'BR', 'GB'];

export interface OrderRecord {
  /** The payload as sent: JSON text, or garbage for the malformed ones. */
  readonly text: string;
  readonly partitionKey: string;
  readonly kind: 'raw' | 'quarantined' | 'late';
}

/** A valid, on-time order as the raw table must hold it. */
export interface ExpectedOrder {
  readonly order_id: string;
  readonly customer_id: string;
  readonly country: string | null;
  readonly amount: number;
  readonly amount_cents: number;
  readonly ts: number;
  /** The round it is sent in. */
  readonly round: number;
  /** Sent last, between two orders 40 minutes apart: it alone makes them one session. */
  readonly bridge?: boolean;
}

export interface ExpectedCountryWindow {
  readonly window_start: number;
  readonly country: string | null;
  orders: number;
  revenue: number;
  large_orders: number;
  readonly amounts: number[];
}

export interface ExpectedSession {
  readonly customer_id: string;
  readonly window_start: number;
  /** Last order's time + gap (exclusive). */
  readonly window_end: number;
  readonly orders: number;
  readonly revenue: number;
  /** The rounds its orders were sent in. */
  readonly rounds: ReadonlySet<number>;
}

export interface OrdersWorkload {
  /** Records per round of sending, each round shuffled (out of event-time order). */
  readonly rounds: OrderRecord[][];
  readonly counts: { raw: number; quarantined: number; late: number };
  readonly orders: readonly ExpectedOrder[];
  /** Keyed by `${window_start}|${country}`. */
  readonly byCountry: Map<string, ExpectedCountryWindow>;
  readonly sessions: readonly ExpectedSession[];
}

/** Sessions of one pass over orders (gap rule of core/session.ts: a pause of `gap` or more starts the next). */
export function sessionsOf(orders: readonly ExpectedOrder[], gapMs = ORDERS_SESSION_GAP_MS): ExpectedSession[] {
  const byCustomer = new Map<string, ExpectedOrder[]>();
  for (const o of orders) byCustomer.set(o.customer_id, [...(byCustomer.get(o.customer_id) ?? []), o]);
  const out: ExpectedSession[] = [];
  for (const [customer_id, list] of byCustomer) {
    list.sort((a, b) => a.ts - b.ts);
    let run: ExpectedOrder[] = [];
    const close = () => {
      if (run.length === 0) return;
      out.push({
        customer_id,
        window_start: run[0]!.ts,
        window_end: run[run.length - 1]!.ts + gapMs,
        orders: run.length,
        revenue: run.reduce((s, o) => s + o.amount, 0),
        rounds: new Set(run.map((o) => o.round)),
      });
      run = [];
    };
    for (const o of list) {
      if (run.length > 0 && o.ts - run[run.length - 1]!.ts >= gapMs) close();
      run.push(o);
    }
    close();
  }
  return out.sort((a, b) => a.customer_id.localeCompare(b.customer_id) || a.window_start - b.window_start);
}

/** Nearest-rank percentile q of values: the value of rank max(1, ⌈q·n⌉) in ascending order (core/measures/approx-percentile.ts). */
export function nearestRank(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

/**
 * `customers` customers, each with orders from about 50 minutes before `nowMs`
 * until a little before it: mostly minutes apart, now and then a pause of more
 * 30 minutes or more (a new session). Every order is on time when sent within a
 * few minutes of `nowMs` (its event time is at most 55 minutes back; the
 * pipeline allows an hour); the late ones are 70 to 120 minutes back.
 */
export function ordersWorkload(opts: { customers: number; nowMs: number; seed?: number; rounds?: number }): OrdersWorkload {
  const rand = prng(opts.seed ?? 5);
  const nRounds = opts.rounds ?? 3;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const rounds: OrderRecord[][] = Array.from({ length: nRounds }, () => []);
  const counts = { raw: 0, quarantined: 0, late: 0 };
  const orders: ExpectedOrder[] = [];
  let seq = 0;
  const iso = (t: number) => new Date(t).toISOString();

  for (let c = 0; c < opts.customers; c++) {
    const customerId = `c${c}`;
    // One customer in ten has no country on record: the key is absent, or (every other one) null.
    const country = c % 10 === 3 ? null : pick(COUNTRIES);
    const customer = (): Record<string, unknown> => (country !== null ? { id: customerId, country } : c % 20 === 3 ? { id: customerId } : { id: customerId, country: null });
    let t = opts.nowMs - 55 * MIN + Math.floor(rand() * 5 * MIN);
    while (t < opts.nowMs - MIN) {
      const orderId = `o${seq++}`;
      const round = Math.floor(rand() * nRounds);
      const amount = Math.round(Math.exp(rand() * 6) * 100) / 100; // 1.00 to about 403
      // Some producers send more than the schema reads: the extra key is ignored.
      const cust = rand() < 0.1 ? { ...customer(), tier: 'gold' } : customer();
      rounds[round]!.push({ text: JSON.stringify({ order_id: orderId, customer: cust, amount, ts: iso(t) }), partitionKey: orderId, kind: 'raw' });
      orders.push({ order_id: orderId, customer_id: customerId, country, amount, amount_cents: Math.round(amount * 100), ts: t, round });
      counts.raw++;
      // A pause of exactly the gap starts a new session too (the rule is `≥ gap`), so a quarter of the long pauses are exactly 30 minutes.
      const pause = rand() < 0.12;
      if (!pause && rand() < 0.08 && t + 41 * MIN < opts.nowMs - MIN) {
        // A bridge: an order sent in the last round, 20 minutes after this one and 20 before the next, joins what the
        // earlier rounds wrote as two partial sessions (a 40-minute pause without it) into one session.
        const bridgeId = `o${seq++}`;
        const b = t + 20 * MIN;
        rounds[nRounds - 1]!.push({ text: JSON.stringify({ order_id: bridgeId, customer: customer(), amount, ts: iso(b) }), partitionKey: bridgeId, kind: 'raw' });
        orders.push({ order_id: bridgeId, customer_id: customerId, country, amount, amount_cents: Math.round(amount * 100), ts: b, round: nRounds - 1, bridge: true });
        counts.raw++;
        t += 40 * MIN;
        continue;
      }
      t += pause ? (rand() < 0.25 ? ORDERS_SESSION_GAP_MS : 31 * MIN + Math.floor(rand() * 10 * MIN)) : Math.floor(rand() * 8 * MIN);
    }
  }

  // Late orders (event time more than the hour of lateness back) and malformed records, in every round.
  const n = counts.raw;
  for (let i = 0; i < Math.max(6, Math.floor(n * 0.03)); i++) {
    const orderId = `late${i}`;
    const ts = opts.nowMs - ORDERS_LATENESS_MS - 10 * MIN - Math.floor(rand() * 50 * MIN);
    rounds[i % nRounds]!.push({ text: JSON.stringify({ order_id: orderId, customer: { id: `c${i}`, country: 'DE' }, amount: 10, ts: iso(ts) }), partitionKey: orderId, kind: 'late' });
    counts.late++;
  }
  const ts = iso(opts.nowMs - 5 * MIN);
  const bad = [
    '{"order_id": "broken", "customer": {', // not JSON
    JSON.stringify({ order_id: 'nocust', amount: 5, ts }), // customer.id is required: no customer at all
    JSON.stringify({ order_id: 'noid', customer: { country: 'DE' }, amount: 5, ts }), // customer without an id
    JSON.stringify({ order_id: 'flat', customer: 'c1', amount: 5, ts }), // customer is not an object
    JSON.stringify({ order_id: 'text', customer: { id: 'c1', country: 'DE' }, amount: '12,50', ts }), // amount is text
    JSON.stringify({ order_id: 'when', customer: { id: 'c1', country: 'DE' }, amount: 5, ts: 'last tuesday' }), // bad timestamp
  ];
  bad.forEach((text, i) => {
    rounds[i % nRounds]!.push({ text, partitionKey: `bad${i}`, kind: 'quarantined' });
    counts.quarantined++;
  });

  for (const r of rounds) {
    for (let i = r.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [r[i], r[j]] = [r[j]!, r[i]!];
    }
  }

  const byCountry = new Map<string, ExpectedCountryWindow>();
  for (const o of orders) {
    const ws = Math.floor(o.ts / ORDERS_WINDOW_MS) * ORDERS_WINDOW_MS;
    const key = `${ws}|${o.country}`;
    const w = byCountry.get(key) ?? { window_start: ws, country: o.country, orders: 0, revenue: 0, large_orders: 0, amounts: [] };
    w.orders++;
    w.revenue += o.amount;
    if (o.amount > 100) w.large_orders++;
    w.amounts.push(o.amount);
    byCountry.set(key, w);
  }
  return { rounds, counts, orders, byCountry, sessions: sessionsOf(orders) };
}
