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
import { S3Client } from '@aws-sdk/client-s3';
import type { LakeTable, LakeView } from '../../core';
import { LakeReader, type CatalogDatabase } from './catalog';
import { AthenaQueryEngine, QueryCancelled, type EngineOptions, type QueryOutcome } from './engine';
import { AthenaQueryError } from './sql-translate';

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
  readonly engine: EngineOptions;
}

export type ToWorker =
  | WorkerInit
  | { readonly type: 'run'; readonly id: string; readonly query: string; readonly database: string; readonly parameters?: readonly string[] }
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
  | { readonly type: 'done'; readonly id: string; readonly outcome: QueryOutcome }
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
  let engine: AthenaQueryEngine | undefined;
  const running = new Map<string, AbortController>();
  process.on('disconnect', () => process.exit(0));
  process.on('message', (m: ToWorker) => {
    if (m.type === 'init') {
      const s3 = new S3Client({
        endpoint: m.s3.endpoint,
        region: m.s3.region,
        forcePathStyle: true,
        credentials: m.s3.credentials,
        // s3rver predates the SDK's default CRC32 checksums.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
      engine = new AthenaQueryEngine(catalogFromData(m.catalog), new LakeReader({ s3, bucket: m.s3.bucket, cacheDir: path.resolve(m.cacheDir) }), m.engine);
      send({ type: 'ready' });
    } else if (m.type === 'run') {
      const ac = new AbortController();
      running.set(m.id, ac);
      void engine!
        .run(m.query, { database: m.database, parameters: m.parameters, signal: ac.signal })
        .then(
          (outcome) => send({ type: 'done', id: m.id, outcome }),
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
