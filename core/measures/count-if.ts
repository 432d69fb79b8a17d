/**
 * countIf(condition): the events for which a boolean condition is true (NULL
 * counts as false, as SQL's count_if). A bigint per partial, summed by the
 * view. The condition is a filter expression (filter.ts), compiled to the
 * handler's JS predicate and to SQL by the same compilers the filter uses.
 */
import type { FilterExpr } from '../filter';
import { compilePredicate, filterToSql } from '../filter-compile';
import type { MeasureKind } from './types';
import { num } from './types';

export interface CountIfSpec {
  readonly fn: 'countIf';
  readonly condition: FilterExpr;
}

export function countIf(condition: FilterExpr): CountIfSpec {
  return { fn: 'countIf', condition };
}

/** The fields a filter expression reads. */
export function filterFields(e: FilterExpr): string[] {
  switch (e.op) {
    case 'and':
    case 'or':
      return [...new Set(e.args.flatMap(filterFields))];
    case 'not':
      return filterFields(e.arg);
    default:
      return [e.field];
  }
}

export const countIfKind: MeasureKind<CountIfSpec> = {
  fn: 'countIf',
  validate(spec, ctx) {
    if (!spec.condition || typeof spec.condition !== 'object') ctx.fail(ctx.path, 'countIf() needs a condition, e.g. countIf(field("amount").gt(100))');
    for (const f of filterFields(spec.condition)) {
      if (!ctx.fields.has(f)) ctx.fail(ctx.path, `countIf() condition names field ${JSON.stringify(f)}, which is not in the schema (fields: ${[...ctx.fields.keys()].join(', ')})`);
    }
    try {
      compilePredicate(spec.condition, ctx.schema);
      filterToSql(spec.condition, ctx.schema);
    } catch (err) {
      ctx.fail(ctx.path, `countIf() condition: ${(err as Error).message}`);
    }
  },
  inputs: (spec) => filterFields(spec.condition),
  partialColumns: (name) => [{ name, type: 'bigint' }],
  slots: () => 1,
  constants: (spec, schema) => compilePredicate(spec.condition, schema),
  update: (_spec, s) => `if (${s.constant}(row)) nums[${s.at}] += 1;`,
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
  // The raw table's columns have the schema's names, so the filter's SQL reads them as they are.
  backfillSql: (name, spec, o) => [`count_if(${filterToSql(spec.condition, o.schema)}) AS ${name}`],
  compare: (_c, bv, sv) => (Number(bv) === Number(sv) ? null : `counts differ by ${Number(bv) - Number(sv)}`),
};
