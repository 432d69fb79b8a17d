/**
 * The measure registry: every measure kind, by its `fn`. A new kind is one
 * module (see types.ts MeasureKind) and one line here (docs/architecture.md
 * "Measures").
 */
import { approxDistinctKind } from './approx-distinct';
import { approxPercentileKind } from './approx-percentile';
import { avgKind } from './avg';
import { countKind } from './count';
import { countIfKind } from './count-if';
import { maxByKind, minByKind } from './min-by';
import { maxKind, minKind } from './min-max';
import { sumKind } from './sum';
import type { MeasureKind } from './types';

export const MEASURES = {
  count: countKind,
  sum: sumKind,
  min: minKind,
  max: maxKind,
  avg: avgKind,
  approxDistinct: approxDistinctKind,
  countIf: countIfKind,
  minBy: minByKind,
  maxBy: maxByKind,
  approxPercentile: approxPercentileKind,
} as const;

type SpecOf<K> = K extends MeasureKind<infer S> ? S : never;
/** A measure as written in a definition: the spec of one of the registered kinds. */
export type MeasureSpec = { [F in keyof typeof MEASURES]: SpecOf<(typeof MEASURES)[F]> }[keyof typeof MEASURES];
export type MeasureFn = MeasureSpec['fn'];

/** The kind of a measure (its module's object). Throws for an unknown `fn`. */
export function measureKind(spec: { readonly fn: string }): MeasureKind<MeasureSpec> {
  const k = isMeasureFn(spec.fn) ? (MEASURES as unknown as Record<string, MeasureKind<MeasureSpec>>)[spec.fn] : undefined;
  if (!k) throw new Error(`unknown measure ${JSON.stringify(spec.fn)} (known: ${Object.keys(MEASURES).join(', ')})`);
  return k;
}

export function isMeasureFn(fn: unknown): fn is MeasureFn {
  return typeof fn === 'string' && Object.prototype.hasOwnProperty.call(MEASURES, fn);
}

export { count } from './count';
export { sum } from './sum';
export { min, max } from './min-max';
export { avg } from './avg';
export { approxDistinct, KMV_RELATIVE_ERROR } from './approx-distinct';
export { countIf } from './count-if';
export { minBy, maxBy } from './min-by';
export { approxPercentile, PERCENTILE_RELATIVE_ERROR, percentileColumn, percentileKey, percentileValue, percentileRank, histogramPercentiles } from './approx-percentile';
export type { MeasureKind, MeasureContext, MeasureField, ViewSql, Tolerance } from './types';
