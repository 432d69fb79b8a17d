/**
 * What a translated query reads, from DuckDB's own parse tree
 * (`json_serialize_sql`): the tables it names, the partition predicates
 * (dt, hour) that prune each table reference, and the output column names
 * Athena would give (`_col0`… for unnamed expressions).
 *
 * The shape of the JSON is DuckDB's serialisation of its ParsedExpression /
 * TableRef / QueryNode classes (DuckDB 1.5). Anything this file does not
 * recognise yields "no pruning", which is always correct, only slower.
 */

/** A partition of a lake table. */
export interface PartitionKey {
  /** yyyy-MM-dd */
  readonly dt: string;
  readonly hour: number;
}

export type PartitionPredicate = (p: PartitionKey) => boolean;

export interface TableReference {
  /** '' when not written. */
  readonly catalog: string;
  /** '' when not written. */
  readonly schema: string;
  readonly table: string;
  /** Offset in the translated SQL. */
  readonly location: number;
  /** Partitions this reference needs; null = all. */
  readonly partitions: PartitionPredicate | null;
  /**
   * Bounds the WHERE conjuncts put on columns of this reference compared with timestamp
   * constants, by lower-cased column name. The engine turns the bound of a view's
   * partition-time column (core/lake-table.ts LakeView.partitionTime) into partitions.
   */
  readonly timeRanges: ReadonlyMap<string, TimeRange>;
  /** The dt values the conjuncts allow, when they name a finite set (=, IN, or both ends of a range); null: any. */
  readonly days: readonly string[] | null;
}

/** A range of instants, epoch milliseconds (UTC); an absent end is unbounded. */
export interface TimeRange {
  readonly lo?: { readonly ms: number; readonly inclusive: boolean };
  readonly hi?: { readonly ms: number; readonly inclusive: boolean };
}

export interface QueryPlan {
  readonly tables: readonly TableReference[];
  /** Names of CTEs (never lake tables). */
  readonly cteNames: ReadonlySet<string>;
  /** Athena's column names, or null where DuckDB's names must be used (SELECT *). */
  readonly columnNames: readonly string[] | null;
}

export interface ParseFailure {
  readonly message: string;
  /** Offset in the translated SQL. */
  readonly position: number | null;
}

type Json = { readonly [k: string]: unknown };
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
/** DuckDB writes "no location" as 2^64 − 1. */
const location = (v: unknown): number => (typeof v === 'number' && v < 2 ** 53 ? v : -1);

/** Reads DuckDB's parse result (the JSON text json_serialize_sql returned). */
export function planFromParseTree(jsonText: string): QueryPlan | ParseFailure {
  const parsed = JSON.parse(jsonText) as Json;
  if (parsed.error) {
    const pos = Number(parsed.position);
    return { message: str(parsed.error_message), position: Number.isFinite(pos) && parsed.position !== undefined ? pos : null };
  }
  const statements = parsed.statements as Json[];
  const root = (statements[0] as Json).node as Json;
  const tables: TableReference[] = [];
  const cteNames = new Set<string>();
  const owned = new Set<Json>();
  walk(root, (node) => {
    if (isObj(node.cte_map)) {
      for (const entry of (node.cte_map.map as Json[]) ?? []) cteNames.add(str(entry.key).toLowerCase());
    }
    if (node.type === 'SELECT_NODE') {
      const refs: Json[] = [];
      let others = 0;
      collectFrom(node.from_table, refs, () => others++);
      const conjuncts = flattenAnd(node.where_clause);
      for (const ref of refs) {
        owned.add(ref);
        const alone = refs.length === 1 && others === 0;
        const preds = conjuncts.map((c) => partitionPredicate(c, ref, alone)).filter((p): p is PartitionPredicate => p !== null);
        tables.push({
          catalog: str(ref.catalog_name),
          schema: str(ref.schema_name),
          table: str(ref.table_name),
          location: location(ref.query_location),
          partitions: preds.length === 0 ? null : (p) => preds.every((f) => f(p)),
          timeRanges: timeRanges(conjuncts, ref, alone),
          days: dayValues(conjuncts, ref, alone),
        });
      }
    }
  });
  // Base tables outside any SELECT's FROM (none known today): read them whole.
  walk(root, (node) => {
    if (node.type === 'BASE_TABLE' && !owned.has(node)) {
      tables.push({ catalog: str(node.catalog_name), schema: str(node.schema_name), table: str(node.table_name), location: location(node.query_location), partitions: null, timeRanges: new Map(), days: null });
    }
  });
  return { tables, cteNames, columnNames: outputNames(root) };
}

function walk(v: unknown, visit: (node: Json) => void): void {
  if (Array.isArray(v)) {
    for (const x of v) walk(x, visit);
  } else if (isObj(v)) {
    visit(v);
    for (const x of Object.values(v)) walk(x, visit);
  }
}

function collectFrom(ref: unknown, out: Json[], other: () => void): void {
  if (!isObj(ref)) return;
  if (ref.type === 'BASE_TABLE') out.push(ref);
  else if (ref.type === 'JOIN') {
    collectFrom(ref.left, out, other);
    collectFrom(ref.right, out, other);
  } else if (ref.type !== 'EMPTY') other();
}

function flattenAnd(e: unknown): Json[] {
  if (!isObj(e)) return [];
  if (e.class === 'CONJUNCTION' && e.type === 'CONJUNCTION_AND') return (e.children as unknown[]).flatMap(flattenAnd);
  return [e];
}

/** The column (lower-cased) an expression names for `ref`, if it names one of it. */
function columnOf(e: unknown, ref: Json, unqualifiedOk: boolean): string | null {
  if (!isObj(e) || e.class !== 'COLUMN_REF') return null;
  const names = (e.column_names as string[]).map((n) => n.toLowerCase());
  const col = names[names.length - 1]!;
  if (names.length === 1) return unqualifiedOk ? col : null;
  const qualifier = names[names.length - 2];
  const alias = str(ref.alias).toLowerCase();
  const matches = alias ? qualifier === alias : qualifier === str(ref.table_name).toLowerCase();
  return matches ? col : null;
}

/** The partition column (dt or hour) an expression names for `ref`, if it does. */
function partitionColumn(e: unknown, ref: Json, unqualifiedOk: boolean): 'dt' | 'hour' | null {
  const col = columnOf(e, ref, unqualifiedOk);
  return col === 'dt' || col === 'hour' ? col : null;
}

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * A timestamp constant as epoch ms: a string literal, bare or cast to TIMESTAMP, TIMESTAMP WITH
 * TIME ZONE or DATE (TIMESTAMP '…', DATE '…', CAST('…' AS timestamp)), read as DuckDB reads it in
 * the endpoint's UTC session. Undefined for anything else, which bounds nothing.
 */
export function timestampConstant(e: unknown): number | undefined {
  if (!isObj(e)) return undefined;
  if (e.class === 'CAST') {
    const target = isObj(e.cast_type) ? str(e.cast_type.id) : '';
    if (e.try_cast === true || !/^(TIMESTAMP|TIMESTAMP WITH TIME ZONE|TIMESTAMP_MS|TIMESTAMP_S|TIMESTAMP_NS|DATE)$/.test(target)) return undefined;
    const inner = isObj(e.child) && e.child.class === 'CONSTANT' ? timestampConstant(e.child) : undefined;
    if (inner === undefined || target !== 'DATE') return inner;
    // A DATE keeps only the day.
    return Math.floor(inner / 86_400_000) * 86_400_000;
  }
  if (e.class !== 'CONSTANT' || !isObj(e.value) || e.value.is_null || typeof e.value.value !== 'string') return undefined;
  const m = INSTANT.exec(e.value.value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = '', zone = ''] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), Math.floor(Number(`0.${frac || '0'}`) * 1000));
  if (zone && !/^(Z|UTC)$/i.test(zone)) {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    ms -= (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? 0)) * 60_000;
  }
  // Date.UTC rolls 2026-02-30 over to March; DuckDB refuses it, so it bounds nothing here.
  const check = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (check.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59) return undefined;
  return ms;
}

/** The ranges the conjuncts put on `ref`'s columns with timestamp constants (=, <, <=, >, >=, BETWEEN). */
function timeRanges(conjuncts: readonly Json[], ref: Json, unqualifiedOk: boolean): Map<string, TimeRange> {
  const out = new Map<string, TimeRange>();
  const narrow = (col: string, r: TimeRange): void => {
    const cur = out.get(col) ?? {};
    const lo = !cur.lo ? r.lo : !r.lo ? cur.lo : r.lo.ms > cur.lo.ms || (r.lo.ms === cur.lo.ms && !r.lo.inclusive) ? r.lo : cur.lo;
    const hi = !cur.hi ? r.hi : !r.hi ? cur.hi : r.hi.ms < cur.hi.ms || (r.hi.ms === cur.hi.ms && !r.hi.inclusive) ? r.hi : cur.hi;
    out.set(col, { ...(lo ? { lo } : {}), ...(hi ? { hi } : {}) });
  };
  for (const e of conjuncts) {
    if (e.class === 'COMPARISON' && typeof e.type === 'string' && FLIP[e.type]) {
      let col = columnOf(e.left, ref, unqualifiedOk);
      let op = e.type;
      let other = e.right;
      if (!col) {
        col = columnOf(e.right, ref, unqualifiedOk);
        op = FLIP[e.type]!;
        other = e.left;
      }
      const ms = col ? timestampConstant(other) : undefined;
      if (!col || ms === undefined) continue;
      if (op === 'COMPARE_EQUAL') narrow(col, { lo: { ms, inclusive: true }, hi: { ms, inclusive: true } });
      else if (op === 'COMPARE_GREATERTHAN' || op === 'COMPARE_GREATERTHANOREQUALTO') narrow(col, { lo: { ms, inclusive: op === 'COMPARE_GREATERTHANOREQUALTO' } });
      else narrow(col, { hi: { ms, inclusive: op === 'COMPARE_LESSTHANOREQUALTO' } });
    } else if (e.class === 'BETWEEN') {
      const col = columnOf(e.input, ref, unqualifiedOk);
      const lo = col ? timestampConstant(e.lower) : undefined;
      const hi = col ? timestampConstant(e.upper) : undefined;
      if (col && lo !== undefined && hi !== undefined) narrow(col, { lo: { ms: lo, inclusive: true }, hi: { ms: hi, inclusive: true } });
    }
  }
  return out;
}

/** At most this many days are enumerated from a range; a wider one lists the table whole. */
const MAX_DAYS = 400;

/** The yyyy-MM-dd days from `lo` to `hi` inclusive, or null when more than MAX_DAYS. */
export function daysBetween(lo: string, hi: string): string[] | null {
  const out: string[] = [];
  for (let t = Date.parse(`${lo}T00:00:00Z`); t <= Date.parse(`${hi}T00:00:00Z`); t += 86_400_000) {
    if (out.length === MAX_DAYS) return null;
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

/** The days a range of instants touches (UTC), or null when unbounded or too wide. */
export function daysOfTimeRange(range: TimeRange): string[] | null {
  if (!range.lo || !range.hi) return null;
  return daysBetween(new Date(range.lo.ms).toISOString().slice(0, 10), new Date(range.hi.ms).toISOString().slice(0, 10));
}

/** The dt values `ref`'s conjuncts allow, when finite. A superset is always correct (partitions are still tested). */
function dayValues(conjuncts: readonly Json[], ref: Json, unqualifiedOk: boolean): string[] | null {
  let set: Set<string> | null = null;
  let lo: string | undefined;
  let hi: string | undefined;
  const only = (vals: readonly string[]): void => {
    set = set ? new Set(vals.filter((v) => set!.has(v))) : new Set(vals);
  };
  for (const e of conjuncts) {
    if (e.class === 'COMPARISON' && typeof e.type === 'string' && FLIP[e.type]) {
      let op = e.type;
      let other = e.right;
      if (partitionColumn(e.left, ref, unqualifiedOk) !== 'dt') {
        if (partitionColumn(e.right, ref, unqualifiedOk) !== 'dt') continue;
        op = FLIP[e.type]!;
        other = e.left;
      }
      const c = constant(other, 'dt');
      if (typeof c !== 'string') continue;
      if (op === 'COMPARE_EQUAL') only([c]);
      else if (op === 'COMPARE_GREATERTHAN' || op === 'COMPARE_GREATERTHANOREQUALTO') lo = lo === undefined || c > lo ? c : lo;
      else hi = hi === undefined || c < hi ? c : hi;
    } else if (e.class === 'BETWEEN' && partitionColumn(e.input, ref, unqualifiedOk) === 'dt') {
      const a = constant(e.lower, 'dt');
      const b = constant(e.upper, 'dt');
      if (typeof a !== 'string' || typeof b !== 'string') continue;
      lo = lo === undefined || a > lo ? a : lo;
      hi = hi === undefined || b < hi ? b : hi;
    } else if (e.class === 'OPERATOR' && e.type === 'COMPARE_IN') {
      const [first, ...rest] = e.children as unknown[];
      if (partitionColumn(first, ref, unqualifiedOk) !== 'dt') continue;
      const vals = rest.map((x) => constant(x, 'dt'));
      if (vals.every((v): v is string => typeof v === 'string')) only(vals);
    }
  }
  const bounded = (vals: Iterable<string>): string[] => [...vals].filter((v) => (lo === undefined || v >= lo) && (hi === undefined || v <= hi)).sort();
  if (set) return bounded(set);
  if (lo !== undefined && hi !== undefined) return lo > hi ? [] : daysBetween(lo, hi);
  return null;
}

/**
 * The partitions that can hold a row whose partition-time value lies in `range`: that value
 * lies in its row's hour, so partition [start, start + 1 h) qualifies when it meets the range.
 */
export function partitionsOfTimeRange(range: TimeRange): PartitionPredicate {
  return (p) => {
    const start = Date.parse(`${p.dt}T00:00:00Z`) + p.hour * 3_600_000;
    if (range.lo && !(start + 3_600_000 > range.lo.ms)) return false;
    if (range.hi && !(range.hi.inclusive ? start <= range.hi.ms : start < range.hi.ms)) return false;
    return true;
  };
}

/** A constant (or a cast of one: DATE '2024-01-01') as a partition value; undefined when not constant. */
function constant(e: unknown, col: 'dt' | 'hour'): string | number | undefined {
  if (!isObj(e)) return undefined;
  if (e.class === 'CAST') return constant(e.child, col);
  if (e.class !== 'CONSTANT' || !isObj(e.value) || e.value.is_null) return undefined;
  const v = e.value.value;
  if (col === 'dt') return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) ? v : undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

const FLIP: Readonly<Record<string, string>> = {
  COMPARE_EQUAL: 'COMPARE_EQUAL',
  COMPARE_LESSTHAN: 'COMPARE_GREATERTHAN',
  COMPARE_GREATERTHAN: 'COMPARE_LESSTHAN',
  COMPARE_LESSTHANOREQUALTO: 'COMPARE_GREATERTHANOREQUALTO',
  COMPARE_GREATERTHANOREQUALTO: 'COMPARE_LESSTHANOREQUALTO',
};

function compare(op: string, a: string | number, b: string | number): boolean {
  switch (op) {
    case 'COMPARE_EQUAL': return a === b;
    case 'COMPARE_LESSTHAN': return a < b;
    case 'COMPARE_GREATERTHAN': return a > b;
    case 'COMPARE_LESSTHANOREQUALTO': return a <= b;
    case 'COMPARE_GREATERTHANOREQUALTO': return a >= b;
    default: return true;
  }
}

/** A predicate on partitions implied by one WHERE conjunct, or null when it implies none we can use. */
export function partitionPredicate(e: Json, ref: Json, unqualifiedOk: boolean): PartitionPredicate | null {
  const value = (p: PartitionKey, col: 'dt' | 'hour'): string | number => (col === 'dt' ? p.dt : p.hour);
  if (e.class === 'COMPARISON' && typeof e.type === 'string' && FLIP[e.type]) {
    let col = partitionColumn(e.left, ref, unqualifiedOk);
    let op = e.type;
    let other = e.right;
    if (!col) {
      col = partitionColumn(e.right, ref, unqualifiedOk);
      op = FLIP[e.type]!;
      other = e.left;
    }
    if (!col) return null;
    const c = constant(other, col);
    if (c === undefined) return null;
    const column = col;
    return (p) => compare(op, value(p, column), c);
  }
  if (e.class === 'BETWEEN') {
    const col = partitionColumn(e.input, ref, unqualifiedOk);
    if (!col) return null;
    const lo = constant(e.lower, col);
    const hi = constant(e.upper, col);
    if (lo === undefined || hi === undefined) return null;
    return (p) => value(p, col) >= lo && value(p, col) <= hi;
  }
  if (e.class === 'OPERATOR' && e.type === 'COMPARE_IN') {
    const [first, ...rest] = e.children as unknown[];
    const col = partitionColumn(first, ref, unqualifiedOk);
    if (!col) return null;
    const values = rest.map((x) => constant(x, col));
    if (values.some((v) => v === undefined)) return null;
    const set = new Set(values);
    return (p) => set.has(value(p, col));
  }
  return null;
}

/** Trino names unnamed select items `_col<i>` and lower-cases the rest. */
function outputNames(node: Json): string[] | null {
  if (node.type === 'SET_OPERATION_NODE') return isObj(node.left) ? outputNames(node.left) : null;
  if (node.type !== 'SELECT_NODE') return null;
  const items = node.select_list as Json[];
  if (items.some((x) => x.class === 'STAR' || x.class === 'COLUMNS')) return null;
  return items.map((x, i) => {
    const alias = str(x.alias);
    if (alias) return alias.toLowerCase();
    if (x.class === 'COLUMN_REF') {
      const names = x.column_names as string[];
      return names[names.length - 1]!.toLowerCase();
    }
    return `_col${i}`;
  });
}
