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

/** Functions Trino has and this endpoint knowingly does not translate (DuckDB lacks them or their semantics differ too much). */
const UNSUPPORTED_FUNCTIONS = new Set([
  'reduce', 'zip_with', 'transform_keys', 'transform_values', 'map_filter', 'approx_set', 'merge', 'empty_approx_set',
  'qdigest_agg', 'tdigest_agg', 'format_datetime', 'parse_datetime', 'at_timezone', 'with_timezone', 'approx_most_frequent',
  'numeric_histogram', 'make_set_digest', 'merge_set_digest', 'learn_classifier', 'learn_regressor', 'classify', 'regress',
]);

/** Trino name → DuckDB name, same arguments. */
const RENAMED_FUNCTIONS: Readonly<Record<string, string>> = {
  cardinality: 'len',
  array_distinct: 'list_distinct',
  array_join: 'array_to_string',
  array_max: 'list_max',
  array_min: 'list_min',
  array_intersect: 'list_intersect',
  contains: 'list_contains',
  sequence: 'generate_series',
  transform: 'list_transform',
  filter: 'list_filter',
  to_unixtime: 'epoch',
  approx_distinct: 'approx_count_distinct',
  regexp_like: 'regexp_matches',
  json_extract_scalar: 'json_extract_string',
  json_parse: 'json',
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
};

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

  constructor(private readonly source: string, params: readonly string[]) {
    this.tokens = substituteParameters(tokenize(source), params, source);
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

  run(): Piece[] {
    let end = this.tokens.length;
    // One statement; a trailing semicolon is allowed, as in the Athena console.
    const semi = this.tokens.findIndex((t) => t.kind === 'op' && t.text === ';');
    if (semi >= 0) {
      if (semi !== this.tokens.length - 1) this.syntax(this.tokens[semi + 1], 'Only one sql statement is allowed');
      end = semi;
    }
    return this.seq(0, end).flat();
  }

  /** Translates tokens [start, end) into units; a unit is one operand-sized chunk (a token, a call, a parenthesised group). */
  seq(start: number, end: number): Piece[][] {
    const units: Piece[][] = [];
    let i = start;
    while (i < end) {
      const t = this.tokens[i]!;
      const next = this.tokens[i + 1];
      const prev = this.tokens[i - 1];
      if (t.kind === 'ident' && next?.kind === 'op' && next.text === '(' && !(prev?.kind === 'op' && prev.text === '.')) {
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
        units.push([{ text: t.text.toUpperCase(), src: t.pos }, { text: next.text, src: next.pos }]);
        i += 2;
        continue;
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
        // Trino: the instant in UTC (the session zone), shown in `zone`. DuckDB: the wall-clock time in `zone`.
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
      units.push([{ text: t.text, src: t.pos }]);
      i++;
    }
    return units;
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
  private args(start: number, close: number): { pieces: Piece[]; first: Token | undefined }[] {
    const out: { pieces: Piece[]; first: Token | undefined }[] = [];
    if (start >= close) return out;
    let argStart = start;
    for (let i = start; i <= close; i++) {
      const t = this.tokens[i]!;
      if (i === close || (t.kind === 'op' && t.text === ',')) {
        out.push({ pieces: this.seq(argStart, i).flat(), first: this.tokens[argStart] });
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
    if (UNSUPPORTED_FUNCTIONS.has(fn)) this.notSupported(name, `Function '${fn}'`);
    const renamed = RENAMED_FUNCTIONS[fn];
    if (renamed) return join(`${renamed}(`, this.seq(argStart, close).flat(), ')');

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
        if (a.length !== 1) this.notSupported(name, 'array_sort with a comparator lambda');
        return join('list_sort(', a[0]!.pieces, ", 'ASC', 'NULLS LAST')");
      }
      case 'array_position': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        return join('coalesce(list_position(', a[0]!.pieces, ', ', a[1]!.pieces, '), 0)');
      }
      case 'array_union': {
        const a = this.args(argStart, close);
        arity(2, a.length);
        return join('list_distinct(list_concat(', a[0]!.pieces, ', ', a[1]!.pieces, '))');
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
        const a = this.args(argStart, close);
        arity(2, a.length);
        const fmt = mysqlToStrftime(literal(a[1]!, 'format'));
        return join(fn === 'date_format' ? 'strftime(' : 'strptime(', a[0]!.pieces, `, ${sqlString(fmt)})`);
      }
      case 'from_unixtime': {
        const a = this.args(argStart, close);
        if (a.length !== 1) this.notSupported(name, 'from_unixtime with a time zone');
        return join('make_timestamp(CAST((', a[0]!.pieces, ') * 1e6 AS BIGINT))');
      }
      case 'from_iso8601_timestamp': {
        const a = this.args(argStart, close);
        arity(1, a.length);
        return join('CAST(CAST(', a[0]!.pieces, ' AS TIMESTAMPTZ) AS TIMESTAMP)');
      }
      case 'from_iso8601_date':
      case 'date': {
        const a = this.args(argStart, close);
        arity(1, a.length);
        return join('CAST(', a[0]!.pieces, ' AS DATE)');
      }
      case 'approx_percentile': {
        const a = this.args(argStart, close);
        if (a.length !== 2) this.notSupported(name, 'approx_percentile with weights or accuracy');
        return join('approx_quantile(', a[0]!.pieces, ', ', a[1]!.pieces, ')');
      }
      case 'date_add': {
        const a = this.args(argStart, close);
        arity(3, a.length);
        const unit = literal(a[0]!, 'unit').toLowerCase();
        const interval = DATE_UNITS[unit];
        if (!interval) this.notSupported(name, `date_add unit '${unit}'`);
        return join('((', a[2]!.pieces, ') + (', a[1]!.pieces, `) * INTERVAL ${interval})`);
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
      case 'if': {
        const a = this.args(argStart, close);
        arity([2, 3], a.length);
        return join('(CASE WHEN ', a[0]!.pieces, ' THEN ', a[1]!.pieces, a[2] ? join(' ELSE ', a[2].pieces) : [], ' END)');
      }
      case 'json_format': {
        const a = this.args(argStart, close);
        arity(1, a.length);
        return join('CAST(', a[0]!.pieces, ' AS VARCHAR)');
      }
      case 'nan':
        return [p("CAST('NaN' AS DOUBLE)")];
      case 'infinity':
        return [p("CAST('Infinity' AS DOUBLE)")];
      default:
        return null;
    }
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
    return [{ text: `${name.text.toUpperCase()}(`, src: name.pos }, ...this.seq(start, as).flat(), { text: ` AS ${type})`, src: this.tokens[as]!.pos }];
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
