/**
 * Declarative filter expressions. One expression compiles to three targets:
 * a JS predicate (the handler), an Athena/Trino SQL WHERE clause (queries and
 * backfill) and, where expressible, Lambda FilterCriteria patterns.
 *
 * Expressions are plain JSON objects so that a pipeline definition stays
 * serialisable. Build them with `field(...)`, `and`, `or`, `not`.
 */
export type Scalar = string | number | boolean;

export type CompareOp = 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte';

export type FilterExpr =
  | { readonly op: CompareOp; readonly field: string; readonly value: Scalar }
  | { readonly op: 'in'; readonly field: string; readonly values: readonly Scalar[] }
  | { readonly op: 'exists'; readonly field: string }
  | { readonly op: 'isNull'; readonly field: string }
  | { readonly op: 'prefix'; readonly field: string; readonly prefix: string }
  | { readonly op: 'and'; readonly args: readonly FilterExpr[] }
  | { readonly op: 'or'; readonly args: readonly FilterExpr[] }
  | { readonly op: 'not'; readonly arg: FilterExpr };

/** A reference to a schema field, from which comparisons are built. */
export class FieldRef {
  constructor(readonly name: string) {}
  eq(value: Scalar): FilterExpr { return { op: 'eq', field: this.name, value }; }
  ne(value: Scalar): FilterExpr { return { op: 'ne', field: this.name, value }; }
  gt(value: Scalar): FilterExpr { return { op: 'gt', field: this.name, value }; }
  gte(value: Scalar): FilterExpr { return { op: 'gte', field: this.name, value }; }
  lt(value: Scalar): FilterExpr { return { op: 'lt', field: this.name, value }; }
  lte(value: Scalar): FilterExpr { return { op: 'lte', field: this.name, value }; }
  in(values: readonly Scalar[]): FilterExpr { return { op: 'in', field: this.name, values: [...values] }; }
  /** Present and not null (SQL `IS NOT NULL`). */
  exists(): FilterExpr { return { op: 'exists', field: this.name }; }
  isNotNull(): FilterExpr { return this.exists(); }
  /** Absent or null (SQL `IS NULL`). */
  isNull(): FilterExpr { return { op: 'isNull', field: this.name }; }
  startsWith(prefix: string): FilterExpr { return { op: 'prefix', field: this.name, prefix }; }
}

export function field(name: string): FieldRef {
  return new FieldRef(name);
}

export function and(...args: FilterExpr[]): FilterExpr {
  return { op: 'and', args };
}

export function or(...args: FilterExpr[]): FilterExpr {
  return { op: 'or', args };
}

export function not(arg: FilterExpr): FilterExpr {
  return { op: 'not', arg };
}
