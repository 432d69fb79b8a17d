/** min(field), max(field): the extreme per partial (null until a value arrives); the view takes MIN of mins, MAX of maxes. */
import type { MeasureKind } from './types';
import { needField, nullableOp, ORDERED_TYPES, sameScalar, widened } from './types';

export interface MinSpec {
  readonly fn: 'min';
  readonly field: string;
}
export interface MaxSpec {
  readonly fn: 'max';
  readonly field: string;
}

export function min(fieldName: string): MinSpec {
  return { fn: 'min', field: fieldName };
}
export function max(fieldName: string): MaxSpec {
  return { fn: 'max', field: fieldName };
}

function extremeKind<S extends MinSpec | MaxSpec>(fn: S['fn']): MeasureKind<S> {
  const less = fn === 'min';
  const kind: MeasureKind<S> = {
    fn,
    validate(spec, ctx) {
      needField(fn, spec.field, ctx, ORDERED_TYPES);
    },
    inputs: (spec) => [spec.field],
    partialColumns: (name, spec, type) => [{ name, type: widened(type(spec.field)) }],
    slots: () => 1,
    update: (spec, s) =>
      `{ const v = ${s.read(spec.field)}; if (v != null) { const x = num(v); if (seen[${s.i}] === 0 || x ${less ? '<' : '>'} nums[${s.at}]) nums[${s.at}] = x; seen[${s.i}] = 1; } }`,
    writePartial(row, name, _spec, g, i, at) {
      row[name] = g.seen[i] === 0 ? null : g.nums[at]!;
    },
    merge(acc, r, name) {
      acc[name] = nullableOp(acc[name], r[name], less ? Math.min : Math.max);
    },
    viewColumns: (name, spec, type) => kind.partialColumns(name, spec, type),
    viewSql: (name) => ({ inner: [`${fn.toUpperCase()}(${name}) AS ${name}`], outer: [name] }),
    finalize(out, merged, name) {
      out[name] = merged[name] ?? null;
    },
    backfillSql: (name, spec, o) => [`${fn.toUpperCase()}(${o.quote(spec.field)}) AS ${name}`],
    // Timestamps compare as text; numbers as numbers (1.0 and 1 are equal).
    compare: (_c, bv, sv) => (sameScalar(bv!, sv!) ? null : `${fn} differs`),
  };
  return kind;
}

export const minKind = extremeKind<MinSpec>('min');
export const maxKind = extremeKind<MaxSpec>('max');
