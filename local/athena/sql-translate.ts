/**
 * Athena (Trino) SQL → DuckDB SQL, at the token level.
 *
 * Why tokens and not a full Trino grammar: the two dialects share almost all
 * of their syntax (both descend from ANSI SQL; DuckDB's parser is Postgres'),
 * so what differs is a list of functions, types and a few operators. The
 * translated text is then parsed by DuckDB's own parser (`json_serialize_sql`,
 * see query-plan.ts), which is the parser of the engine that runs the query:
 * what it accepts is exactly what executes. Every output piece remembers the
 * source offset it came from, so DuckDB's error positions map back to the
 * user's `line L:C`.
 */

import { TRINO_FUNCTIONS } from './trino-functions';

/** An Athena-style query failure: `CODE: line L:C: message`. */
export class AthenaQueryError extends Error {
  constructor(
    /** Trino error code, e.g. SYNTAX_ERROR, NOT_SUPPORTED, TABLE_NOT_FOUND. */
    readonly code: string,
    readonly detail: string,
    /** 1-based line and column in the user's query, when known. */
    readonly at?: { readonly line: number; readonly column: number },
    /** AthenaError.ErrorCategory: 1 system, 2 user, 3 other. */
    readonly category: 1 | 2 | 3 = 2,
  ) {
    super(`${code}: ${at ? `line ${at.line}:${at.column}: ` : ''}${detail}`);
    this.name = 'AthenaQueryError';
  }
}

export type TokenKind = 'ident' | 'qident' | 'string' | 'number' | 'op' | 'param';
export interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  /** Offset in the source query. */
  readonly pos: number;
}

/** Offset → 1-based line and column, as Trino reports them. */
export function lineColumn(sql: string, pos: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < pos && i < sql.length; i++) {
    if (sql[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: pos - lineStart + 1 };
}

const OPERATORS = ['->', '=>', '||', '<=', '>=', '<>', '!=', '::'];

export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const fail = (pos: number, msg: string): never => {
    throw new AthenaQueryError('SYNTAX_ERROR', msg, lineColumn(sql, pos));
  };
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      if (end < 0) fail(i, 'unterminated comment');
      i = end + 2;
    } else if (c === "'") {
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) fail(i, 'unterminated string literal');
        if (sql[j] === "'") {
          if (sql[j + 1] === "'") j += 2;
          else break;
        } else j++;
      }
      out.push({ kind: 'string', text: sql.slice(i, j + 1), pos: i });
      i = j + 1;
    } else if (c === '"') {
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) fail(i, 'unterminated quoted identifier');
        if (sql[j] === '"') {
          if (sql[j + 1] === '"') j += 2;
          else break;
        } else j++;
      }
      out.push({ kind: 'qident', text: sql.slice(i, j + 1), pos: i });
      i = j + 1;
    } else if (c === '`') {
      fail(i, 'backquoted identifiers are not supported; use double quotes to quote identifiers');
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      const m = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(sql.slice(i))!;
      out.push({ kind: 'number', text: m[0], pos: i });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_$@]*/.exec(sql.slice(i))!;
      out.push({ kind: 'ident', text: m[0], pos: i });
      i += m[0].length;
    } else if (c === '?') {
      out.push({ kind: 'param', text: '?', pos: i });
      i++;
    } else {
      const op = OPERATORS.find((o) => sql.startsWith(o, i)) ?? c;
      out.push({ kind: 'op', text: op, pos: i });
      i += op.length;
    }
  }
  return out;
}

/** A piece of translated text and the source offset it stands for. */
export interface Piece {
  readonly text: string;
  readonly src: number;
}

export interface Translation {
  /** DuckDB SQL. */
  readonly sql: string;
  /** Maps an offset in `sql` back to an offset in the source query. */
  sourceOffset(outPos: number): number;
}

const isWord = (t: Token | undefined, w: string): boolean => !!t && t.kind === 'ident' && t.text.toLowerCase() === w;

/**
 * Trino functions DuckDB runs under the same name with the same results (checked by the
 * conformance corpus, test/athena-conformance/corpus.ts). A Trino function in neither this set nor
 * the translator's rewrites fails NOT_SUPPORTED; a name Trino does not know fails
 * FUNCTION_NOT_FOUND, as on Athena (a DuckDB-only function must not work locally only).
 */
const SAME_FUNCTIONS = new Set([
  'abs', 'acos', 'asin', 'atan', 'atan2', 'avg', 'bool_and', 'bool_or', 'cbrt', 'ceil', 'ceiling', 'chr', 'concat_ws',
  'corr', 'cos', 'cosh', 'count', 'count_if', 'covar_pop', 'covar_samp', 'cume_dist', 'day', 'degrees', 'dense_rank',
  'exp', 'first_value', 'flatten', 'floor', 'grouping', 'hour', 'lag', 'last_value', 'lead', 'length', 'ln',
  'log10', 'log2', 'lower', 'lpad', 'ltrim', 'map', 'map_concat', 'map_from_entries', 'map_keys', 'map_values', 'max',
  'max_by', 'min', 'min_by', 'minute', 'mod', 'month', 'now', 'nth_value', 'ntile', 'percent_rank', 'pi', 'pow', 'power',
  'quarter', 'radians', 'rank', 'regexp_extract_all', 'regr_intercept', 'regr_slope', 'round', 'row_number', 'rpad',
  'rtrim', 'second', 'sign', 'sin', 'sqrt', 'starts_with', 'stddev', 'stddev_pop', 'stddev_samp', 'strpos', 'substr',
  'substring', 'sum', 'tan', 'tanh', 'translate', 'trim', 'upper', 'var_pop', 'var_samp', 'variance', 'week', 'year',
  'array_agg', 'histogram', 'json_array_length', 'json_extract', 'geometric_mean', 'any_value', 'random', 'unnest',
]);

/** Words that may stand before `(` without being a call. */
const NOT_CALLS = new Set([
  'in', 'exists', 'values', 'over', 'as', 'on', 'using', 'join', 'from', 'and', 'or', 'not', 'when', 'then', 'else',
  'case', 'select', 'where', 'having', 'by', 'within', 'lateral', 'all', 'any', 'some', 'distinct', 'like', 'between',
  'is', 'with', 'rollup', 'cube', 'sets', 'union', 'intersect', 'except', 'window', 'partition', 'range', 'rows',
  'zone', 'recursive', 'table', 'row', 'array', 'interval', 'groups', 'limit', 'offset', 'fetch', 'escape', 'end',
  'ordinality', 'cross', 'inner', 'left', 'right', 'full', 'outer', 'natural', 'group', 'order', 'asc', 'desc', 'nulls',
  'following', 'preceding', 'unbounded', 'current', 'set', 'only', 'next', 'first', 'last', 'trim', 'extract', 'returns',
  'return', 'if', 'coalesce', 'nullif', 'try', 'position', 'cast', 'try_cast',
]);

/** Trino name → DuckDB name, same arguments and results. */
const RENAMED_FUNCTIONS: Readonly<Record<string, string>> = {
  array_join: 'array_to_string',
  array_max: 'list_max',
  array_min: 'list_min',
  array_intersect: 'list_intersect',
  contains: 'list_contains',
  transform: 'list_transform',
  filter: 'list_filter',
  to_unixtime: 'epoch',
  regexp_like: 'regexp_matches',
  regexp_split: 'regexp_split_to_array',
  arbitrary: 'any_value',
  day_of_week: 'isodow',
  dow: 'isodow',
  day_of_year: 'dayofyear',
  doy: 'dayofyear',
  day_of_month: 'dayofmonth',
  year_of_week: 'isoyear',
  yow: 'isoyear',
  week_of_year: 'week',
  last_day_of_month: 'last_day',
  is_nan: 'isnan',
  is_finite: 'isfinite',
  is_infinite: 'isinf',
  truncate: 'trunc',
  rand: 'random',
  split: 'string_split',
  codepoint: 'ord',
  every: 'bool_and',
  bitwise_and_agg: 'bit_and',
  bitwise_or_agg: 'bit_or',
  levenshtein_distance: 'levenshtein',
  hamming_distance: 'hamming',
  to_utf8: 'encode',
  from_utf8: 'decode',
  to_hex: 'hex',
  from_hex: 'unhex',
  format: 'printf',
};

/** Aggregates whose result on a decimal Trino keeps decimal (avg) or computes in real (the statistics). */
const DECIMAL_SENSITIVE = new Set(['avg', 'corr', 'covar_pop', 'covar_samp', 'regr_slope', 'regr_intercept', 'geometric_mean']);

/** date_trunc units as time_bucket widths: time_bucket keeps a date a date (DuckDB's date_trunc makes it a timestamp); its default origins (2000-01-03, a Monday, and 2000-01-01) align weeks, months, quarters and years as Trino does. */
const TRUNC_BUCKETS: Readonly<Record<string, string>> = {
  second: '1 second',
  minute: '1 minute',
  hour: '1 hour',
  day: '1 day',
  week: '7 days',
  month: '1 month',
  quarter: '3 months',
  year: '1 year',
};

/** Functions whose first argument may be `x AT TIME ZONE z`: they read the wall-clock fields, which the translation gets right. */
const ZONE_FIELD_FUNCTIONS = new Set(['year', 'month', 'day', 'hour', 'minute', 'second', 'day_of_week', 'dow', 'day_of_year', 'doy', 'week', 'quarter', 'date', 'date_format', 'day_of_month']);

const DATE_UNITS: Readonly<Record<string, string>> = {
  millisecond: '1 MILLISECOND',
  second: '1 SECOND',
  minute: '1 MINUTE',
  hour: '1 HOUR',
  day: '1 DAY',
  week: '7 DAY',
  month: '1 MONTH',
  quarter: '3 MONTH',
  year: '1 YEAR',
};

/** MySQL-style date_format specifiers (Trino's date_format/date_parse) → strftime's. */
const MYSQL_FORMAT: Readonly<Record<string, string>> = {
  a: '%a', b: '%b', c: '%-m', d: '%d', e: '%-d', f: '%f', H: '%H', h: '%I', I: '%I', i: '%M', j: '%j', k: '%-H', l: '%-I',
  M: '%B', m: '%m', p: '%p', r: '%I:%M:%S %p', S: '%S', s: '%S', T: '%H:%M:%S', v: '%V', W: '%A', x: '%G', Y: '%Y', y: '%y', '%': '%%',
};

/** Joda-Time patterns (Trino's format_datetime/parse_datetime) → strftime, for the common letters. */
const JODA_FORMAT: Readonly<Record<string, string>> = {
  yyyy: '%Y', yy: '%y', MMMM: '%B', MMM: '%b', MM: '%m', dd: '%d', d: '%-d', HH: '%H', H: '%-H', hh: '%I', h: '%-I',
  mm: '%M', ss: '%S', SSS: '%g', EEEE: '%A', EEE: '%a', a: '%p', DDD: '%j',
};

export function jodaToStrftime(format: string): string {
  let out = '';
  for (let i = 0; i < format.length;) {
    const c = format[i]!;
    if (c === "'") {
      const end = format.indexOf("'", i + 1);
      if (end < 0) throw new AthenaQueryError('INVALID_FUNCTION_ARGUMENT', `unterminated quoted text in datetime format '${format}'`);
      out += end === i + 1 ? "'" : format.slice(i + 1, end).replace(/%/g, '%%');
      i = end + 1;
    } else if (/[A-Za-z]/.test(c)) {
      let j = i;
      while (format[j] === c) j++;
      const mapped = JODA_FORMAT[format.slice(i, j)];
      if (mapped === undefined) throw new AthenaQueryError('NOT_SUPPORTED', `datetime format pattern '${format.slice(i, j)}' is not supported by the local Athena endpoint`);
      out += mapped;
      i = j;
    } else {
      out += c === '%' ? '%%' : c;
      i++;
    }
  }
  return out;
}

export function mysqlToStrftime(format: string): string {
  let out = '';
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    if (c !== '%') {
      out += c;
      continue;
    }
    const spec = format[++i];
    const mapped = spec === undefined ? undefined : MYSQL_FORMAT[spec];
    if (mapped === undefined) throw new AthenaQueryError('NOT_SUPPORTED', `date format specifier %${spec ?? ''} is not supported by the local Athena endpoint`);
    out += mapped;
  }
  return out;
}

/** Trino's array_distinct: first occurrences in order (DuckDB's list_distinct reorders and drops NULLs). */
function distinctInOrder(list: Piece[], join: (...parts: (Piece[] | string)[]) => Piece[]): Piece[] {
  return join('list_transform([', list, '], _l -> list_filter(_l, (_v, _i) -> list_position(_l, _v) = _i))[1]');
}

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function unquoteString(text: string): string {
  return text.slice(1, -1).replace(/''/g, "'");
}

class Translator {
  private readonly tokens: Token[];
  /** Index of the matching close paren for each open paren. */
  private readonly match = new Map<number, number>();

  /** The next token starts CAST(ROW(…) AS ROW(…)): DuckDB casts a ROW() by position, a named struct only by name. */
  private castRow = false;

  /** The query names the hidden column "$path". */
  private readonly mentionsPath: boolean;

  constructor(private readonly source: string, params: readonly string[]) {
    this.tokens = substituteParameters(tokenize(source), params, source);
    this.mentionsPath = this.tokens.some((t) => t.kind === 'qident' && t.text.toLowerCase() === '"$path"');
    const stack: number[] = [];
    this.tokens.forEach((t, i) => {
      if (t.kind !== 'op') return;
      if (t.text === '(' || t.text === '[') stack.push(i);
      else if (t.text === ')' || t.text === ']') {
        const open = stack.pop();
        if (open === undefined) this.syntax(t, `mismatched input '${t.text}'`);
        this.match.set(open!, i);
      }
    });
    if (stack.length > 0) this.syntax(undefined, "mismatched input '<EOF>'. Expecting: ')'");
  }

  syntax(t: Token | undefined, msg: string): never {
    const pos = t ? t.pos : this.source.trimEnd().length;
    throw new AthenaQueryError('SYNTAX_ERROR', msg, lineColumn(this.source, pos));
  }

  notSupported(t: Token, what: string): never {
    throw new AthenaQueryError('NOT_SUPPORTED', `${what} is not supported by the local Athena endpoint (DuckDB)`, lineColumn(this.source, t.pos));
  }

  /**
   * Trino keeps decimals through avg and division (rounded to the argument's scale) and computes corr,
   * covar_*, regr_* and geometric_mean of decimals in real; DuckDB turns decimals into doubles. The types
   * are not known here, so an argument that is visibly decimal fails NOT_SUPPORTED: a decimal literal,
   * a CAST to decimal, or a column of an inline VALUES table holding a decimal literal.
   */
  private refuseDecimalArithmetic(): void {
    const decimalLiteral = (i: number): boolean => this.tokens[i]?.kind === 'number' && /\./.test(this.tokens[i]!.text) && !/e/i.test(this.tokens[i]!.text);
    const columns = new Set<string>();
    this.tokens.forEach((t, v) => {
      if (!isWord(t, 'values')) return;
      const decimalAt = new Set<number>();
      /** Per position: integer digits and scale of its number literals, whether all its values are number literals or NULL, whether one is an integer. */
      const shape = new Map<number, { digits: number; scale: number; numeric: boolean; integer: boolean }>();
      let i = v + 1;
      while (this.tokens[i]?.text === '(') {
        const close = this.match.get(i)!;
        this.argRanges(i + 1, close).forEach(([s, e], k) => {
          const n = this.tokens[s]?.text === '-' ? s + 1 : s;
          if (n === e - 1 && decimalLiteral(n)) decimalAt.add(k);
          const sh = shape.get(k) ?? { digits: 0, scale: 0, numeric: true, integer: false };
          const num = n === e - 1 && this.tokens[n]?.kind === 'number' && !/e/i.test(this.tokens[n]!.text) ? this.tokens[n]!.text : null;
          if (num !== null) {
            const [whole, frac = ''] = num.split('.');
            sh.digits = Math.max(sh.digits, whole!.replace(/^0+/, '').length || 1);
            sh.scale = Math.max(sh.scale, frac.length);
            if (!num.includes('.')) sh.integer = true;
          } else if (!(s === e - 1 && isWord(this.tokens[s], 'null'))) sh.numeric = false;
          shape.set(k, sh);
        });
        i = close + 1;
        if (this.tokens[i]?.text !== ',') break;
        i++;
      }
      if (this.tokens[i]?.text === ')') i++;
      if (isWord(this.tokens[i], 'as')) i++;
      if (this.tokens[i]?.kind !== 'ident' || this.tokens[i + 1]?.text !== '(') return;
      this.argRanges(i + 2, this.match.get(i + 1)!).forEach(([s], k) => {
        const name = this.tokens[s]!.text.toLowerCase();
        const sh = shape.get(k);
        if (decimalAt.has(k)) columns.add(name);
        // Trino's common type of the literals: an integer is a decimal(10, 0) beside decimals.
        if (decimalAt.has(k) && sh?.numeric) this.decimalColumns.set(name, { precision: Math.min(38, Math.max(sh.digits, sh.integer ? 10 : 0) + sh.scale), scale: sh.scale });
        else if (sh?.numeric && !decimalAt.has(k)) this.integerColumns.add(name);
      });
    });
    const decimalAt = (i: number): boolean => {
      const t = this.tokens[i];
      if (!t) return false;
      if (decimalLiteral(i) || isWord(t, 'decimal')) return true;
      return (t.kind === 'ident' || t.kind === 'qident') && columns.has(t.text.replace(/"/g, '').toLowerCase()) && this.tokens[i + 1]?.text !== '(';
    };
    this.tokens.forEach((t, i) => {
      if (t.kind === 'ident' && DECIMAL_SENSITIVE.has(t.text.toLowerCase()) && this.tokens[i + 1]?.text === '(' && !this.decimalAggregate(i)) {
        const close = this.match.get(i + 1)!;
        for (let j = i + 2; j < close; j++) {
          if (decimalAt(j)) this.notSupported(t, `${t.text.toLowerCase()}() of a decimal (Trino keeps the decimal or uses real, DuckDB a double)`);
        }
      }
      if (t.kind === 'op' && t.text === '/' && ((this.tokens[i - 1]?.kind !== 'number' && decimalAt(i - 1)) || (this.tokens[i + 1]?.kind !== 'number' && decimalAt(i + 1)))) {
        this.notSupported(t, 'Division of a decimal column (Trino keeps the decimal, DuckDB gives a double)');
      }
    });
  }

  /**
   * Tokens [first, last] are a whole item of the statement's outermost select list. Only there may a
   * zone-keeping timestamp be built (a one-field struct the result printer shows as Trino does): any
   * other use of it would reach DuckDB functions that do not take it.
   */
  private selectItem(first: number, last: number): boolean {
    for (const [open, close] of this.match) if (open < first && close > last) return false;
    const before = this.tokens[first - 1];
    const after = this.tokens[last + 1];
    return (isWord(before, 'select') || before?.text === ',') && (after === undefined || after.text === ',' || after.text === ';' || isWord(after, 'from') || isWord(after, 'as'));
  }

  /** Trino's `timestamp with time zone` text of the wall-clock timestamp `wall` (pieces) in the named zone `zone`. */
  private zoned(wall: Piece[], zone: Piece[], src: number): Piece[] {
    return [{ text: "{'__athena_zoned': strftime(", src }, ...wall, { text: ", '%Y-%m-%d %H:%M:%S.%g') || ' ' || ", src }, ...zone, { text: '}', src }];
  }

  /** Columns of inline VALUES tables whose values are decimal literals: Trino's type. */
  private readonly decimalColumns = new Map<string, { precision: number; scale: number }>();
  /** Columns of inline VALUES tables whose values are integer literals. */
  private readonly integerColumns = new Set<string>();

  /**
   * The type Trino gives `f(col, …)` at token i when its arguments are columns of inline VALUES tables:
   * avg of a decimal(p, s) is a decimal(p, s) (rounded half up); corr, covar_*, regr_* and geometric_mean
   * of decimals (and integers) are computed in real. Null when not visible.
   */
  private decimalAggregate(i: number): string | null {
    const fn = this.tokens[i]!.text.toLowerCase();
    const close = this.match.get(i + 1)!;
    const names: string[] = [];
    for (const [s, e] of this.argRanges(i + 2, close)) {
      if (e !== s + 1 || this.tokens[s]!.kind !== 'ident') return null;
      names.push(this.tokens[s]!.text.toLowerCase());
    }
    const decimal = names.map((n) => this.decimalColumns.get(n));
    if (fn === 'avg' && names.length === 1 && decimal[0]) return `DECIMAL(${decimal[0].precision}, ${decimal[0].scale})`;
    const real = ['corr', 'covar_pop', 'covar_samp', 'regr_slope', 'regr_intercept', 'geometric_mean'];
    if (real.includes(fn) && decimal.some((d) => d) && names.every((n) => this.decimalColumns.has(n) || this.integerColumns.has(n))) return 'FLOAT';
    return null;
  }

  run(): Piece[] {
    this.refuseDecimalArithmetic();
    let end = this.tokens.length;
    // One statement; a trailing semicolon is allowed, as in the Athena console.
    const semi = this.tokens.findIndex((t) => t.kind === 'op' && t.text === ';');
    if (semi >= 0) {
      if (semi !== this.tokens.length - 1) this.syntax(this.tokens[semi + 1], 'Only one sql statement is allowed');
      end = semi;
    }
    const first = this.tokens[0];
    if (isWord(first, 'values')) {
      // Trino names the columns of a bare VALUES _col0, _col1, …; DuckDB col0, col1.
      const width = this.valuesWidth(1, end);
      const names = Array.from({ length: width }, (_, k) => `"_col${k}"`).join(', ');
      return [{ text: 'SELECT * FROM (', src: first!.pos }, ...this.seq(0, end).flat(), { text: `) AS _values(${names})`, src: first!.pos }];
    }
    return this.seq(0, end).flat();
  }

  /** Where the row list of a VALUES starting at `start` ends, and the top-level commas in it. */
  private valuesItems(start: number, end: number): [number, number][] {
    const items: [number, number][] = [];
    let itemStart = start;
    let j = start;
    for (; j < end; j++) {
      const t = this.tokens[j]!;
      if (t.kind === 'op' && (t.text === '(' || t.text === '[')) j = this.match.get(j)!;
      else if (t.kind === 'op' && t.text === ',') {
        items.push([itemStart, j]);
        itemStart = j + 1;
      } else if (t.kind === 'ident' && ['order', 'limit', 'offset', 'fetch', 'union', 'intersect', 'except'].includes(t.text.toLowerCase())) break;
    }
    items.push([itemStart, j]);
    return items;
  }

  private isGroup(start: number, end: number): boolean {
    return this.tokens[start]?.text === '(' && this.match.get(start) === end - 1;
  }

  private valuesWidth(start: number, end: number): number {
    const [a, b] = this.valuesItems(start, end)[0]!;
    return this.isGroup(a, b) ? this.args(a + 1, b - 1).length : 1;
  }

  /** True when tokens [start, end) are an expression of type date that the translator can see without types: a DATE literal, current_date, CAST(… AS date), date(…), date_add/date_trunc of one. */
  private isDateExpr(start: number, end: number): boolean {
    const t = this.tokens[start];
    if (!t || start >= end) return false;
    if (end - start === 2 && isWord(t, 'date') && this.tokens[start + 1]!.kind === 'string') return true;
    if (end - start === 1 && isWord(t, 'current_date')) return true;
    if (this.isGroup(start, end)) return this.isDateExpr(start + 1, end - 1);
    if (t.kind !== 'ident' || this.tokens[start + 1]?.text !== '(' || this.match.get(start + 1) !== end - 1) return false;
    const fn = t.text.toLowerCase();
    if (['date', 'from_iso8601_date', 'last_day_of_month'].includes(fn)) return true;
    if (fn === 'cast' || fn === 'try_cast') return isWord(this.tokens[end - 2], 'date') && isWord(this.tokens[end - 3], 'as');
    if (fn === 'date_add' || fn === 'date_trunc') {
      const a = this.argRanges(start + 2, end - 1);
      const last = a[a.length - 1];
      return !!last && this.isDateExpr(last[0], last[1]);
    }
    return false;
  }

  /** Top-level comma-separated ranges of [start, close). */
  private argRanges(start: number, close: number): [number, number][] {
    const out: [number, number][] = [];
    if (start >= close) return out;
    let argStart = start;
    for (let i = start; i <= close; i++) {
      const t = this.tokens[i]!;
      if (i === close || (t.kind === 'op' && t.text === ',')) {
        out.push([argStart, i]);
        argStart = i + 1;
      } else if (t.kind === 'op' && (t.text === '(' || t.text === '[')) i = this.match.get(i)!;
    }
    return out;
  }

  /** The token range that may be `x AT TIME ZONE z` (the first argument of an hour()/date()/date_format()-like function). */
  private zoneOk: { start: number; end: number } | null = null;

  /** Translates [start, end) allowing it to be `x AT TIME ZONE z` when `zone`. */
  private seqZone(start: number, end: number, zone: boolean): Piece[] {
    const saved = this.zoneOk;
    if (zone) this.zoneOk = { start, end };
    try {
      return this.seq(start, end).flat();
    } finally {
      this.zoneOk = saved;
    }
  }

  /** Translates tokens [start, end) into units; a unit is one operand-sized chunk (a token, a call, a parenthesised group). */
  seq(start: number, end: number): Piece[][] {
    const units: Piece[][] = [];
    let i = start;
    while (i < end) {
      const t = this.tokens[i]!;
      const next = this.tokens[i + 1];
      const prev = this.tokens[i - 1];
      // FILTER (WHERE …) after an aggregate is a clause, not Trino's filter(array, lambda): WHERE cannot begin an argument.
      if (isWord(t, 'filter') && next?.text === '(' && isWord(this.tokens[i + 2], 'where')) {
        const close = this.match.get(i + 1)!;
        units.push([{ text: 'FILTER (', src: t.pos }, ...this.seq(i + 2, close).flat(), { text: ')', src: this.tokens[close]!.pos }]);
        i = close + 1;
        continue;
      }
      if (isWord(t, 'values')) {
        // Trino's VALUES 1, 2 is two rows; DuckDB needs each row in parentheses.
        const items = this.valuesItems(i + 1, end);
        const out: Piece[] = [{ text: 'VALUES', src: t.pos }];
        items.forEach(([a, b], k) => {
          if (k > 0) out.push({ text: ',', src: this.tokens[a - 1]!.pos });
          const inner = this.seq(a, b).flat();
          out.push(...(this.isGroup(a, b) ? inner : [{ text: '(', src: this.tokens[a]?.pos ?? t.pos }, ...inner, { text: ')', src: this.tokens[a]?.pos ?? t.pos }]));
        });
        units.push(out);
        i = items[items.length - 1]![1];
        continue;
      }
      if (isWord(t, 'row') && next?.text === '(' && !this.castRow) {
        // An anonymous row: Trino names its fields field0, field1, …; DuckDB's ROW() names them all '' (and then they collide).
        const close = this.match.get(i + 1)!;
        const a = this.args(i + 2, close);
        units.push([{ text: '{', src: t.pos }, ...a.flatMap((x, k) => [{ text: `${k === 0 ? '' : ', '}'field${k}': `, src: t.pos }, ...x.pieces]), { text: '}', src: this.tokens[close]!.pos }]);
        i = close + 1;
        continue;
      }
      this.castRow = false;
      if (isWord(t, 'listagg') && next?.text === '(') {
        // listagg(x, sep) WITHIN GROUP (ORDER BY …) → string_agg(x, sep ORDER BY …)
        const close = this.match.get(i + 1)!;
        if (!isWord(this.tokens[close + 1], 'within') || !isWord(this.tokens[close + 2], 'group') || this.tokens[close + 3]?.text !== '(') this.syntax(this.tokens[close + 1], "mismatched input. Expecting: 'WITHIN'");
        const gclose = this.match.get(close + 3)!;
        const a = this.args(i + 2, close);
        if (a.length !== 2 || !isWord(this.tokens[close + 4], 'order')) this.notSupported(t, 'listagg with ON OVERFLOW or without a separator');
        units.push([{ text: 'string_agg(', src: t.pos }, ...a[0]!.pieces, { text: ', ', src: t.pos }, ...a[1]!.pieces, { text: ' ', src: t.pos }, ...this.seq(close + 4, gclose).flat(), { text: ')', src: t.pos }]);
        i = gclose + 1;
        continue;
      }
      if (isWord(t, 'count_if') && next?.text === '(' && !(prev?.kind === 'op' && prev.text === '.')) {
        // Trino's count_if counts 0 when no condition is true, NULLs included; DuckDB's is NULL when every condition is NULL.
        const close = this.match.get(i + 1)!;
        let end = close + 1;
        if (isWord(this.tokens[end], 'filter') && this.tokens[end + 1]?.text === '(') end = this.match.get(end + 1)! + 1;
        if (isWord(this.tokens[end], 'over') && this.tokens[end + 1]?.text === '(') end = this.match.get(end + 1)! + 1;
        units.push([{ text: 'coalesce(', src: t.pos }, ...this.call(t, i + 2, close)!, ...this.seq(close + 1, end).flat(), { text: ', 0)', src: t.pos }]);
        i = end;
        continue;
      }
      const decimalType = t.kind === 'ident' && next?.text === '(' && DECIMAL_SENSITIVE.has(t.text.toLowerCase()) ? this.decimalAggregate(i) : null;
      if (decimalType) {
        // The aggregate with its FILTER and OVER clauses, cast to Trino's result type.
        const close = this.match.get(i + 1)!;
        let end = close + 1;
        if (isWord(this.tokens[end], 'filter') && this.tokens[end + 1]?.text === '(') end = this.match.get(end + 1)! + 1;
        if (isWord(this.tokens[end], 'over') && this.tokens[end + 1]?.text === '(') end = this.match.get(end + 1)! + 1;
        units.push([{ text: 'CAST(', src: t.pos }, ...this.call(t, i + 2, close)!, ...this.seq(close + 1, end).flat(), { text: ` AS ${decimalType})`, src: t.pos }]);
        i = end;
        continue;
      }
      // `t(x, y)` after `)`, AS or a table name is an alias with column names, not a call.
      const alias = prev !== undefined && ((prev.kind === 'op' && prev.text === ')') || prev.kind === 'qident' || (prev.kind === 'ident' && (isWord(prev, 'as') || !NOT_CALLS.has(prev.text.toLowerCase()))));
      // `t(n) AS (` is a CTE with column names (`WITH [RECURSIVE] t(n) AS (…)`): no call is followed by `AS (`.
      const parenEnd = next?.kind === 'op' && next.text === '(' ? this.match.get(i + 1) : undefined;
      const cteColumns = parenEnd !== undefined && isWord(this.tokens[parenEnd + 1], 'as') && this.tokens[parenEnd + 2]?.text === '(';
      if (t.kind === 'ident' && next?.kind === 'op' && next.text === '(' && !alias && !cteColumns && !(prev?.kind === 'op' && prev.text === '.')) {
        const close = this.match.get(i + 1)!;
        const call = this.call(t, i + 2, close);
        if (call) {
          units.push(call);
          i = close + 1;
          continue;
        }
      }
      if (t.kind === 'op' && (t.text === '(' || t.text === '[')) {
        const close = this.match.get(i)!;
        units.push([{ text: t.text, src: t.pos }, ...this.seq(i + 1, close).flat(), { text: this.tokens[close]!.text, src: this.tokens[close]!.pos }]);
        i = close + 1;
        continue;
      }
      // Typed literals stay one operand: TIMESTAMP '2024-01-01 00:00:00', DATE '…'.
      if (t.kind === 'ident' && next?.kind === 'string' && ['timestamp', 'date', 'time'].includes(t.text.toLowerCase())) {
        const word = t.text.toLowerCase();
        const zone = word === 'timestamp' ? /\d\s*(Z|[A-Za-z][\w/+-]*|[+-]\d{1,2}(:?\d{2})?)\s*'$/.exec(next.text) : null;
        if (zone) {
          // Trino keeps the literal's zone in the value (and prints it); DuckDB's TIMESTAMPTZ keeps only the instant, printed in UTC.
          const utc = /^(UTC|Z|GMT|\+00(:?00)?|-00(:?00)?)$/i.test(zone[1]!);
          const after = (k: number): Token | undefined => this.tokens[i + 2 + k];
          if (!utc && prev?.text === '(' && isWord(this.tokens[i - 2], 'to_unixtime') && after(0)?.text === ')' && /^[+-]/.test(zone[1]!)) {
            // Only the instant is read: the offset gives it (DuckDB reads an offset written without a space).
            units.push([{ text: 'CAST(', src: t.pos }, { text: sqlString(unquoteString(next.text).replace(/\s+([+-]\d)/, '$1')), src: next.pos }, { text: ' AS TIMESTAMPTZ)', src: t.pos }]);
            i += 2;
            continue;
          }
          if (!utc && isWord(after(0), 'as') && isWord(after(1), 'timestamp') && after(2)?.text === ')' && prev?.text === '(' && isWord(this.tokens[i - 2], 'cast')) {
            // CAST(timestamp with time zone AS timestamp) keeps the wall-clock time in the value's zone: the literal's own text.
            units.push([{ text: 'TIMESTAMP ', src: t.pos }, { text: sqlString(unquoteString(next.text).slice(0, zone.index + 1).trim()), src: next.pos }]);
            i += 2;
            continue;
          }
          if (!utc && this.selectItem(i, i + 1)) {
            // As written: Trino keeps the literal's wall-clock time and zone.
            const text = unquoteString(next.text);
            const wall = text.slice(0, zone.index + 1).trim();
            const [d, time = '00:00:00'] = wall.split(/[ T]/);
            const [hms, frac = ''] = time.split('.');
            const full = `${d} ${hms!.split(':').concat(['00', '00']).slice(0, 3).map((x) => x.padStart(2, '0')).join(':')}.${frac.padEnd(3, '0').slice(0, 3)}`;
            units.push([{ text: `{'__athena_zoned': ${sqlString(`${full} ${zone[1]}`)}}`, src: t.pos }]);
            i += 2;
            continue;
          }
          if (!utc) this.notSupported(t, `A timestamp with time zone literal in a zone other than UTC ('${zone[1]}')`);
          units.push([{ text: 'CAST(', src: t.pos }, { text: next.text, src: next.pos }, { text: ' AS TIMESTAMPTZ)', src: t.pos }]);
          i += 2;
          continue;
        }
        const op = this.tokens[i + 2];
        const unit = this.tokens[i + 4]?.text.toLowerCase() ?? '';
        if (word === 'date' && op?.kind === 'op' && (op.text === '+' || op.text === '-') && isWord(this.tokens[i + 3], 'interval') && this.tokens[i + 4 - 0]?.kind === 'string' && i + 5 < end + 1) {
          const u = this.tokens[i + 5]?.text.toLowerCase() ?? '';
          // Trino: date ± interval of days, months or years is a date; DuckDB makes it a timestamp.
          if (['day', 'month', 'year', 'week'].includes(u) && !isWord(this.tokens[i + 6], 'to')) {
            units.push([{ text: 'CAST(DATE ', src: t.pos }, { text: next.text, src: next.pos }, { text: ` ${op.text} INTERVAL ${this.tokens[i + 4]!.text} ${u.toUpperCase()} AS DATE)`, src: op.pos }]);
            i += 6;
            continue;
          }
        }
        void unit;
        // Trino: date − date is an interval day to second; DuckDB: a number of days.
        if (word === 'date' && prev?.kind === 'op' && prev.text === '-') {
          // Trino: date − date is an interval day to second; DuckDB: a number of days.
          units.pop();
          const left = this.popOperand(units, prev);
          units.push([{ text: 'to_days(CAST((', src: prev.pos }, ...left, { text: ' - DATE ', src: prev.pos }, { text: next.text, src: next.pos }, { text: ') AS INTEGER))', src: prev.pos }]);
          i += 2;
          continue;
        }
        units.push([{ text: t.text.toUpperCase(), src: t.pos }, { text: next.text, src: next.pos }]);
        i += 2;
        continue;
      }
      if (isWord(t, 'interval') && next?.kind === 'string' && isWord(this.tokens[i + 2], 'day') && isWord(this.tokens[i + 3], 'to') && isWord(this.tokens[i + 4], 'second')) {
        // INTERVAL 'd hh:mm:ss[.fff]' DAY TO SECOND (DuckDB knows no DAY TO SECOND qualifier): its microseconds.
        const m = /^'\s*(-)?(\d+) (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,3}))?\s*'$/.exec(next.text);
        if (!m) this.notSupported(t, `INTERVAL ${next.text} DAY TO SECOND in this form`);
        const ms = ((Number(m[2]) * 24 + Number(m[3])) * 60 + Number(m[4])) * 60_000 + Number(m[5]) * 1000 + Number((m[6] ?? '0').padEnd(3, '0'));
        units.push([{ text: `to_microseconds(CAST(${m[1] ? '-' : ''}${ms * 1000} AS BIGINT))`, src: t.pos }]);
        i += 5;
        continue;
      }
      if (isWord(t, 'interval') && next?.kind === 'string' && /^(year|month)s?$/i.test(this.tokens[i + 2]?.text ?? '') && !(prev?.kind === 'op' && ['+', '-'].includes(prev.text) && !/^(year|month|day|hour|minute|second)s?$/i.test(this.tokens[i - 2]?.text ?? ''))) {
        // Trino's INTERVAL YEAR TO MONTH is a type of its own, which DuckDB's one INTERVAL cannot report;
        // as the right operand of a timestamp ± interval it is fine.
        this.notSupported(t, 'An INTERVAL YEAR TO MONTH value other than added to or subtracted from a date or timestamp');
      }
      if (isWord(t, 'at') && isWord(next, 'time') && isWord(this.tokens[i + 2], 'zone')) {
        const left = this.popOperand(units, t);
        const zoneStart = i + 3;
        const zoneTok = this.tokens[zoneStart];
        if (!zoneTok || zoneStart >= end) this.syntax(zoneTok, "mismatched input '<EOF>'. Expecting: <time zone>");
        let zone: Piece[];
        let after: number;
        if (zoneTok.kind === 'op' && zoneTok.text === '(') {
          const close = this.match.get(zoneStart)!;
          zone = this.seq(zoneStart, close + 1).flat();
          after = close + 1;
        } else {
          zone = [{ text: zoneTok.text, src: zoneTok.pos }];
          after = zoneStart + 1;
        }
        // Trino: the instant in UTC (the session zone), shown in `zone`: a timestamp with time zone that
        // keeps the zone. DuckDB has no such value; its wall-clock time in `zone` gives the same fields,
        // so it is used only where just the fields are read (hour(), date(), date_format(), …).
        const operandStart = this.tokens.findIndex((x) => x.pos === left[0]?.src);
        if (!(this.zoneOk && this.zoneOk.start === start && this.zoneOk.end === end && after === end) && zoneTok.kind === 'string' && /^'[A-Za-z]/.test(zoneTok.text) && operandStart >= 0 && this.selectItem(operandStart, after - 1)) {
          // A whole select item: printed as Trino does, the wall-clock time in the zone and the zone.
          units.push(this.zoned([{ text: 'timezone(', src: t.pos }, ...zone, { text: ', CAST(', src: t.pos }, ...left, { text: ' AS TIMESTAMPTZ))', src: t.pos }], zone, t.pos));
          i = after;
          continue;
        }
        if (!(this.zoneOk && this.zoneOk.start === start && this.zoneOk.end === end && after === end)) {
          this.notSupported(t, 'AT TIME ZONE other than as the argument of hour(), day(), date(), date_format() and similar field functions');
        }
        units.push([{ text: 'timezone(', src: t.pos }, ...zone, { text: ', CAST(', src: t.pos }, ...left, { text: ' AS TIMESTAMPTZ))', src: t.pos }]);
        i = after;
        continue;
      }
      if (t.kind === 'ident' && ['unload', 'insert', 'create', 'drop', 'alter', 'delete', 'update', 'merge', 'msck', 'vacuum', 'optimize', 'prepare', 'execute', 'deallocate', 'explain', 'grant', 'revoke'].includes(t.text.toLowerCase()) && i === 0) {
        this.notSupported(t, `${t.text.toUpperCase()} statement`);
      }
      if (t.kind === 'number' && /^\d*\.\d*$/.test(t.text) && t.text.replace('.', '').length > 9) {
        // DuckDB keeps the product of two DECIMALs of ≤ 18 digits in 18 digits (and overflows);
        // Trino widens it up to 38. A wide literal is made DECIMAL(38, s) so that its products fit.
        const scale = t.text.length - t.text.indexOf('.') - 1;
        units.push([{ text: `CAST('${t.text}' AS DECIMAL(38, ${scale}))`, src: t.pos }]);
        i++;
        continue;
      }
      if (t.kind === 'op' && t.text === '*' && this.mentionsPath && (isWord(prev, 'select') || isWord(prev, 'distinct') || isWord(prev, 'all') || prev?.text === ',' || prev?.text === '.')) {
        // Trino's `*` leaves out hidden columns; the local lake views carry "$path" as a column only when the query names it.
        units.push([{ text: prev?.text === '.' ? '* EXCLUDE ("$path")' : `COLUMNS(_c -> _c <> '$path')`, src: t.pos }]);
        i++;
        continue;
      }
      units.push([{ text: t.text, src: t.pos }]);
      i++;
    }
    return units;
  }

  /**
   * A lambda `x -> body` or `(x, y) -> body` in [start, end), its body translated with each
   * parameter replaced by the given DuckDB expression (for functions DuckDB spells with one
   * lambda over entries or indexes, e.g. zip_with, transform_values).
   */
  private lambdaBody(start: number, end: number, replacements: readonly string[], at: Token): Piece[] {
    let params: string[];
    let arrow: number;
    if (this.tokens[start]?.text === '(') {
      const close = this.match.get(start)!;
      params = this.argRanges(start + 1, close).map(([a]) => this.tokens[a]!.text.toLowerCase());
      arrow = close + 1;
    } else {
      params = [this.tokens[start]?.text.toLowerCase() ?? ''];
      arrow = start + 1;
    }
    if (this.tokens[arrow]?.text !== '->' || params.length !== replacements.length) this.notSupported(at, `a lambda of ${params.length} parameters here`);
    const body = this.seq(arrow + 1, end).flat();
    const names = new Set(params);
    return body.map((piece, k) => {
      const before = body[k - 1];
      if (!names.has(piece.text.toLowerCase()) || before?.text === '.' || !/^[A-Za-z_]\w*$/.test(piece.text)) return piece;
      return { text: `(${replacements[params.indexOf(piece.text.toLowerCase())]})`, src: piece.src };
    });
  }

  /** Removes and returns the operand just before `at` (e.g. `t.ts`, `f(x)`, `(a + b)`). */
  private popOperand(units: Piece[][], at: Token): Piece[] {
    const last = units.pop();
    if (!last) this.syntax(at, "mismatched input 'AT'");
    let operand = last;
    // Qualified names: a.b.c
    while (units.length >= 2 && units[units.length - 1]!.length === 1 && units[units.length - 1]![0]!.text === '.') {
      const dot = units.pop()!;
      const owner = units.pop()!;
      operand = [...owner, ...dot, ...operand];
    }
    return operand;
  }

  /** Splits [start, close) at top-level commas and translates each argument. */
  private args(start: number, close: number, zoneFirst = false): { pieces: Piece[]; first: Token | undefined; start: number; end: number }[] {
    const out: { pieces: Piece[]; first: Token | undefined; start: number; end: number }[] = [];
    if (start >= close) return out;
    let argStart = start;
    for (let i = start; i <= close; i++) {
      const t = this.tokens[i]!;
      if (i === close || (t.kind === 'op' && t.text === ',')) {
        out.push({ pieces: this.seqZone(argStart, i, zoneFirst && out.length === 0), first: this.tokens[argStart], start: argStart, end: i });
        argStart = i + 1;
      } else if (t.kind === 'op' && (t.text === '(' || t.text === '[')) {
        i = this.match.get(i)!;
      }
    }
    return out;
  }

  /** Rewrites a call to a function Trino and DuckDB disagree on; null = pass through unchanged. */
  private call(name: Token, argStart: number, close: number): Piece[] | null {
    const fn = name.text.toLowerCase();
    const src = name.pos;
    const p = (text: string): Piece => ({ text, src });
    const arity = (n: number | readonly number[], got: number): void => {
      const ok = typeof n === 'number' ? got === n : n.includes(got);
      if (!ok) {
        throw new AthenaQueryError(
          'FUNCTION_NOT_FOUND',
          `Unexpected parameters (${got} arguments) for function ${fn}. Expected: ${typeof n === 'number' ? n : n.join(' or ')} arguments`,
          lineColumn(this.source, src),
        );
      }
    };
    const join = (...parts: (Piece[] | string)[]): Piece[] => parts.flatMap((x) => (typeof x === 'string' ? [p(x)] : x));
    const literal = (a: { pieces: Piece[]; first: Token | undefined }, what: string): string => {
      if (a.pieces.length !== 1 || a.first?.kind !== 'string') this.notSupported(name, `${fn}() with a non-literal ${what}`);
      return unquoteString(a.first.text);
    };

    if (fn === 'cast' || fn === 'try_cast') return this.cast(name, argStart, close);
    const zone = ZONE_FIELD_FUNCTIONS.has(fn);
    const renamed = RENAMED_FUNCTIONS[fn];
    if (renamed) return join(`${renamed}(`, this.seqZone(argStart, close, zone), ')');
    const all = (): Piece[] => this.seqZone(argStart, close, zone);

    switch (fn) {
      case 'slice': {
        const a = this.args(argStart, close);
        arity(3, a.length);
        // Trino slice(array, start, length); DuckDB list_slice(list, begin, end), both 1-based and inclusive.
        return join('list_slice(', a[0]!.pieces, ', ', a[1]!.pieces, ', (', a[1]!.pieces, ') + (', a[2]!.pieces, ') - 1)');
      }
      case 'element_at': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        // DuckDB's [] is 1-based, negative from the end and NULL out of bounds, like Trino's element_at on arrays and maps.
        return join('(', a[0]!.pieces, ')[', a[1]!.pieces, ']');
      }
      case 'array_sort': {
        const a = this.args(argStart, close);
        if (a.length === 2) {
          // Insertion sort with the comparator: each element goes after the ones that do not compare greater (stable).
          const cmp = this.lambdaBody(a[1]!.start, a[1]!.end, ['_e', '_x[1]'], name);
          return join('list_transform([', a[0]!.pieces, '], _l -> CASE WHEN len(_l) = 0 THEN _l ELSE list_reduce(list_transform(_l, _v -> [_v]), (_acc, _x) -> list_concat(list_concat(list_slice(_acc, 1, len(list_filter(_acc, _e -> (', cmp, ') <= 0))), _x), list_slice(_acc, len(list_filter(_acc, _e -> (', cmp, ') <= 0)) + 1, len(_acc)))) END)[1]');
        }
        if (a.length !== 1) this.notSupported(name, 'array_sort with a comparator lambda');
        const inner = a[0]!;
        if (isWord(inner.first, 'array_distinct') && this.tokens[inner.start + 1]?.text === '(' && this.match.get(inner.start + 1) === inner.end - 1) {
          // Sorted anyway, so no first-seen order to keep: DuckDB's list_distinct (which drops NULLs; Trino keeps one, sorted last).
          const x = this.seq(inner.start + 2, inner.end - 1).flat();
          return join('list_concat(list_sort(list_distinct(', x, ")), CASE WHEN list_contains(list_transform(", x, ', _v -> _v IS NULL), true) THEN [NULL] ELSE [] END)');
        }
        return join('list_sort(', inner.pieces, ", 'ASC', 'NULLS LAST')");
      }
      case 'array_position': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        return join('coalesce(list_position(', a[0]!.pieces, ', ', a[1]!.pieces, '), 0)');
      }
      case 'any_match':
      case 'all_match':
      case 'none_match': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        const agg = fn === 'all_match' ? 'list_bool_and' : 'list_bool_or';
        return join(fn === 'none_match' ? 'NOT ' : '', `${agg}(list_transform(`, a[0]!.pieces, ', ', a[1]!.pieces, '))');
      }
      case 'date_format':
      case 'date_parse': {
        const a = this.args(argStart, close, fn === 'date_format');
        arity(2, a.length);
        const fmt = mysqlToStrftime(literal(a[1]!, 'format'));
        return join(fn === 'date_format' ? 'strftime(' : 'strptime(', a[0]!.pieces, `, ${sqlString(fmt)})`);
      }
      case 'from_iso8601_date':
      case 'date': {
        const a = this.args(argStart, close, fn === 'date');
        arity(1, a.length);
        return join('CAST(', a[0]!.pieces, ' AS DATE)');
      }
      case 'approx_percentile': {
        const a = this.args(argStart, close);
        if (a.length !== 2) this.notSupported(name, 'approx_percentile with weights or accuracy');
        // Trino's approx_percentile returns one of the values (a q-digest); quantile_disc is the exact value of that rank.
        return join('quantile_disc(', a[0]!.pieces, ', ', a[1]!.pieces, ')');
      }
      case 'date_add': {
        const a = this.args(argStart, close);
        arity(3, a.length);
        const unit = literal(a[0]!, 'unit').toLowerCase();
        const interval = DATE_UNITS[unit];
        if (!interval) this.notSupported(name, `date_add unit '${unit}'`);
        const sum = join('((', a[2]!.pieces, ') + (', a[1]!.pieces, `) * INTERVAL ${interval})`);
        // Trino: date_add on a date is a date (DuckDB: a timestamp). Seen only when the argument is visibly a date.
        return this.isDateExpr(a[2]!.start, a[2]!.end) ? join('CAST(', sum, ' AS DATE)') : sum;
      }
      case 'date_diff': {
        const a = this.args(argStart, close);
        arity(3, a.length);
        const unit = literal(a[0]!, 'unit').toLowerCase();
        if (!DATE_UNITS[unit]) this.notSupported(name, `date_diff unit '${unit}'`);
        // DuckDB's date_diff counts boundaries crossed; date_sub counts whole units, as Trino's date_diff does.
        return join(`date_sub(${sqlString(unit)}, `, a[1]!.pieces, ', ', a[2]!.pieces, ')');
      }
      case 'regexp_replace': {
        const a = this.args(argStart, close);
        arity([2, 3], a.length);
        let replacement: Piece[] = [p("''")];
        if (a[2]) {
          // Trino writes groups as $1; DuckDB (RE2) as \1.
          replacement = a[2].first?.kind === 'string' && a[2].pieces.length === 1
            ? [p(sqlString(unquoteString(a[2].first.text).replace(/\$(\d)/g, '\\$1')))]
            : a[2].pieces;
        }
        return join('regexp_replace(', a[0]!.pieces, ', ', a[1]!.pieces, ', ', replacement, ", 'g')");
      }
      case 'reduce': {
        const a = this.args(argStart, close);
        arity(4, a.length);
        return join('list_transform([list_reduce(', a[0]!.pieces, ', ', a[2]!.pieces, ', ', a[1]!.pieces, ')], ', a[3]!.pieces, ')[1]');
      }
      case 'zip_with': {
        const a = this.args(argStart, close);
        arity(3, a.length);
        const body = this.lambdaBody(a[2]!.start, a[2]!.end, ['_z[1]', '_z[2]'], name);
        // The shorter array is padded with NULLs, as DuckDB's list_zip does.
        return join('list_transform(list_zip(', a[0]!.pieces, ', ', a[1]!.pieces, '), _z -> ', body, ')');
      }
      case 'transform_values':
      case 'transform_keys':
      case 'map_filter': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        const body = this.lambdaBody(a[1]!.start, a[1]!.end, ['_e.key', '_e.value'], name);
        const entries = join('map_entries(', a[0]!.pieces, ')');
        if (fn === 'map_filter') return join('map_from_entries(list_filter(', entries, ', _e -> ', body, '))');
        const entry = fn === 'transform_values' ? join('{key: _e.key, value: ', body, '}') : join('{key: ', body, ', value: _e.value}');
        return join('map_from_entries(list_transform(', entries, ', _e -> ', entry, '))');
      }
      case 'map_entries': {
        const a = this.args(argStart, close);
        arity(1, a.length);
        // Trino's entries are anonymous rows (field0, field1); DuckDB's are named key/value.
        return join("list_transform(map_entries(", a[0]!.pieces, "), _e -> {'field0': _e.key, 'field1': _e.value})");
      }
      case 'map_agg': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        // Trino skips NULL keys; a repeated key fails locally (DuckDB maps have unique keys) where Trino keeps one.
        return join('map_from_entries(list({key: ', a[0]!.pieces, ', value: ', a[1]!.pieces, '}) FILTER (WHERE (', a[0]!.pieces, ') IS NOT NULL))');
      }
      case 'regexp_position': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        // 1-based start of the leftmost match, -1 without one: the text before the first split point.
        return join('(CASE WHEN regexp_matches(', a[0]!.pieces, ', ', a[1]!.pieces, ') THEN length(regexp_split_to_array(', a[0]!.pieces, ', ', a[1]!.pieces, ')[1]) + 1 ELSE -1 END)');
      }
      case 'url_extract_host':
      case 'url_extract_path':
      case 'url_extract_protocol':
      case 'url_extract_query':
      case 'url_extract_fragment': {
        const a = this.args(argStart, close);
        arity(1, a.length);
        // RFC 3986 appendix B's regular expression: scheme, authority, path, query, fragment.
        const group = { url_extract_protocol: 2, url_extract_host: 4, url_extract_path: 5, url_extract_query: 7, url_extract_fragment: 9 }[fn];
        const part = join("regexp_extract(", a[0]!.pieces, `, '^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\\?([^#]*))?(#(.*))?', ${group})`);
        if (fn !== 'url_extract_host') return part;
        return join("nullif(regexp_replace(", part, ", '^([^@]*@)?([^:]*)(:.*)?$', '\\2'), '')");
      }
      case 'url_extract_parameter': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        const key = literal(a[1]!, 'parameter name').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        return join('(CASE WHEN regexp_matches(', a[0]!.pieces, `, '[?&]${key.replace(/'/g, "''")}=') THEN regexp_extract(`, a[0]!.pieces, `, '[?&]${key.replace(/'/g, "''")}=([^&#]*)', 1) END)`);
      }
      case 'json_size': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        return join('(CASE json_type(', a[0]!.pieces, ', ', a[1]!.pieces, ") WHEN 'OBJECT' THEN len(json_keys(", a[0]!.pieces, ', ', a[1]!.pieces, ")) WHEN 'ARRAY' THEN json_array_length(", a[0]!.pieces, ', ', a[1]!.pieces, ') ELSE 0 END)');
      }
      case 'is_json_scalar': {
        const a = this.args(argStart, close);
        arity(1, a.length);
        return join('(json_type(', a[0]!.pieces, ") NOT IN ('OBJECT', 'ARRAY'))");
      }
      case 'json_value':
      case 'json_query':
      case 'json_exists': {
        // SQL/JSON with a lax path and no clauses: the JSONPath functions. strict mode and ON ERROR/EMPTY clauses are not translated.
        const a = this.args(argStart, close);
        if (a.length !== 2) this.notSupported(name, `${fn} with PASSING, RETURNING or ON ERROR/EMPTY clauses`);
        const path = literal(a[1]!, 'path');
        const m = /^\s*lax\s+(\$.*)$/.exec(path);
        if (!m || /\[\s*"/.test(m[1]!)) this.notSupported(name, `${fn} with a path other than 'lax $…'`);
        const target = { json_value: 'json_extract_string', json_query: 'json_extract', json_exists: 'json_exists' }[fn];
        return join(`${target}(`, a[0]!.pieces, `, ${sqlString(m[1]!)})`, fn === 'json_query' ? '::VARCHAR' : '');
      }
      case 'if': {
        const a = this.args(argStart, close);
        arity([2, 3], a.length);
        return join('(CASE WHEN ', a[0]!.pieces, ' THEN ', a[1]!.pieces, a[2] ? join(' ELSE ', a[2].pieces) : [], ' END)');
      }
      case 'format_datetime':
      case 'parse_datetime': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        const fmt = jodaToStrftime(literal(a[1]!, 'format'));
        // parse_datetime gives a timestamp with time zone (UTC here, the session zone).
        return fn === 'format_datetime' ? join('strftime(', a[0]!.pieces, `, ${sqlString(fmt)})`) : join('CAST(strptime(', a[0]!.pieces, `, ${sqlString(fmt)}) AS TIMESTAMPTZ)`);
      }
      case 'to_milliseconds': {
        const a = this.args(argStart, close);
        arity(1, a.length);
        return join('CAST(round(epoch(', a[0]!.pieces, ') * 1000) AS BIGINT)');
      }
      case 'json_array_contains': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        // Elements compared as JSON text with the value's JSON text.
        return join('list_contains(list_transform(CAST(json(', a[0]!.pieces, ') AS JSON[]), _j -> CAST(_j AS VARCHAR)), CAST(to_json(', a[1]!.pieces, ') AS VARCHAR))');
      }
      case 'zip': {
        const a = this.args(argStart, close);
        if (a.length < 2) arity(2, a.length);
        const fields = a.map((_, k) => `'field${k}': _z[${k + 1}]`).join(', ');
        return join('list_transform(list_zip(', ...a.flatMap((x, k) => (k === 0 ? [x.pieces] : [', ', x.pieces])), `), _z -> {${fields}})`);
      }
      case 'json_array_get': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        // 0-based, negative from the end, NULL out of bounds: DuckDB's $[i] and $[#-i].
        // Trino gives a string element's text unquoted, as a json value, which DuckDB's JSON type cannot hold.
        const el = join("json_extract(json(", a[0]!.pieces, "), CASE WHEN (", a[1]!.pieces, ") >= 0 THEN '$[' || (", a[1]!.pieces, ") || ']' ELSE '$[#' || (", a[1]!.pieces, ") || ']' END)");
        return join("list_transform([", el, "], _j -> CASE WHEN json_type(_j) = 'VARCHAR' THEN error('NOT_SUPPORTED: json_array_get of a string element is not supported by the local Athena endpoint (DuckDB)') ELSE _j END)[1]");
      }
      case 'md5':
      case 'sha1':
      case 'sha256':
      case 'sha512': {
        // Trino hashes varbinary to varbinary; DuckDB gives the hex text.
        const a = this.args(argStart, close);
        arity(1, a.length);
        return join(`unhex(${fn}(`, a[0]!.pieces, '))');
      }
      case 'multimap_agg': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        // Each distinct key with the list of its values.
        const pairs = join('list({k: ', a[0]!.pieces, ', v: ', a[1]!.pieces, '}) FILTER (WHERE (', a[0]!.pieces, ') IS NOT NULL)');
        return join('map_from_entries(list_transform(list_distinct(list_transform(', pairs, ', _p -> _p.k)), _k -> {key: _k, value: list_transform(list_filter(', pairs, ', _p -> _p.k = _k), _p -> _p.v)}))');
      }
      case 'approx_most_frequent': {
        const a = this.args(argStart, close);
        arity(3, a.length);
        // Exact counts (Trino's are exact while the distinct values fit its capacity): the n most frequent.
        return join('map_from_entries(list_transform(list_slice(list_reverse_sort(list_transform(map_entries(histogram(', a[1]!.pieces, ')), _e -> {c: CAST(_e.value AS BIGINT), k: _e.key})), 1, ', a[0]!.pieces, '), _e -> {key: _e.k, value: _e.c}))');
      }
      case 'shuffle': {
        const a = this.args(argStart, close);
        arity(1, a.length);
        return join('list_transform(list_sort(list_transform(', a[0]!.pieces, ', _x -> {r: random(), v: _x})), _s -> _s.v)');
      }
      case 'ngrams': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        // Trino: the whole array when it is shorter than n.
        return join('list_transform([', a[0]!.pieces, '], _l -> list_transform(range(1, greatest(len(_l) - (', a[1]!.pieces, ') + 1, 1) + 1), _i -> list_slice(_l, _i, _i + (', a[1]!.pieces, ') - 1)))[1]');
      }
      case 'combinations': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        const n = a[1]!.first?.kind === 'number' && a[1]!.pieces.length === 1 ? Number(a[1]!.first.text) : NaN;
        if (!(n >= 1 && n <= 5 && Number.isInteger(n))) this.notSupported(name, 'combinations() with a size other than a literal 1 to 5');
        // Index tuples i1 < i2 < … over the distinct elements, in Trino's order (the last index varies slowest).
        const pick = (k: number): string => `[${Array.from({ length: k + 1 }, (_, j) => `_d[_i${j}]`).join(', ')}]`;
        const gen = (k: number, lo: string): string => (k === n - 1
          ? `list_transform(range(${lo}, len(_d) + 1), _i${k} -> ${pick(k)})`
          : `flatten(list_transform(range(${lo}, len(_d) + 1), _i${k} -> ${gen(k + 1, `_i${k} + 1`)}))`);
        // Index tuples i0 < i1 < … in lexicographic order, as Trino lists them.
        return join('list_transform([', a[0]!.pieces, `], _d -> ${gen(0, '1')})[1]`);
      }
      case 'human_readable_seconds': {
        const a = this.args(argStart, close);
        arity(1, a.length);
        const units: [string, string][] = [['week', '_n // 604800'], ['day', '_n // 86400 % 7'], ['hour', '_n // 3600 % 24'], ['minute', '_n // 60 % 60'], ['second', '_n % 60']];
        const parts = units.map(([u, v]) => `CASE WHEN ${v} > 0 THEN (${v}) || ' ${u}' || CASE WHEN ${v} = 1 THEN '' ELSE 's' END END`);
        return join('list_transform([CAST(round(', a[0]!.pieces, `) AS BIGINT)], _n -> CASE WHEN _n = 0 THEN '0 seconds' ELSE array_to_string(list_filter([${parts.join(', ')}], _x -> _x IS NOT NULL), ', ') END)[1]`);
      }
      case 'typeof': {
        // The type of a literal is known from its text; of anything else, only at run time.
        const a = this.args(argStart, close);
        arity(1, a.length);
        const x = a[0]!;
        const tok = this.tokens[x.start]!;
        const one = x.end === x.start + 1;
        let type: string | null = null;
        if (one && tok.kind === 'number') {
          if (/e/i.test(tok.text)) type = 'double';
          else if (tok.text.includes('.')) {
            const [whole, frac = ''] = tok.text.split('.');
            const digits = (whole!.replace(/^0+/, '').length) + frac.length;
            type = `decimal(${Math.max(digits, 1)},${frac.length})`;
          } else type = BigInt(tok.text) <= 2147483647n ? 'integer' : 'bigint';
        } else if (one && tok.kind === 'string') type = `varchar(${[...unquoteString(tok.text)].length})`;
        else if (one && (isWord(tok, 'true') || isWord(tok, 'false'))) type = 'boolean';
        else if (x.end === x.start + 2 && isWord(tok, 'date') && this.tokens[x.start + 1]!.kind === 'string') type = 'date';
        if (type === null) this.notSupported(name, 'typeof() of an expression other than a literal');
        return [p(sqlString(type))];
      }
      case 'timezone_hour':
      case 'timezone_minute': {
        const lit = close === argStart + 2 && isWord(this.tokens[argStart], 'timestamp') ? this.tokens[argStart + 1]! : undefined;
        const m = lit?.kind === 'string' ? /\d\s*(?:(UTC|Z)|([+-])(\d{1,2})(?::?(\d{2}))?)\s*'$/.exec(lit.text) : null;
        if (!m) this.notSupported(name, `${fn}() of a value other than a timestamp literal with an offset`);
        const sign = m[2] === '-' ? -1 : 1;
        const v = m[1] ? 0 : sign * Number(fn === 'timezone_hour' ? m[3] : (m[4] ?? '0'));
        return [p(`CAST(${v} AS BIGINT)`)];
      }
      case 'parse_duration': {
        const a = this.args(argStart, close);
        arity(1, a.length);
        const text = literal(a[0]!, 'duration');
        const m = /^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|h|d)\s*$/.exec(text);
        if (!m) throw new AthenaQueryError('INVALID_FUNCTION_ARGUMENT', `duration is not a valid data duration string: ${text}`, lineColumn(this.source, src));
        const unitMicros = { ns: 0.001, us: 1, ms: 1000, s: 1e6, m: 6e7, h: 3.6e9, d: 8.64e10 }[m[2] as 'ns'];
        return [p(`to_microseconds(CAST(${Math.round(Number(m[1]) * unitMicros)} AS BIGINT))`)];
      }
      case 'json_parse': {
        const a = this.args(argStart, close);
        arity(1, a.length);
        return join('json(', a[0]!.pieces, ')');
      }
      case 'sequence': {
        const a = this.args(argStart, close);
        arity([2, 3], a.length);
        if (!this.isDateExpr(a[0]!.start, a[0]!.end)) return join('generate_series(', all(), ')');
        // Trino: a sequence of dates is an array(date), one day apart by default (DuckDB: timestamps, no default step).
        return join('list_transform(generate_series(', a[0]!.pieces, ', ', a[1]!.pieces, ', ', a[2] ? a[2].pieces : 'INTERVAL 1 DAY', '), _d -> CAST(_d AS DATE))');
      }
      case 'json_format':
        // Trino prints a JSON object with its keys sorted; DuckDB keeps them as parsed.
        return this.notSupported(name, "Function 'json_format'");
      case 'nan':
        return [p("CAST('NaN' AS DOUBLE)")];
      case 'infinity':
        return [p("CAST('Infinity' AS DOUBLE)")];
      case 'e':
        return [p('exp(1)')];
      case 'approx_distinct': {
        // Exact locally: DuckDB's HyperLogLog is up to 19 % off on small sets, Trino's 2.3 % standard
        // error; an exact count is within any error bound Athena documents. The bound argument only tunes accuracy.
        const a = this.args(argStart, close);
        arity([1, 2], a.length);
        return join('count(DISTINCT ', a[0]!.pieces, ')');
      }
      case 'concat': {
        // Trino's concat is NULL when any argument is (DuckDB's skips NULLs); || behaves as Trino's on strings and arrays.
        const a = this.args(argStart, close);
        return join('(', ...a.flatMap((x, k) => (k === 0 ? [x.pieces] : [' || ', x.pieces])), ')');
      }
      case 'substr':
      case 'substring': {
        const a = this.args(argStart, close);
        // substring(s FROM i FOR n) is one "argument" here, and DuckDB reads it as Trino does.
        if (a.length === 1) return null;
        arity([2, 3], a.length);
        // Trino: '' for start 0, for a start before the beginning (negative, from the end) and for length 0;
        // DuckDB counts start 0 and starts before the beginning as positions that take up length.
        const [s, st, ln] = [a[0]!.pieces, a[1]!.pieces, a[2]?.pieces];
        const len = ln ? [', ', ln] : [];
        return join(
          '(CASE WHEN (', s, ') IS NULL OR (', st, ') IS NULL', ...(ln ? [' OR (', ln, ') IS NULL'] : []), ' THEN NULL',
          ' WHEN (', st, ') = 0', ...(ln ? [' OR (', ln, ') <= 0'] : []), " THEN ''",
          ' WHEN (', st, ') > 0 THEN substring(', s, ', ', st, ...len, ')',
          ' WHEN length(', s, ') + (', st, ") < 0 THEN ''",
          ' ELSE substring(', s, ', length(', s, ') + (', st, ') + 1', ...len, ') END)',
        );
      }
      case 'split_part': {
        const a = this.args(argStart, close);
        arity(3, a.length);
        // Trino: NULL past the last field (DuckDB's split_part gives '').
        return join('list_extract(string_split(', a[0]!.pieces, ', ', a[1]!.pieces, '), ', a[2]!.pieces, ')');
      }
      case 'replace': {
        const a = this.args(argStart, close);
        arity([2, 3], a.length);
        return join('replace(', a[0]!.pieces, ', ', a[1]!.pieces, ', ', a[2] ? a[2].pieces : "''", ')');
      }
      case 'regexp_extract': {
        const a = this.args(argStart, close);
        arity([2, 3], a.length);
        // Trino: NULL when the pattern does not match (DuckDB's regexp_extract gives '').
        return join('(CASE WHEN regexp_matches(', a[0]!.pieces, ', ', a[1]!.pieces, ') THEN regexp_extract(', a[0]!.pieces, ', ', a[1]!.pieces, a[2] ? join(', ', a[2].pieces) : [], ') END)');
      }
      case 'regexp_count': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        return join('len(regexp_extract_all(', a[0]!.pieces, ', ', a[1]!.pieces, '))');
      }
      case 'millisecond':
        // DuckDB's millisecond() counts the seconds too (5.123 s → 5123).
        return join('(millisecond(', all(), ') % 1000)');
      case 'repeat': {
        // Trino's repeat(x, n) is an array of n copies (DuckDB's repeats a string).
        const a = this.args(argStart, close);
        arity(2, a.length);
        return join('list_transform(range(', a[1]!.pieces, '), _i -> ', a[0]!.pieces, ')');
      }
      case 'reverse': {
        const a = this.args(argStart, close);
        arity(1, a.length);
        const isArray = isWord(a[0]!.first, 'array') || a[0]!.first?.text === '[';
        return join(isArray ? 'list_reverse(' : 'reverse(', a[0]!.pieces, ')');
      }
      case 'array_distinct': {
        const a = this.args(argStart, close);
        arity(1, a.length);
        return distinctInOrder(a[0]!.pieces, join);
      }
      case 'array_union': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        return distinctInOrder(join('list_concat(', a[0]!.pieces, ', ', a[1]!.pieces, ')'), join);
      }
      case 'array_except': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        return join('list_filter(', distinctInOrder(a[0]!.pieces, join), ', _v -> NOT list_contains(', a[1]!.pieces, ', _v))');
      }
      case 'array_remove': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        return join('list_filter(', a[0]!.pieces, ', _v -> _v IS DISTINCT FROM (', a[1]!.pieces, '))');
      }
      case 'arrays_overlap': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        return join('list_has_any(', a[0]!.pieces, ', ', a[1]!.pieces, ')');
      }
      case 'cardinality': {
        if (isWord(this.tokens[argStart], 'approx_set') && this.tokens[argStart + 1]?.text === '(' && this.match.get(argStart + 1) === close - 1) {
          // The estimate of a HyperLogLog sketch, as approx_distinct: exact locally.
          return join('count(DISTINCT ', this.seq(argStart + 2, close - 1).flat(), ')');
        }
        const a = this.args(argStart, close);
        arity(1, a.length);
        // DuckDB: len() of a list, cardinality() of a map; the type is known here only from a MAP(…) call.
        return join(isWord(a[0]!.first, 'map') ? 'cardinality(' : 'len(', a[0]!.pieces, ')');
      }
      case 'greatest':
      case 'least': {
        // Trino: NULL if any argument is NULL (DuckDB's skip NULLs).
        const a = this.args(argStart, close);
        const anyNull = a.map((x) => join('(', x.pieces, ') IS NULL')).flatMap((x, k) => (k === 0 ? [x] : [[p(' OR ')], x]));
        return join('(CASE WHEN ', ...anyNull, ` THEN NULL ELSE ${fn}(`, ...a.flatMap((x, k) => (k === 0 ? [x.pieces] : [', ', x.pieces])), ') END)');
      }
      case 'date_trunc': {
        const a = this.args(argStart, close, false);
        arity(2, a.length);
        const unit = literal(a[0]!, 'unit').toLowerCase();
        const width = TRUNC_BUCKETS[unit];
        if (unit === 'millisecond') return join("date_trunc('millisecond', ", a[1]!.pieces, ')');
        if (!width) this.notSupported(name, `date_trunc unit '${unit}'`);
        return join(`time_bucket(INTERVAL '${width}', `, a[1]!.pieces, ')');
      }
      case 'unnest': {
        const a = this.args(argStart, close);
        let j = close + 1;
        const ordinality = isWord(this.tokens[j], 'with') && isWord(this.tokens[j + 1], 'ordinality');
        if (ordinality) j += 2;
        if (isWord(this.tokens[j], 'as')) j++;
        const aliasCols = this.tokens[j]?.kind === 'ident' && this.tokens[j + 1]?.text === '(' ? this.argRanges(j + 2, this.match.get(j + 1)!).length : null;
        const isMap = a.length === 1 && isWord(a[0]!.first, 'map');
        const rows = !isMap && aliasCols !== null && aliasCols > a.length + (ordinality ? 1 : 0);
        if ((isMap || rows) && (ordinality || a.length > 1)) this.notSupported(name, 'UNNEST of a map or of rows WITH ORDINALITY or beside other arrays');
        // A map unnests to key and value columns; an array of rows to one column per field (unnest(recursive) in a select list).
        if (isMap) return join('(SELECT unnest(map_keys(', a[0]!.pieces, ')), unnest(map_values(', a[0]!.pieces, ')))');
        if (rows) return join('(SELECT unnest(', a[0]!.pieces, ', max_depth := 2))');
        if (a.length === 1) return join(`${name.text}(`, a[0]!.pieces, ')');
        if (ordinality) this.notSupported(name, 'UNNEST of several arrays WITH ORDINALITY');
        // Several arrays side by side, the shorter padded with NULLs: what DuckDB's unnest() in a select list does.
        return join('(SELECT ', ...a.flatMap((x, k) => [k === 0 ? '' : ', ', 'unnest(', x.pieces, ')']), ')');
      }
      case 'with_timezone':
      case 'at_timezone': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        const z = a[1]!;
        if (!(z.pieces.length === 1 && z.first?.kind === 'string' && /^'[A-Za-z]/.test(z.first.text) && this.selectItem(argStart - 2, close))) {
          this.notSupported(name, `${fn}() other than as a whole select item with a named zone`);
        }
        // with_timezone: the same wall-clock time in the zone; at_timezone: the same instant shown in the zone.
        const wall = fn === 'with_timezone' ? a[0]!.pieces : join('timezone(', z.pieces, ', CAST(', a[0]!.pieces, ' AS TIMESTAMPTZ))');
        return this.zoned(wall, z.pieces, src);
      }
      case 'from_unixtime': {
        const a = this.args(argStart, close);
        if (a.length === 2 && a[1]!.pieces.length === 1 && a[1]!.first?.kind === 'string' && /^'[A-Za-z]/.test(a[1]!.first.text) && this.selectItem(argStart - 2, close)) {
          return this.zoned(join('timezone(', a[1]!.pieces, ', make_timestamptz(CAST((', a[0]!.pieces, ') * 1e6 AS BIGINT)))'), a[1]!.pieces, src);
        }
        if (a.length !== 1) this.notSupported(name, 'from_unixtime with a time zone');
        // Trino: a timestamp with time zone, in UTC.
        return join('make_timestamptz(CAST((', a[0]!.pieces, ') * 1e6 AS BIGINT))');
      }
      case 'from_iso8601_timestamp': {
        const a = this.args(argStart, close);
        arity(1, a.length);
        // Trino keeps the text's offset in the value; DuckDB only the instant. Same answer only for UTC (or no offset: the session zone, UTC).
        const utc = "regexp_matches(_s, '(Z|[+-]00:?00)$') OR NOT regexp_matches(_s, '[+-][0-9]{2}(:?[0-9]{2})?$')";
        if (a[0]!.first?.kind === 'string' && a[0]!.pieces.length === 1) {
          const text = unquoteString(a[0]!.first.text);
          const at = argStart - 2;
          if (isWord(this.tokens[at - 2], 'cast') && this.tokens[at - 1]?.text === '(' && isWord(this.tokens[close + 1], 'as') && isWord(this.tokens[close + 2], 'timestamp') && this.tokens[close + 3]?.text === ')') {
            // Cast to a timestamp, the value keeps its wall-clock time: the text without its offset.
            return [p(`TIMESTAMP ${sqlString(text.replace(/(Z|[+-]\d{2}(:?\d{2})?)$/, '').replace('T', ' '))}`)];
          }
          if (!/(Z|[+-]00:?00)$/.test(text) && /[+-]\d{2}(:?\d{2})?$/.test(text)) this.notSupported(name, 'from_iso8601_timestamp of a time with an offset other than UTC');
          return join('CAST(', a[0]!.pieces, ' AS TIMESTAMPTZ)');
        }
        return join('list_transform([', a[0]!.pieces, `], _s -> CASE WHEN _s IS NULL OR ${utc} THEN CAST(_s AS TIMESTAMPTZ) ELSE error('NOT_SUPPORTED: from_iso8601_timestamp of a time with an offset other than UTC is not supported by the local Athena endpoint (DuckDB)') END)[1]`);
      }
      case 'json_extract_scalar':
      case 'json_extract': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        let path = a[1]!.pieces;
        if (a[1]!.first?.kind === 'string' && a[1]!.pieces.length === 1 && /\[\s*"/.test(a[1]!.first.text)) {
          // Trino's $["a.b"] is DuckDB's $."a.b".
          const text = unquoteString(a[1]!.first.text).replace(/\[\s*"((?:[^"\\]|\\.)*)"\s*\]/g, '."$1"');
          path = [p(sqlString(text))];
        } else if (a[1]!.first?.kind === 'string' && /\[\s*"/.test(a[1]!.first.text)) this.notSupported(name, `${fn} with a bracketed key in the path`);
        return join(fn === 'json_extract' ? 'json_extract(' : 'json_extract_string(', a[0]!.pieces, ', ', path, ')');
      }
      default:
        break;
    }
    if (SAME_FUNCTIONS.has(fn)) return join(`${name.text}(`, all(), ')');
    if (NOT_CALLS.has(fn)) return null;
    if (TRINO_FUNCTIONS.has(fn) || ['json_value', 'json_query', 'json_exists', 'json_object', 'json_array'].includes(fn)) this.notSupported(name, `Function '${fn}'`);
    throw new AthenaQueryError('FUNCTION_NOT_FOUND', `Function '${fn}' not registered`, lineColumn(this.source, src));
  }

  /** CAST(x AS type) / TRY_CAST: translates the expression and the Trino type name. */
  private cast(name: Token, start: number, close: number): Piece[] {
    let as = -1;
    for (let i = start; i < close; i++) {
      const t = this.tokens[i]!;
      if (t.kind === 'op' && (t.text === '(' || t.text === '[')) i = this.match.get(i)!;
      else if (isWord(t, 'as')) as = i;
    }
    if (as < 0) this.syntax(this.tokens[close], `mismatched input ')'. Expecting: 'AS'`);
    const [type, next] = this.type(as + 1, close);
    if (next !== close) this.syntax(this.tokens[next], `mismatched input '${this.tokens[next]!.text}'. Expecting: ')'`);
    // Trino's CAST(varchar AS json) makes a JSON string; DuckDB's parses the text. to_json is Trino's cast for every type.
    if (type === 'JSON') return [{ text: 'to_json(', src: name.pos }, ...this.seq(start, as).flat(), { text: ')', src: this.tokens[as]!.pos }];
    this.castRow = isWord(this.tokens[start], 'row') && this.match.get(start + 1) === as - 1;
    return [{ text: `${name.text.toUpperCase()}(`, src: name.pos }, ...this.seqZone(start, as, type === 'DATE'), { text: ` AS ${type})`, src: this.tokens[as]!.pos }];
  }

  /** Parses a Trino type at token i; returns the DuckDB type and the index after it. */
  type(i: number, end: number): [string, number] {
    const t = this.tokens[i];
    if (!t || i >= end || (t.kind !== 'ident' && t.kind !== 'qident')) this.syntax(t, `mismatched input '${t?.text ?? '<EOF>'}'. Expecting: <type>`);
    const word = t.text.toLowerCase();
    const open = this.tokens[i + 1]?.kind === 'op' && this.tokens[i + 1]!.text === '(' && i + 1 < end;
    const close = open ? this.match.get(i + 1)! : -1;
    const list = (): string[] => {
      const parts: string[] = [];
      let j = i + 2;
      while (j < close) {
        const [inner, after] = this.type(j, close);
        parts.push(inner);
        j = after;
        if (this.tokens[j]?.text === ',') j++;
      }
      return parts;
    };
    switch (word) {
      case 'array': {
        if (!open) this.syntax(this.tokens[i + 1], "mismatched input. Expecting: '('");
        const [inner, after] = this.type(i + 2, close);
        if (after !== close) this.syntax(this.tokens[after], `mismatched input '${this.tokens[after]!.text}'`);
        return [`${inner}[]`, close + 1];
      }
      case 'map': {
        if (!open) this.syntax(this.tokens[i + 1], "mismatched input. Expecting: '('");
        const [k, v] = list();
        return [`MAP(${k}, ${v})`, close + 1];
      }
      case 'row': {
        if (!open) this.syntax(this.tokens[i + 1], "mismatched input. Expecting: '('");
        const fields: string[] = [];
        let j = i + 2;
        while (j < close) {
          const fieldName = this.tokens[j]!;
          const [ft, after] = this.type(j + 1, close);
          fields.push(`${fieldName.text} ${ft}`);
          j = after;
          if (this.tokens[j]?.text === ',') j++;
        }
        return [`STRUCT(${fields.join(', ')})`, close + 1];
      }
      case 'timestamp':
      case 'time': {
        let j = open ? close + 1 : i + 1;
        const withTz = isWord(this.tokens[j], 'with') && isWord(this.tokens[j + 1], 'time') && isWord(this.tokens[j + 2], 'zone');
        if (withTz) j += 3;
        return [`${word.toUpperCase()}${withTz ? 'TZ' : ''}`, j];
      }
      case 'varchar':
      case 'char':
      case 'decimal': {
        const text = open ? `${word.toUpperCase()}(${this.tokens.slice(i + 2, close).map((x) => x.text).join('')})` : word.toUpperCase();
        return [text, open ? close + 1 : i + 1];
      }
      case 'real':
        return ['FLOAT', i + 1];
      case 'varbinary':
        return ['BLOB', i + 1];
      case 'double': {
        // DOUBLE PRECISION is one type in both dialects.
        return isWord(this.tokens[i + 1], 'precision') ? ['DOUBLE', i + 2] : ['DOUBLE', i + 1];
      }
      case 'boolean': case 'tinyint': case 'smallint': case 'integer': case 'int': case 'bigint': case 'date': case 'json': case 'uuid':
        return [word.toUpperCase(), i + 1];
      case 'interval': {
        // INTERVAL DAY TO SECOND / YEAR TO MONTH
        let j = i + 1;
        while (j < end && ['day', 'second', 'year', 'month', 'to'].includes(this.tokens[j]!.text.toLowerCase())) j++;
        return ['INTERVAL', j];
      }
      default:
        return this.notSupported(t, `Type '${t.text}'`);
    }
  }
}

/** Athena ExecutionParameters: each `?` takes the next parameter, itself SQL literal text. */
function substituteParameters(tokens: Token[], params: readonly string[], source: string): Token[] {
  const slots = tokens.filter((t) => t.kind === 'param').length;
  if (slots !== params.length) {
    throw new AthenaQueryError('INVALID_PARAMETER_USAGE', `Incorrect number of parameters: expected ${slots} but found ${params.length}`, tokens.find((t) => t.kind === 'param') ? lineColumn(source, tokens.find((t) => t.kind === 'param')!.pos) : undefined);
  }
  if (slots === 0) return tokens;
  let n = 0;
  return tokens.flatMap((t) => (t.kind === 'param' ? tokenize(params[n++]!).map((x) => ({ ...x, pos: t.pos })) : [t]));
}

function needsSpace(a: string, b: string): boolean {
  if (a === '' || b === '') return false;
  const open = /[([.]$/.test(a);
  const closeOrDot = /^[)\].,]/.test(b);
  return !(open || closeOrDot);
}

/** Translates one Athena statement to DuckDB SQL. Throws AthenaQueryError. */
export function translateSql(source: string, params: readonly string[] = []): Translation {
  const pieces = new Translator(source, params).run();
  let sql = '';
  const starts: number[] = [];
  const srcs: number[] = [];
  for (const piece of pieces) {
    if (needsSpace(sql, piece.text)) sql += ' ';
    starts.push(sql.length);
    srcs.push(piece.src);
    sql += piece.text;
  }
  return {
    sql,
    sourceOffset(outPos: number): number {
      let lo = 0;
      let hi = starts.length - 1;
      let best = 0;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (starts[mid]! <= outPos) {
          best = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      return srcs[best] ?? source.trimEnd().length;
    },
  };
}

/** What kind of statement a query is, from its first words. */
export type StatementKind =
  | { readonly kind: 'query' }
  | { readonly kind: 'show-tables'; readonly database?: string; readonly like?: string }
  | { readonly kind: 'show-databases'; readonly like?: string }
  | { readonly kind: 'describe'; readonly table: readonly string[] }
  | { readonly kind: 'show-columns'; readonly table: readonly string[] };

const identText = (t: Token): string => (t.kind === 'qident' ? t.text.slice(1, -1).replace(/""/g, '"') : t.text.toLowerCase());

/** Classifies a statement; DDL/DML other than SELECT fails with NOT_SUPPORTED naming the statement. */
export function classifyStatement(source: string): StatementKind {
  const tokens = tokenize(source).filter((t) => !(t.kind === 'op' && t.text === ';'));
  const first = tokens[0];
  if (!first) throw new AthenaQueryError('SYNTAX_ERROR', "mismatched input '<EOF>'. Expecting: 'SELECT', 'WITH', 'SHOW', 'DESCRIBE'", { line: 1, column: 1 });
  const w = (i: number): string => (tokens[i]?.kind === 'ident' ? tokens[i]!.text.toLowerCase() : '');
  const qualified = (i: number): { name: string[]; next: number } => {
    const name: string[] = [];
    let j = i;
    while (tokens[j] && (tokens[j]!.kind === 'ident' || tokens[j]!.kind === 'qident')) {
      name.push(identText(tokens[j]!));
      j++;
      if (tokens[j]?.text === '.') j++;
      else break;
    }
    if (name.length === 0) throw new AthenaQueryError('SYNTAX_ERROR', `mismatched input '${tokens[j]?.text ?? '<EOF>'}'. Expecting: <identifier>`, lineColumn(source, tokens[j]?.pos ?? source.length));
    return { name, next: j };
  };
  const likeAt = (i: number): string | undefined => (w(i) === 'like' && tokens[i + 1]?.kind === 'string' ? unquoteString(tokens[i + 1]!.text) : undefined);
  const word = w(0);
  if (word === 'show' && w(1) === 'tables') {
    if (w(2) === 'from' || w(2) === 'in') {
      const q = qualified(3);
      return { kind: 'show-tables', database: q.name[q.name.length - 1], like: likeAt(q.next) ?? (tokens[q.next]?.kind === 'string' ? unquoteString(tokens[q.next]!.text) : undefined) };
    }
    return { kind: 'show-tables', like: likeAt(2) ?? (tokens[2]?.kind === 'string' ? unquoteString(tokens[2]!.text) : undefined) };
  }
  if (word === 'show' && (w(1) === 'databases' || w(1) === 'schemas')) return { kind: 'show-databases', like: likeAt(2) };
  if (word === 'show' && w(1) === 'columns' && (w(2) === 'from' || w(2) === 'in')) return { kind: 'show-columns', table: qualified(3).name };
  if (word === 'describe' || word === 'desc') return { kind: 'describe', table: qualified(w(1) === 'formatted' || w(1) === 'extended' ? 2 : 1).name };
  if (word === 'select' || word === 'with' || word === 'values' || (first.kind === 'op' && first.text === '(')) return { kind: 'query' };
  if (first.kind === 'ident' && /^[a-z]+$/i.test(first.text) && ['show', 'unload', 'insert', 'create', 'drop', 'alter', 'delete', 'update', 'merge', 'msck', 'vacuum', 'optimize', 'prepare', 'execute', 'deallocate', 'explain', 'grant', 'revoke', 'use', 'set', 'reset', 'call', 'analyze', 'copy', 'attach', 'pragma', 'install', 'load'].includes(word)) {
    const what = word === 'show' ? `SHOW ${tokens[1]?.text.toUpperCase() ?? ''}`.trim() : word.toUpperCase();
    throw new AthenaQueryError('NOT_SUPPORTED', `${what} statements are not supported by the local Athena endpoint (supported: SELECT, WITH, VALUES, SHOW TABLES, SHOW DATABASES, SHOW COLUMNS, DESCRIBE)`, lineColumn(source, first.pos));
  }
  throw new AthenaQueryError('SYNTAX_ERROR', `mismatched input '${first.text}'. Expecting: 'SELECT', 'WITH', 'SHOW', 'DESCRIBE'`, lineColumn(source, first.pos));
}
