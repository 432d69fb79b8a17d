/**
 * minBy(field, by) / maxBy(field, by): the value of `field` in the event with
 * the smallest / largest `by`, over events where both are non-null.
 *
 * Ties (equal `by`): minBy takes the smallest field value among them, maxBy
 * the largest, i.e. the field of the least / greatest (by, field) pair in
 * lexicographic order. That rule is a total order, so the JS merge and the
 * view's SQL merge pick the same value whatever the batches. Strings compare
 * by code point (as VARCHAR in Trino and DuckDB).
 *
 * Partial columns: `<name>` (the field's value) and `<name>_by` (its `by`).
 * The view: `MIN(<name>_by) OVER` the window and group marks the best `by`,
 * then the least (greatest) field value among the partials that have it.
 */
import { compareCodePoints } from '../filter-compile';
import type { FieldValue, Row } from '../schema';
import type { MeasureKind } from './types';
import { needField, num, ORDERED_TYPES, sameScalar, widened } from './types';

export interface MinBySpec {
  readonly fn: 'minBy';
  readonly field: string;
  readonly by: string;
}
export interface MaxBySpec {
  readonly fn: 'maxBy';
  readonly field: string;
  readonly by: string;
}

/** The value of `field` at the smallest `by` (ties: the smallest value). */
export function minBy(fieldName: string, by: string): MinBySpec {
  return { fn: 'minBy', field: fieldName, by };
}
/** The value of `field` at the largest `by` (ties: the largest value). */
export function maxBy(fieldName: string, by: string): MaxBySpec {
  return { fn: 'maxBy', field: fieldName, by };
}

/** Total order on field values of one type (code points for strings, false < true). */
export function compareValues(a: FieldValue, b: FieldValue): number {
  if (typeof a === 'string' && typeof b === 'string') return compareCodePoints(a, b);
  const x = typeof a === 'boolean' ? Number(a) : a;
  const y = typeof b === 'boolean' ? Number(b) : b;
  return (x as number) < (y as number) ? -1 : (x as number) > (y as number) ? 1 : 0;
}

function byKind<S extends MinBySpec | MaxBySpec>(fn: S['fn']): MeasureKind<S> {
  const least = fn === 'minBy';
  const agg = least ? 'MIN' : 'MAX';
  // sign · compare > 0 means "better": smaller for minBy, larger for maxBy.
  const better = (by: number, v: FieldValue, bestBy: number, bestV: FieldValue) =>
    least ? by < bestBy || (by === bestBy && compareValues(v, bestV) < 0) : by > bestBy || (by === bestBy && compareValues(v, bestV) > 0);
  const kind: MeasureKind<S> = {
    fn,
    validate(spec, ctx) {
      needField(fn, spec.field, ctx, undefined, 'a field and a `by` field');
      needField(fn, spec.by, ctx, ORDERED_TYPES, 'a `by` field');
    },
    inputs: (spec) => [...new Set([spec.field, spec.by])],
    partialColumns: (name, spec, type) => [{ name, type: widened(type(spec.field)) }, { name: `${name}_by`, type: widened(type(spec.by)) }],
    slots: () => 1,
    constants: () => compareValues,
    // Ties are rare: the value comparison (a call) only runs when the by values are equal.
    update: (spec, s) =>
      `{ const v = ${s.read(spec.field)}; const b = ${s.read(spec.by)}; if (v != null && b != null) { const x = num(b);
      if (seen[${s.i}] === 0 || x ${least ? '<' : '>'} nums[${s.at}] || (x === nums[${s.at}] && ${s.constant}(v, vals[${s.i}]) ${least ? '<' : '>'} 0)) { nums[${s.at}] = x; vals[${s.i}] = v; seen[${s.i}] = 1; } } }`,
    writePartial(row, name, _spec, g, i, at) {
      row[name] = g.seen[i] === 0 ? null : g.vals[i]!;
      row[`${name}_by`] = g.seen[i] === 0 ? null : g.nums[at]!;
    },
    merge(acc: Row, r: Row, name) {
      const rb = r[`${name}_by`];
      if (rb === null || rb === undefined) return;
      const ab = acc[`${name}_by`];
      if (ab === null || ab === undefined || better(num(rb), r[name]!, num(ab), acc[name]!)) {
        acc[name] = r[name]!;
        acc[`${name}_by`] = rb;
      }
    },
    viewColumns: (name, spec, type) => [{ name, type: widened(type(spec.field)) }],
    viewSql: (name) => ({
      pre: [`${agg}(${name}_by) OVER (PARTITION BY {partition}) AS ${name}_best`],
      inner: [`${agg}(CASE WHEN ${name}_by = ${name}_best THEN ${name} END) AS ${name}`],
      outer: [name],
    }),
    finalize(out, merged, name) {
      out[name] = merged[name] ?? null;
    },
    backfillSql: (name, spec, o) => {
      const v = o.quote(spec.field);
      const b = o.quote(spec.by);
      return {
        pre: [`${agg}(CASE WHEN ${v} IS NOT NULL THEN ${b} END) OVER (PARTITION BY {partition}) AS ${name}_best`],
        items: [`${agg}(CASE WHEN ${b} = ${name}_best THEN ${v} END) AS ${name}`],
      };
    },
    compare: (_c, bv, sv) => (sameScalar(bv!, sv!) ? null : `${fn} differs`),
  };
  return kind;
}

export const minByKind = byKind<MinBySpec>('minBy');
export const maxByKind = byKind<MaxBySpec>('maxBy');
