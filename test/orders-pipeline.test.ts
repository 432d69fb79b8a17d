/**
 * The orders example (pipelines/orders.ts: nested customer fields, derived
 * amount_cents) through the handler's engine, against the aggregates its
 * workload generator computes itself; and the built-in generator of
 * `shardflow send` writes its nested fields where the pipeline reads them.
 */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { deploy } from '../infra-tests/helpers';
import { runEvents } from '../core/run-events';
import { generateEvents } from '../local/event-generator';
import orders from '../pipelines/orders';
import { ordersWorkload } from './support/orders-events';

const T0 = Date.UTC(2026, 2, 1, 10, 0);

describe('pipelines/orders.ts', () => {
  it('counts, filters, quarantines and aggregates the workload as it expects', () => {
    const w = ordersWorkload(3000, T0);
    const run = runEvents(orders, w.events, { arrivalTime: (e) => Date.parse((e as { ts: string }).ts) + 1000 });
    expect(run.counts).toMatchObject({ received: 3000, late: 0, ...w.counts });
    expect(w.counts.quarantined).toBeGreaterThan(50);
    expect(w.counts.filtered).toBeGreaterThan(50);
    expect(run.aggregates.length).toBe(w.windows.size);
    for (const a of run.aggregates) {
      const want = w.windows.get(`${a.window_start}|${a.country ?? ''}`);
      expect(want, `window ${a.window_start} ${a.country}`).toBeDefined();
      expect([Number(a.orders), Number(a.revenue_cents), a.max_amount]).toEqual([want!.orders, want!.revenue_cents, want!.max_amount]);
    }
    expect(run.quarantine.map((q) => q.reason)).toContain('required field "customer_id" (path customer.id) is missing');
  });

  it('the send generator nests customer.id and customer.country, and every event decodes', () => {
    const events = [...generateEvents(orders, 200, { seed: 3, now: () => T0 })];
    expect(events[0]).toMatchObject({ customer: { id: expect.any(String) } });
    const run = runEvents(orders, events, { arrivalTime: T0 });
    expect(run.counts.quarantined).toBe(0);
    expect(run.raw.every((r) => typeof r.customer_id === 'string' && Number.isInteger(Number(r.amount_cents)))).toBe(true);
  });

  it('synthesizes: the Glue raw table has the nested fields as columns and the derived amount_cents', () => {
    const { stack } = deploy(orders);
    Template.fromStack(stack).hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({
        Name: 'orders_events_files',
        StorageDescriptor: Match.objectLike({
          Columns: Match.arrayWith([Match.objectLike({ Name: 'customer_id', Type: 'string' }), Match.objectLike({ Name: 'country', Type: 'string' }), Match.objectLike({ Name: 'amount_cents', Type: 'bigint' })]),
        }),
      }),
    });
  });
});
