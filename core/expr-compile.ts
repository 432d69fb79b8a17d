/**
 * The two compile targets of an expression (core/expr.ts):
 *
 * - `compileExprJs`: a JS function of the row, generated once per pipeline
 *   with `new Function` (per event it allocates nothing but a string result,
 *   or a BigInt past ±2^53);
 * - `exprToSql`: Athena (Trino) SQL; the local endpoint translates it for
 *   DuckDB (local/athena/sql-translate.ts).
 *
 * Both follow Trino: NULL propagates through arithmetic and functions,
 * AND/OR/NOT are three-valued (Kleene), integer arithmetic is exact in 32 bits
 * (int) or 64 bits (bigint) and an overflow is an error, integer division
 * truncates toward zero and by zero is an error, double arithmetic is IEEE
 * (1e0/0e0 is Infinity), a cast that cannot convert its value is an error.
 * In JS an error is an ExprEvalError (the handler quarantines the event, the
 * reason naming the derived column); in SQL it fails the query (Trino) — the
 * raw table holds only events whose expressions evaluated, so backfill over it
 * meets none. docs/architecture.md "Expressions" lists where DuckDB differs.
 */
import { compareCodePoints, doubleLiteral, quoteIdentifier, quoteString, timestampLiteral } from './filter-compile';
import { literalRowValue, typeOfExpr, type ColumnTypes, type ExprNode, type ExprType } from './expr';
import type { FieldValue, Row } from './schema';

/** An expression that could not be evaluated on an event (overflow, division by zero, a failed cast). */
export class ExprEvalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExprEvalError';
  }
}

/** Evaluation failures are per event and expected: no stack trace (capturing it was most of a throw's cost). */
function fail(message: string): never {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const err = new ExprEvalError(message);
  Error.stackTraceLimit = limit;
  throw err;
}

// ---------------------------------------------------------------------------
// Runtime helpers of the generated code. Every one takes values in row
// representation (bigint: number within ±2^53, else BigInt; timestamp: epoch ms)
// and returns NULL for a NULL argument.
// ---------------------------------------------------------------------------

type Num = number | bigint;
const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;
const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

const int32 = (r: number, what: string): number => {
  if (r < INT32_MIN || r > INT32_MAX) fail(`integer ${what} overflow`);
  return r + 0; // -0 → 0
};

/** A BigInt result back in row representation, or an overflow error. */
const long = (r: bigint, what: string): Num => {
  if (r < LONG_MIN || r > LONG_MAX) fail(`bigint ${what} overflow`);
  return r >= MIN_SAFE && r <= MAX_SAFE ? Number(r) : r;
};

const big = (x: Num): bigint => (typeof x === 'bigint' ? x : BigInt(x));

/** Unicode simple case mappings where JS's full mapping has several code points (Trino maps code point by code point). */
const LOWER_SPECIAL: Readonly<Record<number, number>> = { 0x130: 0x69 };
function upperSpecial(cp: number): number {
  // Greek letters with ypogegrammeni: their simple uppercase is the prosgegrammeni form (UnicodeData.txt).
  if ((cp >= 0x1f80 && cp <= 0x1f87) || (cp >= 0x1f90 && cp <= 0x1f97) || (cp >= 0x1fa0 && cp <= 0x1fa7)) return cp + 8;
  if (cp === 0x1fb3 || cp === 0x1fc3 || cp === 0x1ff3) return cp + 9;
  return cp; // ß, ŉ, ǰ, ligatures …: no single-code-point uppercase, kept as they are
}

function mapCase(s: string, upper: boolean): string {
  let ascii = true;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) { ascii = false; break; }
  if (ascii) return upper ? s.toUpperCase() : s.toLowerCase();
  let out = '';
  for (const ch of s) {
    const m = upper ? ch.toUpperCase() : ch.toLowerCase();
    if (m.length === ch.length || [...m].length === 1) out += m;
    else {
      const cp = ch.codePointAt(0)!;
      out += String.fromCodePoint(upper ? upperSpecial(cp) : (LOWER_SPECIAL[cp] ?? cp));
    }
  }
  return out;
}

function hasSurrogates(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) return true;
  }
  return false;
}

/** Trino's substr: 1-based start in code points, negative from the end; '' for start 0, length ≤ 0 or a start outside the string. */
function substrJs(s: string, start: Num, length: Num | undefined): string {
  const st = Number(start);
  const len = length === undefined ? Infinity : Number(length);
  if (st === 0 || len <= 0 || s.length === 0) return '';
  if (!hasSurrogates(s)) {
    const from = st > 0 ? st - 1 : s.length + st;
    if (from < 0 || from >= s.length) return '';
    return s.slice(from, len === Infinity ? undefined : from + len);
  }
  const cps = [...s];
  const from = st > 0 ? st - 1 : cps.length + st;
  if (from < 0 || from >= cps.length) return '';
  return cps.slice(from, len === Infinity ? undefined : from + len).join('');
}

/** Whitespace Trino trims before parsing a number (Java's String.trim: every char ≤ U+0020). */
function trimJava(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && s.charCodeAt(a) <= 0x20) a++;
  while (b > a && s.charCodeAt(b - 1) <= 0x20) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

const INTEGER_TEXT = /^[+-]?[0-9]+$/;
/** Java's Double.parseDouble grammar without hexadecimal floats: optional f/d suffix, NaN, Infinity. */
const DOUBLE_TEXT = /^[+-]?(?:NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)[fFdD]?$/;
const TIMESTAMP_TEXT = /^(\d{4})-(\d{1,2})-(\d{1,2})(?: (\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,12}))?)?)?$/;
const DAY_MS = 86_400_000;

function castStringToInteger(s: string, to: 'int' | 'bigint'): Num {
  const t = trimJava(s);
  if (!INTEGER_TEXT.test(t)) fail(`cannot cast ${JSON.stringify(s)} to ${to}`);
  const b = BigInt(t);
  if (to === 'int' ? b < INT32_MIN || b > INT32_MAX : b < LONG_MIN || b > LONG_MAX) fail(`cannot cast ${JSON.stringify(s)} to ${to}: out of range`);
  return b >= MIN_SAFE && b <= MAX_SAFE ? Number(b) : b;
}

function castStringToDouble(s: string): number {
  const t = trimJava(s);
  if (!DOUBLE_TEXT.test(t)) fail(`cannot cast ${JSON.stringify(s)} to double`);
  const c = t.charCodeAt(t.length - 1) | 0x20;
  return Number(c === 0x66 || c === 0x64 ? t.slice(0, -1) : t);
}

function castStringToBoolean(s: string): boolean {
  switch (s.toLowerCase()) {
    case 'true': case 't': case '1': return true;
    case 'false': case 'f': case '0': return false;
    default: return fail(`cannot cast ${JSON.stringify(s)} to boolean`);
  }
}

function daysInMonth(y: number, m: number): number {
  return m === 2 ? (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28) : [31, 0, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
}

/** Trino's CAST(varchar AS timestamp) for `YYYY-M-D[ H:MM[:SS[.fraction]]]` (fraction rounded to milliseconds, half up). */
function castStringToTimestamp(s: string): number {
  const m = TIMESTAMP_TEXT.exec(trimJava(s));
  if (m === null) return fail(`cannot cast ${JSON.stringify(s)} to timestamp (expected YYYY-MM-DD[ HH:MM[:SS[.fff]]])`);
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const h = m[4] === undefined ? 0 : Number(m[4]);
  const mi = m[5] === undefined ? 0 : Number(m[5]);
  const sec = m[6] === undefined ? 0 : Number(m[6]);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || sec > 59) fail(`cannot cast ${JSON.stringify(s)} to timestamp: not a valid date-time`);
  const frac = m[7] === undefined ? 0 : Math.round(Number(`0.${m[7]}`) * 1000);
  return daysFromCivil(y, mo, d) * DAY_MS + h * 3_600_000 + mi * 60_000 + sec * 1000 + frac;
}

/** Trino's CAST(double AS int|bigint): rounds half away from zero; NaN, infinities and out-of-range values are errors. */
function castDoubleToInteger(x: number, to: 'int' | 'bigint'): Num {
  const r = x < 0 ? -Math.round(-x) : Math.round(x);
  if (!Number.isFinite(r) || (to === 'int' ? r < INT32_MIN || r > INT32_MAX : r < -9223372036854775808 || r >= 9223372036854775808)) fail(`cannot cast ${x} to ${to}: out of range`);
  return Number.isSafeInteger(r) ? r + 0 : BigInt(r);
}

/** Days since the epoch → [year, month 1-12, day 1-31] (proleptic Gregorian; H. Hinnant's civil_from_days). */
function civil(days: number, out: Int32Array): void {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  out[0] = yoe + era * 400 + (m <= 2 ? 1 : 0);
  out[1] = m;
  out[2] = d;
}
const ymd = new Int32Array(3);

function dateTruncJs(unit: string, ms: number): number {
  switch (unit) {
    case 'second': return Math.floor(ms / 1000) * 1000;
    case 'minute': return Math.floor(ms / 60_000) * 60_000;
    case 'hour': return Math.floor(ms / 3_600_000) * 3_600_000;
    case 'day': return Math.floor(ms / DAY_MS) * DAY_MS;
    case 'week': {
      const days = Math.floor(ms / DAY_MS);
      return (days - (((days + 3) % 7) + 7) % 7) * DAY_MS; // 1970-01-01 was a Thursday: Monday is 3 days before
    }
    default: {
      civil(Math.floor(ms / DAY_MS), ymd);
      const month = unit === 'year' ? 1 : unit === 'quarter' ? Math.floor((ymd[1]! - 1) / 3) * 3 + 1 : ymd[1]!;
      return daysFromCivil(ymd[0]!, month, 1) * DAY_MS;
    }
  }
}

/** [year, month, day] → days since the epoch (the inverse of civil). */
function daysFromCivil(y0: number, m: number, d: number): number {
  const y = m <= 2 ? y0 - 1 : y0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function datePartJs(part: string, ms: number): number {
  const days = Math.floor(ms / DAY_MS);
  const inDay = ms - days * DAY_MS;
  switch (part) {
    case 'hour': return Math.floor(inDay / 3_600_000);
    case 'minute': return Math.floor(inDay / 60_000) % 60;
    case 'second': return Math.floor(inDay / 1000) % 60;
    case 'day_of_week': return ((((days + 3) % 7) + 7) % 7) + 1;
    default: {
      civil(days, ymd);
      switch (part) {
        case 'year': return ymd[0]!;
        case 'quarter': return Math.floor((ymd[1]! - 1) / 3) + 1;
        case 'month': return ymd[1]!;
        case 'day': return ymd[2]!;
        default: { // day_of_year
          const jan1 = dateTruncJs('year', ms);
          return Math.floor((ms - jan1) / DAY_MS) + 1;
        }
      }
    }
  }
}

/** The runtime the generated code calls (`h.*`). */
const H = {
  fail,
  addI: (a: number, b: number) => int32(a + b, 'addition'),
  subI: (a: number, b: number) => int32(a - b, 'subtraction'),
  mulI: (a: number, b: number) => int32(a * b, 'multiplication'),
  divI: (a: number, b: number) => {
    if (b === 0) fail('division by zero');
    return int32((a - (a % b)) / b, 'division');
  },
  modI: (a: number, b: number) => {
    if (b === 0) fail('division by zero');
    return (a % b) + 0;
  },
  negI: (a: number) => int32(-a, 'negation'),
  addL: (a: Num, b: Num): Num => {
    if (typeof a === 'number' && typeof b === 'number') {
      const r = a + b;
      if (Number.isSafeInteger(r)) return r;
    }
    return long(big(a) + big(b), 'addition');
  },
  subL: (a: Num, b: Num): Num => {
    if (typeof a === 'number' && typeof b === 'number') {
      const r = a - b;
      if (Number.isSafeInteger(r)) return r;
    }
    return long(big(a) - big(b), 'subtraction');
  },
  mulL: (a: Num, b: Num): Num => {
    if (typeof a === 'number' && typeof b === 'number') {
      const r = a * b;
      if (Number.isSafeInteger(r)) return r + 0;
    }
    return long(big(a) * big(b), 'multiplication');
  },
  divL: (a: Num, b: Num): Num => {
    // 0 or 0n: loose equality compares a BigInt with a Number by value.
    if (b == 0) fail('division by zero');
    if (typeof a === 'number' && typeof b === 'number') return (a - (a % b)) / b + 0;
    return long(big(a) / big(b), 'division');
  },
  modL: (a: Num, b: Num): Num => {
    // 0 or 0n: loose equality compares a BigInt with a Number by value.
    if (b == 0) fail('division by zero');
    if (typeof a === 'number' && typeof b === 'number') return (a % b) + 0;
    return long(big(a) % big(b), 'modulus');
  },
  negL: (a: Num): Num => (typeof a === 'number' ? a + 0 === 0 ? 0 : -a : long(-a, 'negation')),
  /** A bigint (or int) as a double, as Trino coerces it. */
  toD: (a: Num) => Number(a),
  cmpS: compareCodePoints,
  lower: (s: string) => mapCase(s, false),
  upper: (s: string) => mapCase(s, true),
  substr: substrJs,
  castStrInt: castStringToInteger,
  castStrDouble: castStringToDouble,
  castStrBool: castStringToBoolean,
  castStrTs: castStringToTimestamp,
  castDoubleInt: castDoubleToInteger,
  castLongInt: (a: Num): number => {
    if (a < INT32_MIN || a > INT32_MAX) fail(`cannot cast ${a} to int: out of range`);
    return Number(a);
  },
  dateTrunc: dateTruncJs,
  datePart: datePartJs,
};

export type ExprRuntime = typeof H;

// ---------------------------------------------------------------------------
// JS code generation
// ---------------------------------------------------------------------------

/** Per generated function: statements, temporaries, the literals it closes over. */
class JsGen {
  readonly lines: string[] = [];
  readonly consts: unknown[] = [];
  private n = 0;
  constructor(private readonly columns: ColumnTypes, private readonly read: (name: string) => string) {}

  tmp(): string {
    return `t${this.n++}`;
  }

  constant(v: unknown): string {
    this.consts.push(v);
    return `k[${this.consts.length - 1}]`;
  }

  typeOf(n: ExprNode): ExprType {
    return typeOfExpr(n, this.columns);
  }

  /** `n` as a value of type `to` (a numeric widening), in a fresh temporary if needed. */
  coerced(n: ExprNode, to: ExprType, out: string[]): string {
    const v = this.gen(n, out);
    const t = this.typeOf(n);
    if (to === 'double' && t === 'bigint') return `(${v} === null ? null : h.toD(${v}))`;
    return v;
  }

  /** Emits the statements computing `n` into `out`; returns a JS expression (a temporary or a constant) of its value. */
  gen(n: ExprNode, out: string[]): string {
    switch (n.expr) {
      case 'col': {
        const v = this.tmp();
        out.push(`const ${v} = ${this.read(n.name)};`);
        return v;
      }
      case 'lit': {
        const v = literalRowValue(n);
        if (v === null) return 'null';
        if (typeof v === 'string' || typeof v === 'bigint') return this.constant(v);
        return String(v);
      }
      case 'arith': {
        const t = this.typeOf(n);
        const a = this.coerced(n.args[0], t, out);
        const b = this.coerced(n.args[1], t, out);
        const v = this.tmp();
        if (t === 'double') {
          const op = { add: '+', sub: '-', mul: '*', div: '/', mod: '%' }[n.op];
          out.push(`const ${v} = ${a} === null || ${b} === null ? null : ${a} ${op} ${b};`);
        } else {
          const fn = `${n.op}${t === 'int' ? 'I' : 'L'}`;
          out.push(`const ${v} = ${a} === null || ${b} === null ? null : h.${fn}(${a}, ${b});`);
        }
        return v;
      }
      case 'neg': {
        const t = this.typeOf(n);
        const a = this.gen(n.arg, out);
        const v = this.tmp();
        out.push(`const ${v} = ${a} === null ? null : ${t === 'double' ? `-${a}` : t === 'int' ? `h.negI(${a})` : `h.negL(${a})`};`);
        return v;
      }
      case 'cmp': {
        const ta = this.typeOf(n.args[0]);
        const tb = this.typeOf(n.args[1]);
        const t = ta === tb ? ta : ta === 'double' || tb === 'double' ? 'double' : 'bigint';
        const a = this.coerced(n.args[0], t, out);
        const b = this.coerced(n.args[1], t, out);
        const v = this.tmp();
        const ops = { eq: '==', ne: '!=', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
        // Loose equality: a bigint may be a Number on one side and a BigInt on the other; == compares them by value.
        const test = t === 'string' ? `h.cmpS(${a}, ${b}) ${ops[n.op]} 0` : `${a} ${ops[n.op]} ${b}`;
        out.push(`const ${v} = ${a} === null || ${b} === null ? null : ${test};`);
        return v;
      }
      case 'and':
      case 'or': {
        // Kleene: FALSE decides AND (TRUE decides OR) whatever the others are; else NULL if any is NULL.
        const decisive = n.expr === 'and' ? 'false' : 'true';
        const v = this.tmp();
        const sawNull = this.tmp();
        out.push(`let ${v} = ${n.expr === 'and' ? 'true' : 'false'}; let ${sawNull} = false;`);
        // Later arguments are evaluated only while no earlier one decided: like Trino's short-circuit, an
        // error in an argument after a decisive one is not raised.
        const close: string[] = [];
        n.args.forEach((arg, i) => {
          const inner: string[] = [];
          const a = this.gen(arg, inner);
          out.push(...inner, `if (${a} === ${decisive}) ${v} = ${decisive}; else {`, `if (${a} === null) ${sawNull} = true;`);
          close.push('}');
          if (i === n.args.length - 1) out.push(`if (${sawNull}) ${v} = null;`);
        });
        out.push(close.join(''));
        return v;
      }
      case 'not': {
        const a = this.gen(n.arg, out);
        const v = this.tmp();
        out.push(`const ${v} = ${a} === null ? null : !${a};`);
        return v;
      }
      case 'isNull':
      case 'isNotNull': {
        const a = this.gen(n.arg, out);
        const v = this.tmp();
        out.push(`const ${v} = ${a} ${n.expr === 'isNull' ? '===' : '!=='} null;`);
        return v;
      }
      case 'coalesce': {
        const t = this.typeOf(n);
        const v = this.tmp();
        out.push(`let ${v} = null;`);
        const close: string[] = [];
        for (const arg of n.args) {
          const inner: string[] = [];
          const a = this.coerced(arg, t, inner);
          out.push(...inner, `${v} = ${a};`, `if (${v} === null) {`);
          close.push('}');
        }
        out.push(close.join(''));
        return v;
      }
      case 'fn': {
        const args = n.args.map((a) => this.gen(a, out));
        const v = this.tmp();
        const anyNull = args.map((a) => `${a} === null`).join(' || ');
        let call: string;
        switch (n.fn) {
          case 'lower': call = `h.lower(${args[0]})`; break;
          case 'upper': call = `h.upper(${args[0]})`; break;
          case 'concat': call = args.join(' + ') || "''"; break;
          case 'substr': call = `h.substr(${args[0]}, ${args[1]}, ${args[2] ?? 'undefined'})`; break;
        }
        out.push(`const ${v} = ${anyNull} ? null : ${call};`);
        return v;
      }
      case 'cast': {
        const from = this.typeOf(n.arg);
        const a = this.gen(n.arg, out);
        const v = this.tmp();
        out.push(`const ${v} = ${a} === null ? null : ${castJs(from, n.to, a)};`);
        return v;
      }
      case 'dateTrunc': {
        const a = this.gen(n.arg, out);
        const v = this.tmp();
        out.push(`const ${v} = ${a} === null ? null : h.dateTrunc(${JSON.stringify(n.unit)}, ${a});`);
        return v;
      }
      case 'datePart': {
        const a = this.gen(n.arg, out);
        const v = this.tmp();
        out.push(`const ${v} = ${a} === null ? null : h.datePart(${JSON.stringify(n.part)}, ${a});`);
        return v;
      }
      case 'case': {
        const t = this.typeOf(n);
        const v = this.tmp();
        out.push(`let ${v} = null;`);
        const close: string[] = [];
        for (const b of n.branches) {
          const inner: string[] = [];
          const c = this.gen(b.when, inner);
          const then: string[] = [];
          const x = this.coerced(b.then, t, then);
          out.push(...inner, `if (${c} === true) {`, ...then, `${v} = ${x};`, '} else {');
          close.push('}');
        }
        if (n.else) {
          const e: string[] = [];
          const x = this.coerced(n.else, t, e);
          out.push(...e, `${v} = ${x};`);
        }
        out.push(close.join(''));
        return v;
      }
    }
  }
}

function castJs(from: ExprType, to: ExprType, a: string): string {
  if (from === to) return a;
  switch (to) {
    case 'string': return `String(${a})`; // int, bigint, boolean: Trino's text is JS's
    case 'boolean':
      return from === 'string' ? `h.castStrBool(${a})` : `${a} != 0`; // eslint-style loose: 0 and 0n
    case 'double':
      return from === 'string' ? `h.castStrDouble(${a})` : from === 'boolean' ? `(${a} ? 1 : 0)` : `h.toD(${a})`;
    case 'int':
      if (from === 'string') return `h.castStrInt(${a}, 'int')`;
      if (from === 'double') return `h.castDoubleInt(${a}, 'int')`;
      if (from === 'boolean') return `(${a} ? 1 : 0)`;
      return `h.castLongInt(${a})`;
    case 'bigint':
      if (from === 'string') return `h.castStrInt(${a}, 'bigint')`;
      if (from === 'double') return `h.castDoubleInt(${a}, 'bigint')`;
      if (from === 'boolean') return `(${a} ? 1 : 0)`;
      return a; // int
    case 'timestamp':
      return `h.castStrTs(${a})`;
  }
}

export interface CompileExprOptions {
  /** How the generated code reads a column: a JS expression. @default `row[<name>]` (null when undefined) */
  readonly read?: (name: string) => string;
}

/**
 * Compiles `expr` to a function of the row that returns its value in row
 * representation (null for NULL) or throws ExprEvalError. Type-checks first
 * (ExprTypeError). `columns` gives every column the expression may read.
 */
export function compileExprJs(expr: ExprNode, columns: ColumnTypes, opts: CompileExprOptions = {}): (row: Row) => FieldValue {
  typeOfExpr(expr, columns);
  const read = opts.read ?? ((name: string) => `row[${JSON.stringify(name)}] ?? null`);
  const g = new JsGen(columns, read);
  const body: string[] = [];
  const result = g.gen(expr, body);
  const src = `'use strict';\nreturn function expr(row) {\n${body.join('\n')}\nreturn ${result};\n};`;
  return new Function('h', 'k', src)(H, g.consts) as (row: Row) => FieldValue;
}

/**
 * Compiles a boolean expression into a TRUE-only predicate (a row passes
 * exactly when SQL would evaluate it to TRUE). Errors propagate as ExprEvalError.
 */
export function compileExprPredicate(expr: ExprNode, columns: ColumnTypes): (row: Row) => boolean {
  const t = typeOfExpr(expr, columns);
  if (t !== 'boolean') throw new TypeError(`a filter expression must be a boolean (given ${t})`);
  const f = compileExprJs(expr, columns);
  return (row) => f(row) === true;
}

/** A derived column: its name and expression, in declaration order (later ones may read earlier ones). */
export interface DerivedColumn {
  readonly name: string;
  readonly expr: ExprNode;
  readonly type: ExprType;
}

/**
 * Compiles every derived column into one function that sets them on the row
 * in place, in order, and returns null, or returns the reason when one cannot
 * be evaluated (`derive.<name>: division by zero`); the row is then to be
 * quarantined. `columns` holds the schema fields; derived columns are added.
 */
export function compileDerive(derived: readonly DerivedColumn[], schemaColumns: ColumnTypes): (row: Row) => { readonly reason: string; readonly field: string } | null {
  if (derived.length === 0) return () => null;
  const columns = new Map(schemaColumns);
  const g = new JsGen(columns, (name) => `row[${JSON.stringify(name)}] ?? null`);
  const body: string[] = [];
  derived.forEach((d, i) => {
    typeOfExpr(d.expr, columns);
    const inner: string[] = [];
    const v = g.gen(d.expr, inner);
    body.push(`step = ${i};`, '{', ...inner, `row[${JSON.stringify(d.name)}] = ${v};`, '}');
    columns.set(d.name, d.type);
  });
  const names = derived.map((d) => d.name);
  const src = `'use strict';
return function derive(row) {
  let step = 0;
  try {
${body.join('\n')}
  } catch (err) {
    if (err instanceof ExprEvalError) return { reason: 'derive.' + names[step] + ': ' + err.message, field: names[step] };
    throw err;
  }
  return null;
};`;
  return new Function('h', 'k', 'names', 'ExprEvalError', src)(H, g.consts, names, ExprEvalError) as (row: Row) => { reason: string; field: string } | null;
}

// ---------------------------------------------------------------------------
// SQL (Athena engine v3 / Trino)
// ---------------------------------------------------------------------------

const SQL_TYPES: Readonly<Record<ExprType, string>> = { string: 'varchar', int: 'integer', bigint: 'bigint', double: 'double', boolean: 'boolean', timestamp: 'timestamp' };
const SQL_CMP = { eq: '=', ne: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
const SQL_ARITH = { add: '+', sub: '-', mul: '*', div: '/', mod: '%' } as const;

export interface ExprSqlOptions {
  /** SQL of a column reference. @default the double-quoted name */
  readonly column?: (name: string) => string;
}

/** The SQL type name of an expression type. */
export function sqlTypeOf(t: ExprType): string {
  return SQL_TYPES[t];
}

/**
 * `expr` as an Athena (Trino) SQL expression, parenthesised. Type-checks
 * first (ExprTypeError). The same text runs on the local endpoint through its
 * DuckDB translation.
 */
export function exprToSql(expr: ExprNode, columns: ColumnTypes, opts: ExprSqlOptions = {}): string {
  typeOfExpr(expr, columns);
  const column = opts.column ?? quoteIdentifier;
  const sql = (n: ExprNode): string => {
    switch (n.expr) {
      case 'col': return column(n.name);
      case 'lit': return literalSql(n);
      case 'arith': return `(${sql(n.args[0])} ${SQL_ARITH[n.op]} ${sql(n.args[1])})`;
      case 'neg': return `(- ${sql(n.arg)})`;
      case 'cmp': return `(${sql(n.args[0])} ${SQL_CMP[n.op]} ${sql(n.args[1])})`;
      case 'and': case 'or': return n.args.length === 1 ? sql(n.args[0]!) : `(${n.args.map(sql).join(n.expr === 'and' ? ' AND ' : ' OR ')})`;
      case 'not': return `(NOT ${sql(n.arg)})`;
      case 'isNull': return `(${sql(n.arg)} IS NULL)`;
      case 'isNotNull': return `(${sql(n.arg)} IS NOT NULL)`;
      case 'coalesce': return n.args.length === 1 ? sql(n.args[0]!) : `coalesce(${n.args.map(sql).join(', ')})`;
      case 'fn':
        switch (n.fn) {
          case 'lower': case 'upper': return `${n.fn}(${sql(n.args[0]!)})`;
          // Trino's concat needs two arguments or more.
          case 'concat': return n.args.length === 1 ? sql(n.args[0]!) : `concat(${n.args.map(sql).join(', ')})`;
          case 'substr': return `substr(${n.args.map(sql).join(', ')})`;
        }
        break;
      case 'cast': {
        const from = typeOfExpr(n.arg, columns);
        if (from === n.to) return sql(n.arg);
        // DuckDB's CAST(double AS BIGINT) rounds half to even; round() first is a no-op for Trino (half away from zero) and makes DuckDB agree.
        const arg = from === 'double' && (n.to === 'int' || n.to === 'bigint') ? `round(${sql(n.arg)})` : sql(n.arg);
        return `CAST(${arg} AS ${SQL_TYPES[n.to]})`;
      }
      case 'dateTrunc': return `date_trunc('${n.unit}', ${sql(n.arg)})`;
      case 'datePart': return `${n.part}(${sql(n.arg)})`;
      case 'case':
        return `(CASE ${n.branches.map((b) => `WHEN ${sql(b.when)} THEN ${sql(b.then)}`).join(' ')}${n.else ? ` ELSE ${sql(n.else)}` : ''} END)`;
    }
    throw new TypeError(`unknown expression ${JSON.stringify(n)}`);
  };
  return sql(expr);
}

function literalSql(n: Extract<ExprNode, { expr: 'lit' }>): string {
  const v = literalRowValue(n);
  if (v === null) return `CAST(NULL AS ${SQL_TYPES[n.type]})`;
  switch (n.type) {
    case 'string': return quoteString(v as string);
    case 'boolean': return v ? 'TRUE' : 'FALSE';
    case 'int': return v === INT32_MIN ? `CAST(${v} AS integer)` : String(v);
    case 'bigint': return `CAST(${String(v)} AS bigint)`;
    case 'double': return doubleLiteral(v as number);
    case 'timestamp': return timestampLiteral(v as number, 'literal');
  }
}
