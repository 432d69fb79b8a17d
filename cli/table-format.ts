/** Prints query results as a table, CSV or JSON lines. */
import type { QueryColumn } from '../local/query';

export type OutputFormat = 'table' | 'csv' | 'json';

function csvField(v: string | null): string {
  if (v === null) return '';
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function formatRows(columns: readonly QueryColumn[], rows: readonly (string | null)[][], format: OutputFormat): string {
  if (format === 'csv') {
    return [columns.map((c) => csvField(c.name)).join(','), ...rows.map((r) => r.map(csvField).join(','))].join('\n');
  }
  if (format === 'json') {
    return rows.map((r) => JSON.stringify(Object.fromEntries(columns.map((c, i) => [c.name, r[i] ?? null])))).join('\n');
  }
  const cells = [columns.map((c) => c.name), ...rows.map((r) => r.map((v) => (v === null ? 'NULL' : v)))];
  const widths = columns.map((_, i) => Math.min(60, Math.max(...cells.map((r) => (r[i] ?? '').length))));
  const numeric = columns.map((c) => /^(bigint|integer|int|smallint|tinyint|double|real|float|decimal)/.test(c.type));
  const line = (r: string[]) => r.map((v, i) => {
    const s = v.length > widths[i]! ? v.slice(0, widths[i]! - 1) + '…' : v;
    return numeric[i] ? s.padStart(widths[i]!) : s.padEnd(widths[i]!);
  }).join(' │ ');
  const rule = widths.map((w) => '─'.repeat(w)).join('─┼─');
  return [line(cells[0]!), rule, ...cells.slice(1).map(line)].join('\n');
}
