/**
 * Where a pipeline meets expressions: the validation of `derive` and of a
 * `filter` given as an expression, the pipeline's columns (schema fields, then
 * derived columns, which groupBy, measures and filters resolve alike), and the
 * filter's three targets whichever language it is written in.
 */
import { compileExprPredicate, exprToSql, type DerivedColumn } from './expr-compile';
import { isExprNode, toNode, typeOfExpr, ExprTypeError, type ColumnTypes, type ExprLike, type ExprNode, type ExprType } from './expr';
import type { FilterExpr } from './filter';
import { compilePredicate, FilterCompileError, filterToCriteria, filterToSql, quoteIdentifier, type FilterCriteriaOptions, type FilterCriteriaResult } from './filter-compile';
import type { Row, SchemaField } from './schema';

type Fail = (path: string, rule: string) => never;

const IDENT = /^[a-z_][a-z0-9_]{0,127}$/;
/** Columns the lake tables add next to the event's (partitions, late-table extras, compaction's `_from`). */
const RESERVED = new Set(['dt', 'hour', 'arrival_time', 'lateness_ms', '_from']);

/** Column name → type of the given fields. */
export function columnTypesOf(fields: readonly { readonly name: string; readonly type: ExprType }[]): Map<string, ExprType> {
  return new Map(fields.map((f) => [f.name, f.type]));
}

/**
 * Validates `derive` against the schema: names like field names, none taken,
 * each expression typed against the schema and the derived columns declared
 * before it. Returns the columns in declaration order, nodes plain.
 */
export function checkDerive(derive: Readonly<Record<string, ExprLike>> | undefined, schema: readonly SchemaField[], fail: Fail): DerivedColumn[] {
  if (derive === undefined) return [];
  if (derive === null || typeof derive !== 'object' || Array.isArray(derive)) return fail('derive', 'must be an object of column name → expression');
  const columns = columnTypesOf(schema);
  const out: DerivedColumn[] = [];
  for (const [name, e] of Object.entries(derive)) {
    const path = `derive.${name}`;
    if (!IDENT.test(name)) fail(path, `column names must match ${IDENT}`);
    if (columns.has(name)) fail(path, `"${name}" is already ${schema.some((f) => f.name === name) ? 'a schema field' : 'a derived column'}`);
    if (RESERVED.has(name)) fail(path, `"${name}" is reserved for a column the lake tables add (${[...RESERVED].join(', ')})`);
    let node: ExprNode;
    let type: ExprType;
    try {
      node = toNode(e);
      type = typeOfExpr(node, columns);
    } catch (err) {
      if (err instanceof ExprTypeError) return fail(path, err.message);
      throw err;
    }
    out.push({ name, expr: node, type });
    columns.set(name, type);
  }
  return out;
}

/** Validates a filter given as an expression: it must type as a boolean over the pipeline's columns. */
export function checkExprFilter(e: ExprLike, columns: ColumnTypes, fail: Fail): ExprNode {
  try {
    const node = toNode(e);
    const t = typeOfExpr(node, columns);
    if (t !== 'boolean') fail('filter', `must be a boolean expression (this one is ${t})`);
    return node;
  } catch (err) {
    if (err instanceof ExprTypeError) return fail('filter', err.message);
    throw err;
  }
}

/** What the functions below need of a pipeline (a validated Pipeline has it). */
export interface PipelineColumnsSource {
  readonly schema: readonly SchemaField[];
  readonly derive?: readonly DerivedColumn[];
  readonly filter: FilterExpr | ExprNode | null;
}

/** The pipeline's event columns: schema fields, then derived columns (optional: a derived value may be NULL). */
export function pipelineColumns(p: PipelineColumnsSource): SchemaField[] {
  return [...p.schema, ...(p.derive ?? []).map((d) => ({ name: d.name, type: d.type, required: false }))];
}

export function pipelineColumnTypes(p: PipelineColumnsSource): Map<string, ExprType> {
  return columnTypesOf(pipelineColumns(p));
}

/** The handler's filter predicate (TRUE-only); an expression filter may throw ExprEvalError. */
export function compilePipelineFilter(p: PipelineColumnsSource): ((row: Row) => boolean) | null {
  const f = p.filter;
  if (f === null) return null;
  return isExprNode(f) ? compileExprPredicate(f, pipelineColumnTypes(p)) : compilePredicate(f, pipelineColumns(p));
}

/**
 * SQL of every derived column of `p` in terms of the schema's columns (a
 * derived column read by a later one is inlined), keyed by name.
 */
export function derivedColumnSql(p: PipelineColumnsSource, column: (name: string) => string = quoteIdentifier): Map<string, string> {
  const sql = new Map<string, string>();
  const types = columnTypesOf(p.schema);
  for (const d of p.derive ?? []) {
    sql.set(d.name, exprToSql(d.expr, types, { column: (n) => sql.get(n) ?? column(n) }));
    types.set(d.name, d.type);
  }
  return sql;
}

/**
 * The filter as an SQL boolean over a relation with the pipeline's columns
 * (schema fields and derived columns by name, as the raw table has them).
 */
export function pipelineFilterSql(p: PipelineColumnsSource, column: (name: string) => string = quoteIdentifier): string | null {
  const f = p.filter;
  if (f === null) return null;
  if (isExprNode(f)) return exprToSql(f, pipelineColumnTypes(p), { column });
  return filterToSql(f, pipelineColumns(p));
}

/**
 * The filter as Lambda FilterCriteria where expressible: written in the filter
 * language or as an expression of the same shape (comparisons of a column with
 * a literal, IS [NOT] NULL, AND/OR/NOT), on top-level schema fields only
 * (derived columns are not in the record; nested paths are not matched).
 */
export function pipelineFilterCriteria(p: PipelineColumnsSource, source: 'kinesis' | 'kafka', options: FilterCriteriaOptions = {}): FilterCriteriaResult {
  const f = p.filter;
  if (f === null) return { expressible: true, filters: [] };
  const filter = isExprNode(f) ? exprToFilter(f) : f;
  if (filter === null) return { expressible: false, reason: 'the filter expression uses functions, arithmetic or column-to-column comparisons, which Lambda FilterCriteria cannot express' };
  const fields = new Map(p.schema.map((x) => [x.name, x]));
  for (const name of filterFields(filter)) {
    const x = fields.get(name);
    if (!x) return { expressible: false, reason: `the filter reads derived column "${name}", which is not in the record Lambda matches` };
    if (x.path) return { expressible: false, reason: `the filter reads field "${name}" from the nested path ${x.path.join('.')}, which Shardflow does not express as FilterCriteria` };
  }
  try {
    return filterToCriteria(filter, p.schema, source, options);
  } catch (err) {
    // A literal of another numeric kind than its field (int field, double literal): fine as an expression, not as a pattern.
    if (err instanceof FilterCompileError) return { expressible: false, reason: err.message };
    throw err;
  }
}

function filterFields(e: FilterExpr, out: Set<string> = new Set()): Set<string> {
  if (e.op === 'and' || e.op === 'or') e.args.forEach((a) => filterFields(a, out));
  else if (e.op === 'not') filterFields(e.arg, out);
  else out.add(e.field);
  return out;
}

const FLIPPED = { eq: 'eq', ne: 'ne', gt: 'lt', gte: 'lte', lt: 'gt', lte: 'gte' } as const;

/** The filter-language form of an expression, when it has one (literals as the filter language takes them). */
export function exprToFilter(n: ExprNode): FilterExpr | null {
  switch (n.expr) {
    case 'and':
    case 'or': {
      const args = n.args.map(exprToFilter);
      return args.every((a) => a !== null) ? { op: n.expr, args: args as FilterExpr[] } : null;
    }
    case 'not': {
      const a = exprToFilter(n.arg);
      return a === null ? null : { op: 'not', arg: a };
    }
    case 'isNull':
    case 'isNotNull':
      return n.arg.expr === 'col' ? { op: n.expr === 'isNull' ? 'isNull' : 'exists', field: n.arg.name } : null;
    case 'cmp': {
      const [a, b] = n.args;
      const [c, l, op] = a.expr === 'col' && b.expr === 'lit' ? [a, b, n.op] : a.expr === 'lit' && b.expr === 'col' ? [b, a, FLIPPED[n.op]] : [null, null, n.op];
      if (c === null || l === null || l.value === null) return null;
      // The filter language compares a field with a literal of its own kind: integer literals, doubles, strings, booleans, timestamps.
      if (l.type === 'bigint' && typeof l.value !== 'number') return null;
      return { op, field: c.name, value: l.value };
    }
    default:
      return null;
  }
}
