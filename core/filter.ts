/**
 * Declarative filter expressions. One expression compiles to three targets:
 * a JS predicate (the handler), an Athena/Trino SQL WHERE clause (queries and
 * backfill) and, where expressible, Lambda FilterCriteria patterns.
 *
 * Expressions are plain JSON objects so that a pipeline definition stays
 * serialisable. Build them with `field(...)`, `and`, `or`, `not`.
 */
import { Expr, isExprNode, toNode, type ExprNode } from './expr';

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

/**
 * AND of filters; given an expression (core/expr.ts) among its arguments, the
 * AND of expressions (filters among them converted), so that `and`, `or` and
 * `not` serve both languages.
 */
export function and(...args: FilterExpr[]): FilterExpr;
export function and(...args: (FilterExpr | Expr | ExprNode)[]): Expr;
export function and(...args: (FilterExpr | Expr | ExprNode)[]): FilterExpr | Expr {
  return args.some(isExprNode) ? new Expr({ expr: 'and', args: args.map(asExpr) }) : { op: 'and', args: args as FilterExpr[] };
}

export function or(...args: FilterExpr[]): FilterExpr;
export function or(...args: (FilterExpr | Expr | ExprNode)[]): Expr;
export function or(...args: (FilterExpr | Expr | ExprNode)[]): FilterExpr | Expr {
  return args.some(isExprNode) ? new Expr({ expr: 'or', args: args.map(asExpr) }) : { op: 'or', args: args as FilterExpr[] };
}

export function not(arg: FilterExpr): FilterExpr;
export function not(arg: Expr | ExprNode): Expr;
export function not(arg: FilterExpr | Expr | ExprNode): FilterExpr | Expr {
  return isExprNode(arg) ? new Expr({ expr: 'not', arg: toNode(arg) }) : { op: 'not', arg: arg as FilterExpr };
}

/** An expression node, or a filter of this language as the expression it means (same three-valued result). */
function asExpr(x: FilterExpr | Expr | ExprNode): ExprNode {
  if (isExprNode(x)) return toNode(x);
  const e = x as FilterExpr;
  const c = (name: string) => ({ expr: 'col', name }) as const;
  switch (e.op) {
    case 'and': case 'or': return { expr: e.op, args: e.args.map(asExpr) };
    case 'not': return { expr: 'not', arg: asExpr(e.arg) };
    case 'exists': return { expr: 'isNotNull', arg: c(e.field) };
    case 'isNull': return { expr: 'isNull', arg: c(e.field) };
    case 'in': return { expr: 'or', args: e.values.map((v) => ({ expr: 'cmp', op: 'eq', args: [c(e.field), toNode(v)] }) as ExprNode) };
    // startsWith(p): the first |p| code points equal p (NULL on NULL, as starts_with).
    case 'prefix': return { expr: 'cmp', op: 'eq', args: [{ expr: 'fn', fn: 'substr', args: [c(e.field), toNode(1), toNode([...e.prefix].length)] }, toNode(e.prefix)] };
    default: return { expr: 'cmp', op: e.op, args: [c(e.field), toNode(e.value)] };
  }
}
