/** Several aggregates per pipeline: validation, a partials table and a view each, one batch writing them all. */
import { describe, expect, it } from 'vitest';
import {
  aggregateViews,
  count,
  definePipeline,
  kinesisSource,
  lakeTable,
  lakeTables,
  max,
  pipelineFromJson,
  PipelineDefinitionError,
  sum,
  tumbling,
  type PipelineInput,
} from '../core';
import { runEvents } from '../core/run-events';

const base = {
  name: 'orders',
  source: kinesisSource({ stream: 'orders', shards: 1 }),
  schema: { id: 'string', country: 'string', customer: 'string', amount: 'double', ts: 'timestamp' },
  eventTime: 'ts',
} as const;

const byCountry = { groupBy: ['country'], window: tumbling('5 minutes'), measures: { orders: count(), revenue: sum('amount') }, view: 'orders_by_country_5m' };
const byCustomer = { groupBy: ['customer'], window: tumbling('1 hour'), measures: { orders: count(), largest: max('amount') }, view: 'orders_by_customer_1h' };

describe('aggregates', () => {
  it('gives each aggregate its own partials table and view; the first keeps <pipeline>_partials', () => {
    const p = definePipeline({ ...base, aggregates: [byCountry, byCustomer] });
    expect(p.aggregates.map((a) => [a.view, a.partials])).toEqual([
      ['orders_by_country_5m', 'orders_partials'],
      ['orders_by_customer_1h', 'orders_by_customer_1h_partials'],
    ]);
    const partials = lakeTables(p).filter((t) => t.role === 'partials');
    expect(partials.map((t) => [t.name, t.aggregate, t.location])).toEqual([
      ['orders_partials', 'orders_by_country_5m', 'tables/orders_partials/'],
      ['orders_by_customer_1h_partials', 'orders_by_customer_1h', 'tables/orders_by_customer_1h_partials/'],
    ]);
    expect(lakeTable(p, 'partials', 'orders_by_customer_1h').columns.map((c) => c.name)).toEqual(['window_start', 'window_end', 'customer', 'orders', 'largest']);
    const views = aggregateViews(p);
    expect(views.map((v) => v.name)).toEqual(['orders_by_country_5m', 'orders_by_customer_1h']);
    expect(views[1]!.sql).toContain('FROM shardflow.orders_by_customer_1h_partials');
    expect(views[0]!.columns.map((c) => c.name)).toEqual(['window_start', 'window_end', 'country', 'orders', 'revenue', 'closed', 'dt', 'hour']);
    expect(pipelineFromJson(JSON.stringify(p))).toEqual(p);
  });

  it('keeps the single-aggregate shorthand: same tables as before', () => {
    const p = definePipeline({ ...base, aggregate: byCountry });
    expect(p.aggregates).toHaveLength(1);
    expect(lakeTables(p).map((t) => t.name)).toEqual(['orders_events', 'orders_late', 'orders_quarantine', 'orders_partials']);
  });

  it('writes the partials of every aggregate from one batch, each merging to its own view', () => {
    const p = definePipeline({ ...base, aggregates: [byCountry, byCustomer] });
    const t0 = Date.UTC(2026, 2, 1, 10, 0);
    const events = [
      { id: '1', country: 'DE', customer: 'c1', amount: 10, ts: t0 + 1_000 },
      { id: '2', country: 'DE', customer: 'c2', amount: 20, ts: t0 + 301_000 },
      { id: '3', country: 'FR', customer: 'c1', amount: 5, ts: t0 + 2_000 },
    ];
    const run = runEvents(p, events, { arrivalTime: t0 + 400_000, now: t0 + 900_000 });
    expect(run.counts.partials).toBe(3 + 2);
    const country = run.views.orders_by_country_5m!.map((r) => [r.window_start, r.country, r.orders, r.revenue, r.closed]);
    expect(country).toEqual(expect.arrayContaining([[t0, 'DE', 1, 10, true], [t0 + 300_000, 'DE', 1, 20, false], [t0, 'FR', 1, 5, true]]));
    const customer = run.views.orders_by_customer_1h!.map((r) => [r.window_start, r.customer, r.orders, r.largest]);
    expect(customer).toEqual(expect.arrayContaining([[t0, 'c1', 2, 10], [t0, 'c2', 1, 20]]));
    expect(run.aggregates).toEqual(run.views.orders_by_country_5m);
  });

  it.each([
    [{ aggregates: [byCountry, { ...byCustomer, view: 'orders_by_country_5m' }] }, /aggregates\[1\]\.view: "orders_by_country_5m" is already used by aggregates\[0\]\.view/],
    [{ aggregates: [byCountry, { ...byCustomer, partials: 'orders_partials' }] }, /aggregates\[1\]\.partials: "orders_partials" is already used by aggregates\[0\]\.partials/],
    [{ aggregates: [{ ...byCountry, view: 'orders_events' }] }, /aggregates\[0\]\.view: "orders_events" is already a table of this pipeline/],
    [{ aggregates: [byCountry, { ...byCustomer, partials: 'orders_late' }] }, /aggregates\[1\]\.partials: "orders_late" is already a table of this pipeline/],
    [{ aggregates: [byCountry, { ...byCustomer, view: 'orders_partials' }] }, /aggregates\[1\]\.view: "orders_partials" is already used by aggregates\[0\]\.partials/],
    [{ aggregate: byCountry, aggregates: [byCustomer] }, /aggregates: give either aggregate \(one\) or aggregates \(a list\), not both/],
    [{ aggregates: [{ ...byCountry, measures: { closed: count() } }] }, /aggregates\[0\]\.measures\.closed: "closed" collides with a window, partition, closed or group-by column/],
    [{ aggregates: [{ ...byCountry, measures: { a: { fn: 'median', field: 'amount' } } }] }, /aggregates\[0\]\.measures\.a: unknown measure "median" \(known: count, sum/],
    [{ aggregates: [{ ...byCountry, measures: { a: sum('country') } }] }, /aggregates\[0\]\.measures\.a: sum\(\) needs a numeric field; "country" is string/],
  ])('rejects %j', (override, message) => {
    const input = { ...base, ...override } as unknown as PipelineInput;
    expect(() => definePipeline(input)).toThrow(message);
    expect(() => definePipeline(input)).toThrow(PipelineDefinitionError);
  });
});
