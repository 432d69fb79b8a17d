/**
 * Trino's JSON values as the strings Athena's GetQueryResults carries (the
 * same text local/athena/result-format.ts produces from DuckDB): doubles as
 * Java prints them, nested values as [a, b] and {k=v}, varbinary as spaced hex.
 */
import { javaDouble } from '../athena/result-format';

/** A Trino type signature as text, split into its base name and arguments. */
export interface TrinoType {
  readonly base: string;
  /** array: [element]; map: [key, value]; row: fields; others: their numeric/text parameters. */
  readonly args: readonly TrinoType[];
  /** Field names of a row type. */
  readonly fieldNames?: readonly string[];
  readonly text: string;
}

/** Splits on commas outside parentheses. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(s.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(s.slice(start).trim());
  return out.filter((x) => x.length > 0);
}

export function parseTrinoType(text: string): TrinoType {
  const t = text.trim();
  const open = t.indexOf('(');
  if (open < 0 || !t.endsWith(')') || /\) with time zone$/.test(t)) {
    // timestamp(3) with time zone, time(3) with time zone: a scalar
    const base = t.replace(/\(\d+\)/, '');
    return { base, args: [], text: t };
  }
  const base = t.slice(0, open);
  const inner = t.slice(open + 1, -1);
  if (base === 'row') {
    const fields = splitTop(inner).map((f) => {
      const m = /^("(?:[^"]|"")+"|\S+)\s+(.+)$/.exec(f);
      return m ? { name: m[1]!.replace(/^"|"$/g, '').replace(/""/g, '"'), type: parseTrinoType(m[2]!) } : { name: '', type: parseTrinoType(f) };
    });
    return { base, args: fields.map((f) => f.type), fieldNames: fields.map((f) => f.name), text: t };
  }
  if (base === 'array' || base === 'map') return { base, args: splitTop(inner).map(parseTrinoType), text: t };
  return { base, args: [], text: t };
}

/** A value as Athena prints it; null for SQL NULL. */
export function formatTrinoValue(v: unknown, t: TrinoType): string | null {
  if (v === null || v === undefined) return null;
  switch (t.base) {
    case 'double':
    case 'real':
      return typeof v === 'number' ? javaDouble(v) : String(v);
    case 'varbinary':
      return Buffer.from(String(v), 'base64').toString('hex').replace(/(..)(?!$)/g, '$1 ');
    case 'array': {
      const el = t.args[0]!;
      return `[${(v as unknown[]).map((x) => formatTrinoValue(x, el) ?? 'null').join(', ')}]`;
    }
    case 'map': {
      const [k, val] = t.args as [TrinoType, TrinoType];
      return `{${Object.entries(v as Record<string, unknown>)
        .map(([kk, vv]) => `${formatTrinoValue(kk, k)}=${formatTrinoValue(vv, val) ?? 'null'}`)
        .join(', ')}}`;
    }
    case 'row': {
      const values = v as unknown[];
      return `{${t.args.map((ft, i) => `${t.fieldNames?.[i] ?? `field${i}`}=${formatTrinoValue(values[i], ft) ?? 'null'}`).join(', ')}}`;
    }
    case 'json':
      return typeof v === 'string' ? v : JSON.stringify(v);
    default:
      return typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
}

/** Rows of a Trino result as Athena's strings. */
export function athenaRows(columns: readonly { readonly type: string }[], rows: readonly unknown[][]): (string | null)[][] {
  const types = columns.map((c) => parseTrinoType(c.type));
  return rows.map((r) => r.map((v, i) => formatTrinoValue(v, types[i]!)));
}

/** Athena's ColumnInfo.Type of a Trino type: the base name, no parameters (as Athena reports it). */
export function athenaTypeOfTrino(text: string): string {
  return parseTrinoType(text).base;
}
