import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeParquet, lakeWriteOptions, ParquetWriter, type LakeColumn, type LakeRow } from '../core';
import { COLUMN_ENCODERS } from '../core/parquet/columns';
import { mulberry32 } from '../core/prng';

const A_COLUMNS: readonly LakeColumn[] = [
  { name: 'id', type: 'string' },
  { name: 'n', type: 'int' },
  { name: 'sketch', type: 'array<bigint>' },
  { name: 'cat', type: 'string' },
];
const B_COLUMNS: readonly LakeColumn[] = [
  { name: 'v', type: 'double' },
  { name: 'ok', type: 'boolean' },
  { name: 'ts', type: 'timestamp' },
  { name: 'big', type: 'bigint' },
  { name: 'label', type: 'string' },
];

function rowsA(seed: number, n: number): LakeRow[] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => ({
    id: r() < 0.1 ? null : `id-${i}-${Math.floor(r() * 1e6)}`,
    n: r() < 0.1 ? null : Math.floor(r() * 2000) - 1000,
    sketch: r() < 0.1 ? null : Array.from({ length: Math.floor(r() * 6) }, () => Math.floor(r() * 2 ** 40)),
    cat: ['a', 'b', 'c', null][Math.floor(r() * 4)]!,
  }));
}
function rowsB(seed: number, n: number): LakeRow[] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => ({
    v: r() < 0.1 ? null : r() * 100,
    ok: r() < 0.1 ? null : r() < 0.5,
    ts: Date.UTC(2026, 0, 1) + i * 1000,
    big: r() < 0.1 ? null : BigInt(Math.floor(r() * 1e9)) * 1_000_000_000n,
    label: r() < 0.1 ? null : `ünïcode-${Math.floor(r() * 40)}`,
  }));
}

const column = (rows: readonly LakeRow[], name: string): unknown[] => rows.map((row) => row[name]);

let dir: string;
let db: DuckDBInstance;
let conn: DuckDBConnection;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'shardflow-writer-'));
  db = await DuckDBInstance.create(':memory:');
  conn = await db.connect();
});
afterAll(() => {
  conn.closeSync();
  db.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

async function duckRows(bytes: Uint8Array, name: string, columns: readonly LakeColumn[]): Promise<unknown[][]> {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  const select = columns.map((c) => (c.type === 'timestamp' ? `epoch_ms("${c.name}")` : `"${c.name}"`)).join(', ');
  const reader = await conn.runAndReadAll(`SELECT ${select} FROM read_parquet('${file}')`);
  return reader.getRowsJS().map((r) => r.map((v) => (Array.isArray(v) ? v.map(String) : v)));
}

function expectedRows(rows: readonly LakeRow[], columns: readonly LakeColumn[]): unknown[][] {
  return rows.map((row) =>
    columns.map((c) => {
      const v = row[c.name] ?? null;
      if (v === null) return null;
      if (c.type === 'array<bigint>') return (v as number[]).map(String);
      if (c.type === 'timestamp' || c.type === 'bigint') return BigInt(v as number | bigint);
      return v;
    }),
  );
}

describe('ParquetWriter', () => {
  it('writes two files whose columns interleave, each byte for byte what encodeParquet writes alone, read back by DuckDB and hyparquet', async () => {
    // Arrange: two writers mid-file at once, and rows of different sizes so buffers grow in one and not the other
    const a = rowsA(1, 3000);
    const b = rowsB(2, 700);
    const wa = new ParquetWriter();
    const wb = new ParquetWriter();
    // Act: begin both, then alternate their columns, B finishing first
    wa.begin(A_COLUMNS, a.length, lakeWriteOptions());
    wb.begin(B_COLUMNS, b.length, lakeWriteOptions());
    for (let c = 0; c < Math.max(A_COLUMNS.length, B_COLUMNS.length); c++) {
      if (c < B_COLUMNS.length) wb.column(column(b, B_COLUMNS[c]!.name));
      if (c < A_COLUMNS.length) wa.column(column(a, A_COLUMNS[c]!.name));
      // a whole-file encode through the shared entry point in between must disturb neither
      encodeParquet(A_COLUMNS, rowsA(100 + c, 50));
    }
    const fileB = wb.finish();
    const fileA = wa.finish();
    // Assess
    expect(Buffer.from(fileA).equals(Buffer.from(encodeParquet(A_COLUMNS, a)))).toBe(true);
    expect(Buffer.from(fileB).equals(Buffer.from(encodeParquet(B_COLUMNS, b)))).toBe(true);
    expect(await duckRows(fileA, 'a.parquet', A_COLUMNS)).toEqual(expectedRows(a, A_COLUMNS));
    expect(await duckRows(fileB, 'b.parquet', B_COLUMNS)).toEqual(expectedRows(b, B_COLUMNS));
    const viaHyparquet = await parquetReadObjects({ file: fileB.slice().buffer });
    expect(viaHyparquet.map((r) => r.label)).toEqual(b.map((r) => r.label ?? null));
    expect(viaHyparquet.map((r) => r.big)).toEqual(b.map((r) => r.big ?? null));
  });

  it('writes the same file again after a file it abandoned halfway (a throw from a value check)', () => {
    const a = rowsA(3, 400);
    const w = new ParquetWriter();
    const bad = a.map((row, i) => (i === 200 ? { ...row, n: 2 ** 40 } : row));
    expect(() => w.encode(A_COLUMNS, bad, lakeWriteOptions())).toThrow(/row 200, column "n" \(int\)/);
    expect(w.busy).toBe(false);
    expect(Buffer.from(w.encode(A_COLUMNS, a, lakeWriteOptions())).equals(Buffer.from(encodeParquet(A_COLUMNS, a)))).toBe(true);
  });

  it('refuses a column past the last, and a finish before every column is written', () => {
    const w = new ParquetWriter();
    w.begin([{ name: 'x', type: 'int' }], 2, lakeWriteOptions());
    expect(() => w.finish()).toThrow(/0 of 1 column/);
    w.begin([{ name: 'x', type: 'int' }], 2, lakeWriteOptions());
    w.column([1, 2]);
    expect(() => w.column([3, 4])).toThrow(/1 column\(s\), all written/);
  });

  it('has one column encoder per lake column type, each for its own type', () => {
    for (const [type, enc] of Object.entries(COLUMN_ENCODERS)) expect(enc.type).toBe(type);
  });
});
