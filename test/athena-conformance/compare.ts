/**
 * How the conformance test compares a Trino result with the local endpoint's.
 *
 * Both sides are brought to the text Athena's GetQueryResults carries
 * (local/athena/result-format.ts prints the local side that way already;
 * trinoText prints a Trino client-protocol value the same way), then compared
 * with this normalisation (documented in docs/athena-sql.md):
 *
 * - column names must be equal (Trino names unnamed items `_col0`, …);
 * - column types are compared by their base name (`varchar(3)` ≡ `varchar`,
 *   `array(integer)` ≡ `array`), numeric types as one family, and a column
 *   that is NULL throughout on both sides compares values only;
 * - map entries compare in key order (a map has none; Trino prints hash order);
 * - numbers inside a value compare with a relative tolerance (1e-9 unless the
 *   query sets its own), all other characters exactly;
 * - rows compare as a multiset unless the query ends in a top-level ORDER BY.
 */
import { tokenize } from '../../local/athena/sql-translate';
import { formatTrinoValue, parseTrinoType, type TrinoType } from '../../local/trino/result-format';

export interface Column {
  readonly name: string;
  readonly type: string;
}

export interface ComparableResult {
  readonly columns: readonly Column[];
  readonly rows: readonly (readonly (string | null)[])[];
}

/** A Trino JSON value (client protocol) as Athena prints it; null for SQL NULL. */
export function trinoText(v: unknown, type: string): string | null {
  return text(v, parseTrinoType(type));
}

function text(v: unknown, t: TrinoType): string | null {
  if (v === null || v === undefined) return null;
  switch (t.base) {
    case 'array':
      return `[${(v as unknown[]).map((x) => text(x, t.args[0]!) ?? 'null').join(', ')}]`;
    case 'map':
      return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${text(k, t.args[0]!)}=${text(x, t.args[1]!) ?? 'null'}`).join(', ')}}`;
    case 'row':
      // Anonymous fields print as field0, field1, … (Athena).
      return `{${(v as unknown[]).map((x, i) => `${t.fieldNames?.[i] || `field${i}`}=${text(x, t.args[i]!) ?? 'null'}`).join(', ')}}`;
    default:
      return formatTrinoValue(v, t);
  }
}

/** `varchar(3)` → `varchar`, `array(integer)` → `array`, `timestamp(3) with time zone` → `timestamp with time zone`. */
export function baseType(type: string): string {
  const base = type.toLowerCase().replace(/\(.*\)/, '').replace(/\s+/g, ' ').trim();
  return NUMERIC.has(base) ? 'number' : base;
}

/** Numeric types compare as one family: the printed value still has to agree, so 1 vs 1.0 or 2.50 vs 2.5 differ. */
const NUMERIC = new Set(['tinyint', 'smallint', 'integer', 'bigint', 'real', 'double', 'decimal']);

/** A column that is NULL in every row on both sides matches any type (Trino types a bare NULL `unknown`, DuckDB `INTEGER`). */
function typesAgree(a: string, b: string, allNull: boolean): boolean {
  return a === b || allNull;
}

/** A map's entries, sorted: Trino prints a map in its hash order, DuckDB in insertion order, and a map has no order. */
export function sortedMapText(text: string): string {
  if (!text.startsWith('{') || !text.endsWith('}')) return text;
  const entries: string[] = [];
  let depth = 0;
  let from = 1;
  for (let i = 1; i < text.length - 1; i++) {
    const c = text[i]!;
    if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
    else if (depth === 0 && c === ',' && text[i + 1] === ' ') {
      entries.push(text.slice(from, i));
      from = i + 2;
    }
  }
  if (text.length > 2) entries.push(text.slice(from, text.length - 1));
  return `{${entries.sort().join(', ')}}`;
}

const NUMBER = /-?(?:\d+\.?\d*(?:E-?\d+)?|NaN|Infinity)/g;

/** Equal text, numbers within a relative tolerance. */
export function cellsAgree(a: string | null, b: string | null, tolerance: number): boolean {
  if (a === null || b === null) return a === b;
  if (a === b) return true;
  const na = a.match(NUMBER) ?? [];
  const nb = b.match(NUMBER) ?? [];
  if (na.length !== nb.length || a.replace(NUMBER, '#') !== b.replace(NUMBER, '#')) return false;
  return na.every((x, i) => {
    const y = nb[i]!;
    if (x === y) return true;
    const fx = Number(x);
    const fy = Number(y);
    if (!Number.isFinite(fx) || !Number.isFinite(fy)) return false;
    return Math.abs(fx - fy) <= tolerance * Math.max(Math.abs(fx), Math.abs(fy));
  });
}

/** True when the statement's outermost query ends in ORDER BY (rows then compare in order). */
export function isOrdered(sql: string): boolean {
  const tokens = tokenize(sql);
  let depth = 0;
  let ordered = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.text === '(') depth++;
    else if (t.text === ')') depth--;
    else if (depth === 0 && t.kind === 'ident') {
      const w = t.text.toLowerCase();
      if (w === 'order' && tokens[i + 1]?.text.toLowerCase() === 'by') ordered = true;
      // A set operation after an ORDER BY starts a new operand.
      if (['union', 'intersect', 'except'].includes(w)) ordered = false;
    }
  }
  return ordered;
}

/** null when the results agree; otherwise what differs. */
export function difference(trino: ComparableResult, local: ComparableResult, opts: { ordered: boolean; tolerance: number }): string | null {
  const names = (r: ComparableResult): string => r.columns.map((c) => c.name).join(', ');
  if (names(trino) !== names(local)) return `columns: Trino (${names(trino)}), local (${names(local)})`;
  const types = (r: ComparableResult): string[] => r.columns.map((c) => baseType(c.type));
  const tt = types(trino);
  const lt = types(local);
  const allNull = (j: number): boolean => trino.rows.every((r) => r[j] === null) && local.rows.every((r) => r[j] === null);
  if (tt.some((t, j) => !typesAgree(t, lt[j]!, allNull(j)))) return `types: Trino (${tt.join(', ')}), local (${lt.join(', ')})`;
  if (trino.rows.length !== local.rows.length) return `${trino.rows.length} rows on Trino, ${local.rows.length} locally`;
  // Numbers rounded in the sort key, so that rows within the tolerance sort alike.
  const key = (r: readonly (string | null)[]): string => JSON.stringify(r).replace(NUMBER, (x) => (Number.isFinite(Number(x)) ? Number(x).toPrecision(6) : x));
  const sortRows = (rows: readonly (readonly (string | null)[])[]): (readonly (string | null)[])[] =>
    opts.ordered ? [...rows] : [...rows].sort((x, y) => (key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : 0));
  const maps = trino.columns.map((c) => baseType(c.type) === 'map');
  const norm = (rows: readonly (readonly (string | null)[])[]): (readonly (string | null)[])[] => rows.map((r) => r.map((v, j) => (maps[j] && v !== null ? sortedMapText(v) : v)));
  const tr = sortRows(norm(trino.rows));
  const lr = sortRows(norm(local.rows));
  for (let i = 0; i < tr.length; i++) {
    const a = tr[i]!;
    const b = lr[i]!;
    for (let j = 0; j < a.length; j++) {
      if (!cellsAgree(a[j]!, b[j]!, opts.tolerance)) {
        return `row ${i + 1}, ${trino.columns[j]!.name}: Trino ${JSON.stringify(a[j])}, local ${JSON.stringify(b[j])}`;
      }
    }
  }
  return null;
}
