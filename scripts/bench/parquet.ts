/**
 * Parquet library comparison: Shardflow's own writer (core/parquet/,
 * what core/encode.ts uses for every table), hyparquet-writer (its selectable
 * alternative), parquet-wasm (+ apache-arrow) and @dsnp/parquetjs, on the same
 * generated rows of a raw clickstream table and a partial-aggregates table.
 *
 * The plain writer and hyparquet-writer go through encodeParquet itself, so
 * their numbers include our validation and string handling. Measured per library: encode rows/s (best of RUNS after a warm-up), output
 * bytes, esbuild bundle of a minimal encoder entry (minified, platform node,
 * esm), import time of that bundle in a fresh node process, and whether DuckDB
 * `read_parquet` gives back the exact values with the expected column types.
 *
 * Baseline for the ratio column: JSON.stringify of each row + zlib gzip on the
 * same rows, measured in the same run.
 *
 * Run alone: `npx tsx scripts/bench/parquet.ts` (prints the Markdown).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import * as arrow from 'apache-arrow';
import * as esbuild from 'esbuild';
import * as pqwasm from 'parquet-wasm';
import { ParquetSchema, ParquetWriter } from '@dsnp/parquetjs';
import { encodeParquet, type LakeRow } from '../../core/encode';
import type { LakeColumn } from '../../core/lake-table';
import { result, type BenchResult, type BenchSuiteOutput } from './types';
import { mulberry32 as prng } from '../../core/prng';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);

/** Rows per table. Partials rows carry SKETCH_LEN list values each. */
const CLICK_ROWS = 100_000;
const PARTIAL_ROWS = 5_000;
const SKETCH_LEN = 50;
/** Timed runs per case after one warm-up; the best is kept (least disturbed by GC and JIT). */
const RUNS = 3;
/** parquetjs is several times slower; fewer runs (and one codec) keep the suite near ~60 s on an idle core. */
const SLOW_RUNS = 2;

export const CLICK_COLUMNS: readonly LakeColumn[] = [
  { name: 'event_id', type: 'string' },
  { name: 'user_id', type: 'string' },
  { name: 'category', type: 'string' },
  { name: 'value', type: 'double' },
  { name: 'ts', type: 'timestamp' },
];

export const PARTIAL_COLUMNS: readonly LakeColumn[] = [
  { name: 'window_start', type: 'timestamp' },
  { name: 'window_end', type: 'timestamp' },
  { name: 'category', type: 'string' },
  { name: 'events', type: 'bigint' },
  { name: 'total_value', type: 'double' },
  { name: 'max_value', type: 'double' },
  { name: 'users_sketch', type: 'array<bigint>' },
];


const CATEGORIES = ['books', 'music', 'garden', 'toys', 'sports', 'electronics', 'food', 'travel'];
const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);

/** Clickstream rows: ~1 % null values so null handling is exercised, times in ms one event every ~3 ms. */
export function clickstreamRows(n: number, seed = 1): LakeRow[] {
  const r = prng(seed);
  const rows: LakeRow[] = new Array(n);
  for (let i = 0; i < n; i++) {
    rows[i] = {
      event_id: `evt-${seed}-${i.toString(36).padStart(6, '0')}`,
      user_id: `user-${Math.floor(r() * 20_000)}`,
      category: r() < 0.01 ? null : CATEGORIES[Math.floor(r() * CATEGORIES.length)]!,
      value: r() < 0.01 ? null : Math.round(r() * 100_000) / 100,
      ts: T0 + i * 3 + Math.floor(r() * 3),
    };
  }
  return rows;
}

/** Partials rows: one per (minute window, category), sketches of SKETCH_LEN ascending 52-bit hashes. */
export function partialRows(n: number, seed = 2): LakeRow[] {
  const r = prng(seed);
  const rows: LakeRow[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const start = T0 + Math.floor(i / CATEGORIES.length) * 60_000;
    const sketch: number[] = [];
    for (let k = 0; k < SKETCH_LEN; k++) sketch.push(Math.floor(r() * 2 ** 52));
    sketch.sort((a, b) => a - b);
    rows[i] = {
      window_start: start,
      window_end: start + 60_000,
      category: CATEGORIES[i % CATEGORIES.length]!,
      events: 1 + Math.floor(r() * 5_000),
      total_value: Math.round(r() * 1e7) / 100,
      max_value: Math.round(r() * 1e5) / 100,
      users_sketch: sketch,
    };
  }
  return rows;
}

// ---------------------------------------------------------------- encoders

type Encode = (columns: readonly LakeColumn[], rows: readonly LakeRow[]) => Uint8Array | Promise<Uint8Array>;

interface Candidate {
  readonly library: string;
  readonly codec: string;
  readonly encode: Encode;
  readonly slow?: boolean;
  /** Minimal encoder entry for the bundle-size and import-time measurement. */
  readonly bundle: BundleSpec;
}

interface BundleSpec {
  readonly key: string;
  readonly entry: string;
  /** esbuild loaders beyond the defaults (parquet-wasm: inline its .wasm). */
  readonly loader?: Record<string, esbuild.Loader>;
  readonly note: string;
}

function arrowType(t: LakeColumn['type']): arrow.DataType {
  switch (t) {
    case 'string':
      return new arrow.Utf8();
    case 'int':
      return new arrow.Int32();
    case 'bigint':
      return new arrow.Int64();
    case 'double':
      return new arrow.Float64();
    case 'boolean':
      return new arrow.Bool();
    case 'timestamp':
      // No time zone: arrow-rs then writes isAdjustedToUTC=false, which DuckDB reads as TIMESTAMP
      // ('UTC' would make it TIMESTAMP WITH TIME ZONE).
      return new arrow.TimestampMillisecond();
    case 'array<bigint>':
      return new arrow.List(new arrow.Field('element', new arrow.Int64(), false));
  }
}

function arrowValues(t: LakeColumn['type'], rows: readonly LakeRow[], name: string): unknown[] {
  const out = new Array<unknown>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const v = rows[i]![name] ?? null;
    if (v === null) out[i] = null;
    else if (t === 'bigint') out[i] = BigInt(v as number);
    else if (t === 'array<bigint>') out[i] = (v as number[]).map((x) => BigInt(x));
    else out[i] = v;
  }
  return out;
}

/** Rows → Arrow table (JS) → IPC stream → parquet-wasm writeParquet. The Arrow build is part of the cost: our rows are JS objects. */
function parquetWasmEncoder(compression: pqwasm.Compression): Encode {
  return (columns, rows) => {
    const vectors: Record<string, arrow.Vector> = {};
    for (const c of columns) vectors[c.name] = arrow.vectorFromArray(arrowValues(c.type, rows, c.name), arrowType(c.type));
    const table = new arrow.Table(vectors);
    const wasmTable = pqwasm.Table.fromIPCStream(arrow.tableToIPC(table, 'stream'));
    const props = new pqwasm.WriterPropertiesBuilder().setCompression(compression).build();
    return pqwasm.writeParquet(wasmTable, props);
  };
}

function parquetjsSchema(columns: readonly LakeColumn[], compression: 'SNAPPY' | 'GZIP'): ParquetSchema {
  const def: Record<string, unknown> = {};
  for (const c of columns) {
    const leaf = (type: string) => ({ type, optional: true, compression });
    switch (c.type) {
      case 'string':
        def[c.name] = leaf('UTF8');
        break;
      case 'int':
        def[c.name] = leaf('INT32');
        break;
      case 'bigint':
        def[c.name] = leaf('INT64');
        break;
      case 'double':
        def[c.name] = leaf('DOUBLE');
        break;
      case 'boolean':
        def[c.name] = leaf('BOOLEAN');
        break;
      case 'timestamp':
        def[c.name] = leaf('TIMESTAMP_MILLIS');
        break;
      case 'array<bigint>':
        def[c.name] = { type: 'LIST', optional: true, fields: { list: { repeated: true, fields: { element: { type: 'INT64', compression } } } } };
        break;
    }
  }
  return new ParquetSchema(def as ConstructorParameters<typeof ParquetSchema>[0]);
}

/** parquetjs is row-based and async; a minimal write stream collects the bytes in memory. */
function parquetjsEncoder(compression: 'SNAPPY' | 'GZIP'): Encode {
  return async (columns, rows) => {
    const schema = parquetjsSchema(columns, compression);
    const chunks: Buffer[] = [];
    const sink = {
      write(chunk: Buffer, cb?: (err?: Error | null) => void) {
        chunks.push(Buffer.from(chunk));
        cb?.(null);
        return true;
      },
      end(cb?: () => void) {
        cb?.();
        return this;
      },
    };
    const writer = await ParquetWriter.openStream(schema, sink as never, { rowGroupSize: rows.length || 1 });
    for (const row of rows) {
      const rec: Record<string, unknown> = {};
      for (const c of columns) {
        const v = row[c.name];
        if (v === null || v === undefined) continue;
        rec[c.name] = c.type === 'array<bigint>' ? { list: (v as number[]).map((element) => ({ element })) } : v;
      }
      await writer.appendRow(rec);
    }
    await writer.close();
    return new Uint8Array(Buffer.concat(chunks));
  };
}

const ENCODE_TS = join(ROOT, 'core/encode.ts');

const BUNDLES = {
  hyparquet: {
    key: 'hyparquet',
    entry: `export { encodeParquet } from ${JSON.stringify(ENCODE_TS)};`,
    note: 'pure JS, no asset',
  },
  wasm: {
    key: 'wasm',
    // The esm build + initSync with the .wasm inlined by esbuild's binary loader: one file, no asset to ship.
    entry:
      `import { initSync, writeParquet, Table, WriterPropertiesBuilder } from 'parquet-wasm/esm';\n` +
      `import wasm from 'parquet-wasm/esm/parquet_wasm_bg.wasm';\n` +
      `import { tableToIPC, tableFromArrays } from 'apache-arrow';\n` +
      `initSync({ module: wasm });\n` +
      `export function encode(cols) { return writeParquet(Table.fromIPCStream(tableToIPC(tableFromArrays(cols), 'stream')), new WriterPropertiesBuilder().build()); }\n`,
    loader: { '.wasm': 'binary' },
    note: `needs parquet_wasm_bg.wasm (${(statSync(require.resolve('parquet-wasm/esm/parquet_wasm_bg.wasm')).size / 2 ** 20).toFixed(1)} MiB), inlined here as base64 by esbuild's binary loader`,
  },
  parquetjs: {
    key: 'parquetjs',
    entry: `export { ParquetWriter, ParquetSchema } from '@dsnp/parquetjs';`,
    note: 'pure JS, no asset',
  },
} satisfies Record<string, BundleSpec>;

export const CANDIDATES: readonly Candidate[] = [
  // Shardflow's own writer (core/parquet/), on both tables: it writes the partials' array<bigint> sketches as the 3-level LIST too.
  { library: 'shardflow plain writer', codec: 'snappy', encode: (c, r) => encodeParquet(c, r, { codec: 'snappy' }), bundle: BUNDLES.hyparquet },
  { library: 'hyparquet-writer', codec: 'snappy', encode: (c, r) => encodeParquet(c, r, { codec: 'snappy', writer: 'hyparquet-writer' }), bundle: BUNDLES.hyparquet },
  { library: 'hyparquet-writer', codec: 'gzip', encode: (c, r) => encodeParquet(c, r, { codec: 'gzip', writer: 'hyparquet-writer' }), bundle: BUNDLES.hyparquet },
  { library: 'parquet-wasm', codec: 'snappy', encode: parquetWasmEncoder(pqwasm.Compression.SNAPPY), bundle: BUNDLES.wasm },
  { library: 'parquet-wasm', codec: 'zstd', encode: parquetWasmEncoder(pqwasm.Compression.ZSTD), bundle: BUNDLES.wasm },
  { library: '@dsnp/parquetjs', codec: 'snappy', encode: parquetjsEncoder('SNAPPY'), slow: true, bundle: BUNDLES.parquetjs },
];

// ---------------------------------------------------------------- measurements

/**
 * Best wall-clock rate, and the best rate per CPU-second of this process
 * (process.cpuUsage user+system). On a shared machine the wall rate drops with
 * the load; the CPU rate is what one idle core would do (slightly low, as
 * V8's concurrent GC threads add CPU time).
 */
async function bestRate(
  encode: Encode,
  columns: readonly LakeColumn[],
  rows: readonly LakeRow[],
  runs: number,
): Promise<{ perS: number; perCpuS: number; bytes: Uint8Array }> {
  let bytes = await encode(columns, rows); // warm-up
  let best = Infinity;
  let bestCpu = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const cpu = process.cpuUsage();
    bytes = await encode(columns, rows);
    const used = process.cpuUsage(cpu);
    best = Math.min(best, performance.now() - t);
    bestCpu = Math.min(bestCpu, (used.user + used.system) / 1000);
  }
  return { perS: rows.length / (best / 1000), perCpuS: rows.length / (bestCpu / 1000), bytes };
}

function jsonGzip(_columns: readonly LakeColumn[], rows: readonly LakeRow[]): Uint8Array {
  return gzipSync(rows.map((r) => JSON.stringify(r)).join('\n'));
}

interface BundleSize {
  readonly kib: number;
  readonly importMs: number;
  readonly note: string;
}

/** Bundles the entry, writes it to a temp dir and times `import()` of it in a fresh node (median of 3). */
async function measureBundle(spec: BundleSpec, dir: string): Promise<BundleSize> {
  const out = await esbuild.build({
    stdin: { contents: spec.entry, resolveDir: ROOT, sourcefile: `${spec.key}-entry.mjs`, loader: 'ts' },
    bundle: true,
    minify: true,
    platform: 'node',
    // Node 20: esbuild's default esnext target would decode inlined binaries with Uint8Array.fromBase64 (Node 25+).
    target: 'node20',
    format: 'esm',
    write: false,
    logLevel: 'silent',
    // CommonJS dependencies (parquetjs) call require(); an ESM bundle needs one, as in any ESM Lambda bundle.
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    ...(spec.loader ? { loader: spec.loader } : {}),
  });
  const code = out.outputFiles[0]!.contents;
  const file = join(dir, `${spec.key}.mjs`);
  writeFileSync(file, code);
  const script = `const t = performance.now(); await import(${JSON.stringify(file)}); process.stdout.write(String(performance.now() - t));`;
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    try {
      times.push(Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })));
    } catch (e) {
      // The bundle is minified onto a few lines: show the error, not the source.
      const stderr = String((e as { stderr?: unknown }).stderr ?? e);
      throw new Error(`importing the ${spec.key} bundle failed: ${stderr.split('\n').filter((l) => /Error/.test(l)).slice(0, 3).join(' | ').slice(0, 500)}`);
    }
  }
  times.sort((a, b) => a - b);
  return { kib: code.byteLength / 1024, importMs: times[1]!, note: spec.note };
}

const EXPECTED_DUCKDB_TYPE: Record<LakeColumn['type'], string> = {
  string: 'VARCHAR',
  int: 'INTEGER',
  bigint: 'BIGINT',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMP',
  'array<bigint>': 'BIGINT[]',
};

/** Reads the file back with DuckDB; returns 'ok' or the first difference found. */
async function duckdbCheck(conn: DuckDBConnection, file: string, columns: readonly LakeColumn[], rows: readonly LakeRow[]): Promise<string> {
  const src = `read_parquet('${file}')`;
  const described = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${src}`)).getRowsJS();
  for (const c of columns) {
    const got = described.find((d) => d[0] === c.name)?.[1];
    if (got !== EXPECTED_DUCKDB_TYPE[c.type]) return `${c.name} read as ${String(got)}, expected ${EXPECTED_DUCKDB_TYPE[c.type]}`;
  }
  // Timestamps compared as epoch millis, so the check is exact and zone-free.
  const select = columns.map((c) => (c.type === 'timestamp' ? `epoch_ms("${c.name}") AS "${c.name}"` : `"${c.name}"`)).join(', ');
  const got = (await conn.runAndReadAll(`SELECT ${select} FROM ${src}`)).getRowsJS();
  if (got.length !== rows.length) return `${got.length} rows read, ${rows.length} written`;
  for (let i = 0; i < rows.length; i++) {
    for (let c = 0; c < columns.length; c++) {
      const col = columns[c]!;
      const want = rows[i]![col.name] ?? null;
      const have = got[i]![c];
      const norm = (v: unknown): string => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? Number(x) : x));
      if (norm(want) !== norm(have)) return `row ${i} ${col.name}: wrote ${norm(want)}, read ${norm(have)}`;
    }
  }
  return 'ok';
}

/** Progress on stderr so a long run shows where it is; stdout carries only the Markdown. */
function progress(msg: string): void {
  if (process.env.BENCH_QUIET !== '1') process.stderr.write(`  parquet: ${msg}\n`);
}

interface CaseResult {
  readonly candidate: Candidate;
  readonly table: string;
  readonly perS: number;
  readonly perCpuS: number;
  readonly bytes: number;
  readonly readBack: string;
}

export async function benchParquet(): Promise<BenchSuiteOutput> {
  const tables = [
    { name: `clickstream (${CLICK_ROWS.toLocaleString('en-US')} rows)`, key: 'clickstream', columns: CLICK_COLUMNS, rows: clickstreamRows(CLICK_ROWS) },
    { name: `partials (${PARTIAL_ROWS.toLocaleString('en-US')} rows × ${SKETCH_LEN}-value sketch)`, key: 'partials', columns: PARTIAL_COLUMNS, rows: partialRows(PARTIAL_ROWS) },
  ];
  const dir = mkdtempSync(join(tmpdir(), 'shardflow-bench-parquet-'));
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    const cases: CaseResult[] = [];
    const baselines = new Map<string, { perS: number; perCpuS: number; bytes: number }>();
    for (const t of tables) {
      const b = await bestRate(jsonGzip, t.columns, t.rows, RUNS);
      baselines.set(t.key, { perS: b.perS, perCpuS: b.perCpuS, bytes: b.bytes.byteLength });
      for (const cand of CANDIDATES) {
        const t0 = performance.now();
        const m = await bestRate(cand.encode, t.columns, t.rows, cand.slow ? SLOW_RUNS : RUNS);
        progress(`${t.key} ${cand.library} ${cand.codec}: ${Math.round(m.perS)} rows/s, ${Math.round(m.perCpuS)} rows/CPU-s (${Math.round(performance.now() - t0)} ms)`);
        const file = join(dir, `${t.key}-${cand.library.replace(/\W/g, '')}-${cand.codec}.parquet`);
        writeFileSync(file, m.bytes);
        const readBack = await duckdbCheck(conn, file, t.columns, t.rows);
        cases.push({ candidate: cand, table: t.key, perS: m.perS, perCpuS: m.perCpuS, bytes: m.bytes.byteLength, readBack });
      }
    }
    const bundles = new Map<string, BundleSize>();
    for (const spec of Object.values(BUNDLES)) bundles.set(spec.key, await measureBundle(spec, dir));

    const results: BenchResult[] = [];
    const baselineName = 'JSON.stringify+gzip (same rows)';
    for (const c of cases) {
      const b = baselines.get(c.table)!;
      const bundle = bundles.get(c.candidate.bundle.key)!;
      results.push(
        result(
          `parquet encode ${c.table}: ${c.candidate.library} ${c.candidate.codec}`,
          c.perS,
          `${baselineName} ${c.table}`,
          b.perS,
          `rows/s wall; ${Math.round(c.perCpuS)} rows per CPU-s; ${c.bytes} bytes (baseline ${b.bytes}); bundle ${bundle.kib.toFixed(0)} KiB; import ${bundle.importMs.toFixed(0)} ms; DuckDB read-back ${c.readBack}`,
        ),
      );
    }

    const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
    const lines = [
      '## Parquet encoding: library comparison',
      '',
      `Command: \`npx tsx scripts/bench/parquet.ts\` (also part of \`npm run bench\`). Node ${process.version}, one core; best of ${RUNS} runs after a warm-up (parquetjs: ${SLOW_RUNS}). ` +
        `Machine load average during the run: ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} CPUs (a busy machine lowers every rate alike; compare rows within one run).`,
      `Rows are generated (deterministic). Encoding starts from JS row objects in every case (parquet-wasm includes building the Arrow table).`,
      '',
      '| table | library | codec | rows/s (wall) | rows per CPU-s | × JSON+gzip | bytes | bytes vs JSON+gzip | bundle KiB | import ms | DuckDB read-back |',
      '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ];
    for (const t of tables) {
      const b = baselines.get(t.key)!;
      lines.push(`| ${t.name} | *JSON.stringify+gzip (baseline)* | gzip | ${fmt(b.perS)} | ${fmt(b.perCpuS)} | 1.00 | ${fmt(b.bytes)} | 1.00 | – | – | – |`);
      for (const c of cases.filter((x) => x.table === t.key)) {
        const bundle = bundles.get(c.candidate.bundle.key)!;
        lines.push(
          `| ${t.name} | ${c.candidate.library} | ${c.candidate.codec} | ${fmt(c.perS)} | ${fmt(c.perCpuS)} | ${(c.perS / b.perS).toFixed(2)} | ${fmt(c.bytes)} | ${(c.bytes / b.bytes).toFixed(2)} | ${bundle.kib.toFixed(0)} | ${bundle.importMs.toFixed(0)} | ${c.readBack} |`,
        );
      }
    }
    lines.push(
      '',
      'Bundle: esbuild of a minimal encoder entry (minify, platform node, format esm). ' +
        Object.values(BUNDLES).map((s) => `${s.key}: ${s.note}`).join('; ') +
        '. Rows per CPU-s: rows over this process\'s user+system CPU time, what one idle core would do. × JSON+gzip is on wall rates. Import ms: median of 3 `import()` of that bundle in a fresh node process. ' +
        'DuckDB read-back: every value compared exactly, and column types must be VARCHAR/DOUBLE/BIGINT/TIMESTAMP/BIGINT[]. ' +
        'The Lambda target is ≥ 250,000 events/s for the whole handler, so the raw-table encoder needs a wide margin above that.',
    );
    return { results, markdown: lines.join('\n') };
  } finally {
    conn.closeSync();
    db.closeSync();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await benchParquet();
  process.stdout.write(out.markdown + '\n');
}
