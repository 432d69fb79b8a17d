/**
 * Nested fields, derived columns and expression filters in a pipeline: load-time
 * validation (pipeline, path, rule), JSON round trip, the handler's engine
 * (runEvents: extraction, quarantine reasons, derived values in rows, groupBy
 * and measures), the lake tables' columns, FilterCriteria, and the backfill SQL
 * on the local endpoint agreeing with the streaming view.
 */
import type { AthenaClient } from '@aws-sdk/client-athena';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  and, col, coalesce, compareWithView, not, or, concat, count, dateTrunc, definePipeline, field, hourOf, kinesisSource, lakeTables, lit, lower, max,
  pipelineFilterCriteria, pipelineFromJson, planBackfill, sum, tumbling, when, type Pipeline, type PipelineInput,
} from '../core';
import { runEvents } from '../core/run-events';
import { compileDecoder, compileRecordDecoder } from '../core/codec';
import { runAthenaQuery } from '../functions/query-runner/athena-query';
import { silentLogger } from '../functions/shared/logger';
import { createStreamProcessor } from '../functions/stream-processor/handler';
import { kinesisEvent, kinesisRecord } from './support/events';
import { TestLake } from './support/test-lake';

const T0 = Date.UTC(2026, 2, 1, 10, 0);

const input: PipelineInput = {
  name: 'orders-test',
  source: kinesisSource({ stream: 'orders-test' }),
  schema: {
    order_id: 'string',
    customer_id: { type: 'string', path: 'customer.id' },
    country: { type: 'string', path: 'customer.country', required: false },
    amount: 'double',
    category: { type: 'string', required: false },
    ts: 'timestamp',
  },
  eventTime: 'ts',
  derive: {
    amount_cents: col('amount').mul(100).cast('bigint'),
    category_lc: lower(coalesce(col('category'), 'none')),
    size: when(col('amount_cents').gte(10_000), 'large').when(col('amount_cents').gte(1_000), 'medium').otherwise('small'),
    hour_of_day: hourOf(col('ts')),
  },
  filter: col('amount_cents').gt(0),
  aggregate: {
    groupBy: ['country', 'size'],
    window: tumbling('1 minute'),
    measures: { orders: count(), cents: sum('amount_cents'), max_hour: max('hour_of_day') },
    view: 'orders_test_by_country_1m',
  },
};
const orders = definePipeline(input);

const order = (i: number, over: Record<string, unknown> = {}) => ({
  order_id: `o${i}`,
  customer: { id: `c${i % 7}`, country: ['DE', 'FR', 'US'][i % 3] },
  amount: [12.5, 0.125, 250, 99.995, 3][i % 5],
  category: i % 4 === 0 ? null : ['Books', 'TOYS', 'Garden'][i % 3],
  ts: new Date(T0 + i * 7_000).toISOString(),
  ...over,
});

const rejectionOf = (input0: Partial<PipelineInput>): string => {
  try {
    definePipeline({ ...input, ...input0 } as PipelineInput);
    return 'no error';
  } catch (err) {
    return (err as Error).message;
  }
};

describe('definePipeline with derive, expression filters and paths', () => {
  it.each<[string, Partial<PipelineInput>, RegExp]>([
    ['a type error names the derived column', { derive: { amount_cents: col('amount').mul('x') } }, /^Pipeline "orders-test": derive\.amount_cents: mul\(\) needs numbers; literal "x" is string$/],
    ['an unknown column', { derive: { a: col('amout').add(1) } }, /derive\.a: column "amout" is not in the schema or derived before it \(columns: order_id, customer_id/],
    ['a derived column read before it is declared', { derive: { a: col('b').add(1), b: lit(1) } }, /derive\.a: column "b" is not in the schema/],
    ['a name taken by the schema', { derive: { amount: lit(1) } }, /derive\.amount: "amount" is already a schema field/],
    ['a reserved name', { derive: { dt: lit('x') } }, /derive\.dt: "dt" is reserved/],
    ['an unsupported cast', { derive: { s: col('amount').cast('string') } }, /derive\.s: cast from double to string is not supported/],
    ['a filter that is not a boolean', { filter: col('amount').add(1) }, /^Pipeline "orders-test": filter: must be a boolean expression \(this one is double\)$/],
    ['a filter comparing a string with a number', { filter: col('country').gt(5) }, /filter: gt\(\) compares column "country" \(string\) with literal 5 \(int\): no common type/],
    ['a path with a bad escape', { schema: { ...input.schema, country: { type: 'string', path: 'customer\\country' } } }, /schema\.country\.path: path "customer\\\\country": a backslash must be followed by "\." or/],
    ['a path with an empty key', { schema: { ...input.schema, country: { type: 'string', path: 'customer..country' } } }, /schema\.country\.path: path "customer\.\.country" has an empty key/],
    ['a path through a scalar field', { schema: { ...input.schema, customer: 'string' } }, /schema\.customer_id\.path: goes through "customer", which field "customer" reads as a string/],
    ['groupBy on a derived double', { derive: { d: col('amount').mul(2) }, filter: undefined, aggregate: { ...input.aggregate!, groupBy: ['d'] } }, /aggregate\.groupBy: field "d" is a double/],
  ])('%s fails at load with the path and the rule', (_, over, message) => {
    expect(rejectionOf(over)).toMatch(message);
  });

  it('keeps nodes plain and round-trips through JSON (derive, expression filter, paths)', () => {
    const json = JSON.stringify(orders);
    const again = pipelineFromJson(json);
    expect(again).toEqual(orders);
    expect(JSON.stringify(again)).toBe(json);
    expect(orders.derive.map((d) => [d.name, d.type])).toEqual([['amount_cents', 'bigint'], ['category_lc', 'string'], ['size', 'string'], ['hour_of_day', 'bigint']]);
    expect(orders.schema.find((f) => f.name === 'country')?.path).toEqual(['customer', 'country']);
    // The stored node is plain data: no Expr prototype survives validation.
    expect(Object.getPrototypeOf(orders.derive[0]!.expr)).toBe(Object.prototype);
  });

  it('takes a dot inside a key as \\. or in the array form', () => {
    const p = definePipeline({ ...input, schema: { ...input.schema, a: { type: 'int', path: 'x\\.y.z', required: false }, b: { type: 'int', path: ['x.y', 'w'], required: false } } });
    expect(p.schema.find((f) => f.name === 'a')?.path).toEqual(['x.y', 'z']);
    const run = runEvents(p, [{ ...order(0), 'x.y': { z: 5, w: 6 } }], { arrivalTime: T0 });
    expect(run.raw[0]).toMatchObject({ a: 5, b: 6 });
  });
});

describe('the handler engine with nested fields and derived columns', () => {
  const events = Array.from({ length: 40 }, (_, i) => order(i));
  const run = runEvents(orders, events, { arrivalTime: T0 + 300_000 });

  it('reads nested paths into the schema columns and computes the derived columns per event', () => {
    expect(run.counts).toMatchObject({ received: 40, raw: 40, quarantined: 0, filtered: 0 });
    const r = run.raw.find((x) => x.order_id === 'o3')!;
    expect(r).toMatchObject({ customer_id: 'c3', country: 'DE', amount: 99.995, amount_cents: 10000, category_lc: 'books', size: 'large' });
    // 0.125 * 100 = 12.5 rounds half away from zero, as Trino's CAST(double AS bigint).
    expect(run.raw.find((x) => x.order_id === 'o1')).toMatchObject({ amount_cents: 13, size: 'small', category_lc: 'toys' });
    expect(run.raw.find((x) => x.order_id === 'o0')).toMatchObject({ category_lc: 'none', hour_of_day: 10 });
    // Only the schema's and the derived columns: the nested object itself is not a column.
    expect(Object.keys(r).sort()).toEqual(['amount', 'amount_cents', 'category', 'category_lc', 'country', 'customer_id', 'hour_of_day', 'order_id', 'size', 'ts']);
  });

  it('groups by and aggregates derived columns as the events say', () => {
    const want = new Map<string, { orders: number; cents: number }>();
    for (const r of run.raw) {
      const k = `${Math.floor((r.ts as number) / 60_000) * 60_000}|${r.country}|${r.size}`;
      const t = want.get(k) ?? { orders: 0, cents: 0 };
      t.orders++;
      t.cents += Number(r.amount_cents);
      want.set(k, t);
    }
    expect(run.aggregates.length).toBe(want.size);
    for (const a of run.aggregates) {
      expect(want.get(`${a.window_start}|${a.country}|${a.size}`)).toEqual({ orders: Number(a.orders), cents: Number(a.cents) });
      expect(Number(a.max_hour)).toBe(10);
    }
  });

  it('a missing intermediate object is NULL; a required nested field missing, or a path through a scalar, is quarantined naming the path', () => {
    const r = runEvents(orders, [
      order(1, { customer: { id: 'c1' } }),
      order(2, { customer: { id: 'c2', country: null } }),
      order(3, { customer: null }),
      order(4, { customer: 'c4' }),
      order(5, { customer: { id: 5 } }),
    ], { arrivalTime: T0 + 300_000 });
    expect(r.raw.map((x) => [x.order_id, x.country])).toEqual([['o1', null], ['o2', null]]);
    expect(r.quarantine.map((q) => [q.field, q.reason])).toEqual([
      ['customer_id', 'required field "customer_id" (path customer.id) is missing'],
      ['customer_id', 'field "customer_id" (path customer.id): "customer" must be an object, got a string ("c4")'],
      ['customer_id', 'field "customer_id" (path customer.id) must be a string, got number 5'],
    ]);
  });

  it('quarantines an event whose derived column fails, naming the column; the filter drops by design', () => {
    const p = definePipeline({ ...input, derive: { ...input.derive, per_unit: col('amount_cents').div(col('amount').cast('bigint')) }, aggregate: undefined });
    const r = runEvents(p, [order(0), order(1), order(2, { amount: -4 })], { arrivalTime: T0 + 300_000 });
    // o1: 0.125 → cast to bigint 0 → division by zero; o2: amount_cents -400 fails the filter.
    expect(r.counts).toMatchObject({ raw: 1, quarantined: 1, filtered: 1 });
    expect(r.quarantine[0]).toMatchObject({ field: 'per_unit', reason: 'derive.per_unit: division by zero' });
    expect(r.raw[0]!.per_unit).toBe(96); // 1250 / 13 (12.5 rounds half away from zero), truncated
  });

  it('an expression filter that fails on an event quarantines it with the reason', () => {
    const p = definePipeline({ ...input, derive: undefined, filter: col('amount').cast('int').gt(0), aggregate: undefined });
    const r = runEvents(p, [order(0), order(1, { amount: 1e12 })], { arrivalTime: T0 + 300_000 });
    expect(r.counts).toMatchObject({ raw: 1, quarantined: 1 });
    expect(r.quarantine[0]!.reason).toBe('filter: cannot cast 1000000000000 to int: out of range');
  });

  it('the filter language keeps working and may name derived columns', () => {
    const p = definePipeline({ ...input, filter: field('size').eq('large'), aggregate: undefined });
    const r = runEvents(p, Array.from({ length: 10 }, (_, i) => order(i)), { arrivalTime: T0 + 300_000 });
    expect(r.raw.map((x) => x.order_id)).toEqual(['o2', 'o3', 'o7', 'o8']);
  });

  it('and/or/not take expressions too, converting filter-language arguments', () => {
    const p = definePipeline({ ...input, filter: or(and(col('amount_cents').gt(1000), field('order_id').startsWith('o1')), not(col('size').ne('small')), field('order_id').in(['o4'])), aggregate: undefined });
    expect(p.filter).toMatchObject({ expr: 'or' });
    const r = runEvents(p, Array.from({ length: 20 }, (_, i) => order(i)), { arrivalTime: T0 + 300_000 });
    const want = Array.from({ length: 20 }, (_, i) => order(i)).filter((o) => {
      const cents = Math.round(o.amount! * 100);
      return (cents > 1000 && o.order_id.startsWith('o1')) || cents < 1000 || o.order_id === 'o4';
    });
    expect(r.raw.map((x) => x.order_id)).toEqual(want.map((o) => o.order_id));
    // Without an expression among them they stay the filter language.
    expect(and(field('a').eq(1), not(field('b').isNull()))).toEqual({ op: 'and', args: [{ op: 'eq', field: 'a', value: 1 }, { op: 'not', arg: { op: 'isNull', field: 'b' } }] });
  });

  it('decodes nested records the same with the fast record decoder as with JSON.parse', () => {
    const fast = compileRecordDecoder(orders.schema);
    const slow = compileDecoder(orders.schema);
    for (const e of [...events, { order_id: 'x' }, { ...order(1), customer: [1] }, '{"order_id":"a","customer":{"id":"c","id":"d"},"amount":1,"ts":0}']) {
      const text = typeof e === 'string' ? e : JSON.stringify(e);
      expect(fast(Buffer.from(text).toString('base64'))).toEqual(slow(text));
    }
  });
});

describe('lake tables and FilterCriteria', () => {
  it('raw and late tables carry the derived columns after the schema columns', () => {
    const tables = lakeTables(orders);
    const raw = tables.find((t) => t.role === 'raw')!;
    expect(raw.columns.map((c) => `${c.name}:${c.type}`)).toEqual([
      'order_id:string', 'customer_id:string', 'country:string', 'amount:double', 'category:string', 'ts:timestamp',
      'amount_cents:bigint', 'category_lc:string', 'size:string', 'hour_of_day:bigint',
    ]);
    const late = tables.find((t) => t.role === 'late')!;
    expect(late.columns.map((c) => c.name).slice(6, 12)).toEqual(['amount_cents', 'category_lc', 'size', 'hour_of_day', 'arrival_time', 'lateness_ms']);
  });

  it('expresses an expression filter of the filter language shape, and says why not otherwise', () => {
    const withFilter = (filter: PipelineInput['filter']) => definePipeline({ ...input, filter, aggregate: undefined });
    const simple = pipelineFilterCriteria(withFilter(col('order_id').eq('o1').or(lit(100).lt(col('amount')).not())), 'kinesis');
    expect(simple.expressible).toBe(false); // NOT (100 < amount) on a double: Lambda cannot compare doubles exactly
    const strings = pipelineFilterCriteria(withFilter(col('order_id').eq('o1').or(col('order_id').eq('o2'))), 'kinesis');
    expect(strings).toEqual({ expressible: true, filters: [{ pattern: '{"data":{"order_id":["o1"]}}' }, { pattern: '{"data":{"order_id":["o2"]}}' }] });
    expect(pipelineFilterCriteria(withFilter(lower(col('order_id')).eq('o1')), 'kinesis')).toMatchObject({ expressible: false, reason: expect.stringMatching(/functions, arithmetic/) });
    expect(pipelineFilterCriteria(withFilter(col('amount_cents').gt(5)), 'kinesis')).toMatchObject({ expressible: false, reason: expect.stringMatching(/derived column "amount_cents"/) });
    expect(pipelineFilterCriteria(withFilter(col('country').eq('DE')), 'kinesis')).toMatchObject({ expressible: false, reason: expect.stringMatching(/nested path customer\.country/) });
    expect(rejectionOf({ filter: lower(col('order_id')).eq('o1'), processing: { lambdaFilterCriteria: true } })).toMatch(/processing\.lambdaFilterCriteria: the filter cannot be expressed/);
  });
});

describe('backfill with derived columns on the local endpoint', () => {
  const BUCKET = 'derive-lake';
  let lake: TestLake;
  let athena: AthenaClient;
  const p: Pipeline = definePipeline({
    ...input,
    derive: { ...input.derive, minute_start: dateTrunc('minute', col('ts')), label: concat(col('country'), '/', col('size')) },
    aggregate: { ...input.aggregate!, groupBy: ['label'] },
  });
  const events = Array.from({ length: 600 }, (_, i) => order(i, { amount: Math.round(((i * 7919) % 50_000) - 1_000) / 100 }));

  beforeAll(async () => {
    lake = await TestLake.start('derive', BUCKET);
    const handler = createStreamProcessor(p, { s3: lake.s3, bucket: BUCKET, logger: silentLogger });
    for (let from = 0; from < events.length; from += 200) {
      const batch = events.slice(from, from + 200).map((e, i) => kinesisRecord(JSON.stringify(e), { seq: from + i, arrivalMs: Date.parse(e.ts as string) + 1000, raw: true }));
      const res = await handler(kinesisEvent(batch));
      if (res.batchItemFailures.length) throw new Error(`batch at ${from} failed`);
    }
    athena = await lake.startAthena([p]);
  }, 240_000);

  afterAll(async () => {
    await lake?.stop();
  });

  it('the raw table holds the derived values the handler computed', async () => {
    const r = await runAthenaQuery(athena, { sql: `SELECT order_id, amount_cents, label, minute_start, size FROM shardflow.${p.tables.raw} WHERE dt = '2026-03-01' ORDER BY order_id` });
    const local = runEvents(p, events, { arrivalTime: (e) => Date.parse((e as { ts: string }).ts) + 1000 });
    expect(r.rows.length).toBe(local.raw.length);
    expect(local.counts.filtered).toBeGreaterThan(10); // negative amounts fail the filter
    const want = new Map(local.raw.map((x) => [x.order_id as string, x]));
    for (const row of r.rows) {
      const w = want.get(row[0]!)!;
      expect([row[1], row[2], Date.parse(`${row[3]!.replace(' ', 'T')}Z`), row[4]]).toEqual([String(w.amount_cents), w.label, w.minute_start, w.size]);
    }
  });

  it('backfill computes the derived columns in SQL and agrees with the streaming view row for row', async () => {
    const plan = planBackfill(p, { from: T0, to: T0 + 3_600_000 });
    expect(plan.sql).toContain('CAST(round(("amount" * 100)) AS bigint) AS "amount_cents"');
    const backfill = await runAthenaQuery(athena, { sql: plan.sql });
    const view = await runAthenaQuery(athena, { sql: plan.viewSql });
    expect(backfill.rows.length).toBeGreaterThan(20);
    const cmp = compareWithView(p, backfill, view);
    expect(cmp.differences).toEqual([]);
    expect(cmp.matched).toBe(backfill.rows.length);
  });
});
