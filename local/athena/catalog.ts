/**
 * The local Athena catalog: database → lake tables and aggregate views, from
 * the pipeline definitions (the same LakeTable objects that drive the Glue
 * tables in CDK), and the lake objects behind each table.
 *
 * DuckDB here has no httpfs, so objects are listed with ListObjects, pruned
 * by partition before anything is read, downloaded once into a local cache
 * keyed by key + ETag, and exposed as a DuckDB view over read_parquet /
 * read_json of the cached files.
 */
import { createHash, randomUUID } from 'node:crypto';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { aggregateViews, formatExtension, FROM_COLUMN, lakeTables, type LakeColumn, type LakeTable, type LakeView, type Pipeline } from '../../core';
import { listObjects } from '../../functions/shared/s3-list';
import { pathProblem } from '../http-guard';
import type { PartitionKey, PartitionPredicate } from './query-plan';

export interface CatalogDatabase {
  readonly name: string;
  readonly tables: ReadonlyMap<string, LakeTable>;
  readonly views: ReadonlyMap<string, LakeView>;
}

/** Databases of all pipelines. Throws when two pipelines define the same table name in one database. */
export function buildCatalog(pipelines: readonly Pipeline[]): ReadonlyMap<string, CatalogDatabase> {
  const dbs = new Map<string, { name: string; tables: Map<string, LakeTable>; views: Map<string, LakeView> }>();
  const db = (name: string) => {
    let d = dbs.get(name);
    if (!d) dbs.set(name, (d = { name, tables: new Map(), views: new Map() }));
    return d;
  };
  const claim = (d: { name: string; tables: Map<string, LakeTable>; views: Map<string, LakeView> }, name: string, pipeline: string): void => {
    const prev = d.tables.get(name) ?? d.views.get(name);
    if (prev) throw new Error(`Athena catalog: ${d.name}.${name} is defined by pipeline ${prev.pipeline} and again by pipeline ${pipeline}`);
  };
  for (const p of pipelines) {
    for (const t of lakeTables(p)) {
      const d = db(t.database);
      claim(d, t.name, p.name);
      d.tables.set(t.name, t);
      if (t.filesName) {
        // Glue has the storage table plus a current view over it (lib/lake-catalog.ts). Here the
        // current table is native (see AthenaQueryEngine: superseded objects are dropped at
        // listing), so that dt/hour predicates keep pruning; the storage table is read as is.
        claim(d, t.filesName, p.name);
        d.tables.set(t.filesName, filesTable(t));
      }
    }
    for (const v of aggregateViews(p)) {
      const d = db(v.database);
      claim(d, v.name, p.name);
      d.views.set(v.name, v);
    }
  }
  return dbs;
}

/** The storage table of a compacted table: every object, with the `_from` column. */
export function filesTable(t: LakeTable): LakeTable {
  return { ...t, name: t.filesName!, columns: [...t.columns, FROM_COLUMN], filesName: null };
}

/** Athena (Hive) type name of a lake column type, as SHOW/DESCRIBE print it. */
export function hiveTypeName(t: LakeColumn['type']): string {
  return t;
}

const DUCKDB_TYPE: Readonly<Record<LakeColumn['type'], string>> = {
  string: 'VARCHAR',
  int: 'INTEGER',
  bigint: 'BIGINT',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMP',
  'array<bigint>': 'BIGINT[]',
};

export function duckdbType(t: LakeColumn['type']): string {
  return DUCKDB_TYPE[t];
}

/** A lake object selected for a query. */
export interface LakeObject {
  readonly key: string;
  readonly etag: string;
  /** Bytes. */
  readonly size: number;
  readonly partition: PartitionKey;
}

const PARTITION_PATH = /(?:^|\/)dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\//;

export const quoteIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;
export const quoteString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

export interface LakeReaderOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** Local directory for downloaded objects. */
  readonly cacheDir: string;
  /**
   * Where the S3 emulator keeps an object's bytes on this machine (local/services/s3.ts
   * s3ObjectFile), to copy instead of GetObject; null or absent: GetObject. A copy whose MD5
   * is not the listed ETag (rewritten meanwhile, or a multipart ETag) is fetched with GetObject.
   */
  readonly objectFile?: (key: string) => string | null;
  /**
   * The emulator's object files may be read where they are (the engine's sandbox lets DuckDB
   * read the lake bucket's directory, `objectRoot`): the first version of a key this reader
   * meets is read in place, with no copy; a later version (its ETag differs) is copied into the
   * cache as without this, so that no path ever stands for two contents (DuckDB caches a file's
   * footer by path, and so does the engine). Absent: every object is copied.
   */
  readonly inPlace?: { readonly objectRoot: string };
}

/** How s3rver names an object's file (local/services/s3-files.ts). */
const OBJECT_FILE_SUFFIX = '._S3rver_object';

/** Objects listed from the store's files between two yields of the event loop. */
const LIST_BATCH = 64;

/** Objects fetched at once (the S3 emulator answers in parallel; the copies are small). */
const FETCH_CONCURRENCY = 16;

/** Lists, prunes, fetches and exposes lake objects to DuckDB. */
export class LakeReader {
  /** Cache files known whole, with their size: a query re-reading them needs no stat. */
  private readonly cached = new Map<string, number>();
  /** In place: the ETag each key's object file is read for (LakeReaderOptions.inPlace). */
  private readonly inPlaceTag = new Map<string, string>();

  constructor(private readonly opts: LakeReaderOptions) {}

  get bucket(): string {
    return this.opts.bucket;
  }

  /** What tableRelationSql needs to rebuild `"$path"` from the files this reader fetched. */
  get pathColumn(): PathColumn {
    return { cacheDir: this.opts.cacheDir, ...(this.opts.inPlace ? { objectRoot: this.opts.inPlace.objectRoot, bucket: this.opts.bucket } : {}) };
  }

  /** Athena's `"$path"` of an object. */
  uriOf(obj: LakeObject): string {
    return `s3://${this.opts.bucket}/${obj.key}`;
  }

  /**
   * The data object a key is in `table`, or null: the format's extension, a dt=/hour= partition,
   * and not hidden (Athena, like Hive, skips names starting with '_' or '.': compaction stages there).
   */
  objectOf(table: LakeTable, key: string, etag: string, size: number): LakeObject | null {
    if (!key.startsWith(table.location) || !key.endsWith(formatExtension(table.format))) return null;
    const name = key.slice(key.lastIndexOf('/') + 1);
    if (name.startsWith('_') || name.startsWith('.')) return null;
    const m = PARTITION_PATH.exec(key.slice(table.location.length - 1));
    if (!m) return null;
    return { key, etag: etag.replace(/"/g, ''), size, partition: { dt: m[1]!, hour: Number(m[2]) } };
  }

  /** Objects of a table in the partitions `keep` accepts (all when null). One listing of the table; nothing is read. */
  async list(table: LakeTable, keep: PartitionPredicate | null, signal?: AbortSignal): Promise<LakeObject[]> {
    return (await this.listPrefix(table, table.location, signal)).filter((o) => !keep || keep(o.partition));
  }

  /** Objects of a table under `prefix`, paged by ListObjects markers (functions/shared/s3-list.ts says why not V2). */
  async listPrefix(table: LakeTable, prefix: string, signal?: AbortSignal): Promise<LakeObject[]> {
    if (this.opts.inPlace && this.opts.objectFile?.(`${prefix}x`)) return this.listFiles(table, this.opts.inPlace.objectRoot, prefix, signal);
    const listed = await listObjects(this.opts.s3, this.opts.bucket, prefix, signal);
    return listed.map((o) => this.objectOf(table, o.key, o.etag, o.size)).filter((o): o is LakeObject => o !== null);
  }

  /**
   * listPrefix from the emulator's store (in place): what its ListObjects would answer, read from
   * its files without the HTTP round trip and the XML (s3rver reads the same files): the object
   * files under the prefix's directory, each with its ETag (the `.md5` file s3rver writes beside
   * it) and size. An object whose `.md5` is not there yet is still being written and is left out:
   * its change report follows (lake-index.ts). Object files are replaced whole, never rewritten
   * in place (s3-atomic-store.ts), so a path read here is always one whole object.
   */
  private async listFiles(table: LakeTable, root: string, prefix: string, signal?: AbortSignal): Promise<LakeObject[]> {
    // Prefixes come from the catalog and the query's dt/hour constants: none may leave the bucket's directory.
    if (!prefix.endsWith('/') || prefix.slice(0, -1).split('/').includes('') || pathProblem(prefix, 'prefix') !== null) return [];
    const dir = path.join(root, prefix);
    if (!dir.startsWith(root)) return [];
    let names: string[];
    try {
      names = await fs.readdir(dir, { recursive: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const candidates = names
      .filter((n) => n.endsWith(OBJECT_FILE_SUFFIX))
      .map((n) => `${prefix}${n.slice(0, -OBJECT_FILE_SUFFIX.length)}`)
      .filter((key) => this.objectOf(table, key, '', 0) !== null);
    // Synchronous reads in small batches: a thread-pool round trip per tiny file cost more than
    // the read itself, and yielding between batches keeps the worker's messages flowing.
    const out: (LakeObject | null)[] = [];
    for (let i = 0; i < candidates.length; i++) {
      if (i % LIST_BATCH === 0 && i > 0) {
        await new Promise((r) => setImmediate(r));
        signal?.throwIfAborted();
      }
      const key = candidates[i]!;
      const file = path.join(dir, key.slice(prefix.length)) + OBJECT_FILE_SUFFIX;
      try {
        const md5File = `${file}.md5`;
        const st = fsSync.statSync(file);
        let md5 = fsSync.readFileSync(md5File, 'utf8').trim();
        let size = st.size;
        // An object file newer than its .md5 is between the two renames of a write
        // (local/services/s3-atomic-store.ts), or was written by an s3rver without them: its
        // ETag is read from its bytes, so that no in-place path stands for other contents.
        if (st.mtimeMs > fsSync.statSync(md5File).mtimeMs) {
          const bytes = fsSync.readFileSync(file);
          md5 = createHash('md5').update(bytes).digest('hex');
          size = bytes.length;
        }
        out.push(this.objectOf(table, key, md5, size));
      } catch {
        out.push(null);
      }
    }
    return out.filter((o): o is LakeObject => o !== null).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /**
   * Local path of an object, downloading it unless cached. The path keeps the
   * dt=/hour= directories so that DuckDB's hive_partitioning sees them; the
   * ETag digest in the file name makes a rewritten object a new cache entry.
   */
  async fetch(obj: LakeObject, signal?: AbortSignal): Promise<string> {
    if (this.opts.inPlace) {
      const local = this.opts.objectFile?.(obj.key);
      if (local?.startsWith(this.opts.inPlace.objectRoot)) {
        const tag = this.inPlaceTag.get(obj.key);
        if (tag === undefined) this.inPlaceTag.set(obj.key, obj.etag);
        if (tag === undefined || tag === obj.etag) return local;
      }
    }
    const dir = path.join(this.opts.cacheDir, this.opts.bucket, path.dirname(obj.key));
    const tag = createHash('sha256').update(obj.etag).digest('hex').slice(0, 16);
    const file = path.join(dir, `${tag}--${path.basename(obj.key)}`);
    if (this.cached.get(file) === obj.size) return file;
    try {
      const st = await fs.stat(file);
      if (st.size === obj.size) {
        this.cached.set(file, st.size);
        return file;
      }
    } catch {
      // not cached yet
    }
    await fs.mkdir(dir, { recursive: true });
    let bytes: Uint8Array | undefined;
    const local = this.opts.objectFile?.(obj.key);
    if (local) {
      try {
        const b = await fs.readFile(local);
        if (b.length === obj.size && createHash('md5').update(b).digest('hex') === obj.etag) bytes = b;
      } catch {
        // gone or unreadable: ask S3
      }
    }
    if (!bytes) {
      const res = await this.opts.s3.send(new GetObjectCommand({ Bucket: this.opts.bucket, Key: obj.key, IfMatch: obj.etag ? `"${obj.etag}"` : undefined }), { abortSignal: signal });
      bytes = await res.Body!.transformToByteArray();
    }
    // Unique per download: two queries may fetch the same object in the same millisecond.
    const tmp = `${file}.${process.pid}.${randomUUID()}.part`;
    await fs.writeFile(tmp, bytes);
    await fs.rename(tmp, file);
    this.cached.set(file, bytes.length);
    return file;
  }

  /** fetch() of many objects, a few at a time; paths in the objects' order. */
  async fetchAll(objects: readonly LakeObject[], signal?: AbortSignal): Promise<string[]> {
    const out = new Array<string>(objects.length);
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < objects.length) {
        const i = next++;
        signal?.throwIfAborted();
        out[i] = await this.fetch(objects[i]!, signal);
      }
    };
    await Promise.all(Array.from({ length: Math.min(FETCH_CONCURRENCY, objects.length) }, lane));
    return out;
  }
}

/** A typed, empty relation with the table's columns: what a table with no objects reads as. */
export function emptyRelationSql(table: LakeTable, withPath = false): string {
  const cols = table.columns.map((c) => `CAST(NULL AS ${duckdbType(c.type)}) AS ${quoteIdent(c.name)}`);
  const extra = withPath ? ['CAST(NULL AS VARCHAR) AS "$path"'] : [];
  return `SELECT ${[...cols, 'CAST(NULL AS VARCHAR) AS dt', 'CAST(NULL AS INTEGER) AS hour', ...extra].join(', ')} WHERE false`;
}

/** Source column types DuckDB reads from the files, by lower-cased name. */
export type SourceTypes = ReadonlyMap<string, string>;

/**
 * The SELECT that a table's view runs over local files. Columns are cast to
 * the lake types; a timestamp stored as epoch millis (integer) or ISO-8601
 * text is converted; a column absent from every file reads as NULL. `unionByName`
 * false: every file has the same columns (DuckDB then maps them by name without
 * binding each file's schema).
 */
export function tableRelationSql(table: LakeTable, files: readonly string[], source: SourceTypes, path: PathColumn | null = null, unionByName = true): string {
  if (files.length === 0) return emptyRelationSql(table, path !== null);
  const list = `[${files.map(quoteString).join(', ')}]`;
  const withName = path ? ', filename = true' : '';
  const scan =
    table.format === 'parquet'
      ? `read_parquet(${list}, hive_partitioning = true, ${unionByName ? 'union_by_name = true, ' : ''}hive_types = {'dt': VARCHAR, 'hour': INTEGER}${withName})`
      : `read_json(${list}, format = 'newline_delimited', compression = 'gzip', hive_partitioning = true, hive_types = {'dt': VARCHAR, 'hour': INTEGER}${withName}, columns = {${table.columns
          .map((c) => `${quoteString(c.name)}: '${c.type === 'timestamp' ? 'VARCHAR' : duckdbType(c.type)}'`)
          .join(', ')}})`;
  const cols = table.columns.map((c) => {
    const src = source.get(c.name.toLowerCase());
    const target = duckdbType(c.type);
    const id = quoteIdent(c.name);
    let expr: string;
    if (src === undefined) expr = `CAST(NULL AS ${target})`;
    else if (c.type === 'timestamp' && /^(BIGINT|INTEGER|UBIGINT|HUGEINT)$/.test(src)) expr = `epoch_ms(CAST(${id} AS BIGINT))`;
    else if (c.type === 'timestamp' && src === 'VARCHAR') expr = `CASE WHEN regexp_full_match(${id}, '-?[0-9]+') THEN epoch_ms(CAST(${id} AS BIGINT)) ELSE CAST(CAST(${id} AS TIMESTAMPTZ) AS TIMESTAMP) END`;
    else if (c.type === 'timestamp' && src.startsWith('TIMESTAMP WITH TIME ZONE')) expr = `CAST(${id} AS TIMESTAMP)`;
    else expr = src === target ? id : `CAST(${id} AS ${target})`;
    return `${expr} AS ${id}`;
  });
  const extra = path ? [`${pathExpression(path)} AS "$path"`] : [];
  return `SELECT ${[...cols, 'dt', 'hour', ...extra].join(', ')} FROM ${scan}`;
}

/**
 * Athena's hidden `"$path"` column (`s3://bucket/key`), rebuilt from the file's
 * name: a cached copy's (LakeReader.fetch: `<cacheDir>/<bucket>/<key dir>/<tag>--<name>`)
 * or an object file read in place (`<objectRoot><key>._S3rver_object`, local/services/s3-files.ts).
 * DuckDB views have no hidden columns, so it is added only to queries that name it.
 */
export interface PathColumn {
  readonly cacheDir: string;
  /** The lake bucket's directory in the S3 emulator's store, ending in '/' (LakeReaderOptions.inPlace). */
  readonly objectRoot?: string;
  /** The lake bucket, for in-place files. */
  readonly bucket?: string;
}

function pathExpression(p: PathColumn): string {
  const root = path.join(p.cacheDir, '/');
  const cached = `'s3://' || regexp_replace(substr(filename, ${root.length + 1}), '/[0-9a-f]{16}--([^/]*)$', '/\\1')`;
  if (!p.objectRoot || !p.bucket) return cached;
  const inPlace = `${quoteString(`s3://${p.bucket}/`)} || regexp_replace(substr(filename, ${p.objectRoot.length + 1}), '\\._S3rver_object$', '')`;
  return `CASE WHEN starts_with(filename, ${quoteString(p.objectRoot)}) THEN ${inPlace} ELSE ${cached} END`;
}

/** SQL that lists the column types of a file set (for tableRelationSql's `source`). */
export function describeFilesSql(table: LakeTable, files: readonly string[]): string {
  const list = `[${files.map(quoteString).join(', ')}]`;
  if (table.format === 'parquet') return `DESCRIBE SELECT * FROM read_parquet(${list}, union_by_name = true)`;
  // NDJSON columns are declared (read_json columns=…), so their types are known without reading.
  return `SELECT ${table.columns.map((c) => `${quoteString(c.name)} AS column_name, '${c.type === 'timestamp' ? 'VARCHAR' : duckdbType(c.type)}' AS column_type`).join(' UNION ALL SELECT ')}`;
}
