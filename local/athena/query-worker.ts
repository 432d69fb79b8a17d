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
import path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { LakeTable, LakeView } from '../../core';
import { LakeReader, type CatalogDatabase } from './catalog';
import { AthenaQueryEngine, QueryCancelled, type EngineOptions, type QueryOutcome } from './engine';
import { writeResult } from './query-store';
import { toCsv } from './result-format';
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
}

/** What the endpoint keeps of a successful query; the rows stay on disk (query-store.ts writeResult). */
export type QuerySummary = Omit<QueryOutcome, 'rows'> & { readonly rowCount: number };

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
  | { readonly type: 'cancel'; readonly id: string };

/** An AthenaQueryError as data. */
export interface QueryErrorData {
  readonly code: string;
  readonly detail: string;
  readonly at?: { readonly line: number; readonly column: number };
  readonly category: 1 | 2 | 3;
}

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly id: string; readonly summary: QuerySummary }
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
  let s3: S3Client | undefined;
  let dataDir = '';
  /** Uploads the result object and writes the result pages: the rows never travel to the endpoint's process. */
  const deliver = async (id: string, output: { bucket: string; prefix: string }, outcome: QueryOutcome): Promise<QuerySummary> => {
    const key = resultKey(output.prefix, id, outcome.statementType);
    const body = outcome.headerRow ? toCsv(outcome.columns.map((c) => c.Name), outcome.rows) : outcome.rows.map((r) => r.join('\t')).join('\n') + (outcome.rows.length ? '\n' : '');
    try {
      await s3!.send(new PutObjectCommand({ Bucket: output.bucket, Key: key, Body: body, ContentType: outcome.headerRow ? 'text/csv' : 'text/plain' }));
    } catch (err) {
      const e = err as Error;
      const reason = e.name === 'NoSuchBucket' ? `Unable to verify/create output bucket ${output.bucket}` : `Error writing query results to s3://${output.bucket}/${key}: ${e.message}`;
      throw new AthenaQueryError('GENERIC_INTERNAL_ERROR', reason, undefined, 1);
    }
    await writeResult(dataDir, id, { columns: outcome.columns, headerRow: outcome.headerRow, rows: outcome.rows });
    const { rows, ...summary } = outcome;
    return { ...summary, rowCount: rows.length };
  };
  const running = new Map<string, AbortController>();
  process.on('disconnect', () => process.exit(0));
  process.on('message', (m: ToWorker) => {
    if (m.type === 'init') {
      dataDir = m.dataDir;
      s3 = new S3Client({
        endpoint: m.s3.endpoint,
        region: m.s3.region,
        forcePathStyle: true,
        credentials: m.s3.credentials,
        // s3rver predates the SDK's default CRC32 checksums.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
      const duckdb = new AthenaQueryEngine(catalogFromData(m.catalog), new LakeReader({ s3, bucket: m.s3.bucket, cacheDir: path.resolve(m.cacheDir) }), m.engine);
      engine = m.trinoEndpoint ? trinoStatementEngine(m.trinoEndpoint, duckdb) : duckdb;
      send({ type: 'ready' });
    } else if (m.type === 'run') {
      const ac = new AbortController();
      running.set(m.id, ac);
      void engine!
        .run(m.query, { database: m.database, parameters: m.parameters, signal: ac.signal })
        .then((outcome) => deliver(m.id, m.output, outcome))
        .then(
          (summary) => send({ type: 'done', id: m.id, summary }),
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

if (process.send && process.env.SHARDFLOW_ATHENA_WORKER === '1') main();
