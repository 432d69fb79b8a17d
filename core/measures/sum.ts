/** sum(field): the sum per partial (null until a value arrives), summed by the view. */
import type { MeasureKind } from './types';
import { closeTo, needField, nullableOp, NUMERIC_TYPES } from './types';

export interface SumSpec {
  readonly fn: 'sum';
  readonly field: string;
}

export function sum(fieldName: string): SumSpec {
  return { fn: 'sum', field: fieldName };
}

export const sumKind: MeasureKind<SumSpec> = {
  fn: 'sum',
  validate(spec, ctx) {
    needField('sum', spec.field, ctx, NUMERIC_TYPES);
  },
  inputs: (spec) => [spec.field],
  partialColumns: (name, spec, type) => [{ name, type: type(spec.field) === 'double' ? 'double' : 'bigint' }],
  slots: () => 1,
  update: (spec, s) => `{ const v = ${s.read(spec.field)}; if (v != null) { nums[${s.at}] += num(v); seen[${s.i}] = 1; } }`,
  writePartial(row, name, _spec, g, i, at) {
    row[name] = g.seen[i] === 0 ? null : g.nums[at]!;
  },
  merge(acc, r, name) {
    acc[name] = nullableOp(acc[name], r[name], (a, b) => a + b);
  },
  viewColumns: (name, spec, type) => sumKind.partialColumns(name, spec, type),
  viewSql: (name) => ({ inner: [`SUM(${name}) AS ${name}`], outer: [name] }),
  finalize(out, merged, name) {
    out[name] = merged[name] ?? null;
  },
  backfillSql: (name, spec, o) => [`SUM(${o.quote(spec.field)}) AS ${name}`],
  compare: (_c, bv, sv, _s, o) => closeTo(bv!, sv!, o.tol),
};

