/**
 * Shardflow's local Athena endpoint: the AWS JSON 1.1 protocol as
 * `@aws-sdk/client-athena` speaks it (POST /, `X-Amz-Target:
 * AmazonAthena.<Operation>`), executing on DuckDB. The same SDK code runs
 * against AWS and against this endpoint.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Pipeline } from '../../core';
import { assertPortFree, ServiceStartError, type RunningService } from '../services/service';
import { buildCatalog, LakeReader, type CatalogDatabase } from './catalog';
import { AthenaQueryEngine, QueryCancelled, type QueryOutcome } from './engine';
import { QueryStore, type QueryRecord, type StoredResult } from './query-store';
import { toCsv } from './result-format';
import { AthenaQueryError } from './sql-translate';

export const DEFAULT_ATHENA_PORT = 4570;
/** The lake bucket name when none is given. */
export const DEFAULT_LAKE_BUCKET = 'shardflow-lake';

export interface AthenaEndpointOptions {
  /** Loopback port. @default 4570 */
  readonly port?: number;
  /** Where the lake lives: any S3 endpoint (s3rver locally). */
  readonly s3: {
    readonly endpoint: string;
    /** Lake bucket. @default 'shardflow-lake' */
    readonly bucket?: string;
    /** @default 'us-east-1' */
    readonly region?: string;
    /** @default static local credentials (s3rver accepts any) */
    readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  };
  readonly pipelines: readonly Pipeline[];
  /** Query history, results and the lake object cache. */
  readonly dataDir: string;
  /** Workgroup default result location (s3://bucket/prefix/). @default s3://<lake bucket>/athena-results/ */
  readonly defaultOutputLocation?: string;
  /** Workgroups that exist. @default ['primary'] */
  readonly workGroups?: readonly string[];
  /**
   * Executes the statements: DuckDB over the lake (AthenaQueryEngine) unless given one, e.g.
   * local/trino/engine.ts, which runs them on Trino. Built from the endpoint's own DuckDB engine,
   * so that it can hand it what it does not run itself.
   */
  readonly engine?: (duckdb: AthenaQueryEngine) => Pick<AthenaQueryEngine, 'run'>;
  /** Queries that run at once; more wait in QUEUED. 1-64. @default 4 */
  readonly maxConcurrentQueries?: number;
}

export interface AthenaEndpoint extends RunningService {
  readonly catalog: ReadonlyMap<string, CatalogDatabase>;
  readonly lakeBucket: string;
  readonly defaultOutputLocation: string;
}

type Body = Record<string, unknown>;

/** An API error, answered as HTTP 400 `{"__type": type, "message": …}` as Athena does. */
class ApiError extends Error {
  constructor(readonly type: string, message: string, readonly status = 400) {
    super(message);
    this.name = 'ApiError';
  }
}

const invalid = (message: string): ApiError => new ApiError('InvalidRequestException', message);


function parseOutputLocation(loc: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(loc);
  if (!m) throw invalid(`ResultConfiguration.OutputLocation must be an s3://bucket/prefix URI (given ${JSON.stringify(loc)})`);
  const prefix = m[2]!;
  return { bucket: m[1]!, prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/` };
}

const seconds = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : ms / 1000);

export async function startAthenaEndpoint(opts: AthenaEndpointOptions): Promise<AthenaEndpoint> {
  const port = opts.port ?? DEFAULT_ATHENA_PORT;
  const maxConcurrent = opts.maxConcurrentQueries ?? 4;
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1 || maxConcurrent > 64) {
    throw new ServiceStartError('Athena endpoint', `maxConcurrentQueries must be a whole number between 1 and 64 inclusive (given ${maxConcurrent})`);
  }
  await assertPortFree('Athena endpoint', port);
  const bucket = opts.s3.bucket ?? DEFAULT_LAKE_BUCKET;
  const defaultOutput = opts.defaultOutputLocation ?? `s3://${bucket}/athena-results/`;
  parseOutputLocation(defaultOutput);
  const workGroups = new Set(opts.workGroups ?? ['primary']);
  const catalog = buildCatalog(opts.pipelines);
  const s3 = new S3Client({
    endpoint: opts.s3.endpoint,
    region: opts.s3.region ?? 'us-east-1',
    forcePathStyle: true,
    credentials: opts.s3.credentials ?? { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    // s3rver predates the SDK's default CRC32 checksums.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const duckdb = new AthenaQueryEngine(catalog, new LakeReader({ s3, bucket, cacheDir: path.join(opts.dataDir, 'lake-cache') }));
  const engine = opts.engine ? opts.engine(duckdb) : duckdb;
  const store = await QueryStore.open(opts.dataDir);
  const defaultDatabase = catalog.keys().next().value ?? 'default';

  const running = new Map<string, AbortController>();
  const settled = new Map<string, Promise<void>>();
  const queue: QueryRecord[] = [];
  let active = 0;
  let stopping = false;

  const pump = (): void => {
    while (!stopping && active < maxConcurrent && queue.length > 0) {
      const rec = queue.shift()!;
      active++;
      const done = execute(rec).finally(() => {
        active--;
        settled.delete(rec.id);
        pump();
      });
      settled.set(rec.id, done);
    }
  };

  const finish = async (rec: QueryRecord, state: 'SUCCEEDED' | 'FAILED' | 'CANCELLED', err?: AthenaQueryError): Promise<void> => {
    rec.state = state;
    rec.completedAt = Date.now();
    rec.engineMs = rec.startedAt === undefined ? 0 : rec.completedAt - rec.startedAt;
    if (err) {
      rec.stateChangeReason = err.message;
      rec.athenaError = { ErrorCategory: err.category, ErrorType: err.category === 2 ? 1000 : 100, Retryable: false, ErrorMessage: err.message };
    }
    await store.save(rec);
  };

  async function execute(rec: QueryRecord): Promise<void> {
    const ac = new AbortController();
    running.set(rec.id, ac);
    rec.state = 'RUNNING';
    rec.startedAt = Date.now();
    await store.save(rec);
    let outcome: QueryOutcome;
    try {
      outcome = await engine.run(rec.query, { database: rec.database, parameters: rec.parameters, signal: ac.signal });
    } catch (err) {
      running.delete(rec.id);
      if (err instanceof QueryCancelled || ac.signal.aborted) return finish(rec, 'CANCELLED');
      const e = err instanceof AthenaQueryError ? err : new AthenaQueryError('GENERIC_INTERNAL_ERROR', (err as Error).message, undefined, 1);
      return finish(rec, 'FAILED', e);
    }
    running.delete(rec.id);
    rec.statementType = outcome.statementType;
    rec.substatementType = outcome.substatementType;
    rec.dataScannedBytes = outcome.dataScannedBytes;
    // SELECT results are CSV; SHOW/DESCRIBE results are text, one row a line (as Athena writes them).
    if (outcome.statementType === 'UTILITY') rec.outputLocation = rec.outputLocation.replace(/\.csv$/, '.txt');
    const result: StoredResult = { columns: outcome.columns, headerRow: outcome.headerRow, rows: outcome.rows };
    try {
      const { bucket: outBucket, prefix } = parseOutputLocation(rec.outputLocation.slice(0, rec.outputLocation.lastIndexOf('/') + 1));
      const body = outcome.headerRow ? toCsv(outcome.columns.map((c) => c.Name), outcome.rows) : outcome.rows.map((r) => r.join('\t')).join('\n') + (outcome.rows.length ? '\n' : '');
      await s3.send(new PutObjectCommand({ Bucket: outBucket, Key: `${prefix}${path.basename(rec.outputLocation)}`, Body: body, ContentType: outcome.headerRow ? 'text/csv' : 'text/plain' }));
    } catch (err) {
      const e = err as Error;
      const reason = e.name === 'NoSuchBucket' ? `Unable to verify/create output bucket ${parseOutputLocation(rec.outputLocation).bucket}` : `Error writing query results to ${rec.outputLocation}: ${e.message}`;
      return finish(rec, 'FAILED', new AthenaQueryError('GENERIC_INTERNAL_ERROR', reason, undefined, 1));
    }
    await store.saveResult(rec.id, result);
    return finish(rec, 'SUCCEEDED');
  }

  const describe = (rec: QueryRecord): Body => ({
    QueryExecutionId: rec.id,
    Query: rec.query,
    StatementType: rec.statementType,
    SubstatementType: rec.substatementType,
    ResultConfiguration: { OutputLocation: rec.outputLocation },
    ResultReuseConfiguration: { ResultReuseByAgeConfiguration: { Enabled: false } },
    QueryExecutionContext: { Database: rec.database, Catalog: 'AwsDataCatalog' },
    Status: {
      State: rec.state,
      StateChangeReason: rec.stateChangeReason,
      SubmissionDateTime: seconds(rec.submittedAt),
      CompletionDateTime: seconds(rec.completedAt),
      AthenaError: rec.athenaError,
    },
    Statistics: {
      EngineExecutionTimeInMillis: rec.engineMs ?? (rec.startedAt ? Date.now() - rec.startedAt : 0),
      DataScannedInBytes: rec.dataScannedBytes,
      TotalExecutionTimeInMillis: (rec.completedAt ?? Date.now()) - rec.submittedAt,
      QueryQueueTimeInMillis: (rec.startedAt ?? Date.now()) - rec.submittedAt,
      ServicePreProcessingTimeInMillis: 0,
      QueryPlanningTimeInMillis: 0,
      ServiceProcessingTimeInMillis: 0,
      ResultReuseInformation: { ReusedPreviousResult: false },
    },
    WorkGroup: rec.workGroup,
    EngineVersion: { SelectedEngineVersion: 'AUTO', EffectiveEngineVersion: 'Athena engine version 3' },
    ExecutionParameters: rec.parameters,
  });

  const record = (id: unknown): QueryRecord => {
    if (typeof id !== 'string' || id === '') throw invalid('QueryExecutionId is required');
    const rec = store.get(id);
    if (!rec) throw invalid(`QueryExecution ${id} was not found`);
    return rec;
  };

  const workGroup = (wg: unknown): string => {
    const name = wg === undefined || wg === null || wg === '' ? 'primary' : String(wg);
    if (!workGroups.has(name)) throw invalid(`WorkGroup ${name} is not found.`);
    return name;
  };

  const token = (o: Body): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const untoken = (t: unknown): Body => {
    try {
      return JSON.parse(Buffer.from(String(t), 'base64url').toString('utf8')) as Body;
    } catch {
      throw invalid('NextToken is not valid');
    }
  };

  const operations: Record<string, (b: Body) => Promise<Body> | Body> = {
    async StartQueryExecution(b) {
      const query = b.QueryString;
      if (typeof query !== 'string' || query.length < 1 || query.length > 262144) throw invalid('QueryString must be 1 to 262144 characters long');
      const wg = workGroup(b.WorkGroup);
      const ctx = (b.QueryExecutionContext ?? {}) as Body;
      const database = typeof ctx.Database === 'string' && ctx.Database ? ctx.Database.toLowerCase() : defaultDatabase;
      const params = b.ExecutionParameters as string[] | undefined;
      const clientToken = typeof b.ClientRequestToken === 'string' ? b.ClientRequestToken : undefined;
      if (clientToken) {
        const prev = store.byClientToken(clientToken);
        if (prev) {
          if (prev.query !== query || prev.database !== database || prev.workGroup !== wg) throw invalid('Idempotent parameters do not match');
          return { QueryExecutionId: prev.id };
        }
      }
      const output = ((b.ResultConfiguration ?? {}) as Body).OutputLocation;
      const base = typeof output === 'string' && output ? output : defaultOutput;
      const { bucket: outBucket, prefix } = parseOutputLocation(base);
      const id = randomUUID();
      const rec: QueryRecord = {
        id,
        query,
        database,
        workGroup: wg,
        outputLocation: `s3://${outBucket}/${prefix}${id}.csv`,
        clientRequestToken: clientToken,
        parameters: params,
        state: 'QUEUED',
        statementType: 'DML',
        submittedAt: Date.now(),
        dataScannedBytes: 0,
      };
      await store.add(rec);
      queue.push(rec);
      pump();
      return { QueryExecutionId: id };
    },
    GetQueryExecution(b) {
      return { QueryExecution: describe(record(b.QueryExecutionId)) };
    },
    BatchGetQueryExecution(b) {
      const ids = (b.QueryExecutionIds ?? []) as string[];
      if (!Array.isArray(ids) || ids.length < 1 || ids.length > 50) throw invalid('QueryExecutionIds must hold 1 to 50 ids');
      const found = ids.map((id) => store.get(id)).filter((r): r is QueryRecord => !!r);
      return {
        QueryExecutions: found.map(describe),
        UnprocessedQueryExecutionIds: ids.filter((id) => !store.get(id)).map((id) => ({ QueryExecutionId: id, ErrorCode: 'INVALID_INPUT', ErrorMessage: `QueryExecution ${id} was not found` })),
      };
    },
    async GetQueryResults(b) {
      const rec = record(b.QueryExecutionId);
      const max = b.MaxResults === undefined ? 1000 : Number(b.MaxResults);
      // Athena API reference, GetQueryResults: MaxResults 1-1000.
      if (!Number.isInteger(max) || max < 1 || max > 1000) throw invalid(`1 validation error detected: Value '${b.MaxResults}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000 and greater than or equal to 1`);
      if (rec.state === 'QUEUED' || rec.state === 'RUNNING') throw invalid(`Query has not yet finished. Current state: ${rec.state}`);
      if (rec.state === 'FAILED') throw invalid(rec.stateChangeReason ?? 'Query failed');
      if (rec.state === 'CANCELLED') throw invalid('Query did not finish successfully. Final query state: CANCELLED');
      const result = await store.result(rec.id);
      if (!result) throw new ApiError('InternalServerException', `The result of query ${rec.id} is missing from ${opts.dataDir}`, 500);
      let offset = 0;
      if (b.NextToken !== undefined) {
        const t = untoken(b.NextToken);
        if (t.id !== rec.id || typeof t.offset !== 'number') throw invalid('NextToken does not belong to this query execution');
        offset = t.offset;
      }
      const header = result.headerRow ? [result.columns.map((c) => c.Name)] : [];
      const total = header.length + result.rows.length;
      const page: (readonly (string | null)[])[] = [];
      for (let i = offset; i < Math.min(total, offset + max); i++) page.push(i < header.length ? header[i]! : result.rows[i - header.length]!);
      const next = offset + max < total ? token({ id: rec.id, offset: offset + max }) : undefined;
      return {
        UpdateCount: 0,
        ResultSet: {
          Rows: page.map((r) => ({ Data: r.map((v) => (v === null ? {} : { VarCharValue: v })) })),
          ResultSetMetadata: { ColumnInfo: result.columns },
        },
        NextToken: next,
      };
    },
    async StopQueryExecution(b) {
      const rec = record(b.QueryExecutionId);
      if (rec.state === 'QUEUED') {
        const i = queue.indexOf(rec);
        if (i >= 0) queue.splice(i, 1);
        await finish(rec, 'CANCELLED');
      } else if (rec.state === 'RUNNING') {
        running.get(rec.id)?.abort();
      }
      return {};
    },
    ListQueryExecutions(b) {
      const wg = workGroup(b.WorkGroup);
      const max = b.MaxResults === undefined ? 50 : Number(b.MaxResults);
      if (!Number.isInteger(max) || max < 0 || max > 50) throw invalid(`1 validation error detected: Value '${b.MaxResults}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50`);
      const all = store.list(wg);
      const offset = b.NextToken === undefined ? 0 : Number(untoken(b.NextToken).offset ?? 0);
      const ids = all.slice(offset, offset + max).map((r) => r.id);
      return { QueryExecutionIds: ids, NextToken: offset + max < all.length ? token({ offset: offset + max }) : undefined };
    },
    GetWorkGroup(b) {
      const name = workGroup(b.WorkGroup);
      return {
        WorkGroup: {
          Name: name,
          State: 'ENABLED',
          Description: 'Shardflow local Athena endpoint (DuckDB)',
          CreationTime: 0,
          Configuration: {
            ResultConfiguration: { OutputLocation: defaultOutput },
            EnforceWorkGroupConfiguration: false,
            PublishCloudWatchMetricsEnabled: false,
            RequesterPaysEnabled: false,
            EngineVersion: { SelectedEngineVersion: 'AUTO', EffectiveEngineVersion: 'Athena engine version 3' },
          },
        },
      };
    },
    ListWorkGroups() {
      return {
        WorkGroups: [...workGroups].map((name) => ({ Name: name, State: 'ENABLED', Description: 'Shardflow local Athena endpoint (DuckDB)', CreationTime: 0, EngineVersion: { SelectedEngineVersion: 'AUTO', EffectiveEngineVersion: 'Athena engine version 3' } })),
      };
    },
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const requestId = randomUUID();
      const send = (status: number, body: Body): void => {
        const text = JSON.stringify(body);
        res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1', 'Content-Length': Buffer.byteLength(text), 'x-amzn-RequestId': requestId });
        res.end(text);
      };
      void (async () => {
        try {
          const target = String(req.headers['x-amz-target'] ?? '');
          if (req.method !== 'POST' || !target.startsWith('AmazonAthena.')) throw new ApiError('UnknownOperationException', `expected POST / with X-Amz-Target: AmazonAthena.<Operation> (got ${req.method} ${req.url} target ${JSON.stringify(target)})`);
          const op = operations[target.slice('AmazonAthena.'.length)];
          if (!op) throw new ApiError('UnknownOperationException', `operation ${target} is not supported by the local Athena endpoint`);
          let body: Body;
          try {
            const text = Buffer.concat(chunks).toString('utf8');
            body = text ? (JSON.parse(text) as Body) : {};
          } catch {
            throw new ApiError('SerializationException', 'request body is not valid JSON');
          }
          send(200, await op(body));
        } catch (err) {
          if (err instanceof ApiError) send(err.status, { __type: err.type, message: err.message });
          else send(500, { __type: 'InternalServerException', message: (err as Error).message });
        }
      })();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new ServiceStartError('Athena endpoint', `failed to listen on 127.0.0.1:${port}: ${err.message}`)));
    server.listen(port, '127.0.0.1', () => resolve());
  });

  let stopped = false;
  return {
    name: 'athena',
    endpoint: `http://127.0.0.1:${port}`,
    port,
    catalog,
    lakeBucket: bucket,
    defaultOutputLocation: defaultOutput,
    async stop() {
      if (stopped) return;
      stopped = true;
      stopping = true;
      for (const ac of running.values()) ac.abort();
      await Promise.allSettled([...settled.values()]);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      s3.destroy();
    },
  };
}
