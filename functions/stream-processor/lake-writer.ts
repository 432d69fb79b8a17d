/**
 * Writes one batch's output to the S3 lake, idempotently and exactly once in
 * effect (docs/architecture.md "Idempotent writes").
 *
 * Object names derive from the batch alone (`<shardId>-<first>-<last>`), so a
 * retried identical batch overwrites the same objects. Retries that differ in
 * extent (Lambda bisects a failed batch, or retries from the reported sequence
 * with more records appended) would leave the first attempt's objects beside
 * the new ones and double count. A batch manifest prevents that:
 *
 *   _shardflow/batches/<pipeline>/<source>/<firstPosition>.json
 *
 * Every retry of a failed batch starts at the same first position (we report
 * the batch's first record as failed; a bisected batch's left half keeps it),
 * so it finds its predecessor's manifest by key — no listing — and deletes the
 * predecessor's objects before writing its own. The manifest is written before
 * the data (state "writing"), so a crash between data writes loses track of
 * nothing, and marked "committed" last, with the batch's counts.
 */
import { DeleteObjectsCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  batchObjectName,
  batchSourceKey,
  encodeNdjsonGz,
  encodeParquet,
  formatExtension,
  LAKE_STATE_PREFIXES,
  type BatchCounts,
  type BatchIdentity,
  type BatchOutput,
  type LakeTable,
  type Pipeline,
  type Row,
} from '../../core';

export interface BatchManifest {
  readonly pipeline: string;
  readonly batch: BatchIdentity;
  readonly state: 'writing' | 'committed';
  readonly objects: readonly string[];
  readonly counts: BatchCounts;
  readonly writtenAt: string;
}

/** S3 key prefix of batch manifests; the lake's lifecycle expires them after the longest retry window. */
export const MANIFEST_PREFIX = LAKE_STATE_PREFIXES.batches;

export function manifestKey(pipeline: string, b: BatchIdentity): string {
  const first = b.kind === 'kinesis' ? b.firstSequence : b.firstOffset;
  return `${MANIFEST_PREFIX}${pipeline}/${batchSourceKey(b)}/${first}.json`;
}

interface PlannedObject {
  readonly key: string;
  readonly table: LakeTable;
  readonly rows: Row[];
}

/** Concurrent PutObject calls per batch: enough to hide S3 latency, few enough for Lambda's sockets. */
const PUT_CONCURRENCY = 8;

/** The batch's rows of one table: by role, and for a partials table those of its aggregate. */
function rowsOf(table: LakeTable, out: BatchOutput): ReadonlyMap<string, Row[]> {
  return table.role === 'partials' ? (out.partials.get(table.name) ?? new Map<string, Row[]>()) : out[table.role];
}

export function planObjects(tables: readonly LakeTable[], batch: BatchIdentity, out: BatchOutput): PlannedObject[] {
  const name = batchObjectName(batch);
  const planned: PlannedObject[] = [];
  for (const table of tables) {
    for (const [partition, rows] of rowsOf(table, out)) {
      if (rows.length === 0) continue;
      planned.push({ key: `${table.location}${partition}/${name}${formatExtension(table.format)}`, table, rows });
    }
  }
  return planned;
}

export class LakeWriteError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'LakeWriteError';
  }
}

export class LakeWriter {
  private readonly tables: readonly LakeTable[];

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly pipeline: Pipeline,
    tables: readonly LakeTable[],
  ) {
    this.tables = [...tables];
  }

  async writeBatch(batch: BatchIdentity, out: BatchOutput): Promise<BatchManifest> {
    const planned = planObjects(this.tables, batch, out);
    const mKey = manifestKey(this.pipeline.name, batch);
    const previous = await this.readManifest(mKey);
    const keys = new Set(planned.map((p) => p.key));
    if (previous) {
      // Objects of an earlier, different attempt that this one will not overwrite.
      const stale = previous.objects.filter((k) => !keys.has(k));
      if (stale.length > 0) await this.deleteObjects(stale);
    }
    const manifest: BatchManifest = {
      pipeline: this.pipeline.name,
      batch,
      state: 'writing',
      objects: [...keys],
      counts: out.counts,
      writtenAt: new Date().toISOString(),
    };
    await this.putJson(mKey, manifest);
    await runBounded(planned, PUT_CONCURRENCY, async (p) => {
      const body = p.table.format === 'parquet' ? encodeParquet(p.table.columns, p.rows) : encodeNdjsonGz(p.table.columns, p.rows);
      await this.s3.send(new PutObjectCommand({
        Bucket: this.bucket,
        Key: p.key,
        Body: body,
        ContentType: p.table.format === 'parquet' ? 'application/vnd.apache.parquet' : 'application/x-ndjson',
        ...(p.table.format === 'ndjson.gz' ? { ContentEncoding: 'gzip' } : {}),
      }));
    });
    const committed: BatchManifest = { ...manifest, state: 'committed', writtenAt: new Date().toISOString() };
    await this.putJson(mKey, committed);
    return committed;
  }

  private async readManifest(key: string): Promise<BatchManifest | null> {
    try {
      const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return JSON.parse(await r.Body!.transformToString()) as BatchManifest;
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return null;
      throw err;
    }
  }

  private async putJson(key: string, value: unknown): Promise<void> {
    await this.s3.send(new PutObjectCommand({
      Bucket: this.bucket,
      Key: key,
      Body: JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
      ContentType: 'application/json',
    }));
  }

  private async deleteObjects(keys: readonly string[]): Promise<void> {
    // S3: at most 1000 keys per DeleteObjects call.
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000);
      const r = await this.s3.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true } }));
      if (r.Errors && r.Errors.length > 0) {
        throw new LakeWriteError(`could not delete ${r.Errors.length} stale object(s) of an earlier attempt, first: ${r.Errors[0]?.Key}: ${r.Errors[0]?.Message}`, r.Errors);
      }
    }
  }
}

/**
 * Runs `fn` over `items`, at most `limit` at a time. On the first failure no
 * new item starts, and the call waits for those in flight before it throws:
 * an attempt that has reported failure must write nothing more, or a write of
 * it could land after its retry has deleted what it wrote, and count twice.
 */
async function runBounded<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async () => {
    while (failure === null && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
}
