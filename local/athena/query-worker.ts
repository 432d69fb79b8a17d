/**
 * The child process that executes local Athena queries (started by
 * query-host.ts). Queries run here, not in the process that serves S3,
 * Kinesis and the Athena API: DuckDB's calls occupy this process's libuv
 * threads, result rows are formatted on this event loop and held in this
 * heap, and a query past its time limit can be killed with the process.
 *
 * Messages (IPC, structured clone): in `init` once, then `run` / `cancel`;
 * out `ready`, then one `done` / `failed` / `cancelled` per run.
 * The process exits when the IPC channel closes, so it never outlives its parent.
 */
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { LakeTable, LakeView } from '../../core';
import { s3ObjectFile } from '../services/s3-files';
import { LakeReader, type CatalogDatabase } from './catalog';
import { AthenaQueryEngine, QueryCancelled, type EngineOptions, type QueryOutcome, type QuerySummary, type ResultSink } from './engine';
import { LakeIndex, type LakeChange } from './lake-index';
import { ResultWriter, type SmallResult } from './query-store';
import { AthenaQueryError } from './sql-translate';
import { trinoStatementEngine, type StatementEngine } from '../trino/engine';

/** A catalog as plain data (Maps do not survive every channel). */
export type CatalogData = readonly { readonly name: string; readonly tables: readonly LakeTable[]; readonly views: readonly LakeView[] }[];

export interface WorkerInit {
  readonly type: 'init';
  readonly catalog: CatalogData;
  readonly s3: {
    readonly endpoint: string;
    readonly bucket: string;
    readonly region: string;
    readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  };
  /** Absolute. */
  readonly cacheDir: string;
  /** The endpoint's data dir (results are written under results/). Absolute. */
  readonly dataDir: string;
  readonly engine: EngineOptions;
  /** Run queries on this Trino (local/trino/engine.ts) instead of DuckDB; SHOW/DESCRIBE stay with the catalog. */
  readonly trinoEndpoint?: string;
  /**
   * The lake is the S3 emulator in the endpoint's process, which reports every change to the
   * worker (`changes` messages): the lake index is kept by them instead of listing per query,
   * and DuckDB reads the emulator's object files (`directory`) in place (catalog.ts
   * LakeReaderOptions.inPlace) instead of downloaded copies.
   */
  readonly watchedLake?: { readonly directory: string };
  /**
   * The endpoint stores small results itself: the result object in the S3 emulator of its
   * process (the `object` of `done`) and the result's header file (QueryStore.commitSmall), so
   * this worker neither uploads it over HTTP nor writes a file for it.
   */
  readonly resultsThroughEndpoint?: boolean;
}

export type { QuerySummary };

/** The result object of a query: CSV for SELECT, text lines for SHOW/DESCRIBE (as Athena writes them). */
export function resultKey(prefix: string, id: string, statementType: QueryOutcome['statementType']): string {
  return `${prefix}${id}.${statementType === 'UTILITY' ? 'txt' : 'csv'}`;
}

export type ToWorker =
  | WorkerInit
  | {
      readonly type: 'run';
      readonly id: string;
      readonly query: string;
      readonly database: string;
      readonly parameters?: readonly string[];
      /** Validated by the endpoint (server.ts parseOutputLocation). */
      readonly output: { readonly bucket: string; readonly prefix: string };
    }
  | { readonly type: 'cancel'; readonly id: string }
  /** Objects of the lake bucket stored or removed, in order (only with watchedLake). */
  | { readonly type: 'changes'; readonly changes: readonly LakeChange[] };

/** An AthenaQueryError as data. */
export interface QueryErrorData {
  readonly code: string;
  readonly detail: string;
  readonly at?: { readonly line: number; readonly column: number };
  readonly category: 1 | 2 | 3;
}

/** A query's end: its summary, and its result when small (the endpoint keeps it for GetQueryResults). */
export interface QueryDone {
  readonly summary: QuerySummary;
  readonly result?: SmallResult;
  /**
   * The result object, for the endpoint to store before the query succeeds, with `result`'s
   * header file, which the worker has not written (WorkerInit.resultsThroughEndpoint).
   */
  readonly object?: ResultObject;
}

/** A result object to store: where, its bytes and content type. */
export interface ResultObject {
  readonly bucket: string;
  readonly key: string;
  readonly body: Uint8Array;
  readonly contentType: string;
}

/** The message of a result object that could not be stored, as Athena words it. */
export function resultWriteError(err: Error, bucket: string, key: string): AthenaQueryError {
  const reason = err.name === 'NoSuchBucket' ? `Unable to verify/create output bucket ${bucket}` : `Error writing query results to s3://${bucket}/${key}: ${err.message}`;
  return new AthenaQueryError('GENERIC_INTERNAL_ERROR', reason, undefined, 1);
}

export type FromWorker =
  | { readonly type: 'ready' }
  | ({ readonly type: 'done'; readonly id: string } & QueryDone)
  | { readonly type: 'failed'; readonly id: string; readonly error: QueryErrorData }
  | { readonly type: 'cancelled'; readonly id: string };

export function catalogFromData(data: CatalogData): ReadonlyMap<string, CatalogDatabase> {
  return new Map(data.map((d) => [d.name, { name: d.name, tables: new Map(d.tables.map((t) => [t.name, t])), views: new Map(d.views.map((v) => [v.name, v])) }]));
}

export function catalogToData(catalog: ReadonlyMap<string, CatalogDatabase>): CatalogData {
  return [...catalog.values()].map((d) => ({ name: d.name, tables: [...d.tables.values()], views: [...d.views.values()] }));
}

function main(): void {
  const send = (m: FromWorker): void => {
    process.send?.(m);
  };
  let engine: StatementEngine | undefined;
  let duckdb: AthenaQueryEngine | undefined;
  let index: LakeIndex | undefined;
  let s3: S3Client | undefined;
  let dataDir = '';
  let resultsThroughEndpoint = false;
  /**
   * Runs a query with its result written page by page as it is read (query-store.ts ResultWriter),
   * then uploads the result object: the rows never travel to the endpoint's process.
   */
  const execute = async (m: Extract<ToWorker, { type: 'run' }>, signal: AbortSignal): Promise<QueryDone> => {
    const writer = new ResultWriter(dataDir, m.id);
    const sink: ResultSink = { start: (c, h) => writer.start(c, h), rows: (r) => writer.rows(r) };
    const opts = { database: m.database, parameters: m.parameters, signal };
    try {
      const summary = duckdb && engine === duckdb ? await duckdb.stream(m.query, opts, sink) : await runInto(engine!, m.query, opts, sink);
      const key = resultKey(m.output.prefix, m.id, summary.statementType);
      const small = writer.small();
      const body = await writer.body();
      const contentType = summary.headerRow ? 'text/csv' : 'text/plain';
      // Nothing of a small result is on disk (one page, no spill): the endpoint writes it all.
      if (small && resultsThroughEndpoint && 'bytes' in body) {
        return { summary, result: small, object: { bucket: m.output.bucket, key, body: body.bytes, contentType } };
      }
      // The result object and the endpoint's copy are written at once; the query succeeds once both are.
      const put = async (): Promise<void> => {
        try {
          await s3!.send(
            new PutObjectCommand({
              Bucket: m.output.bucket,
              Key: key,
              ...('bytes' in body ? { Body: body.bytes } : { Body: createReadStream(body.file), ContentLength: body.length }),
              ContentType: contentType,
            }),
          );
        } catch (err) {
          throw resultWriteError(err as Error, m.output.bucket, key);
        }
      };
      const [stored, committed] = await Promise.allSettled([put(), writer.commit()]);
      if (stored.status === 'rejected') throw stored.reason;
      if (committed.status === 'rejected') throw committed.reason;
      return { summary, ...(small ? { result: small } : {}) };
    } catch (err) {
      await writer.abort().catch(() => undefined);
      throw err;
    }
  };
  const running = new Map<string, AbortController>();
  process.on('disconnect', () => process.exit(0));
  process.on('message', (m: ToWorker) => {
    if (m.type === 'init') {
      dataDir = m.dataDir;
      resultsThroughEndpoint = m.resultsThroughEndpoint === true;
      s3 = new S3Client({
        endpoint: m.s3.endpoint,
        region: m.s3.region,
        forcePathStyle: true,
        credentials: m.s3.credentials,
        // s3rver predates the SDK's default CRC32 checksums.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
      const watched = m.watchedLake;
      const reader = new LakeReader({
        s3,
        bucket: m.s3.bucket,
        cacheDir: path.resolve(m.cacheDir),
        ...(watched
          ? {
              objectFile: (key: string) => s3ObjectFile(watched.directory, m.s3.bucket, key),
              // The sandbox lets DuckDB read the lake bucket's directory (server.ts readableDirs).
              inPlace: { objectRoot: path.join(path.resolve(watched.directory), m.s3.bucket, '/') },
            }
          : {}),
      });
      const catalog = catalogFromData(m.catalog);
      index = new LakeIndex(reader, [...catalog.values()].flatMap((d) => [...d.tables.values()]), watched !== undefined);
      duckdb = new AthenaQueryEngine(catalog, reader, m.engine, index);
      engine = m.trinoEndpoint ? trinoStatementEngine(m.trinoEndpoint, duckdb) : duckdb;
      send({ type: 'ready' });
    } else if (m.type === 'changes') {
      // Applied at once, before any later message: a query that follows a change sees it.
      index?.apply(m.changes);
    } else if (m.type === 'run') {
      const ac = new AbortController();
      running.set(m.id, ac);
      void execute(m, ac.signal)
        .then(
          (done) => send({ type: 'done', id: m.id, ...done }),
          (err: unknown) => {
            if (err instanceof QueryCancelled || ac.signal.aborted) return send({ type: 'cancelled', id: m.id });
            const e = err instanceof AthenaQueryError ? err : new AthenaQueryError('GENERIC_INTERNAL_ERROR', (err as Error).message, undefined, 1);
            send({ type: 'failed', id: m.id, error: { code: e.code, detail: e.detail, at: e.at, category: e.category } });
          },
        )
        .finally(() => running.delete(m.id));
    } else if (m.type === 'cancel') {
      running.get(m.id)?.abort();
    }
  });
}

/** An engine without streaming (Trino): its outcome fed to the sink. */
async function runInto(engine: StatementEngine, query: string, opts: { database: string; parameters?: readonly string[]; signal: AbortSignal }, sink: ResultSink): Promise<QuerySummary> {
  const outcome: QueryOutcome = await engine.run(query, opts);
  await sink.start(outcome.columns, outcome.headerRow);
  await sink.rows(outcome.rows);
  const { rows, ...summary } = outcome;
  return { ...summary, rowCount: rows.length, objectsRead: 0 };
}

if (process.send && process.env.SHARDFLOW_ATHENA_WORKER === '1') main();
