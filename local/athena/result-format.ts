/**
 * Athena's view of a result: ColumnInfo with Trino type names, values as the
 * strings Athena's GetQueryResults and result CSV carry, and that CSV.
 */
import {
  DuckDBDateValue,
  DuckDBDecimalType,
  DuckDBListType,
  DuckDBArrayType,
  DuckDBListValue,
  DuckDBArrayValue,
  DuckDBMapType,
  DuckDBMapValue,
  DuckDBStructType,
  DuckDBStructValue,
  DuckDBTimestampValue,
  DuckDBTimestampTZValue,
  DuckDBTypeId,
  DuckDBBlobValue,
  DuckDBIntervalValue,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';

/** Athena's ColumnInfo (API reference, ColumnInfo). */
export interface ColumnInfo {
  readonly CatalogName: string;
  readonly SchemaName: string;
  readonly TableName: string;
  readonly Name: string;
  readonly Label: string;
  readonly Type: string;
  readonly Precision: number;
  readonly Scale: number;
  readonly Nullable: 'UNKNOWN';
  readonly CaseSensitive: boolean;
}

/** Trino type name of a DuckDB type (what Athena puts in ColumnInfo.Type). */
/** The translator's zone-keeping timestamp (local/athena/sql-translate.ts): a struct of its Trino text. */
function isZoned(t: DuckDBType): boolean {
  return t instanceof DuckDBStructType && t.entryNames.length === 1 && t.entryNames[0] === '__athena_zoned';
}

export function athenaTypeName(t: DuckDBType): string {
  // DuckDB's JSON is a VARCHAR with an alias.
  if (t.alias === 'JSON') return 'json';
  if (isZoned(t)) return 'timestamp with time zone';
  switch (t.typeId) {
    case DuckDBTypeId.VARCHAR: return 'varchar';
    case DuckDBTypeId.BIGINT: return 'bigint';
    case DuckDBTypeId.INTEGER: return 'integer';
    case DuckDBTypeId.SMALLINT: return 'smallint';
    case DuckDBTypeId.TINYINT: return 'tinyint';
    case DuckDBTypeId.UTINYINT: return 'smallint';
    case DuckDBTypeId.USMALLINT: return 'integer';
    case DuckDBTypeId.UINTEGER: return 'bigint';
    // DuckDB's SUM(bigint) is HUGEINT where Trino's is bigint: report what Athena would.
    case DuckDBTypeId.HUGEINT: return 'bigint';
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.UHUGEINT: return 'decimal';
    case DuckDBTypeId.DOUBLE: return 'double';
    case DuckDBTypeId.FLOAT: return 'real';
    case DuckDBTypeId.BOOLEAN: return 'boolean';
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_NS: return 'timestamp';
    case DuckDBTypeId.TIMESTAMP_TZ: return 'timestamp with time zone';
    case DuckDBTypeId.DATE: return 'date';
    case DuckDBTypeId.TIME: return 'time';
    case DuckDBTypeId.INTERVAL: return 'interval day to second';
    case DuckDBTypeId.DECIMAL: return 'decimal';
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY: return 'array';
    case DuckDBTypeId.MAP: return 'map';
    case DuckDBTypeId.STRUCT: return 'row';
    case DuckDBTypeId.BLOB: return 'varbinary';
    case DuckDBTypeId.UUID: return 'uuid';
    case DuckDBTypeId.SQLNULL: return 'unknown';
    default: return t.alias === 'JSON' ? 'json' : 'varchar';
  }
}

/** Precision as Athena reports it per type (observed on Athena engine v3 responses). */
function precisionOf(t: DuckDBType, name: string): [number, number] {
  if (t instanceof DuckDBDecimalType) return [t.width, t.scale];
  switch (name) {
    case 'varchar': return [2147483647, 0];
    case 'bigint': return [19, 0];
    case 'integer': return [10, 0];
    case 'smallint': return [5, 0];
    case 'tinyint': return [3, 0];
    case 'double': return [17, 0];
    case 'real': return [9, 0];
    case 'timestamp':
    case 'timestamp with time zone': return [3, 0];
    case 'decimal': return [38, 0];
    default: return [0, 0];
  }
}

export function columnInfo(name: string, t: DuckDBType): ColumnInfo {
  const type = athenaTypeName(t);
  const [precision, scale] = precisionOf(t, type);
  return { CatalogName: 'hive', SchemaName: '', TableName: '', Name: name, Label: name, Type: type, Precision: precision, Scale: scale, Nullable: 'UNKNOWN', CaseSensitive: type === 'varchar' };
}

/** A string column for utility results (SHOW TABLES, DESCRIBE): Athena types them `string`. */
export function stringColumn(name: string): ColumnInfo {
  return { CatalogName: 'hive', SchemaName: '', TableName: '', Name: name, Label: name, Type: 'string', Precision: 0, Scale: 0, Nullable: 'UNKNOWN', CaseSensitive: false };
}

/** Java's Double.toString, which Trino uses for double values: 1.0, 0.001, 1.0E-4, 1.0E7. */
export function javaDouble(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(x);
  if (abs >= 1e-3 && abs < 1e7) {
    const s = String(x);
    return s.includes('.') || s.includes('e') ? s : `${s}.0`;
  }
  const [mantissa, exp] = x.toExponential().split('e') as [string, string];
  const m = mantissa.includes('.') ? mantissa : `${mantissa}.0`;
  return `${m}E${exp.startsWith('+') ? exp.slice(1) : exp}`;
}

/** Java's Float.toString, which Trino uses for real values: the shortest decimal that reads back as the same float. */
export function javaFloat(x: number): string {
  const f = Math.fround(x);
  if (!Number.isFinite(f) || f === 0) return javaDouble(f);
  for (let p = 1; p <= 9; p++) {
    const shortest = Number(f.toPrecision(p));
    if (Math.fround(shortest) === f) return javaDouble(shortest);
  }
  return javaDouble(f);
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function formatMicros(micros: bigint): string {
  const ms = Number(micros / 1000n) - (micros % 1000n < 0n ? 1 : 0);
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

/** Trino's text of an interval: `D HH:mm:ss.SSS` (day to second) or `Y-M` (year to month). */
function formatInterval(v: DuckDBIntervalValue): string {
  if (v.days === 0 && v.micros === 0n && v.months !== 0) return `${v.months < 0 ? '-' : ''}${Math.floor(Math.abs(v.months) / 12)}-${Math.abs(v.months) % 12}`;
  const totalMs = BigInt(v.days) * 86_400_000n + v.micros / 1000n;
  const neg = totalMs < 0n;
  const ms = neg ? -totalMs : totalMs;
  const days = ms / 86_400_000n;
  const rest = Number(ms % 86_400_000n);
  return `${neg ? '-' : ''}${days} ${pad(Math.floor(rest / 3_600_000))}:${pad(Math.floor(rest / 60_000) % 60)}:${pad(Math.floor(rest / 1000) % 60)}.${pad(rest % 1000, 3)}`;
}

/** A value as Athena prints it; null for SQL NULL. Nested values follow Trino's text form: [a, b], {k=v}. */
export function formatValue(v: DuckDBValue, t: DuckDBType): string | null {
  if (v === null) return null;
  switch (t.typeId) {
    case DuckDBTypeId.DOUBLE:
      return javaDouble(Number(v));
    case DuckDBTypeId.FLOAT:
      return javaFloat(Number(v));
    case DuckDBTypeId.TIMESTAMP:
      return v instanceof DuckDBTimestampValue ? formatMicros(v.micros) : String(v);
    case DuckDBTypeId.TIMESTAMP_TZ:
      return v instanceof DuckDBTimestampTZValue ? `${formatMicros(v.micros)} UTC` : String(v);
    case DuckDBTypeId.DATE:
      return v instanceof DuckDBDateValue ? v.toString() : String(v);
    case DuckDBTypeId.INTERVAL:
      return v instanceof DuckDBIntervalValue ? formatInterval(v) : String(v);
    case DuckDBTypeId.BLOB:
      return v instanceof DuckDBBlobValue ? Buffer.from(v.bytes).toString('hex').replace(/(..)(?!$)/g, '$1 ') : String(v);
    default:
      break;
  }
  if ((t instanceof DuckDBListType || t instanceof DuckDBArrayType) && (v instanceof DuckDBListValue || v instanceof DuckDBArrayValue)) {
    return `[${v.items.map((x) => formatValue(x, t.valueType) ?? 'null').join(', ')}]`;
  }
  if (t instanceof DuckDBMapType && v instanceof DuckDBMapValue) {
    return `{${v.entries.map((e) => `${formatValue(e.key, t.keyType)}=${formatValue(e.value, t.valueType) ?? 'null'}`).join(', ')}}`;
  }
  if (isZoned(t) && v instanceof DuckDBStructValue) return v.entries.__athena_zoned === null ? null : String(v.entries.__athena_zoned);
  if (t instanceof DuckDBStructType && v instanceof DuckDBStructValue) {
    // An anonymous row's fields print as field0, field1, … (Trino); DuckDB names them ''.
    return `{${t.entryNames.map((n, i) => `${n === '' ? `field${i}` : n}=${formatValue(v.entries[n] ?? null, t.entryTypes[i]!) ?? 'null'}`).join(', ')}}`;
  }
  return String(v);
}

/** Athena's result CSV: a header row, every value double-quoted, NULL as an empty unquoted field. */
export function toCsv(header: readonly string[] | null, rows: readonly (readonly (string | null)[])[]): string {
  const q = (s: string | null): string => (s === null ? '' : `"${s.replace(/"/g, '""')}"`);
  const lines = header ? [header.map(q).join(',')] : [];
  for (const r of rows) lines.push(r.map(q).join(','));
  return lines.length ? `${lines.join('\n')}\n` : '';
}
