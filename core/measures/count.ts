/** count() = COUNT(*), count(field) = COUNT(field): a bigint per partial, summed by the view. */
import type { MeasureKind } from './types';
import { needField, num } from './types';

export interface CountSpec {
  readonly fn: 'count';
  readonly field?: string;
}

/** COUNT(*) when no field is given; COUNT(field) counts non-null values. */
export function count(fieldName?: string): CountSpec {
  return fieldName === undefined ? { fn: 'count' } : { fn: 'count', field: fieldName };
}

export const countKind: MeasureKind<CountSpec> = {
  fn: 'count',
  validate(spec, ctx) {
    if (spec.field !== undefined) needField('count', spec.field, ctx);
  },
  inputs: (spec) => (spec.field === undefined ? [] : [spec.field]),
  ...counterParts<CountSpec>(),
  update: (spec, s) => (spec.field === undefined ? `nums[${s.at}] += 1;` : `if (${s.read(spec.field)} != null) nums[${s.at}] += 1;`),
  backfillSql: (name, spec, o) => [`COUNT(${spec.field === undefined ? '*' : o.quote(spec.field)}) AS ${name}`],
};

/**
 * What every counting kind (count, countIf) shares: one bigint slot per partial,
 * summed by the view, 0 for a window without events, compared exactly.
 */
export function counterParts<S extends { readonly fn: string }>(): Pick<
  MeasureKind<S>, 'partialColumns' | 'slots' | 'writePartial' | 'merge' | 'viewColumns' | 'viewSql' | 'finalize' | 'compare'
> {
  return {
    partialColumns: (name) => [{ name, type: 'bigint' }],
    slots: () => 1,
    writePartial(row, name, _spec, g, _i, at) {
      row[name] = g.nums[at]!;
    },
    merge(acc, r, name) {
      acc[name] = num(acc[name]) + num(r[name]);
    },
    viewColumns: (name) => [{ name, type: 'bigint' }],
    viewSql: (name) => ({ inner: [`SUM(${name}) AS ${name}`], outer: [name] }),
    finalize(out, merged, name) {
      out[name] = merged[name] ?? 0;
    },
    compare: (_c, bv, sv) => (bv === sv || Number(bv) === Number(sv) ? null : `counts differ by ${Number(bv) - Number(sv)}`),
  };
}
