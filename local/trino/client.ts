/**
 * A minimal Trino client: the HTTP statement protocol (POST /v1/statement, then
 * GET each `nextUri` until there is none), rows decoded to plain JS values.
 *
 * Our own rather than npm `trino-client`: that one pulls in axios for what is
 * one POST and a loop of GETs, and hides the per-query stats (physical input
 * bytes, splits) and the query id that the pruning tests read. Node's fetch is
 * enough, and we control the timeout and the cancel (DELETE of nextUri).
 * Protocol: https://trino.io/docs/current/develop/client-protocol.html
 */

export interface TrinoColumn {
  readonly name: string;
  /** Trino type signature as text, e.g. `varchar`, `timestamp(3)`, `array(bigint)`. */
  readonly type: string;
}

/** The final `stats` object of a statement (the fields the project reads). */
export interface TrinoQueryStats {
  readonly state: string;
  readonly processedRows: number;
  readonly processedBytes: number;
  readonly physicalInputBytes: number;
  readonly totalSplits: number;
  readonly completedSplits: number;
  readonly elapsedTimeMillis: number;
  readonly [k: string]: unknown;
}

export interface TrinoResult {
  readonly queryId: string;
  readonly columns: readonly TrinoColumn[];
  /** Row values as Trino's JSON encodes them: numbers, strings (varchar, date, timestamp, decimal), arrays, objects for maps/rows. */
  readonly rows: readonly unknown[][];
  readonly stats: TrinoQueryStats;
  /** The statement's update type (e.g. `CREATE TABLE`), when it was not a query. */
  readonly updateType?: string;
}

/** A statement Trino failed: its error name (e.g. `TABLE_NOT_FOUND`) and message, as Athena would report them. */
export class TrinoQueryError extends Error {
  constructor(
    readonly errorName: string,
    readonly errorType: string,
    message: string,
    readonly queryId: string | undefined,
    readonly sql: string,
  ) {
    super(`${errorName}: ${message}`);
    this.name = 'TrinoQueryError';
  }
}

export interface TrinoSession {
  /** @default 'shardflow' */
  readonly user?: string;
  readonly catalog?: string;
  readonly schema?: string;
  /** Session time zone. @default 'UTC' (Athena's) */
  readonly timeZone?: string;
  /** Session properties, sent as X-Trino-Session. */
  readonly properties?: Readonly<Record<string, string>>;
}

export interface TrinoQueryOptions extends TrinoSession {
  /** Give up (and cancel the query) after this long, in ms. @default 300000 */
  readonly timeoutMs?: number;
  /** Cancels the query (DELETE of its nextUri) when aborted; the call then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Prepared statements the SQL may EXECUTE, by name (X-Trino-Prepared-Statement). */
  readonly preparedStatements?: Readonly<Record<string, string>>;
  /**
   * How long to keep resubmitting a statement Trino refused with NO_NODES_AVAILABLE, in ms. That error is
   * raised while scheduling, before any split ran, so a resubmission cannot run anything twice; a single
   * node that is its own worker reports it while its announcement is late (a loaded machine). @default 30000
   */
  readonly noNodesRetryMs?: number;
}

interface StatementResponse {
  id: string;
  nextUri?: string;
  columns?: { name: string; type: string }[];
  data?: unknown[][];
  stats: TrinoQueryStats;
  updateType?: string;
  error?: { message: string; errorName: string; errorType: string };
}

export class TrinoClient {
  constructor(
    /** e.g. http://127.0.0.1:8080 */
    readonly endpoint: string,
    private readonly defaults: TrinoSession = {},
  ) {}

  /** Runs one statement to the end and returns all of its rows. */
  async query(sql: string, opts: TrinoQueryOptions = {}): Promise<TrinoResult> {
    const retryUntil = Date.now() + (opts.noNodesRetryMs ?? 30_000);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.queryOnce(sql, opts);
      } catch (err) {
        if (!(err instanceof TrinoQueryError) || err.errorName !== 'NO_NODES_AVAILABLE' || Date.now() >= retryUntil || opts.signal?.aborted) throw err;
        await new Promise((r) => setTimeout(r, Math.min(1_000, 100 * 2 ** attempt)));
      }
    }
  }

  private async queryOnce(sql: string, opts: TrinoQueryOptions): Promise<TrinoResult> {
    const s = { ...this.defaults, ...opts };
    const headers: Record<string, string> = {
      'X-Trino-User': s.user ?? 'shardflow',
      'X-Trino-Time-Zone': s.timeZone ?? 'UTC',
      'Content-Type': 'text/plain; charset=utf-8',
    };
    if (s.catalog) headers['X-Trino-Catalog'] = s.catalog;
    if (s.schema) headers['X-Trino-Schema'] = s.schema;
    const prepared = Object.entries(opts.preparedStatements ?? {});
    if (prepared.length > 0) headers['X-Trino-Prepared-Statement'] = prepared.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join(',');
    const props = Object.entries(s.properties ?? {});
    if (props.length > 0) headers['X-Trino-Session'] = props.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join(',');

    const deadline = Date.now() + (opts.timeoutMs ?? 300_000);
    let res = await this.call(`${this.endpoint}/v1/statement`, { method: 'POST', headers, body: sql }, deadline, sql);
    let columns: TrinoColumn[] | undefined;
    const rows: unknown[][] = [];
    for (;;) {
      if (res.columns && !columns) columns = res.columns.map((c) => ({ name: c.name, type: c.type }));
      if (res.data) for (const r of res.data) rows.push(r);
      if (res.error) throw new TrinoQueryError(res.error.errorName, res.error.errorType, res.error.message, res.id, sql);
      if (!res.nextUri) break;
      if (opts.signal?.aborted) {
        await fetch(res.nextUri, { method: 'DELETE' }).catch(() => undefined);
        opts.signal.throwIfAborted();
      }
      if (Date.now() > deadline) {
        await fetch(res.nextUri, { method: 'DELETE' }).catch(() => undefined);
        throw new TrinoQueryError('EXCEEDED_TIME_LIMIT', 'USER_ERROR', `client gave up after ${opts.timeoutMs ?? 300_000} ms`, res.id, sql);
      }
      res = await this.call(res.nextUri, { method: 'GET', headers: { 'X-Trino-User': headers['X-Trino-User']! } }, deadline, sql);
    }
    return { queryId: res.id, columns: columns ?? [], rows, stats: res.stats, ...(res.updateType ? { updateType: res.updateType } : {}) };
  }

  /** The coordinator's full query info (GET /v1/query/{id}): operator and input stats beyond the statement's. */
  async queryInfo(queryId: string): Promise<Record<string, unknown>> {
    const r = await fetch(`${this.endpoint}/v1/query/${encodeURIComponent(queryId)}`, { headers: { 'X-Trino-User': this.defaults.user ?? 'shardflow' } });
    if (!r.ok) throw new Error(`Trino at ${this.endpoint}: GET /v1/query/${queryId} answered ${r.status}`);
    return (await r.json()) as Record<string, unknown>;
  }

  private async call(url: string, init: RequestInit, deadline: number, sql: string): Promise<StatementResponse> {
    // The protocol's 502/503/504 mean "retry"; anything else non-200 is a failure.
    for (let attempt = 0; ; attempt++) {
      const r = await fetch(url, { ...init, signal: AbortSignal.timeout(Math.max(1_000, deadline - Date.now())) });
      if (r.ok) return (await r.json()) as StatementResponse;
      if ((r.status === 502 || r.status === 503 || r.status === 504) && attempt < 20 && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 50 * (attempt + 1)));
        continue;
      }
      const body = (await r.text()).slice(0, 1_000);
      throw new TrinoQueryError('HTTP_ERROR', 'EXTERNAL', `${init.method} ${url} answered ${r.status}: ${body}`, undefined, sql);
    }
  }
}
