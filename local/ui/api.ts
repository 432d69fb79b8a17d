/**
 * The UI's JSON API. Every answer is read from the runtime's own state
 * (`status()`, the sampled history), from the local Athena endpoint through
 * the same SDK calls `shardflow query` makes, or from the objects the
 * pipeline wrote (on-failure records, scheduled-query run records). Nothing
 * here recomputes what those sources already hold: the window chart is the
 * aggregate view's rows, the late and quarantine browsers are the tables'
 * rows, paged by Athena's own NextToken.
 */
import { GetQueryExecutionCommand, GetQueryResultsCommand, type AthenaClient } from '@aws-sdk/client-athena';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { aggregateView, lakeTables, measureKind, nextFireTimes, pipelineColumns, pipelineFilterSql, quoteIdentifier, type Pipeline } from '../../core';
import { runAthenaQuery, startQuery, QueryFailedError } from '../../functions/query-runner/athena-query';
import { listQueryRuns } from '../../functions/query-runner/run-scheduled-query';
import { listObjects } from '../../functions/shared/s3-list';
import type { PipelineStatus, RuntimeInfo } from '../runtime';
import type { StatusHistory } from './history';

/** What the UI reads from a running `dev`. */
export interface UiSources {
  readonly info: RuntimeInfo;
  readonly pipelines: readonly Pipeline[];
  status(): PipelineStatus[];
  readonly s3: S3Client;
  readonly athena: AthenaClient;
  readonly history: StatusHistory;
  /** @default Date.now */
  readonly now?: () => number;
}

/** A client error: answered with its status and `{ error: message }`. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json | undefined };

export interface ApiRequest {
  readonly method: 'GET' | 'POST';
  /** Path below /api/, split on '/', each segment URI-decoded. */
  readonly segments: readonly string[];
  readonly query: URLSearchParams;
  readonly body: Record<string, unknown> | null;
}

export type ApiAnswer = { kind: 'json'; body: Json } | { kind: 'csv'; body: string; filename: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Rows of the window chart: enough for hours of one-minute windows over dozens of groups. */
const MAX_WINDOW_ROWS = 5_000;
/** On-failure records listed per pipeline (newest first). */
const MAX_FAILED_BATCHES = 100;

/** `CODE: line L:C: message`, as Athena (and the local endpoint) word a failed query. */
export function parseAthenaError(reason: string): { code: string | null; line: number | null; column: number | null; message: string } {
  const m = /^([A-Z_]+): (?:line (\d+):(\d+): )?([\s\S]*)$/.exec(reason);
  if (!m) return { code: null, line: null, column: null, message: reason };
  return { code: m[1]!, line: m[2] ? Number(m[2]) : null, column: m[3] ? Number(m[3]) : null, message: m[4]! };
}

/** Athena's timestamp text (`2026-12-01 10:00:00.000`, UTC) as epoch millis. */
function athenaTimestamp(s: string): number {
  return Date.parse(`${s.replace(' ', 'T')}Z`);
}

function pipelineNamed(src: UiSources, name: string | undefined): Pipeline {
  const p = src.pipelines.find((x) => x.name === name);
  if (!p) throw new ApiError(404, `no pipeline named ${JSON.stringify(name)} (known: ${src.pipelines.map((x) => x.name).join(', ')})`);
  return p;
}

function intParam(q: URLSearchParams, name: string, dflt: number, min: number, max: number): number {
  const v = q.get(name);
  if (v === null) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new ApiError(400, `${name} must be a whole number from ${min} to ${max} (given ${JSON.stringify(v)})`);
  return n;
}

function overview(src: UiSources): Json {
  const now = (src.now ?? Date.now)();
  return {
    at: new Date(now).toISOString(),
    startedAt: src.info.startedAt,
    endpoints: { ...src.info.endpoints },
    pipelines: src.status().map((s) => {
      const p = pipelineNamed(src, s.pipeline);
      const history = src.history.of(s.pipeline);
      const last = history.at(-1);
      return {
        name: s.pipeline,
        database: p.database,
        description: p.description,
        source: s.source,
        sourceKind: p.source.kind,
        counts: { ...s.counts },
        eventsIn: last?.eventsIn ?? 0,
        eventsPerSec: last?.eventsPerSec ?? null,
        lagMs: last?.lagMs ?? null,
        lagRecords: last?.lagRecords ?? null,
        failures: last?.failures ?? 0,
        retries: last?.retries ?? 0,
        discarded: last?.discarded ?? 0,
        partitions: (s.mapping?.partitions ?? []).map((x) => ({ ...x, lastError: x.lastError ? { ...x.lastError } : null })),
        history: history.map((h) => ({ ...h })),
      };
    }),
  };
}

function definition(p: Pipeline, now: number): Json {
  const tables = lakeTables(p);
  const fieldType = (n: string) => pipelineColumns(p).find((f) => f.name === n)!.type;
  return {
    name: p.name,
    description: p.description,
    source: p.source.kind === 'kinesis' ? { kind: 'kinesis', stream: p.source.stream, shards: p.source.shards } : { kind: 'kafka', topic: p.source.topic, partitions: p.source.partitions },
    database: p.database,
    schema: p.schema.map((f) => ({ name: f.name, type: f.type, required: f.required })),
    eventTime: p.eventTime,
    filter: pipelineFilterSql(p),
    allowedLatenessMs: p.allowedLatenessMs,
    aggregates: p.aggregates.map((a) => ({
      view: a.view,
      partials: a.partials,
      groupBy: [...a.groupBy],
      // The validated Window: { kind: 'tumbling', sizeMs } | { kind: 'hopping', sizeMs, everyMs } | { kind: 'session', gapMs }.
      window: { ...a.window },
      // The view's measure columns (a percentile measure has one per quantile), each with its measure's kind.
      measures: a.measures.flatMap((m) => measureKind(m.spec).viewColumns(m.name, m.spec, fieldType).map((c) => ({ name: c.name, fn: m.spec.fn }))),
    })),
    tables: tables.map((t) => ({ name: t.name, role: t.role, format: t.format, location: t.location })),
    scheduledQueries: p.scheduledQueries.map((q) => ({ name: q.name, schedule: q.schedule, description: q.description, sql: q.sql, nextRun: new Date(nextFireTimes(q.schedule, now, 1)[0] ?? NaN).toISOString() })),
  };
}

/**
 * The aggregate view's windows since `minutes` ago, one measure: the view's
 * rows as Athena returns them. A window is open while an event for it can
 * still arrive on time: until its end plus the allowed lateness (an event is
 * late when arrival − event time exceeds it, core/process-batch.ts).
 */
async function windows(src: UiSources, p: Pipeline, q: URLSearchParams): Promise<Json> {
  const a = p.aggregates.find((x) => x.view === (q.get('view') ?? p.aggregates[0]?.view));
  if (!a) {
    if (p.aggregates.length === 0) throw new ApiError(404, `pipeline ${p.name} has no aggregate`);
    throw new ApiError(400, `view must be one of ${p.aggregates.map((x) => x.view).join(', ')} (given ${JSON.stringify(q.get('view'))})`);
  }
  const view = aggregateView(p, a);
  const fieldType = (n: string) => pipelineColumns(p).find((f) => f.name === n)!.type;
  const measureColumns = a.measures.flatMap((x) => measureKind(x.spec).viewColumns(x.name, x.spec, fieldType).map((c) => c.name));
  const measure = q.get('measure') ?? measureColumns[0]!;
  if (!measureColumns.includes(measure)) throw new ApiError(400, `measure must be one of ${measureColumns.join(', ')} (given ${JSON.stringify(measure)})`);
  const minutes = intParam(q, 'minutes', 30, 1, 7 * 24 * 60);
  const now = (src.now ?? Date.now)();
  const since = new Date(now - minutes * 60_000).toISOString().replace('T', ' ').replace('Z', '');
  const groups = a.groupBy.map(quoteIdentifier);
  // approxDistinct is a sketch column in the partials and a number in the view: the view is what is charted.
  const sql = `SELECT window_start, window_end${groups.map((g) => `, ${g}`).join('')}, ${quoteIdentifier(measure)}
FROM ${quoteIdentifier(p.database)}.${quoteIdentifier(view.name)}
WHERE window_start >= TIMESTAMP '${since}'
ORDER BY window_start${groups.map((g) => `, ${g}`).join('')}
LIMIT ${MAX_WINDOW_ROWS}`;
  const r = await runQuery(src, sql, p.database);
  return {
    sql,
    view: a.view,
    measure,
    groupBy: [...a.groupBy],
    columns: r.columns.map((c) => ({ ...c })),
    rows: r.rows.map((row) => {
      const end = athenaTimestamp(row[1] ?? '');
      return { values: [...row], openUntil: new Date(end + p.allowedLatenessMs).toISOString(), open: now < end + p.allowedLatenessMs };
    }),
    truncated: r.rows.length >= MAX_WINDOW_ROWS,
    dataScannedBytes: r.dataScannedBytes,
    engineExecutionMs: r.engineExecutionMs,
    queryExecutionId: r.queryExecutionId,
  };
}

async function runQuery(src: UiSources, sql: string, database: string) {
  try {
    return await runAthenaQuery(src.athena, { sql, database }, { pollInitialMs: 20, pollMaxMs: 200, timeoutMs: 60_000, maxRows: MAX_WINDOW_ROWS });
  } catch (err) {
    if (err instanceof QueryFailedError) throw new ApiError(400, err.reason);
    throw err;
  }
}

/** The SQL behind the late and quarantine browsers: the whole table, newest first. */
function browseSql(p: Pipeline, role: 'late' | 'quarantine'): string {
  const t = lakeTables(p).find((x) => x.role === role)!;
  const order = role === 'late' ? 'arrival_time DESC' : 'received_at DESC, source, position';
  return `SELECT * FROM ${quoteIdentifier(t.database)}.${quoteIdentifier(t.name)} ORDER BY ${order}`;
}

async function startSql(src: UiSources, sql: string, database: string): Promise<Json> {
  const id = await startQuery(src.athena, { sql, database });
  return { queryExecutionId: id, sql };
}

async function queryState(src: UiSources, id: string): Promise<Json> {
  const { QueryExecution: qe } = await src.athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
  if (!qe) throw new ApiError(404, `no query execution ${id}`);
  const reason = qe.Status?.StateChangeReason ?? qe.Status?.AthenaError?.ErrorMessage ?? null;
  return {
    queryExecutionId: id,
    state: qe.Status?.State ?? 'UNKNOWN',
    sql: qe.Query ?? '',
    statementType: qe.StatementType ?? null,
    error: qe.Status?.State === 'FAILED' && reason ? parseAthenaError(reason) : null,
    reason,
    dataScannedBytes: qe.Statistics?.DataScannedInBytes ?? 0,
    engineExecutionMs: qe.Statistics?.EngineExecutionTimeInMillis ?? 0,
    totalExecutionMs: qe.Statistics?.TotalExecutionTimeInMillis ?? 0,
    outputLocation: qe.ResultConfiguration?.OutputLocation ?? null,
  };
}

/**
 * One page of a finished query's rows, by Athena's NextToken. A SELECT's
 * first page starts with the column names (GetQueryResults); it is asked for
 * one row more and the names row dropped, so every page holds `size` rows.
 */
async function queryPage(src: UiSources, id: string, q: URLSearchParams): Promise<Json> {
  const size = intParam(q, 'size', 100, 1, 999);
  const token = q.get('token') || undefined;
  const { QueryExecution: qe } = await src.athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
  const header = qe?.StatementType === 'DML' && !token;
  let page;
  try {
    page = await src.athena.send(new GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: header ? size + 1 : size, NextToken: token }));
  } catch (err) {
    throw new ApiError(400, (err as Error).message);
  }
  let rows = (page.ResultSet?.Rows ?? []).map((r) => (r.Data ?? []).map((d) => d.VarCharValue ?? null));
  if (header) rows = rows.slice(1);
  return {
    columns: (page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []).map((c) => ({ name: c.Name ?? c.Label ?? '', type: c.Type ?? 'varchar' })),
    rows,
    nextToken: page.NextToken ?? null,
  };
}

/** The result CSV Athena wrote to its output location, byte for byte. */
async function queryCsv(src: UiSources, id: string): Promise<ApiAnswer> {
  const { QueryExecution: qe } = await src.athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
  if (qe?.Status?.State !== 'SUCCEEDED') throw new ApiError(409, `query ${id} has not succeeded (state ${qe?.Status?.State ?? 'unknown'})`);
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(qe.ResultConfiguration?.OutputLocation ?? '');
  // Only the lake bucket's objects are served: the runtime's Athena writes its results there.
  if (!m || m[1] !== src.info.lakeBucket) throw new ApiError(404, `query ${id} has no result in s3://${src.info.lakeBucket}/`);
  const obj = await src.s3.send(new GetObjectCommand({ Bucket: m[1], Key: m[2] }));
  return { kind: 'csv', body: await obj.Body!.transformToString(), filename: `${id}.csv` };
}

/** Records of batches the mapping gave up on, from the on-failure destination, newest first. */
async function failedBatches(src: UiSources, p: Pipeline): Promise<Json> {
  const uuid = src.status().find((s) => s.pipeline === p.name)?.mapping?.uuid;
  if (!uuid) return { destination: `s3://${src.info.failureBucket}/`, batches: [] };
  const prefix = `aws/lambda/${uuid}/`;
  const objects = (await listObjects(src.s3, src.info.failureBucket, prefix)).map((o) => ({ key: o.key, at: o.lastModified, size: o.size }));
  objects.sort((a, b) => b.at - a.at || b.key.localeCompare(a.key));
  const batches: Json[] = [];
  for (const o of objects.slice(0, MAX_FAILED_BATCHES)) {
    const obj = await src.s3.send(new GetObjectCommand({ Bucket: src.info.failureBucket, Key: o.key }));
    const text = await obj.Body!.transformToString();
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(text) as Record<string, unknown>;
    } catch {
      batches.push({ key: o.key, size: o.size, unreadable: 'not JSON' });
      continue;
    }
    const { payload, ...record } = doc;
    batches.push({ key: o.key, size: o.size, record: record as Json, payload: typeof payload === 'string' ? payload : null });
  }
  return { destination: `s3://${src.info.failureBucket}/${prefix}`, total: objects.length, batches };
}

async function runs(src: UiSources, p: Pipeline): Promise<Json> {
  const records = await listQueryRuns(src.s3, src.info.lakeBucket, p.name);
  return { runs: records.map((r) => ({ ...r })).reverse() as unknown as Json };
}

function queryId(s: string | undefined): string {
  if (!s || !UUID.test(s)) throw new ApiError(400, `not a query execution id: ${JSON.stringify(s)}`);
  return s;
}

export async function handleApi(src: UiSources, req: ApiRequest): Promise<ApiAnswer> {
  const [a, b, c, d] = req.segments;
  const json = (body: Json | Promise<Json>) => Promise.resolve(body).then((x): ApiAnswer => ({ kind: 'json', body: x }));
  if (req.method === 'GET') {
    if (a === 'overview' && !b) return json(overview(src));
    const now = (src.now ?? Date.now)();
    if (a === 'pipelines' && !b) return json(src.pipelines.map((p) => definition(p, now)));
    if (a === 'pipelines' && b && !c) return json(definition(pipelineNamed(src, b), now));
    if (a === 'pipelines' && c === 'windows' && !d) return json(windows(src, pipelineNamed(src, b), req.query));
    if (a === 'pipelines' && c === 'failed-batches' && !d) return json(failedBatches(src, pipelineNamed(src, b)));
    if (a === 'pipelines' && c === 'runs' && !d) return json(runs(src, pipelineNamed(src, b)));
    if (a === 'queries' && b && !c) return json(queryState(src, queryId(b)));
    if (a === 'queries' && c === 'results' && !d) return json(queryPage(src, queryId(b), req.query));
    if (a === 'queries' && c === 'csv' && !d) return queryCsv(src, queryId(b));
  } else {
    if (a === 'queries' && !b) {
      const sql = req.body?.sql;
      if (typeof sql !== 'string' || sql.trim() === '') throw new ApiError(400, 'sql must be a non-empty string');
      const database = req.body?.database ?? src.pipelines[0]?.database ?? 'shardflow';
      if (typeof database !== 'string' || !/^[a-z_][a-z0-9_]*$/.test(database)) throw new ApiError(400, `database must be a lower-case name (given ${JSON.stringify(database)})`);
      return json(startSql(src, sql, database));
    }
    if (a === 'pipelines' && c === 'browse' && !d) {
      const p = pipelineNamed(src, b);
      const table = req.body?.table;
      if (table !== 'late' && table !== 'quarantine') throw new ApiError(400, `table must be "late" or "quarantine" (given ${JSON.stringify(table)})`);
      return json(startSql(src, browseSql(p, table), p.database));
    }
  }
  throw new ApiError(404, `no such API: ${req.method} /api/${req.segments.join('/')}`);
}
