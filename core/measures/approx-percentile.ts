/**
 * approxPercentile(field, [0.5, 0.95, 0.99]): percentiles with a relative
 * error of at most α = 1 % (PERCENTILE_RELATIVE_ERROR), from a log-bucket
 * histogram (the DDSketch mapping, Masson et al., VLDB 2019) that merges in
 * plain SQL by summing bucket counts.
 *
 * Buckets: γ = (1 + α) / (1 − α); a positive x falls in bucket
 * i = ⌈ln x / ln γ⌉, i.e. γ^(i−1) < x ≤ γ^i, whose representative 2γ^i / (γ + 1)
 * is within α·x of every x in it. Keys order like the values: 0 for zero,
 * OFFSET + i for positive x, −(OFFSET + i(|x|)) for negative x (OFFSET keeps every
 * double's i above zero). Partial columns: `<name>_buckets` and `<name>_counts`,
 * two array<bigint> of the same length (keys ascending, counts per key).
 *
 * Percentile q of n values is the nearest-rank one: the value of rank
 * max(1, ⌈q·n⌉) in ascending order. The view finds the bucket where the
 * cumulative count reaches that rank and shows its representative; the value
 * of that rank lies in that bucket, so the view's answer is within α of the
 * exact percentile (test/measures.test.ts holds it to that).
 *
 * View columns: one double per quantile, `<name>_p<100·q>` with a `.` written
 * `_`: 0.5 → `<name>_p50`, 0.95 → `<name>_p95`, 0.999 → `<name>_p99_9`.
 */
import { doubleLiteral } from '../filter-compile';
import type { MeasureKind } from './types';
import { needField, NUMERIC_TYPES } from './types';

export interface ApproxPercentileSpec {
  readonly fn: 'approxPercentile';
  readonly field: string;
  /** Quantiles in (0, 1], ascending or not; at most 10. */
  readonly quantiles: readonly number[];
}

export function approxPercentile(fieldName: string, quantiles: readonly number[] = [0.5, 0.95, 0.99]): ApproxPercentileSpec {
  return { fn: 'approxPercentile', field: fieldName, quantiles: [...quantiles] };
}

/** α: every percentile the view shows is within this fraction of the exact one. */
export const PERCENTILE_RELATIVE_ERROR = 0.01;
const GAMMA = (1 + PERCENTILE_RELATIVE_ERROR) / (1 - PERCENTILE_RELATIVE_ERROR);
const LN_GAMMA = Math.log(GAMMA);
/** Above |i| of every finite double (|ln x| ≤ 745, / ln γ ≈ 37,300). */
const OFFSET = 65_536;

/** The bucket key of a value (see the module comment). */
export function percentileKey(x: number): number {
  if (x === 0) return 0;
  const i = Math.ceil(Math.log(Math.abs(x)) / LN_GAMMA);
  return x > 0 ? OFFSET + i : -(OFFSET + i);
}

/** The representative value of a bucket key. */
export function percentileValue(k: number): number {
  if (k === 0) return 0;
  const rep = (2 * Math.pow(GAMMA, Math.abs(k) - OFFSET)) / (GAMMA + 1);
  return k > 0 ? rep : -rep;
}

/** The view column name of quantile q of measure `name`. */
export function percentileColumn(name: string, q: number): string {
  return `${name}_p${String(Math.round(q * 100 * 1e6) / 1e6).replace('.', '_')}`;
}

/** Nearest rank of quantile q among n values, 1-based (the same double arithmetic as the view's SQL). */
export function percentileRank(q: number, n: number): number {
  return Math.max(1, Math.ceil(n * q));
}

/** Per group: bucket key → count. Keys and counts are small integers: the Map stores them unboxed. */
type Histogram = Map<number, number>;

function toArrays(h: Histogram): { keys: number[]; counts: number[] } {
  const keys = [...h.keys()].sort((a, b) => a - b);
  return { keys, counts: keys.map((k) => h.get(k)!) };
}

function histogramOf(row: Record<string, unknown>, name: string, into: Histogram = new Map()): Histogram {
  const keys = (row[`${name}_buckets`] ?? []) as readonly number[];
  const counts = (row[`${name}_counts`] ?? []) as readonly number[];
  for (let j = 0; j < keys.length; j++) into.set(Number(keys[j]), (into.get(Number(keys[j])) ?? 0) + Number(counts[j]));
  return into;
}

/** Percentiles of a merged histogram, as the view computes them. */
export function histogramPercentiles(keys: readonly number[], counts: readonly number[], quantiles: readonly number[]): (number | null)[] {
  const total = counts.reduce((a, b) => a + Number(b), 0);
  return quantiles.map((q) => {
    if (total === 0) return null;
    const rank = percentileRank(q, total);
    let cum = 0;
    for (let j = 0; j < keys.length; j++) {
      cum += Number(counts[j]);
      if (cum >= rank) return percentileValue(Number(keys[j]));
    }
    return null;
  });
}

const g = doubleLiteral(GAMMA);
/** SQL of a key's representative value, as percentileValue. */
const valueSql = (k: string) =>
  `CASE WHEN ${k} = 0 THEN 0e0 WHEN ${k} > 0 THEN 2e0 * power(${g}, ${k} - ${OFFSET}) / (${g} + 1e0) ELSE -2e0 * power(${g}, -${k} - ${OFFSET}) / (${g} + 1e0) END`;

export const approxPercentileKind: MeasureKind<ApproxPercentileSpec> = {
  fn: 'approxPercentile',
  validate(spec, ctx) {
    needField('approxPercentile', spec.field, ctx, NUMERIC_TYPES);
    const qs = spec.quantiles;
    if (!Array.isArray(qs) || qs.length === 0 || qs.length > 10) ctx.fail(ctx.path, `approxPercentile() needs 1 to 10 quantiles, e.g. [0.5, 0.95, 0.99] (given ${JSON.stringify(qs)})`);
    for (const q of qs) {
      if (typeof q !== 'number' || !(q > 0 && q <= 1)) ctx.fail(ctx.path, `approxPercentile() quantiles must be numbers in (0, 1] (given ${JSON.stringify(q)})`);
    }
    const names = qs.map((q) => percentileColumn('', q));
    if (new Set(names).size !== names.length) ctx.fail(ctx.path, `approxPercentile() lists a quantile twice (given ${JSON.stringify(qs)})`);
  },
  inputs: (spec) => [spec.field],
  partialColumns: (name) => [
    { name: `${name}_buckets`, type: 'array<bigint>', comment: `log-bucket histogram keys, relative error ${PERCENTILE_RELATIVE_ERROR}` },
    { name: `${name}_counts`, type: 'array<bigint>', comment: `counts of the keys in ${name}_buckets` },
  ],
  slots: () => 0,
  newState: (): Histogram => new Map(),
  constants: () => percentileKey,
  update: (spec, s) =>
    `{ const v = ${s.read(spec.field)}; if (v != null) { const x = num(v); if (x === x && x !== Infinity && x !== -Infinity) { const k = ${s.constant}(x); const h = objs[${s.i}]; h.set(k, (h.get(k) ?? 0) + 1); } } }`,
  writePartial(row, name, _spec, gs, i) {
    const { keys, counts } = toArrays(gs.objs[i] as Histogram);
    (row as Record<string, unknown>)[`${name}_buckets`] = keys;
    (row as Record<string, unknown>)[`${name}_counts`] = counts;
  },
  clone(row, name) {
    row[`${name}_buckets`] = [...((row[`${name}_buckets`] ?? []) as number[])];
    row[`${name}_counts`] = [...((row[`${name}_counts`] ?? []) as number[])];
  },
  merge(acc, r, name) {
    const h = histogramOf(r as Record<string, unknown>, name, histogramOf(acc as Record<string, unknown>, name));
    const { keys, counts } = toArrays(h);
    (acc as Record<string, unknown>)[`${name}_buckets`] = keys;
    (acc as Record<string, unknown>)[`${name}_counts`] = counts;
  },
  viewColumns: (name, spec) => spec.quantiles.map((q) => ({ name: percentileColumn(name, q), type: 'double' as const })),
  viewSql(name, spec) {
    const k = (j: number) => `${name}_k${j}`;
    const picks = spec.quantiles.map((q, j) => `MIN(CASE WHEN sf_cum >= greatest(1e0, ceil(sf_total * ${doubleLiteral(q)})) THEN sf_bucket END) AS ${k(j)}`);
    const joined =
      `SELECT {keys}, ${picks.join(', ')}\n` +
      `    FROM (SELECT {keys}, sf_bucket, SUM(sf_count) OVER (PARTITION BY {keys} ORDER BY sf_bucket ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS sf_cum, SUM(sf_count) OVER (PARTITION BY {keys}) AS sf_total\n` +
      `      FROM (SELECT {keys}, sf_bucket, SUM(sf_count) AS sf_count FROM {partials} CROSS JOIN UNNEST(${name}_buckets, ${name}_counts) AS b (sf_bucket, sf_count) GROUP BY {keys}, sf_bucket) h) c\n` +
      `    GROUP BY {keys}`;
    return {
      inner: [],
      outer: spec.quantiles.map((q, j) => `${valueSql(k(j))} AS ${percentileColumn(name, q)}`),
      joined: [joined],
    };
  },
  finalize(out, merged, name, spec) {
    const ps = histogramPercentiles((merged[`${name}_buckets`] ?? []) as unknown as number[], (merged[`${name}_counts`] ?? []) as unknown as number[], spec.quantiles);
    spec.quantiles.forEach((q, j) => (out[percentileColumn(name, q)] = ps[j]!));
  },
  // Exact nearest-rank percentiles (memory per group, as COUNT(DISTINCT)): the view is held to α of them.
  backfillSql: (name, spec, o) => {
    const f = o.quote(spec.field);
    return spec.quantiles.map(
      (q) => `element_at(array_sort(array_agg(CAST(${f} AS double)) FILTER (WHERE ${f} IS NOT NULL)), CAST(greatest(1e0, ceil(count(${f}) * ${doubleLiteral(q)})) AS integer)) AS ${percentileColumn(name, q)}`,
    );
  },
  compare(column, bv, sv) {
    const x = Number(bv);
    const y = Number(sv);
    // Relative α of the exact value, plus rounding of the representative (power in SQL, Math.pow in JS).
    const allowed = PERCENTILE_RELATIVE_ERROR * (1 + 1e-9) * Math.abs(x) + 1e-12;
    return Math.abs(x - y) <= allowed ? null : `${column} differs by ${x - y}, more than the ${PERCENTILE_RELATIVE_ERROR * 100} % relative error`;
  },
};
