/**
 * Shardflow's local Athena endpoint: the AWS JSON 1.1 protocol as
 * `@aws-sdk/client-athena` speaks it (POST /, `X-Amz-Target:
 * AmazonAthena.<Operation>`), executing on DuckDB. The same SDK code runs
 * against AWS and against this endpoint.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import type { Pipeline } from '../../core';
import { guardedListener, isValidBucketName } from '../http-guard';
import type { S3Emulator } from '../services/s3';
import { assertPortFree, ServiceStartError, type RunningService } from '../services/service';
import { buildCatalog, type CatalogDatabase } from './catalog';
import { QueryCancelled } from './engine';
import { QueryHost } from './query-host';
import { catalogToData, resultKey, resultWriteError, type QuerySummary, type ResultObject } from './query-worker';
import { QueryStore, type QueryRecord, type SmallResult } from './query-store';
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
    /**
     * The S3 emulator serving `endpoint`, when it runs in this process (local/services/s3.ts):
     * its change reports keep the query worker's object index, so queries list nothing, and lake
     * objects are read from its files in place, and small result objects are stored in it directly.
     * Without it every query lists the partitions it reads.
     */
    readonly emulator?: Pick<S3Emulator, 'onObjectChange' | 'directory' | 'putObject'>;
  };
  readonly pipelines: readonly Pipeline[];
  /** Query history, results and the lake object cache. */
  readonly dataDir: string;
  /** Workgroup default result location (s3://bucket/prefix/). @default s3://<lake bucket>/athena-results/ */
  readonly defaultOutputLocation?: string;
  /** Workgroups that exist. @default ['primary'] */
  readonly workGroups?: readonly string[];
  /**
   * Executes the queries on this Trino (local/trino/engine.ts; SHOW and DESCRIBE stay with the
   * catalog) instead of on DuckDB over the lake. Its statements still run in the query worker,
   * which writes their results as it does DuckDB's. @default DuckDB
   */
  readonly trino?: { readonly endpoint: string };
  /** Queries that run at once; more wait in QUEUED. 1-64. @default 4 */
  readonly maxConcurrentQueries?: number;
  /** A query still running after this long FAILS with EXCEEDED_TIME_LIMIT. @default 600000 (10 minutes) */
  readonly queryTimeoutMs?: number;
  /** Result rows a query may return; more FAILS with EXCEEDED_OUTPUT_SIZE_LIMIT. @default 1000000 */
  readonly maxResultRows?: number;
  /** Result size (characters of the formatted values) a query may return. @default 67108864 (64 Mi) */
  readonly maxResultBytes?: number;
  /** DuckDB memory limit of each running query. @default '1GB' */
  readonly queryMemoryLimit?: string;
  /** DuckDB threads of each running query. @default 2 */
  readonly queryThreads?: number;
  /** DuckDB instances: kept warm between queries, or one per query (for the benchmark's A/B; engine.ts). @default 'pooled' */
  readonly queryInstances?: 'pooled' | 'per-query';
}

export interface AthenaEndpoint extends RunningService {
  readonly catalog: ReadonlyMap<string, CatalogDatabase>;
  /** Resolves once the query worker has started (benchmarks, tests). */
  ready(): Promise<void>;
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

/** The AWS JSON 1.1 protocol's media type, the only one this endpoint reads. */
const AWS_JSON = 'application/x-amz-json-1.1';
/** StartQueryExecution's largest legal request (a 262,144-character QueryString, escaped) fits with room to spare. */
const MAX_REQUEST_BYTES = 2 * 1024 * 1024;

/**
 * How long GetQueryExecution may hold its answer for a QUEUED or RUNNING query, waiting for the
 * query to change state. A client that polls every few milliseconds then learns of the end as it
 * happens, with a handful of requests instead of hundreds competing with the query for the CPU;
 * the answer is the same as an immediate one would be a moment later, and the hold stays well
 * below any client's request timeout.
 */
const STATE_HOLD_MS = 100;

const invalid = (message: string): ApiError => new ApiError('InvalidRequestException', message);

/**
 * An s3://bucket/prefix/ URI. The prefix must not hold path segments a
 * file-backed S3 emulator would walk (`.`, `..`, empty), backslashes or
 * control characters: the result object is a file under the local S3 data dir.
 */
export function parseOutputLocation(loc: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]*)\/?(.*)$/.exec(loc);
  const bad = (why: string): ApiError => invalid(`ResultConfiguration.OutputLocation ${JSON.stringify(loc)} is not valid: ${why}`);
  if (!m) throw bad('expected s3://bucket/prefix/');
  const [, bucket, rawPrefix] = m as unknown as [string, string, string];
  if (!isValidBucketName(bucket)) throw bad(`${JSON.stringify(bucket)} is not a valid S3 bucket name`);
  const prefix = rawPrefix === '' || rawPrefix.endsWith('/') ? rawPrefix : `${rawPrefix}/`;
  if (prefix.length > 900) throw bad('the prefix is longer than 900 characters');
  // eslint-disable-next-line no-control-regex
  if (/[\\\u0000-\u001f\u007f]/.test(prefix)) throw bad('the prefix holds a backslash or a control character');
  const segments = prefix.split('/').slice(0, -1);
  if (segments.some((seg) => seg === '' || seg === '.' || seg === '..')) throw bad('the prefix holds an empty, "." or ".." path segment');
  return { bucket, prefix };
}

/** A JSON object field that must be absent or of one type. */
function field<T>(b: Body, name: string, check: (v: unknown) => v is T, expected: string): T | undefined {
  const v = b[name];
  if (v === undefined || v === null) return undefined;
  if (!check(v)) throw invalid(`1 validation error detected: Value at '${name}' failed to satisfy constraint: Member must be ${expected}`);
  return v;
}
const isString = (v: unknown): v is string => typeof v === 'string';
const isObject = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);

/** An integer request field within [min, max] (AWS JSON sends numbers as JSON numbers). */
function intField(b: Body, name: string, min: number, max: number): number | undefined {
  const v = b[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw invalid(`1 validation error detected: Value '${String(v)}' at '${name.charAt(0).toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must have value less than or equal to ${max} and greater than or equal to ${min}`);
  }
  return v;
}

const seconds = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : ms / 1000);

const positiveInt = (name: string, v: number, max: number): number => {
  if (!Number.isSafeInteger(v) || v < 1 || v > max) throw new ServiceStartError('Athena endpoint', `${name} must be a whole number between 1 and ${max} inclusive (given ${v})`);
  return v;
};

export async function startAthenaEndpoint(opts: AthenaEndpointOptions): Promise<AthenaEndpoint> {
  const port = opts.port ?? DEFAULT_ATHENA_PORT;
  const maxConcurrent = positiveInt('maxConcurrentQueries', opts.maxConcurrentQueries ?? 4, 64);
  const limits = {
    timeoutMs: positiveInt('queryTimeoutMs', opts.queryTimeoutMs ?? 600_000, 24 * 3600_000),
    maxResultRows: positiveInt('maxResultRows', opts.maxResultRows ?? 1_000_000, 1e9),
    maxResultBytes: positiveInt('maxResultBytes', opts.maxResultBytes ?? 64 * 1024 * 1024, 2 ** 40),
  };
  const queryThreads = positiveInt('queryThreads', opts.queryThreads ?? 2, 256);
  await assertPortFree('Athena endpoint', port);
  const bucket = opts.s3.bucket ?? DEFAULT_LAKE_BUCKET;
  const defaultOutput = opts.defaultOutputLocation ?? `s3://${bucket}/athena-results/`;
  try {
    parseOutputLocation(defaultOutput);
  } catch (err) {
    throw new ServiceStartError('Athena endpoint', `defaultOutputLocation: ${(err as Error).message}`);
  }
  const workGroups = new Set(opts.workGroups ?? ['primary']);
  const catalog = buildCatalog(opts.pipelines);
  const dataDir = path.resolve(opts.dataDir);
  const host = new QueryHost({
    catalog: catalogToData(catalog),
    s3: { endpoint: opts.s3.endpoint, bucket, region: opts.s3.region ?? 'us-east-1', credentials: opts.s3.credentials ?? { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
    cacheDir: path.join(dataDir, 'lake-cache'),
    dataDir,
    ...(opts.trino ? { trinoEndpoint: opts.trino.endpoint } : {}),
    ...(opts.s3.emulator ? { watchedLake: { directory: path.resolve(opts.s3.emulator.directory) }, resultsThroughEndpoint: true } : {}),
    engine: {
      // Under the emulator, DuckDB reads the lake bucket's object files in place (query-worker.ts).
      sandbox: { readableDirs: [path.join(dataDir, 'lake-cache'), ...(opts.s3.emulator ? [path.join(path.resolve(opts.s3.emulator.directory), bucket)] : [])], tempDir: path.join(dataDir, 'duckdb-tmp'), memoryLimit: opts.queryMemoryLimit ?? '1GB', threads: queryThreads },
      limits,
      ...(opts.queryInstances ? { instances: opts.queryInstances } : {}),
    },
  });
  // The prefixes the worker's lake index keeps (lake-index.ts apply): a change elsewhere in the
  // bucket, such as a result object, would be dropped there, so it is not sent.
  const tableLocations = [...new Set([...catalog.values()].flatMap((d) => [...d.tables.values()].map((t) => t.location)))];
  // Subscribed before the worker starts: no change between its first listing and the first report is missed.
  const unwatch = opts.s3.emulator?.onObjectChange((c) => {
    if (c.bucket === bucket && tableLocations.some((l) => c.key.startsWith(l))) host.notify([{ key: c.key, ...(c.etag !== undefined ? { etag: c.etag, size: c.size ?? 0 } : {}) }]);
  });
  host.start();
  const store = await QueryStore.open(dataDir).catch(async (err: unknown) => {
    unwatch?.();
    await host.stop();
    throw err;
  });
  const defaultDatabase = catalog.keys().next().value ?? 'default';

  const running = new Map<string, AbortController>();
  const settled = new Map<string, Promise<void>>();
  const queue: QueryRecord[] = [];
  let active = 0;
  let stopping = false;

  /** Held GetQueryExecution calls (STATE_HOLD_MS), by query id: answered when the query changes state. */
  const stateWaiters = new Map<string, Set<() => void>>();
  const stateChanged = (id: string): void => {
    const waiting = stateWaiters.get(id);
    if (!waiting) return;
    stateWaiters.delete(id);
    for (const wake of waiting) wake();
  };
  const nextState = (id: string): Promise<void> =>
    new Promise<void>((resolve) => {
      let waiting = stateWaiters.get(id);
      if (!waiting) stateWaiters.set(id, (waiting = new Set()));
      const set = waiting;
      const wake = (): void => {
        clearTimeout(timer);
        set.delete(wake);
        if (set.size === 0 && stateWaiters.get(id) === set) stateWaiters.delete(id);
        resolve();
      };
      const timer = setTimeout(wake, STATE_HOLD_MS);
      set.add(wake);
    });

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
    stateChanged(rec.id);
    await store.save(rec);
  };

  async function execute(rec: QueryRecord): Promise<void> {
    const ac = new AbortController();
    running.set(rec.id, ac);
    rec.state = 'RUNNING';
    rec.startedAt = Date.now();
    stateChanged(rec.id);
    // Not waited for: the final save follows it (QueryStore.save keeps one record's saves in order).
    store.save(rec).catch(() => undefined);
    let outcome: QuerySummary;
    let result: SmallResult | undefined;
    let object: ResultObject | undefined;
    const output = parseOutputLocation(rec.outputLocation.slice(0, rec.outputLocation.lastIndexOf('/') + 1));
    try {
      ({ summary: outcome, result, object } = await host.run(rec.id, rec.query, { database: rec.database, parameters: rec.parameters, output, signal: ac.signal }));
    } catch (err) {
      running.delete(rec.id);
      if (err instanceof QueryCancelled || ac.signal.aborted) return finish(rec, 'CANCELLED');
      const e = err instanceof AthenaQueryError ? err : new AthenaQueryError('GENERIC_INTERNAL_ERROR', (err as Error).message, undefined, 1);
      return finish(rec, 'FAILED', e);
    }
    running.delete(rec.id);
    if (object && result) {
      // A small result the worker wrote nothing of: its object and its header file are written
      // here, each whole before the next step (a small body needs no event-loop turn), and the
      // query is SUCCEEDED once both are: GetObject reads the object, and a restarted endpoint the result.
      try {
        await opts.s3.emulator!.putObject(object.bucket, object.key, object.body, object.contentType);
      } catch (err) {
        return finish(rec, 'FAILED', resultWriteError(err as Error, object.bucket, object.key));
      }
      try {
        store.commitSmall(rec.id, result);
      } catch (err) {
        return finish(rec, 'FAILED', new AthenaQueryError('GENERIC_INTERNAL_ERROR', `the result could not be written under ${dataDir}: ${(err as Error).message}`, undefined, 1));
      }
    } else if (result) store.keep(rec.id, result);
    rec.statementType = outcome.statementType;
    rec.substatementType = outcome.substatementType;
    rec.dataScannedBytes = outcome.dataScannedBytes;
    rec.outputLocation = `s3://${output.bucket}/${resultKey(output.prefix, rec.id, outcome.statementType)}`;
    await finish(rec, 'SUCCEEDED');
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
    if (typeof id !== 'string' || id === '' || id.length > 128) throw invalid('QueryExecutionId is required: a string of 1 to 128 characters');
    const rec = store.get(id);
    if (!rec) throw invalid(`QueryExecution ${id} was not found`);
    return rec;
  };

  const workGroup = (wg: unknown): string => {
    if (wg !== undefined && wg !== null && typeof wg !== 'string') throw invalid('WorkGroup must be a string');
    const name = wg === undefined || wg === null || wg === '' ? 'primary' : wg;
    if (!workGroups.has(name)) throw invalid(`WorkGroup ${name} is not found.`);
    return name;
  };

  const token = (o: Body): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  /**
   * The offset a NextToken carries: a safe integer in [0, total], for this
   * query (`id`) when given. Anything else is refused before any work is
   * sized by it (an offset of −1e17 once froze the process).
   */
  const untoken = (t: unknown, total: number, id?: string): number => {
    const bad = (): ApiError => invalid('NextToken is not valid for this request');
    if (typeof t !== 'string' || t.length === 0 || t.length > 1024) throw bad();
    let o: unknown;
    try {
      o = JSON.parse(Buffer.from(t, 'base64url').toString('utf8'));
    } catch {
      throw bad();
    }
    if (!isObject(o) || (id !== undefined && o.id !== id)) throw bad();
    const offset = o.offset;
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0 || offset > total) throw bad();
    return offset;
  };

  const operations = new Map<string, (b: Body) => Promise<Body> | Body>(Object.entries({
    async StartQueryExecution(b: Body): Promise<Body> {
      const query = b.QueryString;
      if (typeof query !== 'string' || query.length < 1 || query.length > 262144) throw invalid('QueryString must be 1 to 262144 characters long');
      const wg = workGroup(b.WorkGroup);
      const ctx = field(b, 'QueryExecutionContext', isObject, 'an object') ?? {};
      const db = field(ctx, 'Database', isString, 'a string');
      if (db !== undefined && db.length > 255) throw invalid('QueryExecutionContext.Database must be at most 255 characters');
      const database = db ? db.toLowerCase() : defaultDatabase;
      const params = field(b, 'ExecutionParameters', isStringArray, 'a list of strings');
      if (params && (params.length > 1000 || params.some((p) => p.length < 1 || p.length > 1024))) throw invalid('ExecutionParameters must hold at most 1000 strings of 1 to 1024 characters');
      const clientToken = field(b, 'ClientRequestToken', isString, 'a string');
      if (clientToken !== undefined && clientToken.length > 128) throw invalid('ClientRequestToken must be at most 128 characters');
      if (clientToken) {
        const prev = store.byClientToken(clientToken);
        if (prev) {
          if (prev.query !== query || prev.database !== database || prev.workGroup !== wg) throw invalid('Idempotent parameters do not match');
          return { QueryExecutionId: prev.id };
        }
      }
      const output = field(field(b, 'ResultConfiguration', isObject, 'an object') ?? {}, 'OutputLocation', isString, 'a string');
      const base = output ? output : defaultOutput;
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
      // Queued while its record is written: the record is in memory already, and its saves stay in order.
      const added = store.add(rec);
      queue.push(rec);
      pump();
      await added;
      return { QueryExecutionId: id };
    },
    async GetQueryExecution(b: Body): Promise<Body> {
      const rec = record(b.QueryExecutionId);
      if ((rec.state === 'QUEUED' || rec.state === 'RUNNING') && !stopping) await nextState(rec.id);
      return { QueryExecution: describe(rec) };
    },
    BatchGetQueryExecution(b: Body): Body {
      const ids = b.QueryExecutionIds;
      if (!isStringArray(ids) || ids.length < 1 || ids.length > 50) throw invalid('QueryExecutionIds must hold 1 to 50 ids');
      const found = ids.map((id) => store.get(id)).filter((r): r is QueryRecord => !!r);
      return {
        QueryExecutions: found.map(describe),
        UnprocessedQueryExecutionIds: ids.filter((id) => !store.get(id)).map((id) => ({ QueryExecutionId: id, ErrorCode: 'INVALID_INPUT', ErrorMessage: `QueryExecution ${id} was not found` })),
      };
    },
    async GetQueryResults(b: Body): Promise<Body> {
      const rec = record(b.QueryExecutionId);
      // Athena API reference, GetQueryResults: MaxResults 1-1000.
      const max = intField(b, 'MaxResults', 1, 1000) ?? 1000;
      if (rec.state === 'QUEUED' || rec.state === 'RUNNING') throw invalid(`Query has not yet finished. Current state: ${rec.state}`);
      if (rec.state === 'FAILED') throw invalid(rec.stateChangeReason ?? 'Query failed');
      if (rec.state === 'CANCELLED') throw invalid('Query did not finish successfully. Final query state: CANCELLED');
      const result = await store.resultHeader(rec.id);
      if (!result) throw new ApiError('InternalServerException', `The result of query ${rec.id} is missing from ${opts.dataDir}`, 500);
      const header = result.headerRow ? [result.columns.map((c) => c.Name)] : [];
      const total = header.length + result.rowCount;
      const offset = b.NextToken === undefined || b.NextToken === null ? 0 : untoken(b.NextToken, total, rec.id);
      const page: (readonly (string | null)[])[] = header.slice(offset, offset + max);
      page.push(...(await store.resultRows(rec.id, result, Math.max(0, offset - header.length), offset + max - header.length)));
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
    async StopQueryExecution(b: Body): Promise<Body> {
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
    ListQueryExecutions(b: Body): Body {
      const wg = workGroup(b.WorkGroup);
      // Athena API reference, ListQueryExecutions: MaxResults 0-50.
      const max = intField(b, 'MaxResults', 0, 50) ?? 50;
      const all = store.list(wg);
      const offset = b.NextToken === undefined || b.NextToken === null ? 0 : untoken(b.NextToken, all.length);
      const ids = all.slice(offset, offset + max).map((r) => r.id);
      return { QueryExecutionIds: ids, NextToken: offset + max < all.length ? token({ offset: offset + max }) : undefined };
    },
    GetWorkGroup(b: Body): Body {
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
    ListWorkGroups(): Body {
      return {
        WorkGroups: [...workGroups].map((name) => ({ Name: name, State: 'ENABLED', Description: 'Shardflow local Athena endpoint (DuckDB)', CreationTime: 0, EngineVersion: { SelectedEngineVersion: 'AUTO', EffectiveEngineVersion: 'Athena engine version 3' } })),
      };
    },
  }));

  // Host/Origin (DNS rebinding, cross-site pages), form posts, Content-Type and body size: local/http-guard.ts.
  const guard = { service: 'Athena endpoint', ports: [port], contentTypes: [AWS_JSON], maxBodyBytes: MAX_REQUEST_BYTES, errorFormat: 'json' } as const;
  const server = http.createServer(guardedListener(guard, (req, res) => {
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
          // A Map: `AmazonAthena.constructor` or `__proto__` must not reach an Object prototype member.
          const op = operations.get(target.slice('AmazonAthena.'.length));
          if (!op) throw new ApiError('UnknownOperationException', `operation ${target} is not supported by the local Athena endpoint`);
          // The AWS JSON 1.1 protocol's media type; a browser cannot send it cross-origin without a CORS preflight, which this endpoint never grants.
          const contentType = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
          if (contentType !== AWS_JSON) throw new ApiError('UnsupportedMediaTypeException', `Content-Type must be application/x-amz-json-1.1 (given ${JSON.stringify(req.headers['content-type'] ?? '')})`, 415);
          let parsed: unknown;
          try {
            const text = Buffer.concat(chunks).toString('utf8');
            parsed = text ? JSON.parse(text) : {};
          } catch {
            throw new ApiError('SerializationException', 'request body is not valid JSON');
          }
          if (!isObject(parsed)) throw invalid(`request body must be a JSON object (given ${parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : typeof parsed})`);
          const body = parsed;
          send(200, await op(body));
        } catch (err) {
          if (err instanceof ApiError) send(err.status, { __type: err.type, message: err.message });
          else send(500, { __type: 'InternalServerException', message: (err as Error).message });
        }
      })();
    });
  }));

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => {
      unwatch?.();
      void host.stop().finally(() => reject(new ServiceStartError('Athena endpoint', `failed to listen on 127.0.0.1:${port}: ${err.message}`)));
    });
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
    ready: () => host.started(),
    async stop() {
      if (stopped) return;
      stopped = true;
      stopping = true;
      for (const id of [...stateWaiters.keys()]) stateChanged(id);
      unwatch?.();
      for (const ac of running.values()) ac.abort();
      // Killing the worker ends every query in it at once (they finish CANCELLED).
      await host.stop();
      await Promise.allSettled([...settled.values()]);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
