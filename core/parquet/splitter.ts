/**
 * Row objects → one array per column, in one pass (the generated splitter of
 * docs/deps-parquet.md, "Encode CPU for the 250k events/s goal").
 */
import type { LakeColumn } from '../lake-table';

/** Copies each row's value of each column into a new array per column (`[c][i]`), one pass over the rows. */
type ColumnSplitter = (rows: readonly Readonly<Record<string, unknown>>[]) => unknown[][];
interface SplitColumns {
  readonly names: readonly string[];
  /**
   * Fresh arrays per file. Arrays reused across files measured 3-6 % faster on rows that had
   * been in memory for a while, but on the handler's fresh rows no faster (every store became an
   * old-to-new pointer for the GC to track), and they kept the last file's values alive.
   */
  readonly split: ColumnSplitter;
}
/** Generated code per column list, shared by every writer: functions of the names only, holding no file's data. */
const splitters = new Map<string, SplitColumns>();
/** By column array: a handler writes every file of a table with the same array, so most calls build no key. */
const splittersByArray = new WeakMap<readonly LakeColumn[], SplitColumns>();

/**
 * The column arrays of `rows`. The splitter for a column list is generated once: `rows[i][name]`,
 * with `name` varying per column, was a megamorphic keyed load (a stub-cache probe per value,
 * ~20 % of writing values), and one pass per column touched every row object once per column. The
 * generated loop reads each row once, with one named load per column that stays monomorphic
 * (every row of a batch has the shape the engine's row factory gives it).
 */
export function splitColumns(columns: readonly LakeColumn[], rows: readonly Readonly<Record<string, unknown>>[]): unknown[][] {
  return columnSplitter(columns).split(rows);
}

function columnSplitter(columns: readonly LakeColumn[]): SplitColumns {
  const known = splittersByArray.get(columns);
  if (known && sameNames(known.names, columns)) return known;
  const names = columns.map((c) => c.name);
  const key = JSON.stringify(names);
  let split = splitters.get(key);
  if (!split) {
    if (splitters.size > 1000) splitters.clear(); // many schemas in one process: bounded, not a leak
    const body =
      'const n = rows.length;\n' +
      names.map((_, c) => `const c${c} = new Array(n);\n`).join('') +
      'for (let i = 0; i < n; i++) {\n  const r = rows[i];\n' +
      names.map((name, c) => `  c${c}[i] = r[${JSON.stringify(name)}];\n`).join('') +
      `}\nreturn [${names.map((_, c) => `c${c}`).join(', ')}];`;
    split = { names, split: new Function('rows', body) as ColumnSplitter };
    splitters.set(key, split);
  }
  splittersByArray.set(columns, split);
  return split;
}

/** Whether the array still has the names its splitter was made for (an array changed in place must not reuse it). */
function sameNames(names: readonly string[], columns: readonly LakeColumn[]): boolean {
  if (names.length !== columns.length) return false;
  for (let c = 0; c < names.length; c++) if (names[c] !== columns[c]!.name) return false;
  return true;
}
