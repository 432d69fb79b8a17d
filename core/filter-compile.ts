/**
 * The three compile targets of a filter expression:
 *
 * - `compilePredicate`: a JS predicate for the handler's hot loop;
 * - `filterToSql`: an Athena/Trino boolean expression (runs unchanged on DuckDB);
 * - `filterToCriteria`: Lambda event source mapping FilterCriteria, where expressible.
 *
 * All three follow SQL's three-valued logic: a comparison with NULL is UNKNOWN,
 * NOT UNKNOWN is UNKNOWN, AND/OR follow the SQL truth tables, and a row passes
 * only when the whole expression is TRUE. An absent optional field is NULL.
 */
import type { CompareOp, FilterExpr, Scalar } from './filter';
import type { FieldValue, Row, SchemaField } from './schema';

// The evaluator of the FilterCriteria target travels with its compiler (the local emulators use it).
export * from './event-pattern';

/** A filter that cannot be compiled against the schema it is given. Names the field and the rule broken. */
export class FilterCompileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FilterCompileError';
  }
}

type Fields = ReadonlyMap<string, SchemaField>;

function fieldsOf(schema: readonly SchemaField[]): Fields {
  return new Map(schema.map((f) => [f.name, f]));
}

function lookup(fields: Fields, name: string): SchemaField {
  const f = fields.get(name);
  if (!f) throw new FilterCompileError(`filter names field ${JSON.stringify(name)}, which is not in the schema (fields: ${[...fields.keys()].join(', ')})`);
  return f;
}

/**
 * ISO-8601 date-times without a zone designator are read as UTC, so that a
 * filter means the same on a laptop in any time zone as on Lambda (UTC).
 */
const ISO_WITHOUT_ZONE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/** Epoch millis (UTC) of a timestamp filter value given as ISO-8601 text or epoch millis. */
export function timestampMillis(value: Scalar, fieldName: string): number {
  let ms: number;
  if (typeof value === 'number') ms = value;
  else if (typeof value === 'string') ms = Date.parse(ISO_WITHOUT_ZONE.test(value) ? `${value.replace(' ', 'T')}Z` : value);
  else ms = Number.NaN;
  if (!Number.isFinite(ms)) throw new FilterCompileError(`timestamp value ${JSON.stringify(value)} for field "${fieldName}" is neither ISO-8601 text nor epoch milliseconds`);
  // Rows hold whole epoch millis; a fractional literal would make `<` and `<=` disagree with SQL's millisecond TIMESTAMP.
  if (!Number.isInteger(ms)) throw new FilterCompileError(`timestamp value ${value} for field "${fieldName}" must be whole epoch milliseconds`);
  return ms;
}

function checkScalar(f: SchemaField, v: Scalar, where: string): void {
  const ok =
    f.type === 'string' ? typeof v === 'string'
    : f.type === 'boolean' ? typeof v === 'boolean'
    : f.type === 'timestamp' ? typeof v === 'number' || typeof v === 'string'
    : f.type === 'int' || f.type === 'bigint' ? typeof v === 'number' && Number.isInteger(v)
    : typeof v === 'number' && Number.isFinite(v);
  if (!ok) throw new FilterCompileError(`${where} ${JSON.stringify(v)} does not match the type of field "${f.name}" (${f.type})`);
}

/** A literal in the representation rows use: epoch millis for timestamps. */
function rowLiteral(f: SchemaField, v: Scalar, where: string): string | number | boolean {
  checkScalar(f, v, where);
  return f.type === 'timestamp' ? timestampMillis(v, f.name) : v;
}

// ---------------------------------------------------------------------------
// JS predicate
// ---------------------------------------------------------------------------

type Test = (row: Row) => boolean;

/**
 * Compiles `expr` once into closures. The returned predicate is TRUE-only:
 * it returns true exactly when SQL would evaluate the expression to TRUE.
 *
 * Each node is compiled twice-polar: `isTrue(e)` and `isFalse(e)`. NOT swaps
 * them, which is exactly Kleene's three-valued logic (UNKNOWN is "neither"),
 * so no per-row value encoding or tree walk is needed.
 */
export function compilePredicate(expr: FilterExpr, schema: readonly SchemaField[]): (row: Row) => boolean {
  return compileTest(expr, fieldsOf(schema), true);
}

function compileTest(e: FilterExpr, fields: Fields, wantTrue: boolean): Test {
  switch (e.op) {
    case 'not':
      return compileTest(e.arg, fields, !wantTrue);
    case 'and':
    case 'or': {
      // isTrue(and) and isFalse(or) need every argument; isTrue(or) and isFalse(and) need any.
      const every = (e.op === 'and') === wantTrue;
      const parts = e.args.map((a) => compileTest(a, fields, wantTrue));
      if (parts.length === 1) return parts[0]!;
      if (parts.length === 2) {
        const [a, b] = parts as [Test, Test];
        return every ? (row) => a(row) && b(row) : (row) => a(row) || b(row);
      }
      const n = parts.length;
      return every
        ? (row) => { for (let i = 0; i < n; i++) if (!parts[i]!(row)) return false; return true; }
        : (row) => { for (let i = 0; i < n; i++) if (parts[i]!(row)) return true; return false; };
    }
    default:
      return compileAtom(e, lookup(fields, e.field), wantTrue);
  }
}

type Atom = Exclude<FilterExpr, { op: 'and' | 'or' | 'not' }>;

function isNullish(v: FieldValue | undefined): v is null | undefined {
  return v === null || v === undefined;
}

/**
 * Orders strings by Unicode code point, as Trino and DuckDB compare VARCHAR
 * (UTF-8 byte order). JS `<` compares UTF-16 code units, which differs when a
 * surrogate pair meets a code unit in U+E000..U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Move surrogates (D800-DFFF) above E000-FFFF, where their code points are.
      x = x < 0xe000 ? x + 0x2000 : x - 0x800;
      y = y < 0xe000 ? y + 0x2000 : y - 0x800;
    }
    return x - y;
  }
  return a.length - b.length;
}

function compileAtom(e: Atom, f: SchemaField, wantTrue: boolean): Test {
  const name = f.name;
  switch (e.op) {
    case 'exists':
      return wantTrue ? (row) => !isNullish(row[name]) : (row) => isNullish(row[name]);
    case 'isNull':
      return wantTrue ? (row) => isNullish(row[name]) : (row) => !isNullish(row[name]);
    case 'prefix': {
      if (f.type !== 'string') throw new FilterCompileError(`startsWith needs a string field; "${name}" is ${f.type}`);
      const p = e.prefix;
      return wantTrue
        ? (row) => { const v = row[name]; return typeof v === 'string' && v.startsWith(p); }
        : (row) => { const v = row[name]; return typeof v === 'string' && !v.startsWith(p); };
    }
    case 'in': {
      if (e.values.length === 0) throw new FilterCompileError(`in() needs at least one value for field "${name}"`);
      const lits = e.values.map((v, i) => rowLiteral(f, v, `in value [${i}]`));
      const set = new Set<FieldValue>(lits);
      // A bigint row value may be a JS BigInt; Set lookup compares BigInts by value.
      if (f.type === 'bigint') for (const l of lits) set.add(BigInt(l as number));
      return wantTrue
        ? (row) => { const v = row[name]; return !isNullish(v) && set.has(v); }
        : (row) => { const v = row[name]; return !isNullish(v) && !set.has(v); };
    }
    default:
      return compileComparison(e.op, f, rowLiteral(f, e.value, `${e.op} value`), wantTrue);
  }
}

const NEGATED: Record<CompareOp, CompareOp> = { eq: 'ne', ne: 'eq', gt: 'lte', gte: 'lt', lt: 'gte', lte: 'gt' };

function compileComparison(op0: CompareOp, f: SchemaField, lit: string | number | boolean, wantTrue: boolean): Test {
  // FALSE(a op b) on non-null values is TRUE(a negated-op b).
  const op = wantTrue ? op0 : NEGATED[op0];
  const name = f.name;
  if (f.type === 'boolean' && op !== 'eq' && op !== 'ne') throw new FilterCompileError(`${op0} is not defined on boolean field "${name}"`);
  if (f.type === 'string') {
    const s = lit as string;
    switch (op) {
      case 'eq': return (row) => row[name] === s;
      case 'ne': return (row) => { const v = row[name]; return typeof v === 'string' && v !== s; };
      case 'gt': return (row) => { const v = row[name]; return typeof v === 'string' && compareCodePoints(v, s) > 0; };
      case 'gte': return (row) => { const v = row[name]; return typeof v === 'string' && compareCodePoints(v, s) >= 0; };
      case 'lt': return (row) => { const v = row[name]; return typeof v === 'string' && compareCodePoints(v, s) < 0; };
      case 'lte': return (row) => { const v = row[name]; return typeof v === 'string' && compareCodePoints(v, s) <= 0; };
    }
  }
  if (f.type === 'bigint') {
    // JS relational operators compare a BigInt with a Number by mathematical value; equality needs the same type.
    const n = lit as number;
    const b = BigInt(n);
    switch (op) {
      case 'eq': return (row) => { const v = row[name]; return typeof v === 'bigint' ? v === b : v === n; };
      case 'ne': return (row) => { const v = row[name]; return typeof v === 'bigint' ? v !== b : typeof v === 'number' && v !== n; };
      case 'gt': return (row) => { const v = row[name] as number | bigint | null; return v !== null && v !== undefined && v > n; };
      case 'gte': return (row) => { const v = row[name] as number | bigint | null; return v !== null && v !== undefined && v >= n; };
      case 'lt': return (row) => { const v = row[name] as number | bigint | null; return v !== null && v !== undefined && v < n; };
      case 'lte': return (row) => { const v = row[name] as number | bigint | null; return v !== null && v !== undefined && v <= n; };
    }
  }
  if (f.type === 'boolean') {
    const b = lit as boolean;
    return op === 'eq' ? (row) => row[name] === b : (row) => row[name] === !b;
  }
  // int, double, timestamp (epoch millis): numbers.
  const n = lit as number;
  switch (op) {
    case 'eq': return (row) => row[name] === n;
    case 'ne': return (row) => { const v = row[name]; return typeof v === 'number' && v !== n; };
    case 'gt': return (row) => { const v = row[name]; return typeof v === 'number' && v > n; };
    case 'gte': return (row) => { const v = row[name]; return typeof v === 'number' && v >= n; };
    case 'lt': return (row) => { const v = row[name]; return typeof v === 'number' && v < n; };
    case 'lte': return (row) => { const v = row[name]; return typeof v === 'number' && v <= n; };
  }
}

// ---------------------------------------------------------------------------
// SQL (Athena engine v3 / Trino, and DuckDB)
// ---------------------------------------------------------------------------

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** Trino TIMESTAMP (millisecond precision, UTC) literal; DuckDB reads the same text. */
export function timestampLiteral(ms: number, fieldName: string): string {
  const d = new Date(ms);
  const iso = Number.isNaN(d.getTime()) ? '' : d.toISOString();
  // Years 0001-9999 only: both engines reject the signed, six-digit years toISOString uses outside that range.
  if (!/^\d{4}-/.test(iso) || iso.startsWith('0000')) {
    throw new FilterCompileError(`timestamp value ${ms} for field "${fieldName}" is outside the years 0001-9999 that a SQL TIMESTAMP literal can hold`);
  }
  return `TIMESTAMP '${iso.slice(0, 10)} ${iso.slice(11, 23)}'`;
}

/** A double literal both engines type as DOUBLE (a bare `10.5` would be DECIMAL). */
export function doubleLiteral(x: number): string {
  const s = String(x);
  return /[eE]/.test(s) ? s : `${s}e0`;
}

function sqlLiteral(f: SchemaField, v: Scalar, where: string): string {
  checkScalar(f, v, where);
  switch (f.type) {
    case 'string': return quoteString(v as string);
    case 'boolean': return v ? 'TRUE' : 'FALSE';
    case 'timestamp': return timestampLiteral(timestampMillis(v, f.name), f.name);
    case 'double': return doubleLiteral(v as number);
    case 'int':
    case 'bigint': return BigInt(v as number).toString();
  }
}

const SQL_OPS: Record<CompareOp, string> = { eq: '=', ne: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' };

/**
 * An Athena/Trino boolean expression for a WHERE clause. Column names are the
 * schema field names, double-quoted. The same text runs on DuckDB.
 */
export function filterToSql(expr: FilterExpr, schema: readonly SchemaField[]): string {
  return toSql(expr, fieldsOf(schema));
}

function toSql(e: FilterExpr, fields: Fields): string {
  switch (e.op) {
    case 'and':
    case 'or':
      if (e.args.length === 0) throw new FilterCompileError(`${e.op}() needs at least one expression`);
      return e.args.length === 1 ? toSql(e.args[0]!, fields) : `(${e.args.map((a) => toSql(a, fields)).join(e.op === 'and' ? ' AND ' : ' OR ')})`;
    case 'not':
      return `(NOT ${toSql(e.arg, fields)})`;
    case 'exists':
      return `(${quoteIdentifier(lookup(fields, e.field).name)} IS NOT NULL)`;
    case 'isNull':
      return `(${quoteIdentifier(lookup(fields, e.field).name)} IS NULL)`;
    case 'prefix': {
      const f = lookup(fields, e.field);
      if (f.type !== 'string') throw new FilterCompileError(`startsWith needs a string field; "${f.name}" is ${f.type}`);
      return `starts_with(${quoteIdentifier(f.name)}, ${quoteString(e.prefix)})`;
    }
    case 'in': {
      const f = lookup(fields, e.field);
      if (e.values.length === 0) throw new FilterCompileError(`in() needs at least one value for field "${f.name}"`);
      return `(${quoteIdentifier(f.name)} IN (${e.values.map((v, i) => sqlLiteral(f, v, `in value [${i}]`)).join(', ')}))`;
    }
    default: {
      const f = lookup(fields, e.field);
      if (f.type === 'boolean' && e.op !== 'eq' && e.op !== 'ne') throw new FilterCompileError(`${e.op} is not defined on boolean field "${f.name}"`);
      return `(${quoteIdentifier(f.name)} ${SQL_OPS[e.op]} ${sqlLiteral(f, e.value, `${e.op} value`)})`;
    }
  }
}

// ---------------------------------------------------------------------------
// Lambda FilterCriteria
// ---------------------------------------------------------------------------

export type FilterCriteriaResult =
  | { readonly expressible: true; readonly filters: readonly { readonly pattern: string }[] }
  | { readonly expressible: false; readonly reason: string };

export interface FilterCriteriaOptions {
  /** Filters per event source mapping. Lambda: 5 by default, up to 10 with a quota increase. @default 5 */
  readonly maxFilters?: number;
}

/** Lambda API reference, Filter.Pattern: maximum length 4096 characters. */
export const MAX_PATTERN_LENGTH = 4096;
/** Lambda event filtering: five filters per event source mapping unless a quota increase is granted. */
export const DEFAULT_MAX_FILTERS = 5;
/** Bound on the disjunctive normal form before simplification, to keep compile time small. */
const MAX_ALTERNATIVES = 256;
/** Athena `int` is a 32-bit signed integer; rows that passed schema validation hold values in this range. */
const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

/**
 * A literal of the expression in negation normal form. Every literal is TRUE
 * only on a non-null value (`kind: 'value'`) or only on NULL (`kind: 'null'`):
 * pushing NOT down turns `NOT (x > 5)` into "x not null and x <= 5".
 */
type Literal =
  | { readonly kind: 'null'; readonly field: string }
  | { readonly kind: 'value'; readonly field: string; readonly test: ValueTest };

type ValueTest =
  | { readonly op: 'any' }
  | { readonly op: CompareOp; readonly value: Scalar }
  | { readonly op: 'in' | 'notIn'; readonly values: readonly Scalar[] }
  | { readonly op: 'prefix' | 'notPrefix'; readonly prefix: string };

class NotExpressible extends Error {}

function notExpressible(reason: string): never {
  throw new NotExpressible(reason);
}

/**
 * Lambda FilterCriteria equivalent to `expr` on every row that passed schema
 * validation, or `expressible: false` with the construct and field that cannot
 * be expressed. Records are matched under `data` (Kinesis) or `value` (Kafka/MSK).
 *
 * `filters: []` means no filtering is needed: every valid row passes.
 *
 * Assumptions about the record JSON, which the schema validation enforces:
 * strings, int and double fields are JSON strings and numbers, booleans are
 * `true`/`false`, int values fit Athena's 32-bit `int`; an absent optional
 * field may be missing or `null`; timestamps may be ISO text or epoch millis.
 */
export function filterToCriteria(
  expr: FilterExpr,
  schema: readonly SchemaField[],
  source: 'kinesis' | 'kafka',
  options: FilterCriteriaOptions = {},
): FilterCriteriaResult {
  const fields = fieldsOf(schema);
  const maxFilters = options.maxFilters ?? DEFAULT_MAX_FILTERS;
  const key = source === 'kinesis' ? 'data' : 'value';
  try {
    const conjunctions = normalForm(expr, fields, true);
    const patterns = new Set<string>();
    for (const conj of conjunctions) {
      const alternatives = conjunctionPatterns(conj, fields);
      if (alternatives === 'always') return { expressible: true, filters: [] };
      for (const body of alternatives) patterns.add(JSON.stringify({ [key]: body }));
    }
    if (patterns.size === 0) {
      // The expression is never TRUE on a valid row: match nothing with a required field that is absent.
      const required = schema.find((f) => f.required);
      if (!required) return { expressible: false, reason: 'the filter is never TRUE and the schema has no required field with which to build a pattern that matches nothing' };
      patterns.add(JSON.stringify({ [key]: { [required.name]: [{ exists: false }] } }));
    }
    if (patterns.size > maxFilters) {
      return { expressible: false, reason: `the filter needs ${patterns.size} Lambda filters (one per alternative of its OR form), more than the ${maxFilters} allowed per event source mapping` };
    }
    for (const p of patterns) {
      if (p.length > MAX_PATTERN_LENGTH) return { expressible: false, reason: `a filter pattern is ${p.length} characters long, more than Lambda's ${MAX_PATTERN_LENGTH}: ${p.slice(0, 80)}…` };
    }
    return { expressible: true, filters: [...patterns].map((pattern) => ({ pattern })) };
  } catch (err) {
    if (err instanceof NotExpressible) return { expressible: false, reason: err.message };
    throw err;
  }
}

/** The expression (or its negation) as an OR of ANDs of literals, with Kleene De Morgan laws. */
function normalForm(e: FilterExpr, fields: Fields, positive: boolean): Literal[][] {
  switch (e.op) {
    case 'not':
      return normalForm(e.arg, fields, !positive);
    case 'and':
    case 'or': {
      const parts = e.args.map((a) => normalForm(a, fields, positive));
      if ((e.op === 'or') === positive) return parts.flat();
      let acc: Literal[][] = [[]];
      for (const p of parts) {
        const next: Literal[][] = [];
        for (const a of acc) for (const b of p) next.push([...a, ...b]);
        if (next.length > MAX_ALTERNATIVES) notExpressible(`the filter expands to more than ${MAX_ALTERNATIVES} alternatives in OR form; Lambda allows at most ${DEFAULT_MAX_FILTERS} filters (10 with a quota increase)`);
        acc = next;
      }
      return acc;
    }
    default: {
      const f = lookup(fields, e.field);
      return [[literalOf(e, f, positive)]];
    }
  }
}

function literalOf(e: Atom, f: SchemaField, positive: boolean): Literal {
  const field = f.name;
  const value = (test: ValueTest): Literal => ({ kind: 'value', field, test });
  switch (e.op) {
    case 'exists': return positive ? value({ op: 'any' }) : { kind: 'null', field };
    case 'isNull': return positive ? { kind: 'null', field } : value({ op: 'any' });
    case 'prefix': return value({ op: positive ? 'prefix' : 'notPrefix', prefix: e.prefix });
    case 'in':
      e.values.forEach((v, i) => checkScalar(f, v, `in value [${i}]`));
      return value({ op: positive ? 'in' : 'notIn', values: e.values });
    default:
      checkScalar(f, e.value, `${e.op} value`);
      return value({ op: positive ? e.op : NEGATED[e.op], value: e.value });
  }
}

type RuleList = readonly unknown[];
type PatternBody = Record<string, RuleList>;

/**
 * The Lambda patterns (ORed) equivalent to one conjunction; [] when it is
 * never TRUE, 'always' when it is TRUE on every valid row.
 */
function conjunctionPatterns(conj: readonly Literal[], fields: Fields): PatternBody[] | 'always' {
  const byField = new Map<string, Literal[]>();
  for (const l of conj) {
    const list = byField.get(l.field);
    if (list) list.push(l);
    else byField.set(l.field, [l]);
  }
  // Each field contributes alternatives (rule lists, ORed); the patterns are their cross product.
  let acc: PatternBody[] = [{}];
  for (const [name, lits] of byField) {
    const options = fieldRules(fields.get(name)!, lits);
    if (options === 'unsatisfiable') return [];
    if (options === 'unconstrained') continue;
    const next: PatternBody[] = [];
    for (const body of acc) for (const rules of options) next.push({ ...body, [name]: rules });
    acc = next;
  }
  return acc.length === 1 && Object.keys(acc[0]!).length === 0 ? 'always' : acc;
}

function fieldRules(f: SchemaField, lits: readonly Literal[]): RuleList[] | 'unsatisfiable' | 'unconstrained' {
  const wantsNull = lits.some((l) => l.kind === 'null');
  const tests = lits.flatMap((l) => (l.kind === 'value' ? [l.test] : []));
  if (wantsNull) {
    if (tests.length > 0 || f.required) return 'unsatisfiable';
    // An absent optional field is either missing from the JSON or JSON null; Lambda tells the two apart.
    return [[null], [{ exists: false }]];
  }
  const constraining = tests.filter((t) => t.op !== 'any');
  if (constraining.length === 0) {
    if (f.required) return 'unconstrained';
    if (f.type === 'boolean') return [[true, false]];
    if (f.type === 'int') return [[{ numeric: ['>=', INT_MIN, '<=', INT_MAX] }]];
    notExpressible(`IS NOT NULL on optional ${f.type} field "${f.name}": Lambda's { "exists": true } also matches JSON null, and no other matcher covers every ${f.type} value`);
  }
  switch (f.type) {
    case 'boolean': return booleanRules(f, constraining);
    case 'string': return stringRules(f, constraining);
    case 'int': return intRules(f, constraining);
    case 'double':
      return notExpressible(`${describe(constraining[0]!)} on double field "${f.name}": Lambda numeric matching covers only -5.0e9..5.0e9 with 6 decimal places, so it can disagree with exact double comparison`);
    case 'bigint':
      return notExpressible(`${describe(constraining[0]!)} on bigint field "${f.name}": Lambda numeric matching covers only -5.0e9..5.0e9, and JSON numbers beyond 2^53 lose precision`);
    case 'timestamp':
      return notExpressible(`${describe(constraining[0]!)} on timestamp field "${f.name}": records may carry ISO-8601 text or epoch millis, and Lambda cannot compare ISO text as time (epoch millis also exceed its 5.0e9 numeric range)`);
  }
}

function describe(t: ValueTest): string {
  switch (t.op) {
    case 'notIn': return 'NOT in()';
    case 'notPrefix': return 'NOT startsWith';
    case 'any': return 'IS NOT NULL';
    default: return `${t.op}()`;
  }
}

/** Evaluates a value test on a known non-null value (used to reduce finite sets at compile time). */
function holds(t: ValueTest, v: Scalar): boolean {
  switch (t.op) {
    case 'any': return true;
    case 'in': return t.values.includes(v);
    case 'notIn': return !t.values.includes(v);
    case 'prefix': return typeof v === 'string' && v.startsWith(t.prefix);
    case 'notPrefix': return typeof v === 'string' && !v.startsWith(t.prefix);
    case 'eq': return v === t.value;
    case 'ne': return v !== t.value;
    default: {
      const c = typeof v === 'string' ? compareCodePoints(v, t.value as string) : (v as number) - (t.value as number);
      return t.op === 'gt' ? c > 0 : t.op === 'gte' ? c >= 0 : t.op === 'lt' ? c < 0 : c <= 0;
    }
  }
}

function booleanRules(f: SchemaField, tests: readonly ValueTest[]): RuleList[] | 'unsatisfiable' | 'unconstrained' {
  const allowed = [true, false].filter((b) => tests.every((t) => holds(t, b)));
  if (allowed.length === 0) return 'unsatisfiable';
  if (allowed.length === 2 && f.required) return 'unconstrained';
  return [allowed];
}

function stringRules(f: SchemaField, tests: readonly ValueTest[]): RuleList[] | 'unsatisfiable' | 'unconstrained' {
  // A finite set of allowed values (from eq / in) absorbs every other test at compile time.
  let finite: Scalar[] | null = null;
  for (const t of tests) {
    const vals = t.op === 'eq' ? [t.value] : t.op === 'in' ? [...t.values] : null;
    if (vals) finite = finite === null ? vals : finite.filter((v) => vals.includes(v));
  }
  if (finite !== null) {
    const allowed = [...new Set(finite)].filter((v) => tests.every((t) => holds(t, v)));
    return allowed.length === 0 ? 'unsatisfiable' : [allowed];
  }
  const range = tests.find((t) => t.op === 'gt' || t.op === 'gte' || t.op === 'lt' || t.op === 'lte');
  if (range) notExpressible(`${describe(range)} on string field "${f.name}": Lambda filters have no string range comparison`);

  let prefix: string | null = null;
  for (const t of tests) {
    if (t.op !== 'prefix') continue;
    if (prefix === null || t.prefix.startsWith(prefix)) prefix = t.prefix;
    else if (!prefix.startsWith(t.prefix)) return 'unsatisfiable';
  }
  const excluded: string[] = [];
  for (const t of tests) {
    if (t.op === 'notPrefix') {
      if (prefix !== null && prefix.startsWith(t.prefix)) return 'unsatisfiable';
      if (prefix === null || t.prefix.startsWith(prefix)) {
        notExpressible(`NOT startsWith(${JSON.stringify(t.prefix)}) on string field "${f.name}": Lambda's documented filter syntax has no negated prefix`);
      }
    } else if (t.op === 'ne') {
      if (prefix === null || (t.value as string).startsWith(prefix)) excluded.push(t.value as string);
    } else if (t.op === 'notIn') {
      for (const v of t.values) {
        if (prefix === null || (v as string).startsWith(prefix)) excluded.push(v as string);
      }
    }
  }
  if (excluded.length > 0) {
    const construct = tests.some((t) => t.op === 'notIn') ? 'NOT in()' : 'ne()';
    if (prefix !== null) notExpressible(`${construct} together with startsWith on string field "${f.name}": one Lambda pattern cannot apply anything-but and prefix to the same field`);
    if (!f.required) notExpressible(`${construct} on optional string field "${f.name}": Lambda's anything-but also matches JSON null, which SQL treats as UNKNOWN`);
    return [[{ 'anything-but': [...new Set(excluded)] }]];
  }
  return [[{ prefix: prefix! }]];
}

/** Closed integer intervals, sorted and disjoint. */
type Intervals = [number, number][];

function intersect(a: Intervals, lo: number, hi: number): Intervals {
  return a.flatMap(([x, y]): Intervals => {
    const l = Math.max(x, lo);
    const h = Math.min(y, hi);
    return l <= h ? [[l, h]] : [];
  });
}

function removePoint(a: Intervals, p: number): Intervals {
  return a.flatMap(([x, y]): Intervals => {
    if (p < x || p > y) return [[x, y]];
    const out: Intervals = [];
    if (x <= p - 1) out.push([x, p - 1]);
    if (p + 1 <= y) out.push([p + 1, y]);
    return out;
  });
}

function intRules(f: SchemaField, tests: readonly ValueTest[]): RuleList[] | 'unsatisfiable' | 'unconstrained' {
  let set: Intervals = [[INT_MIN, INT_MAX]];
  for (const t of tests) {
    switch (t.op) {
      case 'any': break;
      case 'eq': set = intersect(set, t.value as number, t.value as number); break;
      case 'ne': set = removePoint(set, t.value as number); break;
      case 'gt': set = intersect(set, (t.value as number) + 1, INT_MAX); break;
      case 'gte': set = intersect(set, t.value as number, INT_MAX); break;
      case 'lt': set = intersect(set, INT_MIN, (t.value as number) - 1); break;
      case 'lte': set = intersect(set, INT_MIN, t.value as number); break;
      case 'in': set = (t.values as number[]).flatMap((v) => intersect(set, v, v)).sort((a, b) => a[0] - b[0]); break;
      case 'notIn': for (const v of t.values as number[]) set = removePoint(set, v); break;
      default: notExpressible(`${describe(t)} on int field "${f.name}"`);
    }
  }
  set = set.filter(([lo], i) => i === 0 || lo !== set[i - 1]![0]);
  if (set.length === 0) return 'unsatisfiable';
  if (f.required && set.length === 1 && set[0]![0] === INT_MIN && set[0]![1] === INT_MAX) return 'unconstrained';
  return [
    set.map(([lo, hi]) => {
      if (lo === hi) return { numeric: ['=', lo] };
      // Bounds at the ends of the int range are left open: they add nothing for valid rows.
      const bounds: (string | number)[] = [];
      if (lo !== INT_MIN) bounds.push('>=', lo);
      if (hi !== INT_MAX) bounds.push('<=', hi);
      return { numeric: bounds.length > 0 ? bounds : ['>=', INT_MIN] };
    }),
  ];
}
