import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNdjsonGz, encodeParquet, formatHiveTimestamp, LakeEncodeError, type LakeColumn, type LakeRow } from '../core';
import { mulberry32 } from '../core/prng';

/** One column of every lake column type. */
const COLUMNS: readonly LakeColumn[] = [
  { name: 's', type: 'string' },
  { name: 'i', type: 'int' },
  { name: 'b', type: 'bigint' },
  { name: 'd', type: 'double' },
  { name: 'f', type: 'boolean' },
  { name: 't', type: 'timestamp' },
  { name: 'a', type: 'array<bigint>' },
];

const DUCKDB_TYPES = { s: 'VARCHAR', i: 'INTEGER', b: 'BIGINT', d: 'DOUBLE', f: 'BOOLEAN', t: 'TIMESTAMP', a: 'BIGINT[]' };

const ROWS: readonly LakeRow[] = [
  { s: 'books', i: 1, b: 2, d: 1.5, f: true, t: Date.UTC(2025, 5, 1, 12, 34, 56, 789), a: [1, 2, 2 ** 52 - 1] },
  // every column null (and one key missing entirely, which reads as null)
  { s: null, i: null, b: null, d: null, f: null, t: null },
  // edges: non-ASCII text, int32 limits, a BigInt above 2^53, negative zero-ish values, epoch 0, empty list
  { s: 'café ☕ "quoted"\nline', i: -(2 ** 31), b: 9007199254740993n, d: -0.1, f: false, t: 0, a: [] },
  { s: '', i: 2 ** 31 - 1, b: -(2n ** 63n), d: 1e300, f: true, t: Date.UTC(1999, 11, 31, 23, 59, 59, 1), a: [-5, 9007199254740993n] },
];

/** What DuckDB must give back: BIGINT as bigint, timestamps as epoch millis (epoch_ms, a BIGINT). */
const EXPECTED = [
  ['books', 1, 2n, 1.5, true, BigInt(Date.UTC(2025, 5, 1, 12, 34, 56, 789)), [1n, 2n, 2n ** 52n - 1n]],
  [null, null, null, null, null, null, null],
  ['café ☕ "quoted"\nline', -(2 ** 31), 9007199254740993n, -0.1, false, 0n, []],
  ['', 2 ** 31 - 1, -(2n ** 63n), 1e300, true, BigInt(Date.UTC(1999, 11, 31, 23, 59, 59, 1)), [-5n, 9007199254740993n]],
];

const SELECT = `s, i, b, d, f, epoch_ms(t) AS t, a`;
const JSON_COLUMNS = `{s: 'VARCHAR', i: 'INTEGER', b: 'BIGINT', d: 'DOUBLE', f: 'BOOLEAN', t: 'TIMESTAMP', a: 'BIGINT[]'}`;

let dir: string;
let db: DuckDBInstance;
let conn: DuckDBConnection;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'shardflow-encode-'));
  db = await DuckDBInstance.create(':memory:');
  conn = await db.connect();
  // Timestamps must come back the same whatever the machine's zone: pin one that is not UTC.
  await conn.run(`SET TimeZone = 'America/New_York'`);
});

afterAll(() => {
  conn.closeSync();
  db.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, bytes: Uint8Array): string {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

async function rows(sql: string): Promise<unknown[][]> {
  return (await conn.runAndReadAll(sql)).getRowsJS();
}

async function types(source: string): Promise<Record<string, string>> {
  const described = await rows(`DESCRIBE SELECT * FROM ${source}`);
  return Object.fromEntries(described.map((r) => [r[0] as string, r[1] as string]));
}

const encodeWithHyparquetWriter = (columns: readonly LakeColumn[], data: readonly LakeRow[]) => encodeParquet(columns, data, { writer: 'hyparquet-writer' });

describe.each([
  { format: 'parquet', file: 'all.parquet', encode: encodeParquet, source: (f: string) => `read_parquet('${f}')` },
  { format: 'parquet (hyparquet-writer)', file: 'all-general.parquet', encode: encodeWithHyparquetWriter, source: (f: string) => `read_parquet('${f}')` },
  {
    format: 'ndjson.gz',
    file: 'all.ndjson.gz',
    encode: encodeNdjsonGz,
    source: (f: string) => `read_json('${f}', format = 'newline_delimited', columns = ${JSON_COLUMNS})`,
  },
])('$format writer read back by DuckDB', ({ file, encode, source }) => {
  it('gives back every column type with exact values and nulls', async () => {
    // Prepare
    const path = write(file, encode(COLUMNS, ROWS));
    // Act
    const got = await rows(`SELECT ${SELECT} FROM ${source(path)}`);
    // Assess
    expect(await types(source(path))).toEqual(DUCKDB_TYPES);
    expect(got).toEqual(EXPECTED);
  });

  it('writes a readable zero-row file for zero rows', async () => {
    const path = write(`empty-${file}`, encode(COLUMNS, []));
    expect(await rows(`SELECT count(*) FROM ${source(path)}`)).toEqual([[0n]]);
  });
});

describe('encodeParquet', () => {
  it('uses standard Parquet types Athena reads: UTF8, TIMESTAMP_MILLIS (UTC-adjusted) and the 3-level LIST', async () => {
    const path = write('schema.parquet', encodeParquet(COLUMNS, ROWS));
    const schema = await rows(`SELECT name, type, converted_type, repetition_type FROM parquet_schema('${path}') WHERE name <> 'schema'`);
    expect(schema).toEqual([
      ['s', 'BYTE_ARRAY', 'UTF8', 'OPTIONAL'],
      ['i', 'INT32', null, 'OPTIONAL'],
      ['b', 'INT64', null, 'OPTIONAL'],
      ['d', 'DOUBLE', null, 'OPTIONAL'],
      ['f', 'BOOLEAN', null, 'OPTIONAL'],
      ['t', 'INT64', 'TIMESTAMP_MILLIS', 'OPTIONAL'],
      ['a', null, 'LIST', 'OPTIONAL'],
      ['list', null, null, 'REPEATED'],
      ['element', 'INT64', null, 'REQUIRED'],
    ]);
  });

  it('compresses with snappy by default and gzip on request', async () => {
    const snappy = write('snappy.parquet', encodeParquet(COLUMNS, ROWS));
    const gzip = write('gzip.parquet', encodeParquet(COLUMNS, ROWS, { codec: 'gzip' }));
    expect(await rows(`SELECT DISTINCT compression FROM parquet_metadata('${snappy}')`)).toEqual([['SNAPPY']]);
    expect(await rows(`SELECT DISTINCT compression FROM parquet_metadata('${gzip}')`)).toEqual([['GZIP']]);
    expect(await rows(`SELECT ${SELECT} FROM read_parquet('${gzip}')`)).toEqual(EXPECTED);
  });

  it('round-trips a 20,000-row KMV partials batch', async () => {
    const cols: LakeColumn[] = [
      { name: 'window_start', type: 'timestamp' },
      { name: 'category', type: 'string' },
      { name: 'users_sketch', type: 'array<bigint>' },
    ];
    const many = Array.from({ length: 20_000 }, (_, i) => ({
      window_start: 1_700_000_000_000 + (i % 60) * 60_000,
      category: `c${i % 7}`,
      users_sketch: [i, i * 3, 2 ** 52 - 1 - i],
    }));
    const path = write('partials.parquet', encodeParquet(cols, many));
    const got = await rows(
      `SELECT count(*), sum(epoch_ms(window_start)), count(DISTINCT category), sum(list_sum(users_sketch)) FROM read_parquet('${path}')`,
    );
    const want = many.reduce((acc, r) => acc + BigInt(r.users_sketch.reduce((x, y) => x + y, 0)), 0n);
    expect(got[0]![0]).toBe(20_000n);
    expect(BigInt(got[0]![1] as bigint)).toBe(BigInt(many.reduce((x, r) => x + r.window_start, 0)));
    expect(got[0]![2]).toBe(7n);
    expect(BigInt(String(got[0]![3]))).toBe(want);
  });

  it('needs at least one column', () => {
    expect(() => encodeParquet([], [])).toThrow(/at least one column \(given 0\)/);
  });
});

describe('encodeNdjsonGz', () => {
  it('writes one JSON object per line with Hive JSON SerDe timestamps', () => {
    const text = gunzipSync(encodeNdjsonGz(COLUMNS, ROWS.slice(0, 2))).toString('utf8');
    expect(text).toBe(
      '{"s":"books","i":1,"b":2,"d":1.5,"f":true,"t":"2025-06-01 12:34:56.789","a":[1,2,4503599627370495]}\n' +
        '{"s":null,"i":null,"b":null,"d":null,"f":null,"t":null,"a":null}\n',
    );
  });

  it('formats timestamps as yyyy-MM-dd HH:mm:ss.SSS in UTC', () => {
    expect(formatHiveTimestamp(Date.UTC(2024, 1, 29, 3, 4, 5, 6))).toBe('2024-02-29 03:04:05.006');
    expect(formatHiveTimestamp(-1)).toBe('1969-12-31 23:59:59.999');
  });

  it('refuses NaN, which JSON cannot hold', () => {
    expect(() => encodeNdjsonGz([{ name: 'd', type: 'double' }], [{ d: NaN }])).toThrow(/row 0, column "d" \(double\): NDJSON cannot hold NaN/);
  });
});

describe.each([
  { name: 'encodeParquet', encode: encodeParquet },
  { name: 'encodeParquet (hyparquet-writer)', encode: encodeWithHyparquetWriter },
  { name: 'encodeNdjsonGz', encode: encodeNdjsonGz },
])('$name rejects a value that does not fit its column', ({ encode }) => {
  it.each([
    { col: { name: 'user', type: 'string' }, value: 42, message: /row 1, column "user" \(string\): expected string, got number 42/ },
    { col: { name: 'n', type: 'int' }, value: 2 ** 31, message: /row 1, column "n" \(int\): expected an integer in \[-2\^31, 2\^31−1\], got number 2147483648/ },
    { col: { name: 'n', type: 'int' }, value: 1.5, message: /column "n" \(int\).*got number 1.5/ },
    { col: { name: 'c', type: 'bigint' }, value: 2 ** 60, message: /row 1, column "c" \(bigint\): value must be a safe integer/ },
    { col: { name: 'c', type: 'bigint' }, value: 2n ** 63n, message: /column "c" \(bigint\): value is outside the INT64 range/ },
    { col: { name: 'c', type: 'bigint' }, value: '7', message: /column "c" \(bigint\): value must be an integer number or a BigInt, got string "7"/ },
    { col: { name: 'ok', type: 'boolean' }, value: 'true', message: /column "ok" \(boolean\): expected boolean, got string "true"/ },
    { col: { name: 'v', type: 'double' }, value: '1.5', message: /column "v" \(double\): expected double, got string "1.5"/ },
    { col: { name: 'ts', type: 'timestamp' }, value: '2025-01-01T00:00:00Z', message: /column "ts" \(timestamp\): expected epoch milliseconds/ },
    { col: { name: 'ts', type: 'timestamp' }, value: 1.5, message: /column "ts" \(timestamp\): expected epoch milliseconds \(an integer number\), got number 1.5/ },
    { col: { name: 'sk', type: 'array<bigint>' }, value: 5, message: /column "sk" \(array<bigint>\): expected array<bigint>, got number 5/ },
    { col: { name: 'sk', type: 'array<bigint>' }, value: [1, 2.5], message: /row 1, column "sk" \(array<bigint>\): element 1 must be a safe integer/ },
    { col: { name: 'sk', type: 'array<bigint>' }, value: [1, null], message: /column "sk" \(array<bigint>\): element 1 must be an integer number or a BigInt, got null/ },
  ] as const)('$col.type given $value', ({ col, value, message }) => {
    const good = col.type === 'string' ? 'x' : col.type === 'boolean' ? true : col.type === 'array<bigint>' ? [1] : 1;
    const call = () => encode([col as LakeColumn], [{ [col.name]: good }, { [col.name]: value as LakeRow[string] }]);
    expect(call).toThrow(LakeEncodeError);
    expect(call).toThrow(message);
  });
});

/** The same columns without the list: encodeParquet writes these with core/parquet/. */
const FLAT_COLUMNS = COLUMNS.filter((c) => c.type !== 'array<bigint>');
const FLAT_SELECT = `s, i, b, d, f, epoch_ms(t) AS t`;
const FLAT_EXPECTED = EXPECTED.map((r) => r.slice(0, 6));

describe.each([
  { codec: undefined, compression: 'SNAPPY' },
  { codec: 'snappy', compression: 'SNAPPY' },
  { codec: 'gzip', compression: 'GZIP' },
  { codec: 'uncompressed', compression: 'UNCOMPRESSED' },
] as const)('encodeParquet on a flat table (plain writer), codec $codec', ({ codec, compression }) => {
  it('gives back every flat column type with exact values and nulls, in the same schema as hyparquet-writer', async () => {
    // Prepare
    const plain = write(`flat-${codec}.parquet`, encodeParquet(FLAT_COLUMNS, ROWS, { codec }));
    const general = write(`flat-general.parquet`, encodeParquet(FLAT_COLUMNS, ROWS, { writer: 'hyparquet-writer' }));
    const schemaOf = (f: string) => rows(`SELECT name, type, converted_type, repetition_type, logical_type FROM parquet_schema('${f}')`);
    // Act
    const got = await rows(`SELECT ${FLAT_SELECT} FROM read_parquet('${plain}')`);
    // Assess
    expect(got).toEqual(FLAT_EXPECTED);
    expect(await types(`read_parquet('${plain}')`)).toEqual({ s: 'VARCHAR', i: 'INTEGER', b: 'BIGINT', d: 'DOUBLE', f: 'BOOLEAN', t: 'TIMESTAMP' });
    expect(await schemaOf(plain)).toEqual(await schemaOf(general));
    expect(await rows(`SELECT DISTINCT compression FROM parquet_metadata('${plain}')`)).toEqual([[compression]]);
    expect(await rows(`SELECT DISTINCT created_by FROM parquet_file_metadata('${plain}')`)).toEqual([['shardflow']]);
  });

  it('writes a readable zero-row file for zero rows', async () => {
    const path = write(`flat-empty-${codec}.parquet`, encodeParquet(FLAT_COLUMNS, [], { codec }));
    expect(await rows(`SELECT count(*) FROM read_parquet('${path}')`)).toEqual([[0n]]);
    expect(await types(`read_parquet('${path}')`)).toEqual({ s: 'VARCHAR', i: 'INTEGER', b: 'BIGINT', d: 'DOUBLE', f: 'BOOLEAN', t: 'TIMESTAMP' });
  });
});

describe('encodeParquet plain writer', () => {
  it('writes column statistics that agree with the data: min, max, null count', async () => {
    // Prepare: non-ASCII strings order by UTF-8 bytes, so 'é' (C3 A9) sorts after 'z' and '😀' (F0…) after U+FFFD (EF…)
    const cols: LakeColumn[] = [...FLAT_COLUMNS];
    const data: LakeRow[] = [
      ...ROWS,
      { s: 'z', i: 7, b: -3, d: -0, f: false, t: -1 },
      { s: '\uFFFD', i: null, d: 0 },
      { s: '😀' },
    ];
    const path = write('stats.parquet', encodeParquet(cols, data));
    // Act
    const stats = await rows(
      `SELECT path_in_schema, stats_min_value, stats_max_value, stats_null_count FROM parquet_metadata('${path}') ORDER BY column_id`,
    );
    // Assess
    expect(stats).toEqual([
      ['s', '', '😀', 1n],
      ['i', String(-(2 ** 31)), String(2 ** 31 - 1), 3n],
      ['b', String(-(2n ** 63n)), '9007199254740993', 3n],
      ['d', '-0.1', '1e+300', 2n],
      ['f', 'false', 'true', 3n],
      ['t', '1969-12-31 23:59:59.999', '2025-06-01 12:34:56.789', 3n],
    ]);
  });

  it.each([
    ['ASCII only', [], 'E9', 'e9'],
    ['ASCII, then non-ASCII: byte order from there on', ['\uFFFD', '😀', 'é'], 'E9', '😀'],
    ['non-ASCII first', ['😀', '\uFFFD'], 'E9', '😀'],
  ])('keeps min/max of a PLAIN string column (more than 16 distinct values) in UTF-8 byte order: %s', async (_, extra, min, max) => {
    // Prepare: 20 ids, so the column is not dictionary-encoded; 'E9' < 'e0' < 'e19' < 'e9' byte-wise
    const ids = Array.from({ length: 20 }, (_, k) => `e${k}`);
    const values = extra[0] === '😀' ? [...extra, ...ids, 'E9'] : [...ids, 'E9', ...extra];
    const path = write(`plain-string-stats-${extra.length}-${extra[0] ?? ''}.parquet`, encodeParquet([{ name: 's', type: 'string' }], values.map((s) => ({ s }))));
    // Act
    const got = await rows(`SELECT encodings, stats_min_value, stats_max_value FROM parquet_metadata('${path}')`);
    // Assess
    expect(got).toEqual([['PLAIN, RLE', min, max]]);
    expect((await rows(`SELECT s FROM read_parquet('${path}')`)).map(([s]) => s)).toEqual(values);
  });

  it('is read by a second, independent reader (hyparquet)', async () => {
    const bytes = encodeParquet(FLAT_COLUMNS, ROWS);
    const got = await parquetReadObjects({ file: bytes.slice().buffer });
    expect(got).toEqual([
      { s: 'books', i: 1, b: 2n, d: 1.5, f: true, t: new Date(Date.UTC(2025, 5, 1, 12, 34, 56, 789)) },
      { s: null, i: null, b: null, d: null, f: null, t: null },
      { s: 'café ☕ "quoted"\nline', i: -(2 ** 31), b: 9007199254740993n, d: -0.1, f: false, t: new Date(0) },
      { s: '', i: 2 ** 31 - 1, b: -(2n ** 63n), d: 1e300, f: true, t: new Date(Date.UTC(1999, 11, 31, 23, 59, 59, 1)) },
    ]);
  });

  /** Random flat rows: every type, ~20 % nulls and missing keys, edge values, non-ASCII and astral text. */
  function randomTable(seed: number): { columns: LakeColumn[]; rows: LakeRow[]; expected: unknown[][] } {
    const r = mulberry32(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const types = ['string', 'int', 'bigint', 'double', 'boolean', 'timestamp'] as const;
    const columns: LakeColumn[] = Array.from({ length: 1 + Math.floor(r() * 8) }, (_, k) => ({ name: `c${k}`, type: pick(types) }));
    const n = Math.floor(r() * 3000);
    const chars = ['a', 'Z', '0', ' ', '"', '\n', 'é', 'ß', '☕', '中', '😀', '\u0000', '\uFFFD'];
    const rowsOut: LakeRow[] = [];
    const expected: unknown[][] = [];
    for (let i = 0; i < n; i++) {
      const row: Record<string, LakeRow[string]> = {};
      const want: unknown[] = [];
      for (const c of columns) {
        const roll = r();
        if (roll < 0.1) {
          want.push(null); // key missing
          continue;
        }
        if (roll < 0.2) {
          row[c.name] = null;
          want.push(null);
          continue;
        }
        switch (c.type) {
          case 'string': {
            const s = Array.from({ length: Math.floor(r() * 20) }, () => (r() < 0.7 ? String.fromCharCode(97 + Math.floor(r() * 26)) : pick(chars))).join('');
            row[c.name] = s;
            want.push(s);
            break;
          }
          case 'int': {
            const v = pick([0, -1, 2 ** 31 - 1, -(2 ** 31), Math.floor(r() * 2 ** 32) - 2 ** 31, Math.floor(r() * 100)]);
            row[c.name] = v;
            want.push(v);
            break;
          }
          case 'bigint': {
            const asBig = pick([2n ** 63n - 1n, -(2n ** 63n), BigInt(Math.floor(r() * 2 ** 53)) * 1024n - 2n ** 62n]);
            const asNum = pick([0, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, Math.floor(r() * 2 ** 40) - 2 ** 39]);
            const v = r() < 0.3 ? asBig : asNum;
            row[c.name] = v;
            want.push(BigInt(v));
            break;
          }
          case 'double': {
            const v = pick([0, -0, 1.5, -1e-300, 1e308, Infinity, -Infinity, Number.MIN_VALUE, (r() - 0.5) * 1e6, r()]);
            row[c.name] = v;
            want.push(v);
            break;
          }
          case 'boolean': {
            const v = r() < 0.5;
            row[c.name] = v;
            want.push(v);
            break;
          }
          case 'timestamp': {
            const v = pick([0, -1, Date.UTC(2025, 0, 1), Math.floor(r() * 4e12) - 1e12]);
            row[c.name] = v;
            want.push(BigInt(v));
            break;
          }
        }
      }
      rowsOut.push(row);
      expected.push(want);
    }
    return { columns, rows: rowsOut, expected };
  }

  it.each(Array.from({ length: 12 }, (_, k) => ({ seed: 1000 + k })))('round-trips random flat rows through DuckDB (seed $seed)', async ({ seed }) => {
    // Prepare
    const { columns, rows: data, expected } = randomTable(seed);
    const codec = (['snappy', 'uncompressed', 'gzip'] as const)[seed % 3];
    const path = write(`random-${seed}.parquet`, encodeParquet(columns, data, { codec }));
    const select = columns.map((c) => (c.type === 'timestamp' ? `epoch_ms(${c.name})` : c.name)).join(', ');
    // Act
    const got = await rows(`SELECT ${select} FROM read_parquet('${path}', file_row_number = true) ORDER BY file_row_number`);
    // Assess
    expect(got.length).toBe(data.length);
    expect(got).toEqual(expected);
    // null counts in the statistics match the data
    const nullCounts = await rows(`SELECT stats_null_count FROM parquet_metadata('${path}') ORDER BY column_id`);
    if (data.length > 0) expect(nullCounts.map((x) => Number(x[0]))).toEqual(columns.map((_, k) => expected.filter((w) => w[k] === null).length));
  });

  it('reads each column by its own name, whatever its characters, from rows of different shapes', async () => {
    // Prepare: names the generated column splitter must quote; rows with keys in other orders, missing, extra
    const cols: LakeColumn[] = [
      { name: 'a"b', type: 'string' },
      { name: 'c\\d', type: 'int' },
      { name: 'é €\u2028', type: 'double' },
    ];
    const data: LakeRow[] = [
      { 'a"b': 'x', 'c\\d': 1, 'é €\u2028': 1.5 },
      { 'é €\u2028': 2.5, 'a"b': 'y', 'c\\d': 2 },
      { 'c\\d': 3, other: 'ignored' },
      {},
    ];
    // Act
    const got = await parquetReadObjects({ file: encodeParquet(cols, data).slice().buffer });
    // Assess
    expect(got).toEqual([
      { 'a"b': 'x', 'c\\d': 1, 'é €\u2028': 1.5 },
      { 'a"b': 'y', 'c\\d': 2, 'é €\u2028': 2.5 },
      { 'a"b': null, 'c\\d': 3, 'é €\u2028': null },
      { 'a"b': null, 'c\\d': null, 'é €\u2028': null },
    ]);
  });

  it('writes the same bytes for a file after a larger file of the same columns', () => {
    // Prepare: the column splitter is cached per column list; the second file must see only its own rows
    const small = ROWS.slice(0, 2);
    const before = encodeParquet(COLUMNS, small);
    // Act
    encodeParquet(COLUMNS, [...ROWS, ...ROWS, ...ROWS]);
    const after = encodeParquet(COLUMNS, small);
    // Assess
    expect(after).toEqual(before);
    expect(after).toEqual(encodeParquet(COLUMNS.map((c) => ({ ...c })), small));
  });

  it('reads the new name after a column array was changed in place between files', async () => {
    // Prepare: the writer caches its column splitter by array; the array's names decide, not its identity
    const cols: LakeColumn[] = [{ name: 'x', type: 'int' }];
    encodeParquet(cols, [{ x: 1, y: 2 }]);
    cols[0] = { name: 'y', type: 'int' };
    // Act
    const got = await parquetReadObjects({ file: encodeParquet(cols, [{ x: 1, y: 2 }]).slice().buffer });
    // Assess
    expect(got).toEqual([{ y: 2 }]);
  });

  it('reports the first bad value by column and row, like the hyparquet-writer path', () => {
    const cols: LakeColumn[] = [
      { name: 'ok', type: 'string' },
      { name: 'n', type: 'int' },
    ];
    const data: LakeRow[] = [{ ok: 'a', n: 1 }, { ok: 'b', n: 2 }, { ok: 'c', n: 'three' }];
    expect(() => encodeParquet(cols, data)).toThrow(/^row 2, column "n" \(int\): expected an integer in \[-2\^31, 2\^31−1\], got string "three"$/);
  });
});

describe('encodeParquet plain writer, list columns', () => {
  it('writes the 3-level LIST in the schema, levels and statistics hyparquet-writer wrote', async () => {
    // Prepare
    const plain = write('list-plain.parquet', encodeParquet(COLUMNS, ROWS));
    const general = write('list-general.parquet', encodeWithHyparquetWriter(COLUMNS, ROWS));
    const schemaOf = (f: string) => rows(`SELECT name, type, converted_type, repetition_type, logical_type, num_children FROM parquet_schema('${f}')`);
    const statsOf = (f: string) =>
      rows(`SELECT path_in_schema, type, num_values, stats_min_value, stats_max_value, stats_null_count FROM parquet_metadata('${f}') ORDER BY column_id`);
    // Act
    const got = await rows(`SELECT ${SELECT} FROM read_parquet('${plain}')`);
    // Assess
    expect(got).toEqual(EXPECTED);
    expect(await schemaOf(plain)).toEqual(await schemaOf(general));
    // num_values counts level entries: 3 + null + empty + 2; null_count counts the null and the empty list
    expect((await statsOf(plain)).at(-1)).toEqual(['a, list, element', 'INT64', 7n, '-5', '9007199254740993', 2n]);
    expect((await statsOf(plain)).at(-1)).toEqual((await statsOf(general)).at(-1));
  });

  it('writes the same bytes after an encode that threw halfway through a list column', () => {
    // Prepare
    const before = encodeParquet(COLUMNS, ROWS);
    // Act
    expect(() => encodeParquet(COLUMNS, [ROWS[0]!, { ...ROWS[0]!, a: [1, 2, 2.5] }])).toThrow(/row 1, column "a" \(array<bigint>\): element 2 must be a safe integer/);
    // Assess
    expect(encodeParquet(COLUMNS, ROWS)).toEqual(before);
  });

  /** Random partial-like rows: a list column between flat ones; null, missing, empty, long and BigInt lists. */
  function randomListTable(seed: number): { columns: LakeColumn[]; rows: LakeRow[]; expected: unknown[][] } {
    const r = mulberry32(seed);
    const columns: LakeColumn[] = [
      { name: 'w', type: 'timestamp' },
      { name: 'k', type: 'array<bigint>' },
      { name: 'c', type: 'string' },
      { name: 'k2', type: 'array<bigint>' },
    ];
    const n = Math.floor(r() * 400);
    const data: LakeRow[] = [];
    const expected: unknown[][] = [];
    const list = (): { value: LakeRow[string] | undefined; want: bigint[] | null } => {
      const roll = r();
      if (roll < 0.1) return { value: undefined, want: null };
      if (roll < 0.2) return { value: null, want: null };
      if (roll < 0.3) return { value: [], want: [] };
      const len = roll < 0.6 ? 1 + Math.floor(r() * 3) : Math.floor(r() * 1100);
      const values: (number | bigint)[] = [];
      for (let e = 0; e < len; e++) {
        const x = r();
        values.push(
          x < 0.05 ? -(2n ** 63n) : x < 0.1 ? 2n ** 63n - 1n : x < 0.15 ? Number.MIN_SAFE_INTEGER : x < 0.2 ? -1 : Math.floor(r() * 2 ** 52),
        );
      }
      // KMV sketches are sorted; keep some lists unsorted so order is checked too
      if (r() < 0.5) values.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return { value: values, want: values.map((v) => BigInt(v)) };
    };
    for (let i = 0; i < n; i++) {
      const a = list();
      const b = list();
      const row: Record<string, LakeRow[string]> = { w: 1_700_000_000_000 + i * 60_000, c: `g${i % 5}` };
      if (a.value !== undefined) row.k = a.value;
      if (b.value !== undefined) row.k2 = b.value;
      data.push(row);
      expected.push([BigInt(row.w as number), a.want, row.c, b.want]);
    }
    return { columns, rows: data, expected };
  }

  it.each(Array.from({ length: 9 }, (_, k) => ({ seed: 2000 + k })))('round-trips random list rows through DuckDB (seed $seed)', async ({ seed }) => {
    // Prepare
    const { columns, rows: data, expected } = randomListTable(seed);
    const codec = (['snappy', 'uncompressed', 'gzip'] as const)[seed % 3];
    const path = write(`random-list-${seed}.parquet`, encodeParquet(columns, data, { codec }));
    // Act
    const got = await rows(`SELECT epoch_ms(w), k, c, k2 FROM read_parquet('${path}', file_row_number = true) ORDER BY file_row_number`);
    // Assess
    expect(got.length).toBe(data.length);
    expect(got).toEqual(expected);
    expect(await types(`read_parquet('${path}')`)).toEqual({ w: 'TIMESTAMP', k: 'BIGINT[]', c: 'VARCHAR', k2: 'BIGINT[]' });
    // a second, independent reader agrees
    const second = await parquetReadObjects({ file: encodeParquet(columns, data, { codec: 'uncompressed' }).slice().buffer });
    expect(second.map((o) => [BigInt((o.w as Date).getTime()), o.k, o.c, o.k2])).toEqual(expected);
  });

  it('writes a partials table as the engine emits it, read back equal to the hyparquet-writer file', async () => {
    // Prepare: window, group, measures and a 1024-value sketch, as core/partial-aggregate.ts rows() gives them
    const cols: LakeColumn[] = [
      { name: 'window_start', type: 'timestamp' },
      { name: 'window_end', type: 'timestamp' },
      { name: 'category', type: 'string' },
      { name: 'events', type: 'bigint' },
      { name: 'total_value', type: 'double' },
      { name: 'users_sketch', type: 'array<bigint>' },
    ];
    const r = mulberry32(7);
    const data: LakeRow[] = Array.from({ length: 50 }, (_, i) => ({
      window_start: 1_700_000_000_000 + i * 60_000,
      window_end: 1_700_000_060_000 + i * 60_000,
      category: `c${i % 5}`,
      events: 1 + i,
      total_value: i * 10.25,
      users_sketch: Array.from({ length: i === 0 ? 1 : 1024 }, () => Math.floor(r() * 2 ** 52)).sort((a, b) => a - b),
    }));
    const plain = write('partials-plain.parquet', encodeParquet(cols, data));
    const general = write('partials-general.parquet', encodeWithHyparquetWriter(cols, data));
    const select = (f: string) => rows(`SELECT * EXCLUDE (file_row_number) FROM read_parquet('${f}', file_row_number = true) ORDER BY file_row_number`);
    // Act
    const got = await select(plain);
    // Assess
    expect(got).toEqual(await select(general));
    expect(got.map((row) => (row[5] as bigint[]).map(Number))).toEqual(data.map((row) => row.users_sketch));
  });
});

describe('encodeParquet plain writer, dictionary-encoded strings', () => {
  /** Rows of one string column drawn from `distinct` values (non-ASCII, astral, empty among them), ~1 in 7 null or missing. */
  function stringRows(distinct: number, n: number, seed: number): { data: LakeRow[]; want: (string | null)[] } {
    const r = mulberry32(seed);
    const pool = Array.from({ length: distinct }, (_, k) => ['', 'é', '中文', '😀', 'a\u0000b'][k] ?? `v${k}-${'☕'.repeat(k % 3)}`);
    const data: LakeRow[] = [];
    const want: (string | null)[] = [];
    for (let i = 0; i < n; i++) {
      const roll = r();
      if (roll < 0.07) {
        data.push({});
        want.push(null);
      } else if (roll < 0.14) {
        data.push({ s: null });
        want.push(null);
      } else {
        // every value at least once, then at random
        const v = pool[i < distinct ? i : Math.floor(r() * distinct)]!;
        data.push({ s: v });
        want.push(v);
      }
    }
    return { data, want };
  }

  const cols: LakeColumn[] = [{ name: 's', type: 'string' }];

  it.each([
    { distinct: 1, n: 500, dictionary: true },
    { distinct: 5, n: 1000, dictionary: true },
    { distinct: 16, n: 3001, dictionary: true },
    { distinct: 17, n: 1000, dictionary: false },
    { distinct: 40_000, n: 100_000, dictionary: false }, // > 2^15 distinct: PLAIN, with 16-bit-plus lengths of the data
  ])('$distinct distinct values in $n rows read back exactly (dictionary: $dictionary)', async ({ distinct, n, dictionary }) => {
    // Prepare
    const { data, want } = stringRows(distinct, n, distinct);
    const bytes = encodeParquet(cols, data);
    const path = write(`dict-${distinct}.parquet`, bytes);
    // Act
    const got = await rows(`SELECT s FROM read_parquet('${path}', file_row_number = true) ORDER BY file_row_number`);
    const [meta] = await rows(
      `SELECT encodings, dictionary_page_offset, data_page_offset, stats_null_count, stats_min_value, stats_max_value FROM parquet_metadata('${path}')`,
    );
    const second = await parquetReadObjects({ file: bytes.slice().buffer });
    // Assess
    expect(got.map((row) => row[0])).toEqual(want);
    expect(second.map((row) => row.s)).toEqual(want);
    const present = [...new Set(want.filter((v): v is string => v !== null))].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(meta![3]).toBe(BigInt(want.filter((v) => v === null).length));
    expect([meta![4], meta![5]]).toEqual([present[0], present.at(-1)]);
    if (dictionary) {
      expect(String(meta![0])).toMatch(/PLAIN_DICTIONARY/);
      // the dictionary page comes first: right after the 4-byte magic
      expect(meta![1]).toBe(4n);
      expect(Number(meta![2])).toBeGreaterThan(4);
    } else {
      expect(String(meta![0])).not.toMatch(/DICTIONARY/);
      expect(meta![1]).toBeNull();
    }
  });

  it('is smaller than PLAIN for a 5-value column: a few bits a row', () => {
    const { data } = stringRows(5, 1000, 3);
    const withDictionary = encodeParquet(cols, data, { codec: 'uncompressed' }).length;
    const plainOnly = encodeParquet(cols, data.map((row, i) => (row.s == null ? row : { s: `${row.s as string}#${i % 17}` })), { codec: 'uncompressed' }).length;
    expect(withDictionary).toBeLessThan(plainOnly / 4);
  });

  it.each(Array.from({ length: 12 }, (_, k) => ({ seed: 2000 + k })))(
    'round-trips random low-cardinality string columns among others through DuckDB (seed $seed)',
    async ({ seed }) => {
      // Prepare: 1–3 string columns of 1–20 distinct values next to a double, several pages' worth of rows
      const r = mulberry32(seed);
      const k = 1 + Math.floor(r() * 3);
      const n = Math.floor(r() * 5000);
      const columns: LakeColumn[] = [...Array.from({ length: k }, (_, j) => ({ name: `s${j}`, type: 'string' as const })), { name: 'd', type: 'double' }];
      const pools = columns.map(() => stringRows(1 + Math.floor(r() * 20), n, Math.floor(r() * 1e9)).want);
      const data: LakeRow[] = Array.from({ length: n }, (_, i) => Object.fromEntries([...pools.slice(0, k).map((p, j) => [`s${j}`, p[i]!]), ['d', i / 3]]));
      const expected = data.map((row, i) => [...pools.slice(0, k).map((p) => p[i]!), i / 3]);
      const codec = (['snappy', 'uncompressed', 'gzip'] as const)[seed % 3];
      const path = write(`dict-random-${seed}.parquet`, encodeParquet(columns, data, { codec }));
      // Act
      const got = await rows(`SELECT * EXCLUDE (file_row_number) FROM read_parquet('${path}', file_row_number = true) ORDER BY file_row_number`);
      // Assess
      expect(got).toEqual(expected);
    },
  );
});
