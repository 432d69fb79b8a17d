/**
 * Compaction of one lake partition (`tables/<t>/dt=…/hour=…/`): the many small
 * Parquet objects of its batches become one. Protocol and guarantees are in
 * docs/compaction.md; in short:
 *
 * 1. plan: list the current sources; write the manifest (sources with ETags,
 *    the staging and final keys) — state `planned`;
 * 2. stage: merge the sources into one object under `_shardflow/compaction/`,
 *    outside every table location, each row carrying `_from` = the S3 URI of
 *    the object it came from; check its row count — state `staged`;
 * 3. publish: CopyObject staging → `compacted-<id>.parquet` in the partition —
 *    state `published`. This one PUT is the switch: every reader (the Glue
 *    current view, the local endpoint) drops objects a compacted object names
 *    in `_from`, so a listing sees the sources or the compacted rows, never both;
 * 4. retire, once `retireAfterMs` has passed since publish (so that a query
 *    that listed the sources before the switch can still read them): delete the
 *    sources and the staging object — state `done`.
 *
 * Every step is idempotent and re-runnable from the manifest, so a crash
 * between any two steps is finished by running compaction again. Only sealed
 * partitions are compacted: no batch, retried or late, can write there any more.
 *
 * Pure JS (hyparquet reads, core's writer encodes), so the same code runs in the
 * compactor Lambda and locally.
 */
import { randomUUID } from 'node:crypto';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { parquetMetadata, parquetReadObjects, type SchemaElement } from 'hyparquet';
import { listObjects, type ListedObject } from '../shared/s3-list';
import {
  COMPACTED_PREFIX,
  encodeParquet,
  FROM_COLUMN,
  LAKE_STATE_PREFIXES,
  lakeTable,
  lakeTables,
  partitionPath,
  type ColumnType,
  type LakeColumn,
  type LakeRow,
  type LakeTable,
  type LakeValue,
  type PartitionValues,
  type Pipeline,
  type TableRole,
} from '../../core';

export const COMPACTION_PREFIX = LAKE_STATE_PREFIXES.compaction;

export type CompactionState = 'planned' | 'staged' | 'published' | 'done';
export type CompactionStep = 'plan' | 'stage' | 'publish' | 'retire';

export interface CompactionManifest {
  readonly id: string;
  readonly table: string;
  readonly partition: PartitionValues;
  readonly state: CompactionState;
  readonly sources: readonly { readonly key: string; readonly etag: string; readonly size: number; readonly rows: number }[];
  readonly rows: number;
  readonly stagingKey: string;
  readonly finalKey: string;
  readonly startedAt: string;
  /** When the compacted object became visible; sources are retired `retireAfterMs` later. */
  readonly publishedAt: string | null;
  readonly finishedAt: string | null;
}

export interface CompactPartitionOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly pipeline: Pipeline;
  /** Parquet tables only. @default 'raw' */
  readonly role?: Exclude<TableRole, 'quarantine'>;
  /** With role 'partials' and several aggregates: which partials table (its name, or its aggregate's view). @default the first */
  readonly table?: string;
  readonly partition: PartitionValues;
  /** @default Date.now */
  readonly now?: () => number;
  /**
   * How long after its hour ends a partition may still receive writes:
   * allowed lateness (later events go to the late table) + maximum record age
   * (the longest a failed batch is retried with its original arrival times) +
   * 1 h of margin. @default from the pipeline
   */
  readonly sealAfterMs?: number;
  /**
   * How long superseded sources stay after publish. A query that listed the
   * partition before the switch reads them; deleting them under it would fail
   * it (NoSuchKey). Longer than the longest query. @default RETIRE_AFTER_MS
   */
  readonly retireAfterMs?: number;
  /** Fewer current objects than this: nothing to do. @default 2 */
  readonly minObjects?: number;
  /** Tests: throw after this step has completed, as a crash would. */
  readonly crashAfter?: CompactionStep;
}

export interface CompactionResult {
  readonly manifest: CompactionManifest | null;
  /** Why nothing (more) was done, when so. */
  readonly skipped?: string;
  /** This call planned a new compaction (rather than carried on with one). */
  readonly planned?: boolean;
}

export class CompactionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CompactionError';
  }
}

/** Thrown by `crashAfter`: the process "died" after a step. */
export class SimulatedCrash extends Error {
  constructor(readonly step: CompactionStep) {
    super(`simulated crash after step ${step}`);
    this.name = 'SimulatedCrash';
  }
}

const HOUR_MS = 3_600_000;

/** An Athena DML query runs at most 30 minutes by default (service quota); one hour leaves room for queueing. */
export const RETIRE_AFTER_MS = HOUR_MS;

export function sealDelayMs(p: Pipeline): number {
  return p.allowedLatenessMs + p.processing.maxRecordAgeMs + HOUR_MS;
}

export function manifestKeyOf(table: string, partition: PartitionValues): string {
  return `${COMPACTION_PREFIX}${table}/${partitionPath(partition)}/manifest.json`;
}

/** Readers (Athena, Hive, DuckDB's hive reader) skip names starting with _ or . ; so do we. */
function visible(key: string, ext: string): boolean {
  const base = key.slice(key.lastIndexOf('/') + 1);
  return key.endsWith(ext) && !base.startsWith('_') && !base.startsWith('.');
}

const isCompacted = (key: string): boolean => key.slice(key.lastIndexOf('/') + 1).startsWith(COMPACTED_PREFIX);

async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Uint8Array | null> {
  try {
    const o = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await o.Body!.transformToByteArray();
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return null;
    throw err;
  }
}

async function getJson<T>(s3: S3Client, bucket: string, key: string): Promise<T | null> {
  const bytes = await getBytes(s3, bucket, key);
  return bytes === null ? null : (JSON.parse(Buffer.from(bytes).toString('utf8')) as T);
}

async function putJson(s3: S3Client, bucket: string, key: string, v: unknown): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(v, null, 2), ContentType: 'application/json' }));
}

export type { ListedObject } from '../shared/s3-list';
/** Every object under a prefix, in key order (functions/shared/s3-list.ts). */
export const listPartitionObjects = listObjects;

/**
 * The current objects of a listing: those no compacted object names in its
 * `_from` (the rule every reader applies, see core/lake-table.ts currentView).
 */
export async function currentObjects<T extends { key: string }>(s3: S3Client, bucket: string, listed: readonly T[]): Promise<T[]> {
  const superseded = new Set<string>();
  for (const o of listed) {
    if (!isCompacted(o.key)) continue;
    const bytes = await getBytes(s3, bucket, o.key);
    if (bytes === null) continue;
    const rows = await parquetReadObjects({ file: toArrayBuffer(bytes), columns: [FROM_COLUMN.name] }).catch(() => []);
    for (const r of rows) if (typeof r[FROM_COLUMN.name] === 'string') superseded.add(r[FROM_COLUMN.name] as string);
  }
  return listed.filter((o) => !superseded.has(`s3://${bucket}/${o.key}`));
}

function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** A value as hyparquet reads it → the form core's writer takes for the column. */
function lakeValue(v: unknown, col: LakeColumn): LakeValue {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.getTime();
  // An int column written as INT32 by an older writer, or a bigint within 2^53, both read as numbers: the writer takes either.
  if (col.type === 'double' && typeof v === 'bigint') return Number(v);
  return v as LakeValue;
}

/**
 * The lake type of a top-level Parquet field as core's writer writes each
 * (core/parquet/columns): a LIST group holds bigints; INT64 with a timestamp
 * annotation is a timestamp. Undefined for a type the writer never writes.
 */
function lakeTypeOfField(el: SchemaElement): ColumnType | undefined {
  if ((el.num_children ?? 0) > 0) return el.converted_type === 'LIST' || el.logical_type?.type === 'LIST' ? 'array<bigint>' : undefined;
  switch (el.type) {
    case 'BOOLEAN':
      return 'boolean';
    case 'INT32':
      return 'int';
    case 'INT64':
      return el.logical_type?.type === 'TIMESTAMP' || el.converted_type === 'TIMESTAMP_MILLIS' || el.converted_type === 'TIMESTAMP_MICROS' ? 'timestamp' : 'bigint';
    case 'FLOAT':
    case 'DOUBLE':
      return 'double';
    case 'BYTE_ARRAY':
      return 'string';
    default:
      return undefined;
  }
}

/** The top-level fields of a Parquet file: name and the element (children skipped). */
function topLevelFields(schema: readonly SchemaElement[]): SchemaElement[] {
  const out: SchemaElement[] = [];
  let i = 1;
  const skip = (at: number): number => {
    let next = at + 1;
    for (let c = 0; c < (schema[at]!.num_children ?? 0); c++) next = skip(next);
    return next;
  };
  for (let c = 0; c < (schema[0]?.num_children ?? 0); c++) {
    out.push(schema[i]!);
    i = skip(i);
  }
  return out;
}

/**
 * Merges Parquet objects into one: every column of the table, every other
 * column a source holds, plus `_from` (the source's S3 URI). A column absent
 * from a source (added later) is null. A column the definition no longer has
 * (an optional field or a measure removed: docs/schema-evolution.md) is kept
 * with its values, as the sources kept it, so that adding it back reads them
 * again; its type is the sources' (int and bigint merge as bigint). Returns the
 * bytes and the row count of each source.
 */
async function mergeParquet(s3: S3Client, bucket: string, table: LakeTable, keys: readonly string[]): Promise<{ bytes: Uint8Array; rows: number[] }> {
  const declared = new Set([...table.columns, FROM_COLUMN].map((c) => c.name));
  const kept = new Map<string, { type: ColumnType; key: string }>();
  const sources: { key: string; read: Record<string, unknown>[] }[] = [];
  for (const key of keys) {
    const bytes = await getBytes(s3, bucket, key);
    if (bytes === null) throw new CompactionError(`source ${key} vanished while compaction read it`);
    const file = toArrayBuffer(bytes);
    for (const el of topLevelFields(parquetMetadata(file).schema)) {
      if (declared.has(el.name)) continue;
      const type = lakeTypeOfField(el);
      if (type === undefined) throw new CompactionError(`source ${key}: column ${el.name} has a Parquet type the lake does not write (${el.type ?? 'group'}); nothing was compacted`);
      const seen = kept.get(el.name);
      if (!seen) kept.set(el.name, { type, key });
      else if (seen.type !== type) {
        const ints = new Set([seen.type, type]);
        if (ints.size === 2 && ints.has('int') && ints.has('bigint')) kept.set(el.name, { type: 'bigint', key });
        else throw new CompactionError(`column ${el.name}, which ${table.name} no longer declares, is ${seen.type} in ${seen.key} and ${type} in ${key}: one compacted object cannot keep both; nothing was compacted`);
      }
    }
    sources.push({ key, read: await parquetReadObjects({ file }) });
  }
  const extra: LakeColumn[] = [...kept].map(([name, { type }]) => ({ name, type }));
  const columns = [...table.columns, ...extra, FROM_COLUMN];
  const merged: LakeRow[] = [];
  const rows: number[] = [];
  for (const { key, read } of sources) {
    const from = `s3://${bucket}/${key}`;
    for (const r of read) {
      const row: Record<string, LakeValue> = {};
      for (const c of table.columns) row[c.name] = lakeValue(r[c.name], c);
      for (const c of extra) row[c.name] = lakeValue(r[c.name], c);
      row[FROM_COLUMN.name] = from;
      merged.push(row);
    }
    rows.push(read.length);
  }
  const bytes = encodeParquet(columns, merged);
  const check = await parquetReadObjects({ file: toArrayBuffer(bytes), columns: [FROM_COLUMN.name] });
  const total = rows.reduce((a, b) => a + b, 0);
  if (check.length !== total) throw new CompactionError(`merged object holds ${check.length} rows, sources ${total}`);
  return { bytes, rows };
}

/**
 * Compacts one sealed partition of a Parquet table, or carries on with the
 * unfinished compaction its manifest records. Idempotent: run it again after
 * any crash.
 */
export async function compactPartition(opts: CompactPartitionOptions): Promise<CompactionResult> {
  const { s3, bucket, pipeline, partition } = opts;
  const table = lakeTable(pipeline, opts.role ?? 'raw', opts.table);
  if (table.format !== 'parquet') throw new CompactionError(`table ${table.name} is ${table.format}; only Parquet tables are compacted`);
  const prefix = `${table.location}${partitionPath(partition)}/`;
  const mKey = manifestKeyOf(table.name, partition);
  const now = opts.now ?? Date.now;
  const crash = (step: CompactionStep) => {
    if (opts.crashAfter === step) throw new SimulatedCrash(step);
  };

  let m = await getJson<CompactionManifest>(s3, bucket, mKey);
  let planned = false;
  const resumedPublished = m?.state === 'published';
  if (m === null || m.state === 'done') {
    const hourEnd = Date.parse(`${partition.dt}T${partition.hour}:00:00Z`) + HOUR_MS;
    if (!Number.isFinite(hourEnd)) throw new CompactionError(`partition ${JSON.stringify(partition)} is not dt=yyyy-MM-dd/hour=HH`);
    const sealedAt = hourEnd + (opts.sealAfterMs ?? sealDelayMs(pipeline));
    if (now() < sealedAt) {
      throw new CompactionError(`partition ${prefix} of table ${table.name} is not sealed until ${new Date(sealedAt).toISOString()}: a late or retried batch may still write there`);
    }
    const listed = (await listPartitionObjects(s3, bucket, prefix)).filter((o) => visible(o.key, '.parquet'));
    // The late table is partitioned by event time but written at arrival, so a sealed hour can
    // still get a late batch; a retry of that batch may rewrite its objects with another
    // extent. Only objects older than any retry are merged; younger ones wait for a later pass.
    const settled = (o: ListedObject) => table.role !== 'late' || o.lastModified <= now() - pipeline.processing.maxRecordAgeMs - HOUR_MS;
    const objects = (await currentObjects(s3, bucket, listed)).filter(settled).map(({ key, etag, size }) => ({ key, etag, size }));
    if (objects.length < (opts.minObjects ?? 2)) return { manifest: m, skipped: `${objects.length} current object(s) in ${prefix}` };
    const id = `${new Date(now()).toISOString().replace(/[-:.]/g, '')}-${randomUUID().slice(0, 8)}`;
    m = {
      id,
      table: table.name,
      partition,
      state: 'planned',
      sources: objects.map((o) => ({ ...o, rows: -1 })),
      rows: -1,
      stagingKey: `${COMPACTION_PREFIX}${table.name}/${partitionPath(partition)}/${id}.parquet`,
      finalKey: `${prefix}${COMPACTED_PREFIX}${id}.parquet`,
      startedAt: new Date(now()).toISOString(),
      publishedAt: null,
      finishedAt: null,
    };
    await putJson(s3, bucket, mKey, m);
    planned = true;
    crash('plan');
  }

  if (m.state === 'planned') {
    // Nothing is visible yet: if a source changed or went away, give this plan up and start afresh next time.
    const current = new Map((await listPartitionObjects(s3, bucket, prefix)).map((o) => [o.key, o.etag]));
    const changed = m.sources.find((s) => current.get(s.key) !== s.etag);
    if (changed) {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: m.stagingKey }));
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: mKey }));
      throw new CompactionError(`source ${changed.key} changed since compaction ${m.id} was planned; the plan was dropped, nothing was published`);
    }
    const merged = await mergeParquet(s3, bucket, table, m.sources.map((s) => s.key));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: m.stagingKey, Body: merged.bytes }));
    m = { ...m, state: 'staged', sources: m.sources.map((s, i) => ({ ...s, rows: merged.rows[i]! })), rows: merged.rows.reduce((a, b) => a + b, 0) };
    await putJson(s3, bucket, mKey, m);
    crash('stage');
  }

  if (m.state === 'staged') {
    // The switch. Same bytes to the same key however often it runs.
    await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: m.finalKey, CopySource: `${bucket}/${m.stagingKey}` }));
    m = { ...m, state: 'published', publishedAt: new Date(now()).toISOString() };
    await putJson(s3, bucket, mKey, m);
    crash('publish');
  }

  if (m.state === 'published') {
    const retireAt = Date.parse(m.publishedAt ?? m.startedAt) + (opts.retireAfterMs ?? RETIRE_AFTER_MS);
    if (now() < retireAt) return { manifest: m, planned, ...(resumedPublished ? { skipped: `sources of ${m.finalKey} are retired after ${new Date(retireAt).toISOString()}` } : {}) };
    // DeleteObjects takes up to 1,000 keys per call (S3 API limit).
    for (let i = 0; i < m.sources.length; i += 1000) {
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: m.sources.slice(i, i + 1000).map((s) => ({ Key: s.key })), Quiet: true } }));
    }
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: m.stagingKey }));
    m = { ...m, state: 'done', finishedAt: new Date(now()).toISOString() };
    // Only unfinished compactions keep a manifest, so each pass lists just those: the
    // done one is returned (and logged by the passes), not stored.
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: mKey }));
    crash('retire');
  }
  return { manifest: m, planned };
}

export interface CompactionRunOptions {
  /** @default Date.now */
  readonly now?: () => number;
  /** @default RETIRE_AFTER_MS */
  readonly retireAfterMs?: number;
  /** Epoch ms after which a pass starts no new partition (a Lambda's time limit). @default none */
  readonly deadline?: number;
}

type CompactedRole = Exclude<TableRole, 'quarantine'>;

/** The pipeline's compacted tables: those with a storage table (the same rule lib/compactor.ts grants on). */
function compactedTables(pipeline: Pipeline): (LakeTable & { readonly role: CompactedRole })[] {
  return lakeTables(pipeline).filter((t): t is LakeTable & { readonly role: CompactedRole } => t.filesName !== null);
}

/** Carries on with every unfinished compaction of a pipeline's tables (after a crash, or sources waiting to be retired): the manifests still stored. */
export async function recoverCompactions(s3: S3Client, bucket: string, pipeline: Pipeline, run: CompactionRunOptions = {}): Promise<CompactionManifest[]> {
  const done: CompactionManifest[] = [];
  const keys = (await listPartitionObjects(s3, bucket, COMPACTION_PREFIX)).filter((o) => o.key.endsWith('/manifest.json'));
  for (const { key } of keys) {
    const m = await getJson<CompactionManifest>(s3, bucket, key);
    if (!m || m.state === 'done') continue;
    const table = compactedTables(pipeline).find((t) => t.name === m.table);
    if (!table) continue;
    const r = await compactPartition({ s3, bucket, pipeline, role: table.role, table: table.name, partition: m.partition, ...run });
    if (r.manifest && !r.skipped) done.push(r.manifest);
  }
  return done;
}

export interface CompactionPass {
  readonly compacted: CompactionManifest[];
  /** Unfinished compactions carried on (after a crash, or retired once their wait was over). */
  readonly recovered: CompactionManifest[];
  /** Partitions left alone, with the reason (not sealed yet, too few objects, sources waiting to be retired …). */
  readonly skipped: number;
  /** The deadline came before every partition was looked at; the next pass goes on. */
  readonly stoppedEarly: boolean;
}

/**
 * One compaction pass over a pipeline: carry on with every unfinished
 * compaction, then compact every sealed partition of its Parquet tables (raw,
 * partials, late). What `shardflow compact` runs, what `dev` runs every hour,
 * and what the compactor Lambda runs on its schedule.
 */
export async function compactPipeline(s3: S3Client, bucket: string, pipeline: Pipeline, run: CompactionRunOptions = {}): Promise<CompactionPass> {
  const { deadline, ...partitionRun } = run;
  const recovered = await recoverCompactions(s3, bucket, pipeline, partitionRun);
  const compacted: CompactionManifest[] = [];
  let skipped = 0;
  let stoppedEarly = false;
  for (const table of compactedTables(pipeline)) {
    if (stoppedEarly) break;
    const role = table.role;
    // Data objects per partition, from one listing of the table.
    const partitions = new Map<string, { partition: PartitionValues; objects: number }>();
    for (const o of await listPartitionObjects(s3, bucket, table.location)) {
      const m = /dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\//.exec(o.key);
      if (!m || !visible(o.key, '.parquet')) continue;
      const key = `${m[1]}/${m[2]}`;
      const entry = partitions.get(key) ?? { partition: { dt: m[1]!, hour: m[2]! }, objects: 0 };
      entry.objects++;
      partitions.set(key, entry);
    }
    const t = (run.now ?? Date.now)();
    for (const { partition, objects } of partitions.values()) {
      // Unsealed hours may still receive late or retried batches: leave them for a later pass.
      // One object (already compacted, or a quiet hour): nothing to merge, nothing to read.
      const sealedAt = Date.parse(`${partition.dt}T${partition.hour}:00:00Z`) + HOUR_MS + sealDelayMs(pipeline);
      if (t < sealedAt || objects < 2) {
        skipped++;
        continue;
      }
      if (deadline !== undefined && Date.now() > deadline) {
        stoppedEarly = true;
        break;
      }
      const r = await compactPartition({ s3, bucket, pipeline, role, table: table.name, partition, ...partitionRun });
      if (r.manifest && r.planned) compacted.push(r.manifest);
      else skipped++;
    }
  }
  return { compacted, recovered, skipped, stoppedEarly };
}
