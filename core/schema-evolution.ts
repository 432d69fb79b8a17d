/**
 * Schema evolution: which changes to a pipeline's definition keep every object
 * already in the lake readable, checked against a record of what was written
 * before (docs/schema-evolution.md).
 *
 * Readers map Parquet columns by name (DuckDB `read_parquet(union_by_name)`,
 * Trino's Hive connector, so Athena), read a column missing from an object as
 * NULL, and read an INT32 column as BIGINT; no reader converts a column written
 * as one type into an unrelated one. So, per lake table:
 * - safe: a new nullable column (an optional field, a new measure's partial
 *   column), int → bigint, a required field made optional, an optional field
 *   removed (old objects keep it; nobody reads it);
 * - unsafe: any other type change (narrowing bigint → int included), a
 *   required field removed or renamed (a rename is a removal plus an
 *   addition), a new required field, an optional field made required (objects
 *   written before have no value, or nulls, for it), and a column re-added
 *   with a type other than the one older objects hold it as.
 *
 * The record keeps, per table, every column ever written with the widest type
 * written, so that a removed column cannot come back as another type.
 */
import { PipelineDefinitionError } from './errors';
import { lakeTables } from './lake-table';
import type { Pipeline } from './pipeline';
import type { ColumnType, FieldType } from './schema';

export interface SchemaRecordField {
  readonly name: string;
  readonly type: FieldType;
  readonly required: boolean;
}

/** What a pipeline's lake holds, as of its latest definition. Stored as JSON (lake state `_shardflow/schemas/`, or a lock file). */
export interface SchemaRecord {
  readonly version: 1;
  readonly pipeline: string;
  /** 1 for the first definition recorded, one more at each change. */
  readonly generation: number;
  /** The latest generation's schema fields. */
  readonly fields: readonly SchemaRecordField[];
  /** Per table (raw, late, partials), every column any generation wrote, with the widest type written. */
  readonly tables: Readonly<Record<string, Readonly<Record<string, ColumnType>>>>;
}

/** Type changes every reader takes for objects written with the old type: old → new. */
const WIDENINGS: ReadonlyArray<readonly [ColumnType, ColumnType]> = [['int', 'bigint']];

function widens(from: ColumnType, to: ColumnType): boolean {
  return WIDENINGS.some(([a, b]) => a === from && b === to);
}

/** The tables whose columns live in objects (the quarantine table's are fixed). */
function recordedTables(p: Pipeline): Record<string, Record<string, ColumnType>> {
  const out: Record<string, Record<string, ColumnType>> = {};
  for (const t of lakeTables(p)) {
    if (t.role === 'quarantine') continue;
    out[t.name] = Object.fromEntries(t.columns.map((c) => [c.name, c.type]));
  }
  return out;
}

export const SAFE_CHANGES = 'safe changes: add an optional field, widen int to bigint, make a required field optional, remove an optional field';

/** Why the definition cannot follow the recorded one; empty when it can. Each names the field or column and the reason. */
export function schemaEvolutionProblems(prev: SchemaRecord, p: Pipeline): string[] {
  const problems: string[] = [];
  const fields = new Map(p.schema.map((f) => [f.name, f]));
  const before = new Map(prev.fields.map((f) => [f.name, f]));
  const gen = `generation ${prev.generation}`;
  for (const old of prev.fields) {
    const now = fields.get(old.name);
    if (!now && old.required) {
      problems.push(
        `schema.${old.name}: removed, but it is required in ${gen}: objects written before hold it and queries of it would break. ` +
          'Make it optional ({ type, required: false }) first; an optional field may then be removed. A rename is a removal plus an addition: add the new name as an optional field',
      );
    } else if (now && now.required && !old.required) {
      problems.push(`schema.${old.name}: made required, but it is optional in ${gen}: objects written before may have no value for it`);
    }
  }
  for (const f of p.schema) {
    if (f.required && !before.has(f.name)) problems.push(`schema.${f.name}: a new field must be optional ({ type: '${f.type}', required: false }): objects written before have no value for it`);
  }
  const seen = new Set<string>();
  for (const [table, columns] of Object.entries(recordedTables(p))) {
    const history = prev.tables[table] ?? {};
    for (const [name, type] of Object.entries(columns)) {
      const was = history[name];
      if (was === undefined || was === type || widens(was, type)) continue;
      const where = fields.has(name) ? `schema.${name}` : `table ${table}, column ${name}`;
      const key = `${where}:${was}:${type}`;
      if (seen.has(key)) continue; // the raw and late tables share the schema's columns
      seen.add(key);
      problems.push(
        widens(type, was)
          ? `${where}: narrowed from ${was} to ${type}: objects written before hold ${was} values that ${type} cannot represent`
          : `${where}: changed from ${was} to ${type}, but objects written before hold it as ${was}, and readers map Parquet columns by name without converting ${was} to ${type}. Add a field with a new name instead`,
      );
    }
  }
  return problems;
}

/** The record for this definition, following `prev` (which must allow it: see schemaEvolutionProblems). */
export function nextSchemaRecord(prev: SchemaRecord | null, p: Pipeline): SchemaRecord {
  const fields = p.schema.map((f) => ({ name: f.name, type: f.type, required: f.required }));
  const tables: Record<string, Record<string, ColumnType>> = {};
  for (const [name, cols] of Object.entries(prev?.tables ?? {})) tables[name] = { ...cols };
  for (const [name, cols] of Object.entries(recordedTables(p))) {
    const t = (tables[name] ??= {});
    for (const [col, type] of Object.entries(cols)) if (!t[col] || widens(t[col], type)) t[col] = type;
  }
  const record = { version: 1 as const, pipeline: p.name, generation: prev?.generation ?? 1, fields, tables };
  if (prev && JSON.stringify({ ...prev, generation: 0 }) !== JSON.stringify({ ...record, generation: 0 })) return { ...record, generation: prev.generation + 1 };
  return record;
}

/**
 * Checks a definition against the recorded one and returns the record to store.
 * @throws PipelineDefinitionError naming the pipeline, each field or column, and why
 */
export function checkSchemaEvolution(prev: SchemaRecord | null, p: Pipeline, where: string): SchemaRecord {
  if (prev) {
    const problems = schemaEvolutionProblems(prev, p);
    if (problems.length > 0) {
      throw new PipelineDefinitionError(
        p.name,
        'schema evolution',
        `the definition changes the lake's schema in a way objects already written cannot follow (recorded in ${where}):\n  - ${problems.join('\n  - ')}\n(${SAFE_CHANGES})`,
      );
    }
  }
  return nextSchemaRecord(prev, p);
}

/** Parses a stored record, refusing anything else with a message naming `where`. */
export function parseSchemaRecord(text: string, where: string): SchemaRecord {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where}: not a schema record (invalid JSON: ${(err as Error).message})`);
  }
  const r = v as Partial<SchemaRecord>;
  if (typeof v !== 'object' || v === null || r.version !== 1 || typeof r.pipeline !== 'string' || !Array.isArray(r.fields) || typeof r.tables !== 'object' || typeof r.generation !== 'number') {
    throw new Error(`${where}: not a schema record (expected { version: 1, pipeline, generation, fields, tables })`);
  }
  return r as SchemaRecord;
}

/**
 * A lock file of schema records, committed with the pipelines (like a package
 * lock): `shardflow pipelines` checks the definitions against it and writes it,
 * `cdk synth` (shardflowStacks) checks against it, so an unsafe change fails
 * before it is deployed over a lake that holds the old objects.
 */
export interface SchemaLock {
  readonly version: 1;
  readonly pipelines: Readonly<Record<string, SchemaRecord>>;
}

export const SCHEMA_LOCK_FILE = 'shardflow-schemas.lock.json';

export function parseSchemaLock(text: string, where: string): SchemaLock {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where}: not a schema lock (invalid JSON: ${(err as Error).message})`);
  }
  const l = v as Partial<SchemaLock>;
  if (typeof v !== 'object' || v === null || l.version !== 1 || typeof l.pipelines !== 'object' || l.pipelines === null) {
    throw new Error(`${where}: not a schema lock (expected { version: 1, pipelines: { <name>: record } })`);
  }
  for (const [name, r] of Object.entries(l.pipelines)) parseSchemaRecord(JSON.stringify(r), `${where}, pipeline ${name}`);
  return l as SchemaLock;
}

/**
 * Checks each pipeline against its record in the lock and returns the lock to write (pipelines
 * not in `pipelines` keep their records: a lock may serve several apps).
 * @throws PipelineDefinitionError for the first pipeline with an unsafe change
 */
export function checkSchemaLock(lock: SchemaLock | null, pipelines: readonly Pipeline[], where: string): SchemaLock {
  const out: Record<string, SchemaRecord> = { ...(lock?.pipelines ?? {}) };
  for (const p of pipelines) out[p.name] = checkSchemaEvolution(lock?.pipelines[p.name] ?? null, p, where);
  return { version: 1, pipelines: Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b))) };
}

export function formatSchemaLock(lock: SchemaLock): string {
  return JSON.stringify(lock, null, 2) + '\n';
}
