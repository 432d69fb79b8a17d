/**
 * The measure registry in JS: every kind's partial + merge is split-invariant,
 * commutative and associative; the new kinds' semantics (countIf, minBy/maxBy
 * ties, approxPercentile's error bound against the exact percentile); and
 * validation naming pipeline, path and rule. The same measures against DuckDB
 * and Trino: test/measures-sql.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  aggregateRows,
  aggregateView,
  approxPercentile,
  count,
  definePipeline,
  field,
  finalizePartialRows,
  histogramPercentiles,
  kinesisSource,
  maxBy,
  measureKind,
  mergePartialRows,
  minBy,
  PERCENTILE_RELATIVE_ERROR,
  percentileKey,
  percentileRank,
  percentileValue,
  PipelineDefinitionError,
  tumbling,
  type Aggregate,
  type Pipeline,
  type PipelineInput,
  type Row,
} from '../core';
import { pipelineColumns } from '../core/pipeline-expr';
import { mulberry32 } from '../core/prng';
import { ALL_KINDS, KINDS_COVERED, measureRows, measuresPipeline } from './support/measures-pipeline';

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0);
const TOLERANCE = { tol: 1e-9, sigmas: 4, batchErr: 0 };

/** Every view column of `a` from `got` agrees with `want` within its kind's tolerance; the differences otherwise. */
function disagreements(p: Pipeline, a: Aggregate, want: Row[], got: Row[]): string[] {
  const key = (r: Row) => JSON.stringify([r.window_start, ...a.groupBy.map((g) => r[g] ?? null)]);
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
  const byKey = new Map(got.map((r) => [key(r), r]));
  const out: string[] = [];
  if (want.length !== got.length) out.push(`${want.length} rows, got ${got.length}`);
  for (const w of want) {
    const g = byKey.get(key(w));
    if (!g) {
      out.push(`${key(w)}: missing`);
      continue;
    }
    for (const m of a.measures) {
      const kind = measureKind(m.spec);
      for (const c of kind.viewColumns(m.name, m.spec, (n) => pipelineColumns(p).find((f) => f.name === n)!.type)) {
        const [x, y] = [text(w[c.name]), text(g[c.name])];
        const why = x === null || y === null ? (x === y ? null : 'NULL on one side only') : kind.compare(c.name, x, y, m.spec, TOLERANCE);
        if (why) out.push(`${key(w)} ${c.name}: ${x} vs ${y}: ${why}`);
      }
    }
  }
  return out;
}

describe('the measure registry', () => {
  it('the fixture covers every registered kind', () => {
    expect(KINDS_COVERED).toEqual(ALL_KINDS);
  });

  it.each(measuresPipeline.aggregates.map((a) => [a.view, a] as const))('%s: split batches merged equal one pass, for every kind', (_v, a) => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 0, max: 300 }), fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 6 }), (seed, n, cuts) => {
        const rows = measureRows(mulberry32(seed), T0, n);
        const whole = finalizePartialRows(a, aggregateRows(measuresPipeline, rows, a));
        const bounds = [...new Set([0, ...cuts.filter((c) => c < n), n])].sort((x, y) => x - y);
        const parts: Row[] = [];
        for (let j = 0; j + 1 < bounds.length; j++) parts.push(...aggregateRows(measuresPipeline, rows.slice(bounds[j], bounds[j + 1]), a));
        // Batches land in any order.
        const shuffled = parts.map((r, j) => ({ r, o: mulberry32(seed + j)() })).sort((x, y) => x.o - y.o).map((x) => x.r);
        expect(disagreements(measuresPipeline, a, whole, finalizePartialRows(a, shuffled))).toEqual([]);
      }),
      { numRuns: 40 },
    );
  });

  it('merge is commutative and associative for every kind', () => {
    const a = measuresPipeline.aggregates[0]!;
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const rand = mulberry32(seed);
        const [pa, pb, pc] = [0, 1, 2].map(() => aggregateRows(measuresPipeline, measureRows(rand, T0, 80), a)) as [Row[], Row[], Row[]];
        const fin = (rows: Row[]) => finalizePartialRows(a, rows);
        const m = (...xs: Row[][]) => mergePartialRows(a, xs.flat());
        expect(disagreements(measuresPipeline, a, fin(m(pa, pb)), fin(m(pb, pa)))).toEqual([]);
        expect(disagreements(measuresPipeline, a, fin(m(m(pa, pb), pc)), fin(m(pa, m(pb, pc))))).toEqual([]);
        // Exactly equal partials too, not only final values: the lake may hold either.
        expect(m(m(pa, pb), pc).length).toBe(m(pa, m(pb, pc)).length);
      }),
      { numRuns: 40 },
    );
  });
});

const orders = (measures: PipelineInput['aggregate'] extends infer A ? (A extends { measures: infer M } ? M : never) : never): Pipeline =>
  definePipeline({
    name: 'orders',
    source: kinesisSource({ stream: 'orders' }),
    schema: { id: 'string', customer: { type: 'string', required: false }, amount: { type: 'double', required: false }, ts: 'timestamp' },
    eventTime: 'ts',
    aggregate: { groupBy: [], window: tumbling('1 minute'), measures, view: 'orders_1m' },
  });

describe('countIf', () => {
  it('counts the events whose condition is true; NULL counts as false', () => {
    const p = orders({ big: { fn: 'countIf', condition: field('amount').gt(100) }, all: count() });
    const rows: Row[] = [100, 100.5, null, 250, -3].map((amount, j) => ({ id: `o${j}`, customer: 'c', amount, ts: T0 }));
    const [r] = finalizePartialRows(p.aggregates[0]!, aggregateRows(p, rows));
    expect([r!.big, r!.all]).toEqual([2, 5]);
  });
});

describe('minBy / maxBy', () => {
  const p = orders({ first: minBy('customer', 'ts'), last: maxBy('customer', 'ts'), cheapest: minBy('customer', 'amount') });
  const a = p.aggregates[0]!;
  it('take the field at the least / greatest by; ties: the least / greatest field value, whatever the order', () => {
    const rows: Row[] = [
      { id: '1', customer: 'm', amount: 5, ts: T0 + 1000 },
      { id: '2', customer: 'b', amount: 5, ts: T0 + 1000 },
      { id: '3', customer: 'z', amount: 9, ts: T0 + 5000 },
      { id: '4', customer: 'c', amount: 9, ts: T0 + 5000 },
      { id: '5', customer: null, amount: 1, ts: T0 + 500 },
      { id: '6', customer: 'q', amount: null, ts: T0 + 100 },
    ];
    for (const order of [rows, [...rows].reverse(), [rows[3]!, rows[0]!, rows[5]!, rows[2]!, rows[1]!, rows[4]!]]) {
      const partials = order.map((r) => aggregateRows(p, [r], a)).flat();
      const [r] = finalizePartialRows(a, partials);
      // NULL customer (id 5) and NULL amount (id 6, for cheapest) take no part.
      expect([r!.first, r!.last, r!.cheapest]).toEqual(['q', 'z', 'b']);
    }
  });

  it('orders strings by code point, as VARCHAR in Trino and DuckDB', () => {
    const rows: Row[] = ['\uFFFD', '\u{1F600}'].map((customer, j) => ({ id: `${j}`, customer, amount: 1, ts: T0 }));
    const [r] = finalizePartialRows(a, aggregateRows(p, rows));
    // U+1F600 > U+FFFD by code point, though its UTF-16 high surrogate D83D < FFFD.
    expect([r!.cheapest, r!.last]).toEqual(['\uFFFD', '\u{1F600}']);
  });
});

describe('approxPercentile', () => {
  it('bucket keys order like the values, and a bucket\'s representative is within α of every value in it', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.double({ noNaN: true, noDefaultInfinity: true }), (x, y) => {
        if (x < y) expect(percentileKey(x)).toBeLessThanOrEqual(percentileKey(y));
        if (Math.abs(x) < 1e300) expect(Math.abs(percentileValue(percentileKey(x)) - x)).toBeLessThanOrEqual(PERCENTILE_RELATIVE_ERROR * (1 + 1e-9) * Math.abs(x));
      }),
      { numRuns: 2000 },
    );
    expect(percentileValue(percentileKey(0))).toBe(0);
    expect(percentileKey(-1)).toBeLessThan(percentileKey(0));
    expect(percentileKey(Number.MIN_VALUE)).toBeGreaterThan(0);
  });

  it('is within α = 1 % of the exact nearest-rank percentile, for any values and any split into batches', () => {
    const qs = [0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1];
    const p = orders({ amount_pct: approxPercentile('amount', qs) });
    const a = p.aggregates[0]!;
    const value = fc.oneof(fc.double({ min: -1e9, max: 1e9, noNaN: true }), fc.integer({ min: -1000, max: 1000 }), fc.constantFrom(0, 1, 1e-12, -1e-12, 123.456));
    let checked = 0;
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 400 }), fc.integer({ min: 1, max: 5 }), (xs, parts) => {
        const rows: Row[] = xs.map((amount, j) => ({ id: `o${j}`, customer: null, amount, ts: T0 }));
        const size = Math.ceil(rows.length / parts);
        const partials: Row[] = [];
        for (let j = 0; j < rows.length; j += size) partials.push(...aggregateRows(p, rows.slice(j, j + size)));
        const [r] = finalizePartialRows(a, partials);
        const sorted = [...xs].sort((u, v) => u - v);
        for (const q of qs) {
          const exact = sorted[percentileRank(q, sorted.length) - 1]!;
          const got = r![`amount_pct_p${String(Math.round(q * 1e6) / 1e4).replace('.', '_')}`] as number;
          expect(Math.abs(got - exact), `q=${q} exact=${exact} got=${got}`).toBeLessThanOrEqual(PERCENTILE_RELATIVE_ERROR * (1 + 1e-9) * Math.abs(exact));
          checked++;
        }
      }),
      { numRuns: 200 },
    );
    expect(checked).toBe(200 * qs.length);
  });

  it('names its view columns <name>_p<100·q>, "." written "_"', () => {
    const p = orders({ amount: approxPercentile('amount', [0.5, 0.95, 0.999]) });
    expect(aggregateView(p, p.aggregates[0]!).columns.map((c) => c.name)).toEqual(['window_start', 'window_end', 'amount_p50', 'amount_p95', 'amount_p99_9', 'closed', 'dt', 'hour']);
    expect(histogramPercentiles([], [], [0.5])).toEqual([null]);
  });
});

describe('measure validation', () => {
  it.each([
    [{ a: { fn: 'approxPercentile', field: 'amount', quantiles: [0.5, 1.5] } }, /aggregate\.measures\.a: approxPercentile\(\) quantiles must be numbers in \(0, 1\] \(given 1\.5\)/],
    [{ a: { fn: 'approxPercentile', field: 'amount', quantiles: [] } }, /approxPercentile\(\) needs 1 to 10 quantiles/],
    [{ a: { fn: 'approxPercentile', field: 'customer', quantiles: [0.5] } }, /approxPercentile\(\) needs a numeric field; "customer" is string/],
    [{ a: { fn: 'approxPercentile', field: 'amount', quantiles: [0.5, 0.5] } }, /lists a quantile twice/],
    [{ a: { fn: 'minBy', field: 'amount', by: 'customer' } }, /aggregate\.measures\.a: minBy\(\) needs a numeric or timestamp field; "customer" is string/],
    [{ a: { fn: 'maxBy', field: 'nope', by: 'ts' } }, /maxBy\(\) names field "nope", which is not in the schema/],
    [{ a: { fn: 'countIf', condition: field('nope').gt(1) } }, /aggregate\.measures\.a: countIf\(\) condition names field "nope"/],
    [{ a: { fn: 'countIf', condition: field('amount').gt('x') } }, /countIf\(\) condition: .*"x"/],
    [{ a_p50: count(), a: approxPercentile('amount', [0.5]) }, /aggregate\.measures\.a: its column "a_p50" collides with a column of measure a_p50/],
    [{ a_sum: count(), a: { fn: 'avg', field: 'amount' } }, /aggregate\.measures\.a: its column "a_sum" collides with a column of measure a_sum/],
  ])('rejects %j', (measures, message) => {
    const make = () => orders(measures as never);
    expect(make).toThrow(message);
    expect(make).toThrow(PipelineDefinitionError);
  });
});
