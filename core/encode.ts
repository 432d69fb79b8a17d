/**
 * Lake writers: typed rows → Parquet or gzipped NDJSON bytes, the two
 * `TableFormat`s of lake-table.ts. Pure: bytes in memory, the caller does the
 * PutObject.
 *
 * Parquet: core/parquet/ writes every table by default, the flat ones
 * (raw and late, the per-event hot path) and since it learned the 3-level
 * LIST also the partials with their KMV sketches: ~6–10× hyparquet-writer's
 * rate on flat tables in the same run (docs/deps-parquet.md), and far more on
 * sketch lists, which hyparquet-writer shreds value by value.
 * hyparquet-writer (chosen by measurement against parquet-wasm and
 * @dsnp/parquetjs, `npx tsx scripts/bench/parquet.ts`) stays selectable with
 * `writer: 'hyparquet-writer'`. It is pure JS and synchronous, so there is no
 * init step and no .wasm asset. We import its browser entry (`src/index.js`):
 * the package's Node entry also exports a file writer that imports `fs`,
 * which core/ must not pull in.
 */
import { gzipSync } from 'node:zlib';
import { ByteWriter, parquetWrite, type ColumnSource, type SchemaElement } from 'hyparquet-writer/src/index.js';
import type { LakeColumn } from './lake-table';
import { encodePlainParquet, type PlainCodec, type WriteOptions } from './parquet/writer';
import type { ColumnType, FieldValue } from './schema';

/**
 * A value a lake row may hold: a schema field value, or for 'array<bigint>'
 * columns an array of integers (numbers or BigInts; KMV sketches are numbers).
 */
export type LakeValue = FieldValue | readonly (number | bigint)[];
/** A row for a lake table. Every `Row` of schema.ts is one. Missing keys read as null. */
export type LakeRow = Readonly<Record<string, LakeValue | undefined>>;

/** A row value that does not fit its column's type. Names the column, its type and the row index. */
export class LakeEncodeError extends Error {
  constructor(
    readonly column: string,
    readonly columnType: ColumnType,
    readonly rowIndex: number,
    readonly problem: string,
  ) {
    super(`row ${rowIndex}, column "${column}" (${columnType}): ${problem}`);
    this.name = 'LakeEncodeError';
  }
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Largest Parquet row group we write, in rows. A Lambda batch is far smaller (Kinesis: 10,000 records max), so a file is one row group. */
const ROW_GROUP_ROWS = 1_000_000;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'bigint') return `bigint ${v}n`;
  if (Array.isArray(v)) return `array of length ${v.length}`;
  return `${typeof v} ${String(v)}`;
}

function toInt64(v: unknown, col: LakeColumn, i: number, what = 'value'): bigint {
  if (typeof v === 'number') {
    // Above 2^53 a number has already lost precision: refuse rather than write a wrong value.
    if (!Number.isSafeInteger(v)) throw new LakeEncodeError(col.name, col.type, i, `${what} must be a safe integer (|x| ≤ 2^53−1) or a BigInt, got ${describe(v)}`);
    return BigInt(v);
  }
  if (typeof v === 'bigint') {
    if (v < INT64_MIN || v > INT64_MAX) throw new LakeEncodeError(col.name, col.type, i, `${what} is outside the INT64 range, got ${describe(v)}`);
    return v;
  }
  throw new LakeEncodeError(col.name, col.type, i, `${what} must be an integer number or a BigInt, got ${describe(v)}`);
}

function toTimestampMillis(v: unknown, col: LakeColumn, i: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw new LakeEncodeError(col.name, col.type, i, `expected epoch milliseconds (an integer number), got ${describe(v)}`);
  }
  return v;
}

/**
 * Checks one value against its column type and returns it in the form the
 * Parquet writer wants (INT64 as BigInt, lists as BigInt[]). Null stays null.
 */
function parquetValue(v: unknown, col: LakeColumn, i: number): unknown {
  if (v === null || v === undefined) return null;
  switch (col.type) {
    case 'string':
      if (typeof v !== 'string') break;
      return v;
    case 'double':
      if (typeof v !== 'number') break;
      return v;
    case 'boolean':
      if (typeof v !== 'boolean') break;
      return v;
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) {
        throw new LakeEncodeError(col.name, col.type, i, `expected an integer in [-2^31, 2^31−1], got ${describe(v)}`);
      }
      return v;
    case 'bigint':
      return toInt64(v, col, i);
    case 'timestamp':
      // Left a number: the writer converts TIMESTAMP_MILLIS values to INT64 itself (one BigInt per value, not two).
      return toTimestampMillis(v, col, i);
    case 'array<bigint>': {
      if (!Array.isArray(v)) break;
      const out = new Array<bigint>(v.length);
      for (let k = 0; k < v.length; k++) out[k] = toInt64(v[k], col, i, `element ${k}`);
      return out;
    }
  }
  throw new LakeEncodeError(col.name, col.type, i, `expected ${col.type}, got ${describe(v)}`);
}

/**
 * Parquet schema for one column, all OPTIONAL (null where absent), in the
 * standard types of parquet-format's LogicalTypes.md so Athena (Trino's
 * reader) and DuckDB agree: STRING, the 3-level LIST
 * (`<name> (LIST) / repeated group list / element`), and timestamps as INT64
 * with converted type TIMESTAMP_MILLIS, which LogicalTypes.md defines as
 * TIMESTAMP(isAdjustedToUTC=true, unit=MILLIS).
 *
 * Why the converted type alone, without the TIMESTAMP logical type: DuckDB
 * reads a logical TIMESTAMP with isAdjustedToUTC=true as TIMESTAMP WITH TIME
 * ZONE (duckdb/duckdb#5916), and with isAdjustedToUTC=false as a local time;
 * the converted type alone is read as plain TIMESTAMP there, and as
 * `timestamp` by Trino, the Glue column type. Checked in test/encode.test.ts.
 * List elements are REQUIRED: a KMV sketch never holds a null.
 */
function schemaElements(col: LakeColumn): SchemaElement[] {
  const name = col.name;
  const repetition_type = 'OPTIONAL';
  switch (col.type) {
    case 'string':
      return [{ name, repetition_type, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } }];
    case 'int':
      return [{ name, repetition_type, type: 'INT32' }];
    case 'bigint':
      return [{ name, repetition_type, type: 'INT64' }];
    case 'double':
      return [{ name, repetition_type, type: 'DOUBLE' }];
    case 'boolean':
      return [{ name, repetition_type, type: 'BOOLEAN' }];
    case 'timestamp':
      return [{ name, repetition_type, type: 'INT64', converted_type: 'TIMESTAMP_MILLIS' }];
    case 'array<bigint>':
      return [
        { name, repetition_type, converted_type: 'LIST', logical_type: { type: 'LIST' }, num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', repetition_type: 'REQUIRED', type: 'INT64' },
      ];
  }
}

/**
 * UTF-8 bytes of a string column as views into one buffer. The writer would
 * otherwise call TextEncoder.encode once per value, and that per-call cost was
 * the largest single item in the encode profile (13 % of samples, plus the GC
 * of 100,000 small buffers). ASCII is copied by hand; anything else goes
 * through encodeInto. Dictionary encoding still works: the writer keys byte
 * arrays by content.
 */
function utf8Views(values: readonly (string | null)[]): (Uint8Array | null)[] {
  let capacity = 0;
  for (const v of values) if (v !== null) capacity += v.length * 3; // UTF-16 unit → at most 3 UTF-8 bytes
  const buf = new Uint8Array(capacity);
  const out = new Array<Uint8Array | null>(values.length);
  let pos = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v === null) {
      out[i] = null;
      continue;
    }
    const start = pos;
    let k = 0;
    for (; k < v.length; k++) {
      const c = v.charCodeAt(k);
      if (c >= 0x80) break;
      buf[pos++] = c;
    }
    if (k < v.length) pos = start + utf8.encodeInto(v, buf.subarray(start)).written;
    out[i] = buf.subarray(start, pos);
  }
  return out;
}

function gzip(input: Uint8Array): Uint8Array {
  return gzipSync(input);
}

export interface ParquetEncodeOptions {
  /**
   * Page compression. For flat tables (the plain writer), 100,000 clickstream
   * rows in one run (docs/deps-parquet.md): uncompressed 5.5 MB at ~2× the
   * snappy rate, snappy 2.2 MB, gzip 1.1 MB at ~0.4× the snappy rate. Athena
   * bills and reads by bytes scanned, so snappy by default, although its
   * compression is the largest single cost of writing the raw table (see the
   * pipeline suite in BENCHMARKS.md); 'uncompressed' where write CPU is all
   * that matters, gzip where bytes matter more than write CPU. @default 'snappy'
   */
  readonly codec?: 'snappy' | 'gzip' | 'uncompressed';
  /**
   * Which writer. 'plain' (core/parquet/) writes every lake column
   * type, lists included. 'hyparquet-writer' forces the general writer: the
   * A/B switch for the numbers in docs/deps-parquet.md, and a way back should
   * a reader ever disagree.
   * @default 'plain'
   */
  readonly writer?: 'plain' | 'hyparquet-writer';
}

export { ParquetWriter } from './parquet/writer';

/**
 * Options for a `ParquetWriter` of lake rows: the codec, with the same value
 * checks and error messages as encodeParquet. For writing a file column by
 * column (`begin`, `column` per column, `finish`), or with a writer of one's own.
 */
export function lakeWriteOptions(codec: PlainCodec = 'snappy'): WriteOptions {
  return { codec, check: parquetValue, compress: gzip };
}

/**
 * Encodes rows as one Parquet file (one row group), snappy-compressed unless
 * `options.codec` says otherwise. Synchronous, no init step.
 *
 * Zero rows give a valid zero-row file (schema, no row group): DuckDB and
 * Athena read it as an empty table. Whether to PutObject it is the caller's call.
 *
 * @throws LakeEncodeError when a value does not fit its column type.
 */
export function encodeParquet(columns: readonly LakeColumn[], rows: readonly LakeRow[], options: ParquetEncodeOptions = {}): Uint8Array {
  if (columns.length === 0) throw new RangeError('encodeParquet: a Parquet file needs at least one column (given 0)');
  if (options.writer !== 'hyparquet-writer') {
    return encodePlainParquet(columns, rows, options.codec ?? 'snappy', parquetValue, gzip);
  }
  const schema: SchemaElement[] = [{ name: 'schema', num_children: columns.length }];
  const columnData: ColumnSource[] = [];
  for (const col of columns) {
    schema.push(...schemaElements(col));
    const data = new Array<unknown>(rows.length);
    for (let i = 0; i < rows.length; i++) data[i] = parquetValue(rows[i]![col.name], col, i);
    columnData.push({ name: col.name, data: (col.type === 'string' ? utf8Views(data as (string | null)[]) : data) as ColumnSource['data'] });
  }
  const writer = new ByteWriter();
  // SNAPPY is built into hyparquet-writer (pure JS); GZIP is node:zlib (native, allowed in core/).
  const codec = options.codec === 'gzip' ? 'GZIP' : options.codec === 'uncompressed' ? 'UNCOMPRESSED' : 'SNAPPY';
  parquetWrite({ writer, schema, columnData, codec, compressors: { GZIP: gzip }, rowGroupSize: ROW_GROUP_ROWS, createdBy: 'shardflow' });
  return writer.getBytes();
}

const utf8 = new TextEncoder();

const pad2 = (n: number): string => (n < 10 ? '0' : '') + n;
const pad3 = (n: number): string => (n < 10 ? '00' : n < 100 ? '0' : '') + n;

/**
 * `yyyy-MM-dd HH:mm:ss.SSS` in UTC: the form `java.sql.Timestamp.valueOf`
 * parses, which is what Athena's Hive JSON SerDe
 * (`org.apache.hive.hcatalog.data.JsonSerDe`) uses when the table sets no
 * `timestamp.formats` (Athena "Hive JSON SerDe"; Firehose API HiveJsonSerDe:
 * "If you don't specify a format, … uses java.sql.Timestamp::valueOf").
 * Years 0–9999 only, the range of that pattern.
 */
export function formatHiveTimestamp(ms: number): string {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  if (!(y >= 0 && y <= 9999)) throw new RangeError(`timestamp ${ms} ms is outside years 0000-9999`);
  return (
    `${String(y).padStart(4, '0')}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}.${pad3(d.getUTCMilliseconds())}`
  );
}

/** One value as JSON text, checked against its column type. */
function jsonValue(v: unknown, col: LakeColumn, i: number): string {
  if (v === null || v === undefined) return 'null';
  switch (col.type) {
    case 'string':
      if (typeof v !== 'string') break;
      return JSON.stringify(v);
    case 'double':
      if (typeof v !== 'number') break;
      // JSON has no NaN or Infinity: JSON.stringify would silently write null.
      if (!Number.isFinite(v)) throw new LakeEncodeError(col.name, col.type, i, `NDJSON cannot hold ${v}`);
      return String(v);
    case 'boolean':
      if (typeof v !== 'boolean') break;
      return v ? 'true' : 'false';
    case 'int':
      return String(parquetValue(v, col, i));
    case 'bigint':
      // BigInt digits as a JSON number: exact in the SerDe and in DuckDB, which read it as BIGINT.
      return toInt64(v, col, i).toString();
    case 'timestamp': {
      const ms = toTimestampMillis(v, col, i);
      try {
        return `"${formatHiveTimestamp(ms)}"`;
      } catch (e) {
        throw new LakeEncodeError(col.name, col.type, i, (e as Error).message);
      }
    }
    case 'array<bigint>': {
      if (!Array.isArray(v)) break;
      let s = '[';
      for (let k = 0; k < v.length; k++) s += (k ? ',' : '') + toInt64(v[k], col, i, `element ${k}`).toString();
      return s + ']';
    }
  }
  throw new LakeEncodeError(col.name, col.type, i, `expected ${col.type}, got ${describe(v)}`);
}

/**
 * Encodes rows as newline-delimited JSON (one object per line, keys in column
 * order, every column present, null where absent), gzip-compressed.
 *
 * Read on Athena with `ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'`
 * (timestamps are `yyyy-MM-dd HH:mm:ss.SSS` UTC strings, see formatHiveTimestamp);
 * locally with DuckDB `read_json(..., format = 'newline_delimited', columns = {...})`.
 *
 * Zero rows give a valid gzip stream of zero bytes of text (zero records).
 *
 * @throws LakeEncodeError when a value does not fit its column type.
 */
export function encodeNdjsonGz(columns: readonly LakeColumn[], rows: readonly LakeRow[]): Uint8Array {
  const keys = columns.map((c) => `${JSON.stringify(c.name)}:`);
  const lines = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    let line = '{';
    for (let c = 0; c < columns.length; c++) {
      const col = columns[c]!;
      line += (c ? ',' : '') + keys[c] + jsonValue(row[col.name], col, i);
    }
    lines[i] = line + '}\n';
  }
  return gzip(utf8.encode(lines.join('')));
}
