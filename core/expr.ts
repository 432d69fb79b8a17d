/**
 * The expression language of derived columns, expression filters and
 * expression measures: `col('amount').mul(100).cast('bigint')`,
 * `lower(col('category'))`, `when(cond, v).otherwise(w)`.
 *
 * An expression is plain data (`ExprNode`, JSON round-trips) so that a
 * pipeline definition stays serialisable; the builders return `Expr`, an
 * object whose own properties are exactly the node's, with the fluent methods
 * on its prototype (JSON.stringify keeps the node, drops the methods).
 * `typeOfExpr` types a node against the schema at load, and the compilers
 * (core/expr-compile.ts) turn one node into the handler's JS and into Athena
 * (Trino) SQL with the same SQL semantics: NULL propagates, AND/OR/NOT are
 * three-valued, integer arithmetic is exact, overflows and divides by zero are
 * errors (docs/architecture.md "Expressions").
 */
import type { CompareOp } from './filter';

/** The types an expression can have: the schema's field types. */
export const EXPR_TYPES = ['string', 'int', 'bigint', 'double', 'boolean', 'timestamp'] as const;
export type ExprType = (typeof EXPR_TYPES)[number];

export type ArithOp = 'add' | 'sub' | 'mul' | 'div' | 'mod';
export type StringFn = 'lower' | 'upper' | 'concat' | 'substr';
/** Units of `dateTrunc`, as Trino's date_trunc names them. */
export const TRUNC_UNITS = ['second', 'minute', 'hour', 'day', 'week', 'month', 'quarter', 'year'] as const;
export type TruncUnit = (typeof TRUNC_UNITS)[number];
/** Parts `datePart` extracts (bigint), as Trino's functions of the same names (day_of_week: 1 = Monday … 7 = Sunday). */
export const DATE_PARTS = ['year', 'quarter', 'month', 'day', 'hour', 'minute', 'second', 'day_of_week', 'day_of_year'] as const;
export type DatePart = (typeof DATE_PARTS)[number];

/** A literal's value in a node: bigint literals outside ±2^53 are decimal strings (JSON has no 64-bit integers). */
export type LiteralValue = string | number | boolean | null;

/** The plain, serialisable form of an expression. Discriminated by `expr`. */
export type ExprNode =
  | { readonly expr: 'col'; readonly name: string }
  | { readonly expr: 'lit'; readonly type: ExprType; readonly value: LiteralValue }
  | { readonly expr: 'arith'; readonly op: ArithOp; readonly args: readonly [ExprNode, ExprNode] }
  | { readonly expr: 'neg'; readonly arg: ExprNode }
  | { readonly expr: 'cmp'; readonly op: CompareOp; readonly args: readonly [ExprNode, ExprNode] }
  | { readonly expr: 'and' | 'or'; readonly args: readonly ExprNode[] }
  | { readonly expr: 'not'; readonly arg: ExprNode }
  | { readonly expr: 'isNull' | 'isNotNull'; readonly arg: ExprNode }
  | { readonly expr: 'coalesce'; readonly args: readonly ExprNode[] }
  | { readonly expr: 'fn'; readonly fn: StringFn; readonly args: readonly ExprNode[] }
  | { readonly expr: 'cast'; readonly to: ExprType; readonly arg: ExprNode }
  | { readonly expr: 'dateTrunc'; readonly unit: TruncUnit; readonly arg: ExprNode }
  | { readonly expr: 'datePart'; readonly part: DatePart; readonly arg: ExprNode }
  | { readonly expr: 'case'; readonly branches: readonly { readonly when: ExprNode; readonly then: ExprNode }[]; readonly else: ExprNode | null };

/** What a builder accepts where an expression goes: an expression, or a JS value taken as a literal (`lit`). */
export type ExprLike = Expr | ExprNode | string | number | boolean | Date;

/** A structural test: is this value an expression node (as opposed to a filter of core/filter.ts or a literal)? */
export function isExprNode(v: unknown): v is ExprNode {
  return v !== null && typeof v === 'object' && typeof (v as { expr?: unknown }).expr === 'string';
}

/**
 * An expression as the builders return it. Its own enumerable properties are
 * exactly the node's (so it *is* an ExprNode, and serialises as one); the
 * methods live on the prototype.
 */
export class Expr {
  /** The node's discriminant; the node's other fields are own properties too (assigned in the constructor). */
  declare readonly expr: ExprNode['expr'];
  constructor(node: ExprNode) {
    Object.assign(this, node);
  }
  /** The plain node (a copy without the prototype), deep. */
  toNode(): ExprNode {
    return plainNode(this as unknown as ExprNode);
  }
  add(x: ExprLike): Expr { return arith('add', this, x); }
  sub(x: ExprLike): Expr { return arith('sub', this, x); }
  mul(x: ExprLike): Expr { return arith('mul', this, x); }
  /** Integer division truncates toward zero (Trino); by zero is an error. */
  div(x: ExprLike): Expr { return arith('div', this, x); }
  /** Remainder with the sign of the dividend (Trino's `%`); by zero is an error for integers. */
  mod(x: ExprLike): Expr { return arith('mod', this, x); }
  neg(): Expr { return neg(this); }
  eq(x: ExprLike): Expr { return cmp('eq', this, x); }
  ne(x: ExprLike): Expr { return cmp('ne', this, x); }
  gt(x: ExprLike): Expr { return cmp('gt', this, x); }
  gte(x: ExprLike): Expr { return cmp('gte', this, x); }
  lt(x: ExprLike): Expr { return cmp('lt', this, x); }
  lte(x: ExprLike): Expr { return cmp('lte', this, x); }
  and(...xs: ExprLike[]): Expr { return new Expr({ expr: 'and', args: [this, ...xs].map(toNode) }); }
  or(...xs: ExprLike[]): Expr { return new Expr({ expr: 'or', args: [this, ...xs].map(toNode) }); }
  not(): Expr { return new Expr({ expr: 'not', arg: toNode(this) }); }
  isNull(): Expr { return new Expr({ expr: 'isNull', arg: toNode(this) }); }
  isNotNull(): Expr { return new Expr({ expr: 'isNotNull', arg: toNode(this) }); }
  cast(to: ExprType): Expr { return new Expr({ expr: 'cast', to, arg: toNode(this) }); }
  lower(): Expr { return lower(this); }
  upper(): Expr { return upper(this); }
  substr(start: ExprLike, length?: ExprLike): Expr { return substr(this, start, length); }
}

/** A deep copy of a node as plain objects (what `definePipeline` stores). */
export function plainNode(n: ExprNode): ExprNode {
  switch (n.expr) {
    case 'col': return { expr: 'col', name: n.name };
    case 'lit': return { expr: 'lit', type: n.type, value: n.value };
    case 'arith': return { expr: 'arith', op: n.op, args: [plainNode(n.args[0]), plainNode(n.args[1])] };
    case 'cmp': return { expr: 'cmp', op: n.op, args: [plainNode(n.args[0]), plainNode(n.args[1])] };
    case 'neg': case 'not': case 'isNull': case 'isNotNull': return { expr: n.expr, arg: plainNode(n.arg) };
    case 'and': case 'or': case 'coalesce': return { expr: n.expr, args: n.args.map(plainNode) };
    case 'fn': return { expr: 'fn', fn: n.fn, args: n.args.map(plainNode) };
    case 'cast': return { expr: 'cast', to: n.to, arg: plainNode(n.arg) };
    case 'dateTrunc': return { expr: 'dateTrunc', unit: n.unit, arg: plainNode(n.arg) };
    case 'datePart': return { expr: 'datePart', part: n.part, arg: plainNode(n.arg) };
    case 'case': return { expr: 'case', branches: n.branches.map((b) => ({ when: plainNode(b.when), then: plainNode(b.then) })), else: n.else === null ? null : plainNode(n.else) };
    default: throw new ExprTypeError(`unknown expression ${JSON.stringify((n as { expr?: unknown })?.expr)}`);
  }
}

const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

/** A JS value as a literal node: integers are int (or bigint beyond 32 bits), other numbers double, Dates timestamps. */
function literalNode(v: string | number | boolean | Date): ExprNode {
  if (typeof v === 'string') return { expr: 'lit', type: 'string', value: v };
  if (typeof v === 'boolean') return { expr: 'lit', type: 'boolean', value: v };
  if (v instanceof Date) return { expr: 'lit', type: 'timestamp', value: v.getTime() };
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return { expr: 'lit', type: v >= INT32_MIN && v <= INT32_MAX ? 'int' : 'bigint', value: v };
    return { expr: 'lit', type: 'double', value: v };
  }
  throw new ExprTypeError(`${JSON.stringify(v)} is neither an expression nor a literal (string, number, boolean, Date)`);
}

export function toNode(x: ExprLike): ExprNode {
  if (x instanceof Expr) return x.toNode();
  if (isExprNode(x)) return plainNode(x);
  return literalNode(x);
}

function arith(op: ArithOp, a: ExprLike, b: ExprLike): Expr {
  return new Expr({ expr: 'arith', op, args: [toNode(a), toNode(b)] });
}

function cmp(op: CompareOp, a: ExprLike, b: ExprLike): Expr {
  return new Expr({ expr: 'cmp', op, args: [toNode(a), toNode(b)] });
}

// ---------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------

/** A schema field or a derived column, by name. */
export function col(name: string): Expr {
  return new Expr({ expr: 'col', name });
}

/**
 * A literal. Without a type: strings, booleans, Dates (timestamp), integers
 * (int within 32 bits, else bigint) and other numbers (double). With a type:
 * `lit(null, 'string')` (a typed NULL), `lit(5, 'double')`, `lit('9223372036854775807', 'bigint')`,
 * `lit('2026-01-01T00:00:00Z', 'timestamp')`.
 */
export function lit(value: string | number | boolean | Date | null, type?: ExprType): Expr {
  if (type === undefined) {
    if (value === null) throw new ExprTypeError('lit(null) needs a type: lit(null, \'string\')');
    return new Expr(literalNode(value));
  }
  return new Expr({ expr: 'lit', type, value: value instanceof Date ? value.getTime() : value });
}

export function neg(x: ExprLike): Expr {
  return new Expr({ expr: 'neg', arg: toNode(x) });
}

export function coalesce(...xs: ExprLike[]): Expr {
  return new Expr({ expr: 'coalesce', args: xs.map(toNode) });
}

export function lower(x: ExprLike): Expr {
  return new Expr({ expr: 'fn', fn: 'lower', args: [toNode(x)] });
}

export function upper(x: ExprLike): Expr {
  return new Expr({ expr: 'fn', fn: 'upper', args: [toNode(x)] });
}

/** Trino's concat: NULL when any argument is NULL. */
export function concat(...xs: ExprLike[]): Expr {
  return new Expr({ expr: 'fn', fn: 'concat', args: xs.map(toNode) });
}

/** SQL substr: 1-based start (negative counts from the end), in code points; to the end without a length. */
export function substr(x: ExprLike, start: ExprLike, length?: ExprLike): Expr {
  return new Expr({ expr: 'fn', fn: 'substr', args: length === undefined ? [toNode(x), toNode(start)] : [toNode(x), toNode(start), toNode(length)] });
}

export function cast(x: ExprLike, to: ExprType): Expr {
  return new Expr({ expr: 'cast', to, arg: toNode(x) });
}

/** The timestamp truncated to the unit, UTC (weeks start on Monday, as in Trino). */
export function dateTrunc(unit: TruncUnit, ts: ExprLike): Expr {
  return new Expr({ expr: 'dateTrunc', unit, arg: toNode(ts) });
}

/** A part of a timestamp as a bigint, UTC. */
export function datePart(part: DatePart, ts: ExprLike): Expr {
  return new Expr({ expr: 'datePart', part, arg: toNode(ts) });
}

export const yearOf = (ts: ExprLike): Expr => datePart('year', ts);
export const monthOf = (ts: ExprLike): Expr => datePart('month', ts);
export const dayOf = (ts: ExprLike): Expr => datePart('day', ts);
export const hourOf = (ts: ExprLike): Expr => datePart('hour', ts);
export const minuteOf = (ts: ExprLike): Expr => datePart('minute', ts);
/** 1 = Monday … 7 = Sunday (ISO, Trino's day_of_week). */
export const dayOfWeek = (ts: ExprLike): Expr => datePart('day_of_week', ts);

/**
 * `when(cond, v).when(cond2, w).otherwise(x)`: SQL's searched CASE. Without
 * `otherwise` the value is NULL when no condition is TRUE.
 */
export class CaseExpr extends Expr {
  when(cond: ExprLike, then: ExprLike): CaseExpr {
    const n = this as unknown as Extract<ExprNode, { expr: 'case' }>;
    return new CaseExpr({ expr: 'case', branches: [...n.branches.map((b) => ({ when: plainNode(b.when), then: plainNode(b.then) })), { when: toNode(cond), then: toNode(then) }], else: null });
  }
  otherwise(x: ExprLike): Expr {
    const n = this as unknown as Extract<ExprNode, { expr: 'case' }>;
    return new Expr({ expr: 'case', branches: n.branches.map((b) => ({ when: plainNode(b.when), then: plainNode(b.then) })), else: toNode(x) });
  }
}

export function when(cond: ExprLike, then: ExprLike): CaseExpr {
  return new CaseExpr({ expr: 'case', branches: [{ when: toNode(cond), then: toNode(then) }], else: null });
}

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

/** An expression that does not type-check. The message says which construct and why; the caller adds the path. */
export class ExprTypeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExprTypeError';
  }
}

/** Resolves a column name to its type (a schema field or a derived column), or undefined. */
export type ColumnTypes = ReadonlyMap<string, ExprType>;

const NUMERIC: readonly ExprType[] = ['int', 'bigint', 'double'];
const isNumeric = (t: ExprType) => NUMERIC.includes(t);

/** The type of integer or double arithmetic on two numeric types (Trino: int op int is int, op bigint is bigint, op double is double). */
export function numericResult(a: ExprType, b: ExprType): ExprType {
  if (a === 'double' || b === 'double') return 'double';
  if (a === 'bigint' || b === 'bigint') return 'bigint';
  return 'int';
}

/** The common type of two types, for comparison, coalesce and CASE branches; null when there is none. */
export function commonType(a: ExprType, b: ExprType): ExprType | null {
  if (a === b) return a;
  if (isNumeric(a) && isNumeric(b)) return numericResult(a, b);
  return null;
}

/** Casts both engines do the same way; others fail at load (see docs/architecture.md "Expressions"). */
const CASTS: Readonly<Record<ExprType, readonly ExprType[]>> = {
  string: ['string', 'int', 'bigint', 'double', 'boolean', 'timestamp'],
  int: ['string', 'int', 'bigint', 'double', 'boolean'],
  bigint: ['string', 'int', 'bigint', 'double', 'boolean'],
  // double → string differs between the engines (Trino prints 1.5E0, DuckDB 1.5).
  double: ['int', 'bigint', 'double', 'boolean'],
  boolean: ['string', 'int', 'bigint', 'double', 'boolean'],
  // timestamp → string differs in the fraction (Trino keeps .000, DuckDB drops it).
  timestamp: ['timestamp'],
};

function describeNode(n: ExprNode): string {
  switch (n.expr) {
    case 'col': return `column "${n.name}"`;
    case 'lit': return `literal ${JSON.stringify(n.value)}`;
    case 'arith': case 'cmp': return `${n.op}()`;
    case 'fn': return `${n.fn}()`;
    case 'cast': return `cast(${n.to})`;
    default: return `${n.expr}()`;
  }
}

const BIGINT_TEXT = /^-?\d{1,19}$/;

function checkLiteral(n: Extract<ExprNode, { expr: 'lit' }>): void {
  const v = n.value;
  const bad = (why: string): never => {
    throw new ExprTypeError(`literal ${JSON.stringify(v)} is not a valid ${n.type}${why ? `: ${why}` : ''}`);
  };
  if (!EXPR_TYPES.includes(n.type)) throw new ExprTypeError(`literal type must be one of ${EXPR_TYPES.join(', ')} (given ${JSON.stringify(n.type)})`);
  if (v === null) return;
  switch (n.type) {
    case 'string': if (typeof v !== 'string') bad(''); return;
    case 'boolean': if (typeof v !== 'boolean') bad(''); return;
    case 'int': if (typeof v !== 'number' || !Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) bad('a whole number within 32 bits'); return;
    case 'bigint':
      if (typeof v === 'number') {
        if (!Number.isSafeInteger(v)) bad('a whole number within ±2^53, or a decimal string for larger values');
      } else if (typeof v === 'string') {
        if (!BIGINT_TEXT.test(v)) bad('a string of digits');
        const b = BigInt(v);
        if (b < -(2n ** 63n) || b >= 2n ** 63n) bad('outside the 64-bit range');
      } else bad('');
      return;
    case 'double': if (typeof v !== 'number' || !Number.isFinite(v)) bad('a finite number'); return;
    case 'timestamp': {
      const ms = typeof v === 'number' ? v : typeof v === 'string' ? timestampTextMillis(v) : Number.NaN;
      if (!Number.isInteger(ms)) bad('ISO-8601 text or whole epoch milliseconds');
      if (ms < -62_135_596_800_000 || ms > 253_402_300_799_999) bad('outside the years 0001-9999');
      return;
    }
  }
}

const ISO_WITHOUT_ZONE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/** Epoch ms of a timestamp literal's text: ISO-8601, read as UTC when it has no zone; NaN if not a time. */
export function timestampTextMillis(s: string): number {
  return Date.parse(ISO_WITHOUT_ZONE.test(s) ? `${s.replace(' ', 'T')}Z` : s);
}

/** The literal's value in row representation: timestamps as epoch ms, bigint beyond 2^53 as BigInt. */
export function literalRowValue(n: Extract<ExprNode, { expr: 'lit' }>): string | number | bigint | boolean | null {
  const v = n.value;
  if (v === null) return null;
  if (n.type === 'timestamp') return typeof v === 'number' ? v : timestampTextMillis(v as string);
  if (n.type === 'bigint' && typeof v === 'string') {
    const b = BigInt(v);
    return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
  }
  return v;
}

/**
 * The type of `n` given the column types; throws ExprTypeError naming the
 * construct and the rule. Every node is checked (literals, units, arities).
 */
export function typeOfExpr(n: ExprNode, columns: ColumnTypes): ExprType {
  if (!isExprNode(n)) throw new ExprTypeError(`must be an expression (col(), lit(), …), given ${JSON.stringify(n)}`);
  const ty = (x: ExprNode) => typeOfExpr(x, columns);
  switch (n.expr) {
    case 'col': {
      const t = columns.get(n.name);
      if (t === undefined) throw new ExprTypeError(`column ${JSON.stringify(n.name)} is not in the schema or derived before it (columns: ${[...columns.keys()].join(', ')})`);
      return t;
    }
    case 'lit':
      checkLiteral(n);
      return n.type;
    case 'arith': {
      const [a, b] = [ty(n.args[0]), ty(n.args[1])];
      if (!isNumeric(a) || !isNumeric(b)) throw new ExprTypeError(`${n.op}() needs numbers; ${describeNode(n.args[isNumeric(a) ? 1 : 0])} is ${isNumeric(a) ? b : a}`);
      return numericResult(a, b);
    }
    case 'neg': {
      const t = ty(n.arg);
      if (!isNumeric(t)) throw new ExprTypeError(`neg() needs a number; ${describeNode(n.arg)} is ${t}`);
      return t;
    }
    case 'cmp': {
      const [a, b] = [ty(n.args[0]), ty(n.args[1])];
      if (commonType(a, b) === null) throw new ExprTypeError(`${n.op}() compares ${describeNode(n.args[0])} (${a}) with ${describeNode(n.args[1])} (${b}): no common type`);
      if (a === 'boolean' && n.op !== 'eq' && n.op !== 'ne') throw new ExprTypeError(`${n.op}() is not defined on booleans`);
      return 'boolean';
    }
    case 'and':
    case 'or':
      if (!Array.isArray(n.args) || n.args.length === 0) throw new ExprTypeError(`${n.expr}() needs at least one expression`);
      for (const a of n.args) {
        const t = ty(a);
        if (t !== 'boolean') throw new ExprTypeError(`${n.expr}() needs booleans; ${describeNode(a)} is ${t}`);
      }
      return 'boolean';
    case 'not': {
      const t = ty(n.arg);
      if (t !== 'boolean') throw new ExprTypeError(`not() needs a boolean; ${describeNode(n.arg)} is ${t}`);
      return 'boolean';
    }
    case 'isNull':
    case 'isNotNull':
      ty(n.arg);
      return 'boolean';
    case 'coalesce': {
      if (!Array.isArray(n.args) || n.args.length === 0) throw new ExprTypeError('coalesce() needs at least one expression');
      let t = ty(n.args[0]!);
      for (const a of n.args.slice(1)) {
        const u = ty(a);
        const c = commonType(t, u);
        if (c === null) throw new ExprTypeError(`coalesce() mixes ${t} and ${u} (${describeNode(a)})`);
        t = c;
      }
      return t;
    }
    case 'fn': {
      const types = (n.args ?? []).map(ty);
      const arity = (lo: number, hi: number) => {
        if (types.length < lo || types.length > hi) throw new ExprTypeError(`${n.fn}() takes ${lo === hi ? lo : `${lo} to ${hi}`} arguments (given ${types.length})`);
      };
      switch (n.fn) {
        case 'lower':
        case 'upper':
          arity(1, 1);
          if (types[0] !== 'string') throw new ExprTypeError(`${n.fn}() needs a string; ${describeNode(n.args[0]!)} is ${types[0]}`);
          return 'string';
        case 'concat':
          arity(1, 254);
          types.forEach((t, i) => {
            if (t !== 'string') throw new ExprTypeError(`concat() needs strings; ${describeNode(n.args[i]!)} is ${t} (cast it: .cast('string'))`);
          });
          return 'string';
        case 'substr':
          arity(2, 3);
          if (types[0] !== 'string') throw new ExprTypeError(`substr() needs a string; ${describeNode(n.args[0]!)} is ${types[0]}`);
          types.slice(1).forEach((t, i) => {
            if (t !== 'int' && t !== 'bigint') throw new ExprTypeError(`substr() ${i === 0 ? 'start' : 'length'} must be an integer; ${describeNode(n.args[i + 1]!)} is ${t}`);
          });
          return 'string';
        default:
          throw new ExprTypeError(`unknown function ${JSON.stringify((n as { fn?: unknown }).fn)}`);
      }
    }
    case 'cast': {
      if (!EXPR_TYPES.includes(n.to)) throw new ExprTypeError(`cast() target must be one of ${EXPR_TYPES.join(', ')} (given ${JSON.stringify(n.to)})`);
      const t = ty(n.arg);
      if (!CASTS[t].includes(n.to)) throw new ExprTypeError(`cast from ${t} to ${n.to} is not supported (from ${t}: ${CASTS[t].join(', ')})`);
      return n.to;
    }
    case 'dateTrunc': {
      if (!TRUNC_UNITS.includes(n.unit)) throw new ExprTypeError(`dateTrunc() unit must be one of ${TRUNC_UNITS.join(', ')} (given ${JSON.stringify(n.unit)})`);
      const t = ty(n.arg);
      if (t !== 'timestamp') throw new ExprTypeError(`dateTrunc() needs a timestamp; ${describeNode(n.arg)} is ${t}`);
      return 'timestamp';
    }
    case 'datePart': {
      if (!DATE_PARTS.includes(n.part)) throw new ExprTypeError(`datePart() part must be one of ${DATE_PARTS.join(', ')} (given ${JSON.stringify(n.part)})`);
      const t = ty(n.arg);
      if (t !== 'timestamp') throw new ExprTypeError(`${n.part}() needs a timestamp; ${describeNode(n.arg)} is ${t}`);
      return 'bigint';
    }
    case 'case': {
      if (!Array.isArray(n.branches) || n.branches.length === 0) throw new ExprTypeError('when() needs at least one branch');
      let t: ExprType | null = null;
      const values = [...n.branches.map((b) => b.then), ...(n.else ? [n.else] : [])];
      for (const b of n.branches) {
        const c = ty(b.when);
        if (c !== 'boolean') throw new ExprTypeError(`when() condition must be a boolean; ${describeNode(b.when)} is ${c}`);
      }
      for (const v of values) {
        const u = ty(v);
        const c: ExprType | null = t === null ? u : commonType(t, u);
        if (c === null) throw new ExprTypeError(`when() branches mix ${t} and ${u} (${describeNode(v)})`);
        t = c;
      }
      return t!;
    }
    default:
      throw new ExprTypeError(`unknown expression ${JSON.stringify((n as { expr?: unknown }).expr)}`);
  }
}

/** The column names an expression reads. */
export function columnsOf(n: ExprNode, out: Set<string> = new Set()): Set<string> {
  switch (n.expr) {
    case 'col': out.add(n.name); break;
    case 'lit': break;
    case 'arith': case 'cmp': case 'and': case 'or': case 'coalesce': case 'fn': n.args.forEach((a) => columnsOf(a, out)); break;
    case 'case': n.branches.forEach((b) => { columnsOf(b.when, out); columnsOf(b.then, out); }); if (n.else) columnsOf(n.else, out); break;
    default: columnsOf(n.arg, out);
  }
  return out;
}
