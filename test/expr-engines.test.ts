/**
 * Every expression form gives the same value in the handler's JS
 * (compileExprJs), on Trino 476 (what Athena runs: exprToSql unchanged) and on
 * DuckDB (the local endpoint's engine, through local/athena/sql-translate.ts),
 * over random expressions on rows with NULLs and edge values
 * (test/support/expr-cases.ts). One Trino for the file; each query evaluates
 * 40 expressions over all rows.
 *
 * Errors: an event whose expression fails in JS (overflow, division by zero,
 * a cast that cannot convert) is quarantined; Trino must fail on it too
 * (checked one by one for a sample) and `try()` of it must be NULL. DuckDB
 * differs where docs/architecture.md "Expressions" says: x / 0 and x % 0 are
 * NULL there for every numeric type, and it evaluates every operand
 * (vectorised: an operand fails even where another is NULL, which Trino does
 * not evaluate), so its expected values come from the JS evaluation with
 * those two options (compileExprJs `divisionByZero: 'null'`, `nullOperands: 'evaluate'`). Casts from text are compared on Trino
 * only (castsFromText).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExprNode, type ExprType, typeOfExpr } from '../core/expr';
import { compileExprJs, ExprEvalError, exprToSql } from '../core/expr-compile';
import { mulberry32 } from '../core/prng';
import type { FieldValue, Row } from '../core/schema';
import { translateSql } from '../local/athena/sql-translate';
import { freePort, type RunningService } from '../local/services/service';
import { startS3Emulator } from '../local/services/s3';
import type { RunningTrino } from '../local/trino/server';
import { CASE_TYPES, caseRows, randomExpr, rowsCte } from './support/expr-cases';
import { startTestTrino } from './support/trino';

const ROWS = caseRows(20261202, 40);
const CTE = rowsCte(ROWS);
const PER_QUERY = 40;

interface Case {
  readonly expr: ExprNode;
  readonly type: ExprType;
  readonly sql: string;
  /** Per row: the JS value as text (null for NULL), or an error. */
  readonly js: readonly (Outcome)[];
}
type Outcome = { readonly value: string | null } | { readonly error: string };

/** A value as comparable text: integers and timestamps (epoch ms) in decimal, doubles as JS prints them. */
function text(v: FieldValue, t: ExprType): string | null {
  if (v === null) return null;
  if (t === 'double') return Object.is(v, -0) ? '0' : String(v);
  return String(v);
}

/** Per row, the JS outcome; `duckdb`: evaluated as DuckDB does (every operand; x / 0 and x % 0 NULL). */
function evaluate(expr: ExprNode, type: ExprType, duckdb = false): Outcome[] {
  const f = compileExprJs(expr, CASE_TYPES, duckdb ? { nullOperands: 'evaluate', divisionByZero: 'null' } : {});
  return ROWS.map((row) => {
    try {
      return { value: text(f({ ...row } as Row), type) };
    } catch (err) {
      if (err instanceof ExprEvalError) return { error: err.message };
      throw err;
    }
  });
}

/** Casts from text: DuckDB reads numbers, booleans and times from text differently (docs/architecture.md "Expressions"). */
function castsFromText(n: ExprNode): boolean {
  switch (n.expr) {
    case 'col': case 'lit': return false;
    case 'cast': return (n.to !== 'string' && typeOfExpr(n.arg, CASE_TYPES) === 'string') || castsFromText(n.arg);
    case 'arith': case 'cmp': case 'and': case 'or': case 'coalesce': case 'fn': return n.args.some(castsFromText);
    case 'case': return n.branches.some((b) => castsFromText(b.when) || castsFromText(b.then)) || (n.else !== null && castsFromText(n.else));
    default: return castsFromText(n.arg);
  }
}

/** The select item: the value as comparable text in both engines (bigints beyond 2^53 survive; times as epoch ms). */
function selectItem(sql: string, t: ExprType, guarded: boolean): string {
  const v = guarded ? `try(${sql})` : sql;
  switch (t) {
    case 'int': case 'bigint': return `CAST(${v} AS varchar)`;
    case 'timestamp': return `CAST(CAST(round(to_unixtime(${v}) * 1000) AS bigint) AS varchar)`;
    default: return v;
  }
}

/** An engine's value as comparable text. */
function engineText(v: unknown, t: ExprType): string | null {
  if (v === null || v === undefined) return null;
  if (t === 'double') {
    const x = typeof v === 'string' ? Number(v) : (v as number);
    return Object.is(x, -0) ? '0' : String(x);
  }
  return String(v);
}

function makeCases(seed: number, count: number): Case[] {
  const r = mulberry32(seed);
  const types: ExprType[] = ['string', 'int', 'bigint', 'double', 'boolean', 'timestamp'];
  return Array.from({ length: count }, (_, i) => {
    const type = types[i % types.length]!;
    const expr = randomExpr(r, type, 1 + Math.floor(r() * 3));
    return { expr, type, sql: exprToSql(expr, CASE_TYPES), js: evaluate(expr, type) };
  });
}

const CASES = makeCases(7, 720);
const chunks = <T>(xs: readonly T[], n: number): T[][] => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));

function selectSql(cases: readonly Case[], guarded: boolean): string {
  return `WITH ${CTE}\nSELECT id, ${cases.map((c, i) => `${selectItem(c.sql, c.type, guarded)} AS c${i}`).join(',\n  ')}\nFROM t ORDER BY id`;
}

/** Mismatches of engine rows (id first) against the expected outcomes, as readable lines. */
function mismatches(cases: readonly Case[], rows: readonly (readonly unknown[])[], expected: (c: Case) => readonly Outcome[], engine: string): string[] {
  const out: string[] = [];
  rows.forEach((r) => {
    const id = Number(r[0]);
    cases.forEach((c, i) => {
      const want = expected(c)[id]!;
      const got = engineText(r[i + 1], c.type);
      const ok = 'error' in want ? got === null : got === want.value;
      if (!ok && out.length < 12) out.push(`${engine}: ${c.sql}\n  row ${id} ${JSON.stringify(ROWS[id], (_, v) => (typeof v === 'bigint' ? `${v}n` : v))}\n  js ${JSON.stringify(want)} ${engine} ${JSON.stringify(got)}`);
    });
  });
  return out;
}

describe('expressions agree between JS, DuckDB and Trino (property)', () => {
  let instance: DuckDBInstance;
  let duck: DuckDBConnection;
  let tmp: string;
  let s3: RunningService;
  let trino: RunningTrino;

  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    duck = await instance.connect();
    // The local endpoint's session settings (local/athena/sandbox.ts).
    await duck.run("SET TimeZone = 'UTC'");
    await duck.run('SET integer_division = true');
    // A table, not the VALUES list: DuckDB folds expressions over constants before a WHERE could select rows.
    await duck.run(translateSql(`CREATE TABLE t AS WITH ${CTE} SELECT * FROM t`.replace(/^CREATE TABLE t AS /, '')).sql.replace(/^/, 'CREATE TABLE t AS '));
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-expr-'));
    s3 = await startS3Emulator({ port: await freePort(), dataDir: path.join(tmp, 's3'), buckets: ['lake'] });
    trino = await startTestTrino({ tmp, s3Endpoint: s3.endpoint });
  }, 300_000);

  afterAll(async () => {
    duck?.closeSync();
    instance?.closeSync();
    await trino?.stop();
    await s3?.stop();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('the generated cases cover every form, NULLs, values and errors', () => {
    const forms = new Set<string>();
    const walk = (n: ExprNode): void => {
      forms.add(n.expr === 'fn' ? n.fn : n.expr === 'arith' ? n.op : n.expr);
      if (n.expr === 'case') n.branches.forEach((b) => { walk(b.when); walk(b.then); });
      else if ('args' in n) n.args.forEach(walk);
      else if ('arg' in n) walk(n.arg);
    };
    CASES.forEach((c) => walk(c.expr));
    for (const f of ['col', 'lit', 'add', 'sub', 'mul', 'div', 'mod', 'neg', 'cmp', 'and', 'or', 'not', 'isNull', 'isNotNull', 'coalesce', 'lower', 'upper', 'concat', 'substr', 'cast', 'dateTrunc', 'datePart', 'case']) expect(forms).toContain(f);
    const all = CASES.flatMap((c) => c.js);
    const nulls = all.filter((o) => 'value' in o && o.value === null).length;
    const errors = all.filter((o) => 'error' in o).length;
    expect(nulls / all.length).toBeGreaterThan(0.1);
    expect(errors / all.length).toBeGreaterThan(0.01);
    expect(all.length - nulls - errors).toBeGreaterThan(all.length / 2);
  });

  it('Trino gives the JS value of every case (try() is NULL exactly where JS fails)', async () => {
    const failures: string[] = [];
    let alone = 0;
    for (const batch of chunks(CASES, PER_QUERY)) {
      const r = await trino.query(selectSql(batch, true), { timeZone: 'UTC' }).catch(() => null);
      if (r !== null) {
        failures.push(...mismatches(batch, r.rows, (c) => c.js, 'trino'));
        continue;
      }
      // Some failures escape try() (Trino 476: INT_MIN / -1 is a GENERIC_INTERNAL_ERROR): each case alone, then each row.
      for (const c of batch) {
        const one = await trino.query(selectSql([c], true), { timeZone: 'UTC' }).catch(() => null);
        if (one !== null) {
          failures.push(...mismatches([c], one.rows, (x) => x.js, 'trino'));
          continue;
        }
        alone++;
        for (const [id, want] of c.js.entries()) {
          const got = await trino.query(`WITH ${CTE}\nSELECT ${selectItem(c.sql, c.type, true)} FROM t WHERE id = ${id}`, { timeZone: 'UTC' }).then(
            (x) => ({ value: engineText(x.rows[0]?.[0], c.type) }),
            () => ({ error: 'error' }),
          );
          // Trino 476 computes integer -2147483648 / -1 as 2147483648, which fails where it is stored as an
          // integer (GENERIC_INTERNAL_ERROR) and prints as that where it is cast: the handler's overflow error.
          const outOfInt = 'value' in got && c.type === 'int' && got.value !== null && Math.abs(Number(got.value)) > 2 ** 31;
          const ok = 'error' in want ? 'error' in got || got.value === null || outOfInt : 'value' in got && got.value === want.value;
          if (!ok) failures.push(`trino: ${c.sql} on row ${id}: js ${JSON.stringify(want)} trino ${JSON.stringify(got)}`);
        }
      }
    }
    expect(alone).toBeLessThan(CASES.length / 20);
    expect(failures.join('\n')).toBe('');
  }, 600_000);

  it('Trino fails where JS fails, and only there: cases that never fail in JS run without try()', async () => {
    const clean = CASES.filter((c) => c.js.every((o) => 'value' in o));
    for (const batch of chunks(clean, PER_QUERY)) {
      const r = await trino.query(selectSql(batch, false), { timeZone: 'UTC' });
      expect(mismatches(batch, r.rows, (c) => c.js, 'trino').join('\n')).toBe('');
    }
    const failing = CASES.flatMap((c) => c.js.flatMap((o, id) => ('error' in o ? [{ c, id, error: o.error }] : []))).filter((_, i) => i % 7 === 0).slice(0, 24);
    expect(failing.length).toBeGreaterThan(10);
    const unexpected: string[] = [];
    for (const { c, id, error } of failing) {
      const outcome = await trino.query(`WITH ${CTE}\nSELECT ${selectItem(c.sql, c.type, false)} FROM t WHERE id = ${id}`, { timeZone: 'UTC' }).then(
        (r) => `value ${JSON.stringify(r.rows[0]?.[0])}`,
        () => 'error',
      );
      if (outcome !== 'error') unexpected.push(`${c.sql} on row ${id}: JS fails (${error}), Trino gives ${outcome}`);
    }
    expect(unexpected.join('\n')).toBe('');
  }, 600_000);

  it('DuckDB (the local endpoint translation) gives the JS value, with its division by zero as NULL', async () => {
    const cases = CASES.filter((c) => !castsFromText(c.expr)).map((c) => ({ ...c, duck: evaluate(c.expr, c.type, true) }));
    expect(cases.length).toBeGreaterThan(CASES.length / 2);
    // DuckDB's try() lets some errors through (a failed CAST), so each case runs on the rows where it
    // evaluates, and on each row where it fails alone.
    const failures: string[] = [];
    let errorRows = 0;
    for (const c of cases) {
      const ok = c.duck.flatMap((o, id) => ('value' in o ? [id] : []));
      if (ok.length > 0) {
        const sql = translateSql(`SELECT id, ${selectItem(c.sql, c.type, false)} FROM t WHERE id IN (${ok.join(', ')}) ORDER BY id`).sql;
        const result = await duck.runAndReadAll(sql);
        failures.push(...mismatches([c], result.getRows(), () => c.duck, 'duckdb'));
      }
      for (const [id, o] of c.duck.entries()) {
        if (!('error' in o)) continue;
        errorRows++;
        const sql = translateSql(`SELECT ${selectItem(c.sql, c.type, false)} FROM t WHERE id = ${id}`).sql;
        const got = await duck.runAndReadAll(sql).then((r) => `value ${String(r.getRows()[0]?.[0])}`, () => 'error');
        if (got !== 'error') failures.push(`duckdb: ${c.sql} on row ${id}: JS fails (${o.error}), DuckDB gives ${got}`);
      }
    }
    expect(errorRows).toBeGreaterThan(10);
    expect(failures.slice(0, 12).join('\n')).toBe('');
  }, 300_000);
});
