/**
 * countIf(condition): the events for which a boolean condition is true (NULL
 * counts as false, as SQL's count_if). A bigint per partial, summed by the
 * view. The condition is a boolean expression (core/expr.ts:
 * `countIf(col('amount').gt(100))`) or a filter (core/filter.ts:
 * `countIf(field('amount').gt(100))`), compiled to the handler's JS and to SQL
 * by the compilers the pipeline's filter uses; it may name derived columns.
 *
 * An expression that fails to evaluate for an event (a division by zero, an
 * overflow) counts that event as false rather than failing the batch; the
 * backfill's SQL would fail the query there instead.
 */
import { columnsOf, Expr, isExprNode, toNode, type ExprNode } from '../expr';
import { compileExprPredicate, ExprEvalError, exprToSql } from '../expr-compile';
import type { FilterExpr } from '../filter';
import { compilePredicate, filterToSql } from '../filter-compile';
import type { Row, SchemaField } from '../schema';
import { counterParts } from './count';
import type { MeasureKind } from './types';

export interface CountIfSpec {
  readonly fn: 'countIf';
  readonly condition: FilterExpr | ExprNode;
}

export function countIf(condition: FilterExpr | Expr | ExprNode): CountIfSpec {
  return { fn: 'countIf', condition: condition instanceof Expr || isExprNode(condition) ? toNode(condition) : condition };
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

const typesOf = (schema: readonly SchemaField[]) => new Map(schema.map((f) => [f.name, f.type]));

function predicate(c: CountIfSpec['condition'], schema: readonly SchemaField[]): (row: Row) => boolean {
  if (!isExprNode(c)) return compilePredicate(c, schema);
  const test = compileExprPredicate(c, typesOf(schema));
  return (row) => {
    try {
      return test(row);
    } catch (err) {
      if (err instanceof ExprEvalError) return false;
      throw err;
    }
  };
}

function conditionSql(c: CountIfSpec['condition'], schema: readonly SchemaField[], quote: (n: string) => string): string {
  return isExprNode(c) ? exprToSql(c, typesOf(schema), { column: quote }) : filterToSql(c, schema);
}

const inputsOf = (c: CountIfSpec['condition']) => (isExprNode(c) ? [...columnsOf(c)] : filterFields(c));

export const countIfKind: MeasureKind<CountIfSpec> = {
  fn: 'countIf',
  validate(spec, ctx) {
    const c = spec.condition;
    if (!c || typeof c !== 'object') ctx.fail(ctx.path, 'countIf() needs a condition, e.g. countIf(col("amount").gt(100))');
    for (const f of inputsOf(c)) {
      if (!ctx.fields.has(f)) ctx.fail(ctx.path, `countIf() condition names field ${JSON.stringify(f)}, which is not in the schema (fields: ${[...ctx.fields.keys()].join(', ')})`);
    }
    try {
      predicate(c, ctx.schema);
      conditionSql(c, ctx.schema, (n) => n);
    } catch (err) {
      ctx.fail(ctx.path, `countIf() condition: ${(err as Error).message}`);
    }
  },
  normalize: (spec) => ({ fn: 'countIf', condition: isExprNode(spec.condition) ? toNode(spec.condition) : spec.condition }),
  inputs: (spec) => inputsOf(spec.condition),
  ...counterParts<CountIfSpec>(),
  constants: (spec, schema) => predicate(spec.condition, schema),
  update: (_spec, s) => `if (${s.constant}(row)) nums[${s.at}] += 1;`,
  // The raw table's columns (and the backfill's derived ones) have the pipeline's names, so the condition reads them as they are.
  backfillSql: (name, spec, o) => [`count_if(${conditionSql(spec.condition, o.schema, o.quote)}) AS ${name}`],
};
