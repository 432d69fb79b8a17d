/**
 * A pipeline with every measure kind of the registry, on fields of every type
 * the kinds accept, and two aggregates (tumbling by a nullable key; hopping,
 * global), for the measure property tests on JS, DuckDB and Trino.
 */
import {
  approxDistinct,
  approxPercentile,
  avg,
  col,
  upper,
  count,
  countIf,
  definePipeline,
  field,
  hopping,
  kinesisSource,
  max,
  maxBy,
  min,
  minBy,
  MEASURES,
  or,
  sum,
  tumbling,
  type Row,
} from '../../core';
import { compileDerive } from '../../core/expr-compile';
import { columnTypesOf } from '../../core/pipeline-expr';

export const measuresPipeline = definePipeline({
  name: 'measures',
  source: kinesisSource({ stream: 'measures', shards: 1 }),
  schema: {
    id: 'string',
    k: { type: 'string', required: false },
    x: { type: 'double', required: false },
    n: 'bigint',
    i: { type: 'int', required: false },
    s: { type: 'string', required: false },
    flag: { type: 'boolean', required: false },
    ts: 'timestamp',
  },
  eventTime: 'ts',
  derive: { x2: col('x').mul(2), s_up: upper(col('s')) },
  allowedLateness: '1 day',
  aggregates: [
    {
      groupBy: ['k'],
      window: tumbling('1 minute'),
      measures: {
        events: count(),
        xs: count('x'),
        x_sum: sum('x'),
        n_sum: sum('n'),
        x_min: min('x'),
        ts_max: max('ts'),
        x_avg: avg('x'),
        s_distinct: approxDistinct('s'),
        big: countIf(or(field('x').gt(50), field('flag').eq(true))),
        // An expression condition on a derived column.
        big_expr: countIf(col('x2').gt(100).or(col('flag').eq(true))),
        x2_sum: sum('x2'),
        s_at_min_x: minBy('s', 'x'),
        n_at_max_ts: maxBy('n', 'ts'),
        flag_at_min_i: minBy('flag', 'i'),
        x_at_max_i: maxBy('x', 'i'),
        x_pct: approxPercentile('x', [0.01, 0.5, 0.9, 0.99, 1]),
        i_pct: approxPercentile('i', [0.25, 0.75]),
      },
      view: 'measures_by_k_1m',
    },
    {
      groupBy: [],
      window: hopping({ size: '3 minutes', every: '1 minute' }),
      measures: { events: count(), x_pct: approxPercentile('x', [0.5, 0.95]), s_at_max_n: maxBy('s_up', 'n'), positive: countIf(field('x').gt(0)) },
      view: 'measures_all_3m',
    },
  ],
});

/** Every kind of the registry is in the fixture, so a new kind must be added here to be tested. */
export const KINDS_COVERED = [...new Set(measuresPipeline.aggregates.flatMap((a) => a.measures.map((m) => m.spec.fn)))].sort();
export const ALL_KINDS = Object.keys(MEASURES).sort();

/**
 * `count` events over `minutes` minutes from `t0`, from `rand`: few distinct
 * values so that ties (minBy/maxBy), repeated buckets and NULL keys are common;
 * negative, zero and wide-ranging x for the percentile buckets.
 */
export function measureRows(rand: () => number, t0: number, count: number, minutes = 4): Row[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const rows: Row[] = [];
  for (let j = 0; j < count; j++) {
    const scale = pick([0.001, 1, 1, 1, 100, 1e6]);
    rows.push({
      id: `e${j}`,
      k: rand() < 0.1 ? null : pick(['a', 'b', 'c', 'é', '😀']),
      x: rand() < 0.1 ? null : rand() < 0.05 ? 0 : Math.round((rand() * 120 - 20) * 4) / 4 * scale,
      n: BigInt(Math.floor(rand() * 40) - 10),
      i: rand() < 0.1 ? null : Math.floor(rand() * 8),
      s: rand() < 0.1 ? null : pick(['x', 'y', 'z', 'Z', 'ä', '\u{1F600}', '\uFFFD']) + (rand() < 0.5 ? '' : String(Math.floor(rand() * 3))),
      flag: rand() < 0.1 ? null : rand() < 0.5,
      // Whole seconds, so that ties on ts are common too.
      ts: t0 + Math.floor(rand() * minutes * 60) * 1000,
    });
  }
  // The derived columns, as the handler computes them.
  const derive = compileDerive(measuresPipeline.derive, columnTypesOf(measuresPipeline.schema));
  for (const r of rows) if (derive(r) !== null) throw new Error(`fixture row ${r.id} fails to derive`);
  return rows;
}

/** An event as a producer would send it (bigint as a JSON number, timestamps as ISO text). */
export function asEvent(r: Row): Record<string, unknown> {
  const event: Record<string, unknown> = { ...r, n: Number(r.n), ts: new Date(r.ts as number).toISOString() };
  for (const d of measuresPipeline.derive) delete event[d.name];
  return event;
}
