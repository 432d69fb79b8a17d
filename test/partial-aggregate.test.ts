import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aggregateRows, approxDistinct, avg, count, definePipeline, finalizePartialRows, hash52, hopping, kinesisSource, KmvSketch, kmvEstimate, KMV_K, max, mergePartialRows, min, sum, tumbling, type Row } from '../core';
import { floorToMultiple } from '../core/iso-time';
import clickstream from '../pipelines/clickstream';
import iot from '../pipelines/iot';

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0);

const clickRow = fc.record({
  event_id: fc.uuid(),
  user_id: fc.constantFrom('u1', 'u2', 'u3', 'u4', 'u5', 'u6'),
  category: fc.constantFrom('books', 'games', 'music'),
  value: fc.double({ min: -100, max: 1000, noNaN: true, noDefaultInfinity: true }),
  ts: fc.integer({ min: T0, max: T0 + 5 * 60_000 }),
});

const iotRow = fc.record({
  device_id: fc.constantFrom('d1', 'd2'),
  site: fc.constantFrom('north', 'south'),
  temperature: fc.option(fc.double({ min: -40, max: 60, noNaN: true, noDefaultInfinity: true }), { nil: null }),
  humidity: fc.constant(null),
  ts: fc.integer({ min: T0, max: T0 + 20 * 60_000 }),
});

/** Values compared with a tolerance: float sums depend on the order of addition. */
function normalise(rows: Row[]): Record<string, unknown>[] {
  return rows
    .map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1e6) / 1e6 : v])))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

describe('partial aggregates', () => {
  it.each([
    ['clickstream', clickstream, clickRow],
    ['iot', iot, iotRow],
  ] as const)('%s: aggregating split batches then merging equals one pass over all rows', (_n, p, arb) => {
    fc.assert(
      fc.property(fc.array(arb as fc.Arbitrary<Row>, { maxLength: 200 }), fc.integer({ min: 1, max: 5 }), (rows, parts) => {
        const whole = finalizePartialRows(p.aggregates[0]!, aggregateRows(p, rows));
        const chunks: Row[] = [];
        const size = Math.ceil(rows.length / parts) || 1;
        for (let i = 0; i < rows.length; i += size) chunks.push(...aggregateRows(p, rows.slice(i, i + size)));
        const merged = finalizePartialRows(p.aggregates[0]!, chunks);
        expect(normalise(merged)).toEqual(normalise(whole));
      }),
      { numRuns: 60 },
    );
  });

  it('merge is commutative and associative', () => {
    const p = clickstream;
    fc.assert(
      fc.property(fc.array(clickRow as fc.Arbitrary<Row>, { maxLength: 60 }), fc.array(clickRow as fc.Arbitrary<Row>, { maxLength: 60 }), fc.array(clickRow as fc.Arbitrary<Row>, { maxLength: 60 }), (a, b, c) => {
        const [pa, pb, pc] = [a, b, c].map((x) => aggregateRows(p, x));
        const m = (...xs: Row[][]) => normalise(mergePartialRows(p.aggregates[0]!, xs.flat()));
        expect(m(pa!, pb!)).toEqual(m(pb!, pa!));
        const left = mergePartialRows(p.aggregates[0]!, [...mergePartialRows(p.aggregates[0]!, [...pa!, ...pb!]), ...pc!]);
        const right = mergePartialRows(p.aggregates[0]!, [...pa!, ...mergePartialRows(p.aggregates[0]!, [...pb!, ...pc!])]);
        expect(normalise(left)).toEqual(normalise(right));
      }),
      { numRuns: 60 },
    );
  });

  it('computes exact count, sum, max per window and category', () => {
    const rows: Row[] = [
      { event_id: 'a', user_id: 'u1', category: 'books', value: 20, ts: T0 + 1_000 },
      { event_id: 'b', user_id: 'u2', category: 'books', value: 30, ts: T0 + 59_999 },
      { event_id: 'c', user_id: 'u1', category: 'books', value: 50, ts: T0 + 60_000 },
    ];
    const out = finalizePartialRows(clickstream.aggregates[0]!, aggregateRows(clickstream, rows)).sort((x, y) => (x.window_start as number) - (y.window_start as number));
    expect(out).toEqual([
      { window_start: T0, window_end: T0 + 60_000, category: 'books', events: 2, total_value: 50, max_value: 30, users: 2 },
      { window_start: T0 + 60_000, window_end: T0 + 120_000, category: 'books', events: 1, total_value: 50, max_value: 50, users: 1 },
    ]);
  });

  it('avg is sum/count of non-null values and null when there are none', () => {
    const rows: Row[] = [
      { device_id: 'd', site: 's', temperature: 10, humidity: null, ts: T0 },
      { device_id: 'd', site: 's', temperature: null, humidity: null, ts: T0 },
      { device_id: 'd', site: 's', temperature: 20, humidity: null, ts: T0 },
      { device_id: 'd', site: 't', temperature: null, humidity: null, ts: T0 },
    ];
    const out = finalizePartialRows(iot.aggregates[0]!, aggregateRows(iot, rows));
    expect(out.find((r) => r.site === 's')).toMatchObject({ readings: 3, avg_temperature: 15, max_temperature: 20 });
    expect(out.find((r) => r.site === 't')).toMatchObject({ readings: 1, avg_temperature: null, max_temperature: null });
  });
});

describe('the aggregator against a plain reference', () => {
  // Every measure kind, nullable and bigint fields, two group-by fields (one nullable), both window kinds.
  const definition = (window: ReturnType<typeof tumbling>) =>
    definePipeline({
      name: 'every_measure',
      source: kinesisSource({ stream: 'every-measure', shards: 1 }),
      schema: { k: 'string', j: { type: 'int', required: false }, x: { type: 'double', required: false }, b: { type: 'bigint', required: false }, u: { type: 'string', required: false }, ts: 'timestamp' },
      eventTime: 'ts',
      aggregate: {
        groupBy: ['k', 'j'],
        window,
        measures: { n: count(), nx: count('x'), sx: sum('x'), sb: sum('b'), lo: min('x'), lt: min('ts'), hi: max('b'), mean: avg('x'), users: approxDistinct('u') },
        view: 'every_measure_view',
      },
      tables: { raw: 'em_raw', partials: 'em_partials', late: 'em_late', quarantine: 'em_quarantine' },
    });
  const row = fc.record({
    k: fc.constantFrom('a', 'b'),
    j: fc.constantFrom(1, 2, null),
    x: fc.option(fc.double({ min: -100, max: 100, noNaN: true, noDefaultInfinity: true }), { nil: null }),
    b: fc.option(fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n })), { nil: null }),
    u: fc.option(fc.constantFrom('u1', 'u2', 'u3', 'u4'), { nil: null }),
    ts: fc.integer({ min: T0, max: T0 + 6 * 60_000 }),
  });

  /** The same partial rows, computed the obvious way: a list of rows per (window, group), then each measure over it. */
  function reference(window: { sizeMs: number; everyMs: number }, rows: Row[]): Row[] {
    const cells = new Map<string, { start: number; k: unknown; j: unknown; rows: Row[] }>();
    for (const r of rows) {
      const ts = r.ts as number;
      for (let start = ts - (ts % window.everyMs) - window.sizeMs + window.everyMs; start <= ts; start += window.everyMs) {
        const key = JSON.stringify([start, r.k, r.j]);
        if (!cells.has(key)) cells.set(key, { start, k: r.k, j: r.j, rows: [] });
        cells.get(key)!.rows.push(r);
      }
    }
    return [...cells.values()].map(({ start, k, j, rows: rs }) => {
      const vals = (f: string) => rs.map((r) => r[f]).filter((v) => v !== null && v !== undefined).map(Number);
      const xs = vals('x');
      const bs = vals('b');
      return {
        window_start: start, window_end: start + window.sizeMs, k, j,
        n: rs.length, nx: xs.length,
        sx: xs.length ? xs.reduce((a, v) => a + v, 0) : null,
        sb: bs.length ? bs.reduce((a, v) => a + v, 0) : null,
        lo: xs.length ? Math.min(...xs) : null,
        lt: Math.min(...vals('ts')),
        hi: bs.length ? Math.max(...bs) : null,
        mean_sum: xs.reduce((a, v) => a + v, 0), mean_count: xs.length,
        users_sketch: [...new Set(rs.map((r) => r.u).filter((u) => u !== null).map((u) => hash52(u as string)))].sort((p, q) => p - q),
      } as unknown as Row;
    });
  }

  it.each([
    ['tumbling', tumbling('2 minutes'), { sizeMs: 120_000, everyMs: 120_000 }],
    ['hopping', hopping({ size: '3 minutes', every: '1 minute' }), { sizeMs: 180_000, everyMs: 60_000 }],
  ] as const)('%s windows: every measure equals the reference', (_name, window, w) => {
    const p = definition(window);
    fc.assert(
      fc.property(fc.array(row as fc.Arbitrary<Row>, { maxLength: 120 }), (rows) => {
        expect(normalise(aggregateRows(p, rows))).toEqual(normalise(reference(w, rows)));
      }),
      { numRuns: 150 },
    );
  });
});

describe('KMV sketch', () => {
  it('is exact below k distinct values', () => {
    const s = new KmvSketch();
    for (let i = 0; i < 1000; i++) s.add(`user-${i % 700}`);
    expect(s.estimate()).toBe(700);
  });

  it('stays within 3 standard errors (3 × 1/sqrt(k−2) ≈ 9.4 %) above k', () => {
    for (const n of [5_000, 50_000, 200_000]) {
      const s = new KmvSketch();
      for (let i = 0; i < n; i++) s.add(`user-${i}`);
      expect(Math.abs(s.estimate() - n) / n).toBeLessThan(3 / Math.sqrt(KMV_K - 2));
    }
  });

  it('merging sketches of overlapping sets estimates the union', () => {
    const a = new KmvSketch();
    const b = new KmvSketch();
    for (let i = 0; i < 30_000; i++) a.add(`u${i}`);
    for (let i = 20_000; i < 50_000; i++) b.add(`u${i}`);
    a.merge(b);
    expect(Math.abs(a.estimate() - 50_000) / 50_000).toBeLessThan(0.1);
    expect(kmvEstimate(a.values())).toBe(a.estimate());
  });

  it('keeps exactly the k smallest distinct hashes, ascending, whatever the order, repeats and merges', () => {
    // Small k so that compaction and the threshold run many times; values drawn from a small pool so they repeat.
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 600 }),
        fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 200 }),
        (k, xs, ys) => {
          const a = new KmvSketch(k);
          for (const x of xs) a.add(`u${x}`);
          const b = new KmvSketch(k);
          for (const y of ys) b.add(`u${y}`);
          a.merge(b);
          if (ys.length % 2 === 0) a.merge(b.values()); // merging again, as an array, changes nothing
          const want = [...new Set([...xs, ...ys].map((v) => hash52(`u${v}`)))].sort((p, q) => p - q).slice(0, k);
          expect(a.values()).toEqual(want);
          expect(a.estimate()).toBe(kmvEstimate(want, k));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a sketch made after others were released starts empty, and a released one is empty and usable', () => {
    // Released buffers are handed to the next sketches made: nothing of their old hashes may show through.
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 2500 }), { minLength: 1, maxLength: 6 }), (sets) => {
        const old = sets.map((xs) => {
          const s = new KmvSketch();
          for (const x of xs) s.add(`old${x}`);
          return s;
        });
        old.forEach((s) => s.release());
        expect(old[0]!.values()).toEqual([]);
        old[0]!.add('again');
        expect(old[0]!.values()).toEqual([hash52('again')]);
        for (const xs of sets) {
          const s = new KmvSketch();
          for (const x of xs) s.add(`new${x}`);
          const want = [...new Set(xs.map((x) => hash52(`new${x}`)))].sort((p, q) => p - q).slice(0, KMV_K);
          expect(s.values()).toEqual(want);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('hashes to 52-bit non-negative integers', () => {
    for (const v of ['', 'a', 'user-1', 'ü', 'x'.repeat(1000)]) {
      const h = hash52(v);
      expect(Number.isInteger(h)).toBe(true);
      expect(h).toBeGreaterThanOrEqual(0);
      expect(h).toBeLessThan(2 ** 52);
    }
    expect(hash52('a')).not.toBe(hash52('b'));
  });
});

describe('floorToMultiple', () => {
  it('gives the window and hour starts the remainder formula gives, for any event time (integer ms, as rows and sources hold)', () => {
    const reference = (ms: number, size: number) => ms - (((ms % size) + size) % size);
    const time = fc.oneof(
      fc.integer({ min: -8.64e15, max: 8.64e15 }),
      fc.integer({ min: -1e13, max: 1e13 }),
      fc.constantFrom(0, -0, -1, 3_599_999, 3_600_000, -3_600_000, 8.64e15 - 1, -(8.64e15 - 1)),
    );
    const size = fc.oneof(fc.integer({ min: 1, max: 2 ** 31 }), fc.constantFrom(1, 1000, 60_000, 3_600_000, 86_400_000));
    fc.assert(
      fc.property(time, size, (ms, sz) => {
        expect(floorToMultiple(ms, sz)).toBe(reference(ms, sz));
      }),
      { numRuns: 20_000 },
    );
  });
});
