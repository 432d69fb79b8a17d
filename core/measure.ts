/**
 * Aggregate measures as written in a definition. Each one has a mergeable
 * partial form (see partial-aggregate.ts): count, sum, min, max, avg as
 * sum + count, and approximate distinct count as a KMV sketch.
 */
export type MeasureSpec =
  | { readonly fn: 'count'; readonly field?: string }
  | { readonly fn: 'sum' | 'min' | 'max' | 'avg'; readonly field: string }
  | { readonly fn: 'approxDistinct'; readonly field: string };

/** COUNT(*) when no field is given; COUNT(field) counts non-null values. */
export function count(fieldName?: string): MeasureSpec {
  return fieldName === undefined ? { fn: 'count' } : { fn: 'count', field: fieldName };
}
export function sum(fieldName: string): MeasureSpec {
  return { fn: 'sum', field: fieldName };
}
export function min(fieldName: string): MeasureSpec {
  return { fn: 'min', field: fieldName };
}
export function max(fieldName: string): MeasureSpec {
  return { fn: 'max', field: fieldName };
}
export function avg(fieldName: string): MeasureSpec {
  return { fn: 'avg', field: fieldName };
}
/** Approximate distinct count (KMV sketch, see kmv-sketch.ts for the error bound). */
export function approxDistinct(fieldName: string): MeasureSpec {
  return { fn: 'approxDistinct', field: fieldName };
}
