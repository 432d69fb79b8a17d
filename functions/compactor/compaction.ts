/**
 * Compaction of one lake partition (`tables/<t>/dt=…/hour=…/`): the many small
 * Parquet objects of its batches become one. Protocol and its guarantees are in
 * docs/compaction.md; in short:
 *
 * 1. plan: list the visible sources; write the manifest (sources with ETags and
 *    row counts, the staging and final keys) — state `planned`;
 * 2. stage: merge the sources into one object under `_shardflow/compaction/`,
 *    outside every table location, so no reader can see it; check its row count
 *    equals the sources' sum — state `staged`;
 * 3. publish: CopyObject staging → `compacted-<id>.parquet` in the partition —
 *    state `published`;
 * 4. retire: DeleteObjects the sources, delete the staging object — state `done`.
 *
 * Every step is idempotent and re-runnable from the manifest, so a crash
 * between any two steps is finished by running compaction (or `recover`) again.
 * Between the end of step 3 and the end of step 4 (one DeleteObjects round
 * trip) a reader that lists the partition sees sources and the compacted object
 * together. Only sealed partitions are compacted: no batch, retried or late,
 * can write there any more.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { lakeTable, partitionPath, type PartitionValues, type Pipeline, type TableRole } from '../core';

export const COMPACTION_PREFIX = '_shardflow/compaction/';

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
  readonly finishedAt: string | null;
}

export interface CompactPartitionOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly pipeline: Pipeline;
  /** Parquet tables only. @default 'raw' */
  readonly role?: Exclude<TableRole, 'quarantine'>;
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
  /** Fewer visible objects than this: nothing to do. @default 2 */
  readonly minObjects?: number;
  /** Tests: throw after this step has completed, as a crash would. */
  readonly crashAfter?: CompactionStep;
}

export interface CompactionResult {
  readonly manifest: CompactionManifest | null;
  /** Why nothing was done, when nothing was. */
  readonly skipped?: string;
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

async function getJson<T>(s3: S3Client, bucket: string, key: string): Promise<T | null> {
  try {
    const o = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse(await o.Body!.transformToString()) as T;
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return null;
    throw err;
  }
}

async function putJson(s3: S3Client, bucket: string, key: string, v: unknown): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(v, null, 2), ContentType: 'application/json' }));
}

export async function listPartitionObjects(s3: S3Client, bucket: string, prefix: string): Promise<{ key: string; etag: string; size: number }[]> {
  const out: { key: string; etag: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key) out.push({ key: o.Key, etag: (o.ETag ?? '').replace(/"/g, ''), size: o.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

/** Merges Parquet objects into one with DuckDB; returns the bytes and the row count of each source. */
async function mergeParquet(s3: S3Client, bucket: string, keys: readonly string[]): Promise<{ bytes: Buffer; rows: number[] }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-compact-'));
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    const files: string[] = [];
    for (const [i, key] of keys.entries()) {
      const o = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const file = path.join(dir, `${String(i).padStart(6, '0')}.parquet`);
      await fs.writeFile(file, await o.Body!.transformToByteArray());
      files.push(file);
    }
    const list = `[${files.map((f) => `'${f.replace(/'/g, "''")}'`).join(', ')}]`;
    const counts = (await conn.runAndReadAll(`SELECT filename, count(*)::BIGINT AS n FROM read_parquet(${list}, filename = true) GROUP BY filename`)).getRowObjects();
    const byFile = new Map(counts.map((r) => [String(r.filename), Number(r.n)]));
    const out = path.join(dir, 'merged.parquet');
    await conn.run(`COPY (SELECT * FROM read_parquet(${list})) TO '${out}' (FORMAT parquet, COMPRESSION snappy)`);
    const merged = Number((await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM read_parquet('${out}')`)).getRowObjects()[0]!.n);
    const rows = files.map((f) => byFile.get(f) ?? 0);
    if (merged !== rows.reduce((a, b) => a + b, 0)) throw new CompactionError(`merged object holds ${merged} rows, sources ${rows.reduce((a, b) => a + b, 0)}`);
    return { bytes: await fs.readFile(out), rows };
  } finally {
    conn.closeSync();
    db.closeSync();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * Compacts one sealed partition of a Parquet table, or finishes the unfinished
 * compaction its manifest records. Idempotent: run it again after any crash.
 */
export async function compactPartition(opts: CompactPartitionOptions): Promise<CompactionResult> {
  const { s3, bucket, pipeline, partition } = opts;
  const table = lakeTable(pipeline, opts.role ?? 'raw');
  if (table.format !== 'parquet') throw new CompactionError(`table ${table.name} is ${table.format}; only Parquet tables are compacted`);
  const prefix = `${table.location}${partitionPath(partition)}/`;
  const mKey = manifestKeyOf(table.name, partition);
  const now = opts.now ?? Date.now;
  const crash = (step: CompactionStep) => {
    if (opts.crashAfter === step) throw new SimulatedCrash(step);
  };

  let m = await getJson<CompactionManifest>(s3, bucket, mKey);
  if (m === null || m.state === 'done') {
    const hourEnd = Date.parse(`${partition.dt}T${partition.hour}:00:00Z`) + HOUR_MS;
    if (!Number.isFinite(hourEnd)) throw new CompactionError(`partition ${JSON.stringify(partition)} is not dt=yyyy-MM-dd/hour=HH`);
    const sealedAt = hourEnd + (opts.sealAfterMs ?? sealDelayMs(pipeline));
    if (now() < sealedAt) {
      throw new CompactionError(`partition ${prefix} of table ${table.name} is not sealed until ${new Date(sealedAt).toISOString()}: a late or retried batch may still write there`);
    }
    const objects = (await listPartitionObjects(s3, bucket, prefix)).filter((o) => visible(o.key, '.parquet'));
    if (objects.length < (opts.minObjects ?? 2)) return { manifest: m, skipped: `${objects.length} object(s) in ${prefix}` };
    const id = `${new Date(now()).toISOString().replace(/[-:.]/g, '')}-${randomUUID().slice(0, 8)}`;
    m = {
      id,
      table: table.name,
      partition,
      state: 'planned',
      sources: objects.map((o) => ({ ...o, rows: -1 })),
      rows: -1,
      stagingKey: `${COMPACTION_PREFIX}${table.name}/${partitionPath(partition)}/${id}.parquet`,
      finalKey: `${prefix}compacted-${id}.parquet`,
      startedAt: new Date(now()).toISOString(),
      finishedAt: null,
    };
    await putJson(s3, bucket, mKey, m);
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
    const merged = await mergeParquet(s3, bucket, m.sources.map((s) => s.key));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: m.stagingKey, Body: merged.bytes }));
    m = { ...m, state: 'staged', sources: m.sources.map((s, i) => ({ ...s, rows: merged.rows[i]! })), rows: merged.rows.reduce((a, b) => a + b, 0) };
    await putJson(s3, bucket, mKey, m);
    crash('stage');
  }

  if (m.state === 'staged') {
    // Same bytes to the same key however often it runs.
    await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: m.finalKey, CopySource: `${bucket}/${m.stagingKey}` }));
    m = { ...m, state: 'published' };
    await putJson(s3, bucket, mKey, m);
    crash('publish');
  }

  if (m.state === 'published') {
    // DeleteObjects takes up to 1,000 keys per call (S3 API limit).
    for (let i = 0; i < m.sources.length; i += 1000) {
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: m.sources.slice(i, i + 1000).map((s) => ({ Key: s.key })), Quiet: true } }));
    }
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: m.stagingKey }));
    m = { ...m, state: 'done', finishedAt: new Date(now()).toISOString() };
    await putJson(s3, bucket, mKey, m);
    crash('retire');
  }
  return { manifest: m };
}

/** Finishes every unfinished compaction of a pipeline's tables (after a crash). */
export async function recoverCompactions(s3: S3Client, bucket: string, pipeline: Pipeline, now?: () => number): Promise<CompactionManifest[]> {
  const done: CompactionManifest[] = [];
  const keys = (await listPartitionObjects(s3, bucket, COMPACTION_PREFIX)).filter((o) => o.key.endsWith('/manifest.json'));
  for (const { key } of keys) {
    const m = await getJson<CompactionManifest>(s3, bucket, key);
    if (!m || m.state === 'done') continue;
    const role = (['raw', 'partials', 'late'] as const).find((r) => lakeTable(pipeline, r).name === m.table);
    if (!role) continue;
    const r = await compactPartition({ s3, bucket, pipeline, role, partition: m.partition, ...(now ? { now } : {}) });
    if (r.manifest) done.push(r.manifest);
  }
  return done;
}

export interface CompactionPass {
  readonly compacted: CompactionManifest[];
  readonly recovered: CompactionManifest[];
  /** Partitions left alone, with the reason (not sealed yet, too few objects …). */
  readonly skipped: number;
}

/**
 * One compaction pass over a pipeline: finish any interrupted compaction,
 * then compact every sealed partition of its Parquet tables (raw, partials,
 * late). What `shardflow compact` runs, and what `dev` runs every hour.
 */
export async function compactPipeline(s3: S3Client, bucket: string, pipeline: Pipeline, now?: () => number): Promise<CompactionPass> {
  const recovered = await recoverCompactions(s3, bucket, pipeline, now);
  const compacted: CompactionManifest[] = [];
  let skipped = 0;
  for (const role of ['raw', 'partials', 'late'] as const) {
    if (role === 'partials' && !pipeline.aggregate) continue;
    const table = lakeTable(pipeline, role);
    const partitions = new Map<string, PartitionValues>();
    for (const o of await listPartitionObjects(s3, bucket, table.location)) {
      const m = /dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\//.exec(o.key);
      if (m) partitions.set(`${m[1]}/${m[2]}`, { dt: m[1]!, hour: m[2]! });
    }
    const t = (now ?? Date.now)();
    for (const partition of partitions.values()) {
      // Unsealed hours may still receive late or retried batches: leave them for a later pass.
      const sealedAt = Date.parse(`${partition.dt}T${partition.hour}:00:00Z`) + HOUR_MS + sealDelayMs(pipeline);
      if (t < sealedAt) {
        skipped++;
        continue;
      }
      const r = await compactPartition({ s3, bucket, pipeline, role, partition, ...(now ? { now } : {}) });
      if (r.manifest && !r.skipped) compacted.push(r.manifest);
      else skipped++;
    }
  }
  return { compacted, recovered, skipped };
}
