/**
 * Schema evolution rules (core/schema-evolution.ts): which definition changes
 * the objects already in the lake can follow, the record kept of them, and the
 * lock file `shardflow pipelines` writes and `cdk synth` checks.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { checkSchemaEvolution, checkSchemaLock, count, definePipeline, formatSchemaLock, kinesisSource, nextSchemaRecord, schemaEvolutionProblems, sum, tumbling, type FieldSpec, type MeasureSpec, type Pipeline } from '../core';
import { shardflowStacks } from '../lib/shardflow-stacks';

function orders(schema: Record<string, FieldSpec>, measures: Record<string, MeasureSpec> = { orders: count(), total: sum('qty') }): Pipeline {
  return definePipeline({
    name: 'orders',
    source: kinesisSource({ stream: 'orders' }),
    schema,
    eventTime: 'ts',
    aggregate: { groupBy: [], window: tumbling('5 minutes'), measures, view: 'orders_5m' },
  });
}

const V1 = orders({ id: 'string', qty: 'int', price: 'double', note: { type: 'string', required: false }, ts: 'timestamp' });
const first = nextSchemaRecord(null, V1);

describe('schema evolution', () => {
  it('records the fields and every lake table column, generation 1', () => {
    expect(first.generation).toBe(1);
    expect(first.fields).toContainEqual({ name: 'qty', type: 'int', required: true });
    expect(first.tables.orders_events).toMatchObject({ id: 'string', qty: 'int', price: 'double' });
    expect(first.tables.orders_partials).toMatchObject({ total: 'bigint', orders: 'bigint' });
    expect(Object.keys(first.tables)).not.toContain('orders_quarantine');
  });

  it.each([
    ['an optional field added', { id: 'string', qty: 'int', price: 'double', note: { type: 'string', required: false }, ts: 'timestamp', country: { type: 'string', required: false } }],
    ['int widened to bigint', { id: 'string', qty: 'bigint', price: 'double', note: { type: 'string', required: false }, ts: 'timestamp' }],
    ['a required field made optional', { id: 'string', qty: 'int', price: { type: 'double', required: false }, note: { type: 'string', required: false }, ts: 'timestamp' }],
    ['an optional field removed', { id: 'string', qty: 'int', price: 'double', ts: 'timestamp' }],
  ] as const)('allows %s, one generation on', (_, schema) => {
    const p = orders(schema as Record<string, FieldSpec>);
    expect(schemaEvolutionProblems(first, p)).toEqual([]);
    expect(checkSchemaEvolution(first, p, 'lock').generation).toBe(2);
  });

  it('keeps the generation when nothing changed', () => {
    expect(checkSchemaEvolution(first, V1, 'lock')).toEqual(first);
  });

  it('allows a measure added or removed: its partial column is nullable, and readers ignore a column the table no longer has', () => {
    expect(schemaEvolutionProblems(first, orders({ id: 'string', qty: 'int', price: 'double', ts: 'timestamp' }, { orders: count() }))).toEqual([]);
    expect(schemaEvolutionProblems(first, orders({ id: 'string', qty: 'int', price: 'double', ts: 'timestamp' }, { orders: count(), total: sum('qty'), spent: sum('price') }))).toEqual([]);
  });

  it.each([
    ['a required field removed', { id: 'string', qty: 'int', note: { type: 'string', required: false }, ts: 'timestamp' }, /schema\.price: removed, but it is required in generation 1: .*Make it optional .* first.*A rename is a removal plus an addition/],
    ['a required field renamed', { id: 'string', qty: 'int', cost: { type: 'double', required: false }, note: { type: 'string', required: false }, ts: 'timestamp' }, /schema\.price: removed, but it is required/],
    ['a new required field', { id: 'string', qty: 'int', price: 'double', note: { type: 'string', required: false }, ts: 'timestamp', country: 'string' }, /schema\.country: a new field must be optional \(\{ type: 'string', required: false \}\): objects written before have no value for it/],
    ['an optional field made required', { id: 'string', qty: 'int', price: 'double', note: 'string', ts: 'timestamp' }, /schema\.note: made required, but it is optional in generation 1/],
    ['a type changed', { id: 'string', qty: 'int', price: 'string', note: { type: 'string', required: false }, ts: 'timestamp' }, /schema\.price: changed from double to string, but objects written before hold it as double, and readers map Parquet columns by name without converting double to string\. Add a field with a new name instead/],
    ['int changed to double', { id: 'string', qty: 'double', price: 'double', note: { type: 'string', required: false }, ts: 'timestamp' }, /schema\.qty: changed from int to double.*table orders_partials, column total: changed from bigint to double/s],
  ] as const)('refuses %s, naming the pipeline, the field and why', (_, schema, message) => {
    const p = orders(schema as Record<string, FieldSpec>);
    expect(() => checkSchemaEvolution(first, p, 's3://lake/_shardflow/schemas/orders.json')).toThrow(message);
    expect(() => checkSchemaEvolution(first, p, 's3://lake/_shardflow/schemas/orders.json')).toThrow(/^Pipeline "orders": schema evolution: the definition changes the lake's schema in a way objects already written cannot follow \(recorded in s3:\/\/lake\/_shardflow\/schemas\/orders\.json\)/);
  });

  it('refuses narrowing bigint back to int, after a widening was recorded', () => {
    const wide = checkSchemaEvolution(first, orders({ id: 'string', qty: 'bigint', price: 'double', note: { type: 'string', required: false }, ts: 'timestamp' }), 'lock');
    expect(() => checkSchemaEvolution(wide, V1, 'lock')).toThrow(/schema\.qty: narrowed from bigint to int: objects written before hold bigint values that int cannot represent/);
  });

  it('refuses an optional field removed and later re-added with another type: the record remembers what objects hold', () => {
    const without = checkSchemaEvolution(first, orders({ id: 'string', qty: 'int', price: 'double', ts: 'timestamp' }), 'lock');
    expect(without.tables.orders_events!.note).toBe('string');
    expect(() => checkSchemaEvolution(without, orders({ id: 'string', qty: 'int', price: 'double', ts: 'timestamp', note: { type: 'int', required: false } }), 'lock')).toThrow(/schema\.note: changed from string to int/);
  });
});

describe('schema lock and cdk synth', () => {
  it('fails shardflowStacks with the reason when the lock records a schema the definition cannot follow, and passes with the lock it would write', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardflow-lock-'));
    try {
      const file = path.join(dir, 'lock.json');
      fs.writeFileSync(file, formatSchemaLock(checkSchemaLock(null, [V1], file)));
      const narrowed = orders({ id: 'string', qty: 'int', price: 'string', note: { type: 'string', required: false }, ts: 'timestamp' });
      expect(() => shardflowStacks(new App(), { pipelines: [narrowed], schemaLock: file, nag: false })).toThrow(/Pipeline "orders": schema evolution: .*schema\.price: changed from double to string/s);
      expect(() => shardflowStacks(new App(), { pipelines: [V1], schemaLock: path.join(dir, 'missing.json'), nag: false })).toThrow(/schemaLock: .*missing\.json does not exist/);
      const lock = checkSchemaLock(JSON.parse(fs.readFileSync(file, 'utf8')), [V1], file);
      expect(lock.pipelines.orders!.generation).toBe(1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('shardflow pipelines --lock', () => {
  const REPO = path.resolve(import.meta.dirname, '..');
  const run = promisify(execFile);
  async function pipelines(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const r = await run(process.execPath, [path.join(REPO, 'cli/shardflow.mjs'), '--pipelines', 'pipelines', 'pipelines', ...args], { cwd, timeout: 60_000 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }
  const definition = (schema: string) => `import { definePipeline, kinesisSource } from ${JSON.stringify(path.join(REPO, 'core/index.ts'))};
export default definePipeline({ name: 'orders', source: kinesisSource({ stream: 'orders' }), schema: ${schema}, eventTime: 'ts' });
`;

  it('writes the lock, records a safe change as a new generation, and refuses an unsafe one leaving the lock as it was', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardflow-lock-cli-'));
    try {
      fs.mkdirSync(path.join(dir, 'pipelines'));
      const file = path.join(dir, 'pipelines', 'orders.ts');
      const lock = path.join(dir, 'shardflow-schemas.lock.json');
      fs.writeFileSync(file, definition(`{ id: 'string', qty: 'int', ts: 'timestamp' }`));
      expect((await pipelines(dir)).code).toBe(0);
      expect(fs.existsSync(lock)).toBe(false); // no lock asked for, none there: nothing written
      expect((await pipelines(dir, '--lock')).stdout).toContain('schema lock shardflow-schemas.lock.json: written (orders generation 1)');
      fs.writeFileSync(file, definition(`{ id: 'string', qty: 'bigint', note: { type: 'string', required: false }, ts: 'timestamp' }`));
      expect((await pipelines(dir)).stdout).toContain('schema lock shardflow-schemas.lock.json: updated (orders generation 2)');
      const recorded = fs.readFileSync(lock, 'utf8');
      fs.writeFileSync(file, definition(`{ id: 'string', qty: 'int', ts: 'timestamp' }`));
      const refused = await pipelines(dir);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('Pipeline "orders": schema evolution:');
      expect(refused.stderr).toContain('schema.qty: narrowed from bigint to int');
      expect(fs.readFileSync(lock, 'utf8')).toBe(recorded);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
