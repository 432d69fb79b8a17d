/** avg(field): sum and count per partial; the view divides the sums of both. */
import type { MeasureKind } from './types';
import { closeTo, needField, num, NUMERIC_TYPES } from './types';

export interface AvgSpec {
  readonly fn: 'avg';
  readonly field: string;
}

export function avg(fieldName: string): AvgSpec {
  return { fn: 'avg', field: fieldName };
}

export const avgKind: MeasureKind<AvgSpec> = {
  fn: 'avg',
  validate(spec, ctx) {
    needField('avg', spec.field, ctx, NUMERIC_TYPES);
  },
  inputs: (spec) => [spec.field],
  partialColumns: (name) => [{ name: `${name}_sum`, type: 'double' }, { name: `${name}_count`, type: 'bigint' }],
  slots: () => 2,
  update: (spec, s) => `{ const v = ${s.read(spec.field)}; if (v != null) { nums[${s.at}] += num(v); nums[${s.at + 1}] += 1; } }`,
  writePartial(row, name, _spec, g, _i, at) {
    row[`${name}_sum`] = g.nums[at]!;
    row[`${name}_count`] = g.nums[at + 1]!;
  },
  merge(acc, r, name) {
    acc[`${name}_sum`] = num(acc[`${name}_sum`]) + num(r[`${name}_sum`]);
    acc[`${name}_count`] = num(acc[`${name}_count`]) + num(r[`${name}_count`]);
  },
  viewColumns: (name) => [{ name, type: 'double' }],
  viewSql: (name) => ({
    inner: [`SUM(${name}_sum) AS ${name}_sum`, `SUM(${name}_count) AS ${name}_count`],
    outer: [`${name}_sum / NULLIF(CAST(${name}_count AS double), 0) AS ${name}`],
  }),
  finalize(out, merged, name) {
    const c = num(merged[`${name}_count`]);
    out[name] = c === 0 ? null : num(merged[`${name}_sum`]) / c;
  },
  backfillSql: (name, spec, o) => [`AVG(CAST(${o.quote(spec.field)} AS double)) AS ${name}`],
  compare: (_c, bv, sv, _s, o) => closeTo(bv!, sv!, o.tol),
};
