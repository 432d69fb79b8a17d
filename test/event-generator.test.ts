/**
 * The built-in generator behind `shardflow send --count` and the demo: events
 * every example pipeline accepts as they are, with fields that have a `path`
 * nested where the pipeline reads them, and optional nested keys sometimes left
 * out.
 */
import { describe, expect, it } from 'vitest';
import { runEvents } from '../core/run-events';
import { generateEvents } from '../local/event-generator';
import clickstream from '../pipelines/clickstream';
import iot from '../pipelines/iot';
import orders from '../pipelines/orders';

describe('generateEvents', () => {
  it.each([['clickstream', clickstream], ['iot', iot], ['orders', orders]] as const)('%s: every generated event is valid for the pipeline', (_name, p) => {
    const run = runEvents(p, [...generateEvents(p, 2_000, { seed: 3 })]);
    expect(run.counts).toMatchObject({ received: 2_000, quarantined: 0, late: 0 });
  });

  it('orders: customer is a nested object with an id, the country sometimes absent; order ids are unique; amounts spread past 100', () => {
    const events = [...generateEvents(orders, 2_000, { seed: 3 })];
    const customers = events.map((e) => e.customer as Record<string, unknown>);
    expect(customers.every((c) => typeof c === 'object' && c !== null && typeof c.id === 'string')).toBe(true);
    expect(events.every((e) => !('customer_id' in e) && !('country' in e))).toBe(true);
    const withoutCountry = customers.filter((c) => !('country' in c)).length;
    expect(withoutCountry).toBeGreaterThan(20);
    expect(withoutCountry).toBeLessThan(300);
    expect(new Set(events.map((e) => e.order_id)).size).toBe(events.length);
    const amounts = events.map((e) => e.amount as number);
    expect(amounts.filter((a) => a > 100).length).toBeGreaterThan(100);
    expect(Math.min(...amounts)).toBeGreaterThanOrEqual(1);
    // The raw rows read the nested values into their columns.
    const run = runEvents(orders, events.slice(0, 50));
    expect(run.raw.map((r) => r.customer_id)).toEqual(customers.slice(0, 50).map((c) => c.id));
    expect(run.raw.map((r) => r.country)).toEqual(customers.slice(0, 50).map((c) => c.country ?? null));
  });

  it('is seeded: the same seed gives the same events', () => {
    const now = () => Date.UTC(2026, 11, 1);
    expect([...generateEvents(orders, 100, { seed: 9, now })]).toEqual([...generateEvents(orders, 100, { seed: 9, now })]);
  });
});
