/**
 * approxDistinct(field): a KMV sketch per partial (the k smallest hashes, as
 * array<bigint>); the view unions the sketches and estimates (kmv-sketch.ts
 * for the estimator and its error).
 */
import { HASH_SPACE, KMV_K, KmvSketch, kmvEstimate } from '../kmv-sketch';
import type { MeasureKind } from './types';
import { needField } from './types';

export interface ApproxDistinctSpec {
  readonly fn: 'approxDistinct';
  readonly field: string;
}

/** Approximate distinct count (KMV sketch, see kmv-sketch.ts for the error bound). */
export function approxDistinct(fieldName: string): ApproxDistinctSpec {
  return { fn: 'approxDistinct', field: fieldName };
}

/** Relative standard error of the view's KMV estimate above k distinct values: 1/√(k−2) (≈ 3.1 % at k = 1024). */
export const KMV_RELATIVE_ERROR = 1 / Math.sqrt(KMV_K - 2);

export const approxDistinctKind: MeasureKind<ApproxDistinctSpec> = {
  fn: 'approxDistinct',
  validate(spec, ctx) {
    needField('approxDistinct', spec.field, ctx);
  },
  inputs: (spec) => [spec.field],
  partialColumns: (name) => [{ name: `${name}_sketch`, type: 'array<bigint>', comment: `KMV sketch, k=${KMV_K}` }],
  slots: () => 0,
  newState: () => new KmvSketch(KMV_K),
  update: (spec, s) => `{ const v = ${s.read(spec.field)}; if (v != null) objs[${s.i}].add(typeof v === 'string' ? v : String(v)); }`,
  // Sketch columns hold the k smallest hashes as numbers (BIGINT in the lake).
  writePartial(row, name, _spec, g, i) {
    (row as Record<string, unknown>)[`${name}_sketch`] = (g.objs[i] as KmvSketch).values();
  },
  release: (state) => (state as KmvSketch).release(),
  clone(row, name) {
    row[`${name}_sketch`] = [...(row[`${name}_sketch`] as number[])];
  },
  merge(acc, r, name) {
    const k = `${name}_sketch`;
    const sketch = new KmvSketch(KMV_K);
    sketch.merge(acc[k] as unknown as number[]);
    sketch.merge(r[k] as unknown as number[]);
    (acc as Record<string, unknown>)[k] = sketch.values();
  },
  viewColumns: (name) => [{ name, type: 'bigint' }],
  viewSql: (name) => ({
    inner: [`slice(array_sort(array_distinct(flatten(array_agg(${name}_sketch)))), 1, ${KMV_K}) AS ${name}_kmv`],
    outer: [
      `CAST(CASE WHEN cardinality(${name}_kmv) < ${KMV_K} THEN cardinality(${name}_kmv) ` +
        `ELSE round(${KMV_K - 1} * ${HASH_SPACE}.0 / element_at(${name}_kmv, ${KMV_K})) END AS bigint) AS ${name}`,
    ],
  }),
  finalize(out, merged, name) {
    out[name] = kmvEstimate(merged[`${name}_sketch`] as unknown as number[], KMV_K);
  },
  // Athena's approx_distinct: HyperLogLog, 2.3 % standard error by default (Athena/Trino docs).
  backfillSql: (name, spec, o) => [o.exactDistinct ? `COUNT(DISTINCT ${o.quote(spec.field)}) AS ${name}` : `approx_distinct(${o.quote(spec.field)}) AS ${name}`],
  compare(_c, bv, sv, _s, o) {
    const x = Number(bv);
    const y = Number(sv);
    const kmvErr = y < KMV_K ? 0 : KMV_RELATIVE_ERROR;
    const sigma = Math.sqrt(kmvErr ** 2 + o.batchErr ** 2);
    const allowed = o.sigmas * sigma * Math.max(x, y);
    return Math.abs(x - y) <= allowed ? null : `distinct estimates differ by ${x - y}, more than ${o.sigmas} × ${(sigma * 100).toFixed(1)} % combined standard error`;
  },
};
