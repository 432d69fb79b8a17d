/**
 * Runs one Athena statement on a sandboxed in-memory DuckDB: classify, translate,
 * parse (DuckDB's parser), resolve tables against the catalog, prune and fetch
 * lake objects, point the table views at them, execute, stream the result.
 *
 * The engine stays warm between queries. Each running query has a sandboxed
 * DuckDB instance (sandbox.ts) to itself, taken from a pool, so cancelling
 * (interrupt) or failing one query cannot disturb another; an instance keeps
 * its catalog (a view per table and aggregate view) between queries, and a
 * query only redefines the table views it reads whose objects changed. Which
 * objects a table holds comes from the lake index (lake-index.ts: kept by the
 * S3 emulator's change reports, or listed per query), the column types of each
 * file and the `_from` of each compacted file are read once per file, and
 * DuckDB caches Parquet metadata. After every query the instance's catalog is
 * checked to be exactly what the engine made of it, or the instance is closed.
 * Every parse tree passes the allow-list (sql-guard.ts) first; results are read
 * chunk by chunk into the sink and stop at the row/byte caps; a query past its
 * time limit is interrupted.
 */
import { setMaxListeners } from 'node:events';
import type { DuckDBConnection, DuckDBInstance, DuckDBPreparedStatement } from '@duckdb/node-api';
import { COMPACTED_PREFIX, FROM_COLUMN, type LakeTable, type LakeView } from '../../core';
import { duckdbType, emptyRelationSql, hiveTypeName, quoteIdent, quoteString, tableRelationSql, type CatalogDatabase, type LakeObject, type LakeReader, type PathColumn, type SourceTypes } from './catalog';
import { LakeIndex } from './lake-index';
import { daysOfTimeRange, partitionsOfTimeRange, planFromParseTree, type PartitionKey, type PartitionPredicate, type QueryPlan, type TableReference } from './query-plan';
import { columnInfo, formatValue, stringColumn, type ColumnInfo } from './result-format';
import { openSandboxedDuckDB, SandboxPool, type SandboxOptions } from './sandbox';
import { guardParseTree, GuardViolation } from './sql-guard';
import { AthenaQueryError, classifyStatement, lineColumn, tokenize, translateSql, type Translation } from './sql-translate';

/** The one data catalog, as Athena names it. */
export const CATALOG = 'awsdatacatalog';

type Row = readonly (string | null)[];

export interface QueryOutcome {
  readonly columns: readonly ColumnInfo[];
  readonly rows: readonly Row[];
  /** SELECT results start with a header row in GetQueryResults and the CSV; SHOW/DESCRIBE results do not. */
  readonly headerRow: boolean;
  /** Bytes of lake objects read. */
  readonly dataScannedBytes: number;
  readonly statementType: 'DML' | 'UTILITY';
  readonly substatementType: string;
}

/** What the endpoint keeps of a successful query; the rows went to a ResultSink. */
export type QuerySummary = Omit<QueryOutcome, 'rows'> & {
  readonly rowCount: number;
  /** Lake objects the query read (the table views' files), for tests and the benchmark. */
  readonly objectsRead: number;
};

/** Where a query's result goes as it is read: the columns once, then the rows chunk by chunk. */
export interface ResultSink {
  start(columns: readonly ColumnInfo[], headerRow: boolean): void | Promise<void>;
  rows(rows: readonly Row[]): void | Promise<void>;
}

export interface RunOptions {
  /** QueryExecutionContext.Database. */
  readonly database: string;
  /** ExecutionParameters: SQL literal text for each `?`. */
  readonly parameters?: readonly string[];
  readonly signal?: AbortSignal;
}

/** What one query may use. */
export interface QueryLimits {
  /** Wall time from start to the last result row, ms. */
  readonly timeoutMs: number;
  /** Result rows (the header row not counted). */
  readonly maxResultRows: number;
  /** Result bytes: the UTF-16 length of every formatted value, as a bound on what the result holds in memory. */
  readonly maxResultBytes: number;
}

export interface EngineOptions {
  readonly sandbox: SandboxOptions;
  readonly limits: QueryLimits;
  /**
   * 'pooled': sandboxed instances stay open between queries (one per running query), catalog kept.
   * 'per-query': a new instance per query, closed after it (the benchmark's A/B baseline).
   * @default 'pooled'
   */
  readonly instances?: 'pooled' | 'per-query';
}

export class QueryCancelled extends Error {
  constructor() {
    super('Query cancelled');
    this.name = 'QueryCancelled';
  }
}

/** What the engine made of an instance's catalog, to redefine only what changed and to check it after each query. */
interface InstanceCatalog {
  /** Table view → the SELECT it is defined as now. */
  readonly relations: Map<string, string>;
  /** Table views still the empty relation they were made as (no query has read the table on this instance). */
  readonly unread: Set<string>;
  /** Table view → the shape of the read it was defined for (readShape). */
  readonly shapes: Map<string, string>;
  /** Digest of every view's definition and the counts of other objects, as the engine left them. */
  digest: string;
}

/** Where Trino would report a table (its qualified name) in a view key. */
const viewKey = (db: string, name: string): string => `${CATALOG}.${quoteIdent(db)}.${quoteIdent(name)}`;

/**
 * The catalog's fingerprint: the object id of every view (CREATE OR REPLACE gives a view a new
 * one, so a changed view shows even with the same text), and any database or table a query
 * should never leave. Ids, not the views' text: hashing the text of views over a day of files
 * cost tens of milliseconds per query.
 */
const CATALOG_DIGEST_SQL =
  "SELECT (SELECT count(*) FROM duckdb_databases() WHERE NOT internal AND database_name NOT IN ('memory', '" + CATALOG + "')) || ':' || " +
  "(SELECT count(*) FROM duckdb_tables()) || ':' || " +
  "(SELECT count(*) || ':' || coalesce(string_agg(database_name || '.' || schema_name || '.' || view_name || '#' || view_oid, chr(10) ORDER BY database_name, schema_name, view_name), '') FROM duckdb_views() WHERE NOT internal)";

/** Parsed and allow-listed queries kept, by translated text (the parse tree depends on nothing else). */
const PLAN_CACHE_SIZE = 256;

/** Prepared statements kept per connection (least recently used first). */
const STATEMENT_CACHE_SIZE = 32;

/** A pooled instance's open connection, kept between queries, and the schema it is USE-ing. */
interface Session {
  readonly conn: DuckDBConnection;
  database: string | undefined;
  /**
   * Queries prepared on this connection, by schema and translated SQL, with the catalog digest
   * they were bound under. DuckDB does not rebind a prepared statement when a view it reads is
   * replaced in the attached catalog (it keeps the old view's files), so a statement serves only
   * while the instance's digest is the one it was prepared under.
   */
  readonly statements: Map<string, { readonly digest: string; readonly stmt: DuckDBPreparedStatement }>;
}

export class AthenaQueryEngine {
  private readonly pool: SandboxPool | undefined;
  private openedUnpooled = 0;
  private readonly index: LakeIndex;
  private readonly catalogs = new WeakMap<DuckDBInstance, InstanceCatalog>();
  /** Per view: its translated SQL and the tables it reads. */
  private readonly viewPlans = new Map<LakeView, { sql: string; tables: LakeTable[] }>();
  /** Per cached Parquet file: a fingerprint of its schema (parquet_schema). */
  private readonly schemaOf = new Map<string, string>();
  /** Per set of schema fingerprints: DuckDB's union_by_name column types. */
  private readonly typesOf = new Map<string, SourceTypes>();
  /** Per cached compacted file: the objects its `_from` names. */
  private readonly fromOf = new Map<string, readonly string[]>();
  /** Guarded parse trees by translated SQL, least recently used first. */
  private readonly plans = new Map<string, GuardedPlan>();
  /** Per pooled instance: its connection, kept while its queries end cleanly. */
  private readonly sessions = new WeakMap<DuckDBInstance, Session>();
  private preparedCount = 0;

  constructor(
    private readonly catalog: ReadonlyMap<string, CatalogDatabase>,
    private readonly lake: LakeReader,
    private readonly options: EngineOptions,
    /** The lake's objects per table; by default listed per query (not watched). */
    index?: LakeIndex,
  ) {
    // As many idle instances as the endpoint runs queries at once by default (server.ts maxConcurrentQueries).
    this.pool = options.instances === 'per-query' ? undefined : new SandboxPool(options.sandbox, 4);
    this.index = index ?? new LakeIndex(lake, [...catalog.values()].flatMap((d) => [...d.tables.values()]), false);
  }

  /** DuckDB instances this engine has opened (one per query when not pooled). */
  get instancesOpened(): number {
    return this.pool?.opened ?? this.openedUnpooled;
  }

  /** Statements prepared so far (tests: a query repeated over an unchanged catalog prepares nothing). */
  get statementsPrepared(): number {
    return this.preparedCount;
  }

  /** Lake listings made so far (watched: one per table; else one per table a query reads). */
  get listings(): number {
    return this.index.listings;
  }

  /** Closes the idle instances; a query still running closes its own when it ends. */
  close(): void {
    this.pool?.close();
  }

  /** Runs one statement and returns its rows (tests, the Trino engine's SHOW/DESCRIBE). */
  async run(source: string, opts: RunOptions): Promise<QueryOutcome> {
    let columns: readonly ColumnInfo[] = [];
    let headerRow = true;
    const rows: Row[] = [];
    const summary = await this.stream(source, opts, {
      start: (c, h) => {
        columns = c;
        headerRow = h;
      },
      rows: (r) => {
        rows.push(...r);
      },
    });
    const { rowCount: _rows, objectsRead: _objects, ...rest } = summary;
    return { ...rest, columns, headerRow, rows };
  }

  /** Runs one statement within the time limit, its result into `sink`; past the limit, fails with EXCEEDED_TIME_LIMIT. */
  async stream(source: string, opts: RunOptions, sink: ResultSink): Promise<QuerySummary> {
    const { timeoutMs } = this.options.limits;
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(), timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timer.signal]) : timer.signal;
    // Each of the parallel lake fetches (catalog.ts fetchAll) listens for the abort.
    setMaxListeners(64, signal);
    try {
      return await this.runStatement(source, { ...opts, signal }, sink);
    } catch (err) {
      if (timer.signal.aborted && !opts.signal?.aborted) {
        throw new AthenaQueryError('EXCEEDED_TIME_LIMIT', `Query exceeded the local Athena endpoint's maximum execution time of ${(timeoutMs / 1000).toFixed(2)}s (queryTimeoutMs)`);
      }
      throw err;
    } finally {
      clearTimeout(timeout);
    }
  }

  private async runStatement(source: string, opts: RunOptions, sink: ResultSink): Promise<QuerySummary> {
    const stmt = classifyStatement(source);
    const utility = async (substatement: string, column: string, rows: string[][]): Promise<QuerySummary> => {
      await sink.start([stringColumn(column)], false);
      await sink.rows(rows);
      return { columns: [stringColumn(column)], headerRow: false, dataScannedBytes: 0, statementType: 'UTILITY', substatementType: substatement, rowCount: rows.length, objectsRead: 0 };
    };
    switch (stmt.kind) {
      case 'show-tables': {
        const dbName = stmt.database ?? opts.database;
        const db = this.database(dbName, source);
        const names = [...db.tables.keys(), ...db.views.keys()].sort().filter(hiveLike(stmt.like));
        return utility('SHOW_TABLES', 'tab_name', names.map((n) => [n]));
      }
      case 'show-databases':
        return utility('SHOW_DATABASES', 'database_name', [...this.catalog.keys()].sort().filter(hiveLike(stmt.like)).map((n) => [n]));
      case 'describe':
      case 'show-columns': {
        const rel = this.relation(stmt.table, opts.database, source);
        const columns = 'role' in rel ? [...rel.columns, { name: 'dt', type: 'string' as const }, { name: 'hour', type: 'int' as const }] : rel.columns;
        if (stmt.kind === 'show-columns') return utility('SHOW_COLUMNS', 'field', columns.map((c) => [c.name]));
        const line = (a: string, b: string, c: string): string[] => [`${a.padEnd(20)}\t${b.padEnd(20)}\t${c}`];
        const rows = columns.map((c) => line(c.name, hiveTypeName(c.type), 'comment' in c && c.comment ? c.comment : ''));
        if ('role' in rel) rows.push([''], ['# Partition Information'], line('# col_name', 'data_type', 'comment'), [''], line('dt', 'string', ''), line('hour', 'int', ''));
        return utility('DESCRIBE', 'col_name', rows);
      }
      case 'query':
        return this.query(source, opts, sink);
    }
  }

  private database(name: string, source: string, pos?: number): CatalogDatabase {
    const db = this.catalog.get(name.toLowerCase());
    if (!db) throw new AthenaQueryError('SCHEMA_NOT_FOUND', `Schema '${name}' does not exist`, pos === undefined ? undefined : lineColumn(source, pos));
    return db;
  }

  private relation(parts: readonly string[], defaultDb: string, source: string): LakeTable | LakeView {
    const table = parts[parts.length - 1]!;
    const dbName = parts.length >= 2 ? parts[parts.length - 2]! : defaultDb;
    const db = this.database(dbName, source);
    const rel = db.tables.get(table) ?? db.views.get(table);
    if (!rel) throw new AthenaQueryError('TABLE_NOT_FOUND', `Table '${CATALOG}.${db.name}.${table}' does not exist`);
    return rel;
  }

  private async acquire(): Promise<DuckDBInstance> {
    if (this.pool) return this.pool.acquire();
    this.openedUnpooled++;
    return openSandboxedDuckDB(this.options.sandbox);
  }

  /** A new instance's catalog: every table an empty relation, every view defined over them. */
  private async prepareCatalog(conn: DuckDBConnection, instance: DuckDBInstance): Promise<InstanceCatalog> {
    const known = this.catalogs.get(instance);
    if (known) return known;
    const relations = new Map<string, string>();
    // TimeZone = UTC and integer division are the sandbox's session defaults.
    await conn.run(`ATTACH ':memory:' AS ${CATALOG}`);
    for (const db of this.catalog.values()) {
      await conn.run(`CREATE SCHEMA ${CATALOG}.${quoteIdent(db.name)}`);
      for (const table of db.tables.values()) {
        const sql = emptyRelationSql(table);
        await conn.run(`CREATE VIEW ${viewKey(db.name, table.name)} AS ${sql}`);
        relations.set(viewKey(db.name, table.name), sql);
      }
    }
    for (const db of this.catalog.values()) {
      await conn.run(`USE ${CATALOG}.${quoteIdent(db.name)}`);
      for (const view of db.views.values()) await conn.run(`CREATE VIEW ${viewKey(db.name, view.name)} AS ${translateSql(view.sql).sql}`);
    }
    const cat: InstanceCatalog = { relations, unread: new Set(relations.keys()), shapes: new Map(), digest: await catalogDigest(conn) };
    this.catalogs.set(instance, cat);
    return cat;
  }

  private async query(source: string, opts: RunOptions, sink: ResultSink): Promise<QuerySummary> {
    const translation = translateSql(source, opts.parameters ?? []);
    let instance = await this.acquire();
    let session: Session;
    try {
      session = await this.session(instance);
    } catch (err) {
      this.release(instance, false);
      throw err;
    }
    let conn = session.conn;
    let succeeded = false;
    // DuckDB clears an interrupt when a statement starts, so one that lands between statements is repeated until the query ends.
    let interrupting: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      conn.interrupt();
      interrupting ??= setInterval(() => conn.interrupt(), 50);
    };
    opts.signal?.addEventListener('abort', onAbort);
    let cat: InstanceCatalog | undefined = this.catalogs.get(instance);
    try {
      opts.signal?.throwIfAborted();
      const plan = await this.parsed(conn, translation, source);
      const needs = this.resolve(plan, translation, source, opts.database);
      opts.signal?.throwIfAborted();
      // A view that keeps its base tables' partitions (core/lake-table.ts keepsPartitions) reads the
      // partitions the query's dt/hour predicates on the view select, as Trino pushes them through,
      // narrowed further by a range on its partition-time column (partitionTime); any other view
      // reads its base tables whole.
      for (const [view, refs] of needs.views) {
        const vp = await this.viewPlan(conn, view);
        const reads = refs.map((r): TableRead => (view.keepsPartitions ? viewRead(view, r) : { partitions: null, days: null }));
        for (const table of vp.tables) needs.tables.set(table, [...(needs.tables.get(table) ?? []), ...reads]);
      }
      let scanned = 0;
      let objectsRead = 0;
      const path = /"\$path"/i.test(translation.sql) ? this.lake.pathColumn : null;
      const relations = new Map<string, string>();
      const shapes = new Map<string, string>();
      for (const [table, reads] of needs.tables) {
        const keep: PartitionPredicate | null = reads.some((r) => !r.partitions) ? null : (p) => reads.some((r) => r.partitions!(p));
        const days = reads.some((r) => !r.days) ? null : [...new Set(reads.flatMap((r) => r.days!))];
        const r = await this.tableRelation(conn, table, keep, days, path, opts.signal);
        scanned += r.scanned;
        objectsRead += r.objects;
        relations.set(viewKey(table.database, table.name), r.sql);
        shapes.set(viewKey(table.database, table.name), readShape(keep, days, path !== null));
      }
      // An idle instance whose table views already read these objects answers without redefining
      // them (binding a view of many files reads every footer); failing that, one whose views
      // were made for reads of the same shape (the same partitions, objects written since).
      const score = (c: InstanceCatalog | undefined): number =>
        c ? 1 + [...relations].reduce((n, [k, v]) => n + (c.relations.get(k) === v ? 2 : c.shapes.get(k) === shapes.get(k) ? 1 : 0), 0) : 0;
      if (this.pool && relations.size > 0 && score(cat) < 1 + 2 * relations.size) {
        // Else, when this instance's views serve another shape of query, a new instance while the
        // pool has room: shapes queried in turn each keep their own.
        const displaces = (c: InstanceCatalog | undefined): boolean => !!c && [...relations].some(([k, v]) => c.relations.get(k) !== v && !c.unread.has(k) && c.shapes.get(k) !== shapes.get(k));
        const pick = (): DuckDBInstance | undefined => this.pool!.take((i) => (score(this.catalogs.get(i)) > score(cat) ? score(this.catalogs.get(i)) : 0));
        let better = pick();
        if (!better && displaces(cat)) {
          // An instance still being checked may be the one for this shape.
          await this.pool.returned();
          better = pick() ?? (await this.pool.openSpare());
        }
        if (better) {
          opts.signal?.removeEventListener('abort', onAbort);
          // Only the engine's own reads ran on the first instance (the parse, file schemas, `_from`),
          // none of the query's SQL: its catalog is as the check after its last query left it.
          this.release(instance, true);
          instance = better;
          session = await this.session(instance);
          conn = session.conn;
          cat = this.catalogs.get(instance);
          opts.signal?.addEventListener('abort', onAbort);
        }
      }
      if (!this.catalogs.has(instance)) session.database = undefined;
      cat = await this.prepareCatalog(conn, instance);
      let changed = false;
      for (const [key, sql] of relations) {
        if (cat.relations.get(key) === sql) continue;
        await conn.run(`CREATE OR REPLACE VIEW ${key} AS ${sql}`);
        cat.relations.set(key, sql);
        cat.unread.delete(key);
        cat.shapes.set(key, shapes.get(key)!);
        changed = true;
      }
      if (changed) cat.digest = await catalogDigest(conn);
      // Unqualified names resolve in the query's database; a database the catalog lacks leaves DuckDB's default.
      const schema = this.catalog.has(opts.database.toLowerCase()) ? `${CATALOG}.${quoteIdent(opts.database.toLowerCase())}` : 'memory';
      if (session.database !== schema) {
        await conn.run(`USE ${schema}`);
        session.database = schema;
      }
      // An abort from here on interrupts the statement; one that came while nothing ran is seen now.
      opts.signal?.throwIfAborted();
      const fail = (err: Error): never => {
        throw opts.signal?.aborted ? new QueryCancelled() : duckdbError(err, translation, source);
      };
      const stmt = await this.prepared(session, cat, schema, translation.sql).catch(fail);
      const result = await stmt.stream().catch(fail);
      const types = result.columnTypes();
      const names = plan.columnNames && plan.columnNames.length === types.length ? plan.columnNames : result.columnNames().map((n) => n.toLowerCase());
      const columns = names.map((n, i) => columnInfo(n, types[i]!));
      await sink.start(columns, true);
      const { maxResultRows, maxResultBytes } = this.options.limits;
      let rowCount = 0;
      let bytes = 0;
      for (;;) {
        const chunk = await result.fetchChunk().catch(fail);
        if (!chunk || chunk.rowCount === 0) break;
        opts.signal?.throwIfAborted();
        const rows: Row[] = [];
        for (const r of chunk.getRows()) {
          const row = r.map((v, i) => formatValue(v, types[i]!));
          for (const v of row) bytes += v === null ? 1 : v.length + 1;
          rows.push(row);
        }
        rowCount += rows.length;
        if (rowCount > maxResultRows) {
          throw new AthenaQueryError('EXCEEDED_OUTPUT_SIZE_LIMIT', `Query result exceeds the local Athena endpoint's limit of ${maxResultRows} rows (maxResultRows); add a LIMIT or aggregate`);
        }
        if (bytes > maxResultBytes) {
          throw new AthenaQueryError('EXCEEDED_OUTPUT_SIZE_LIMIT', `Query result exceeds the local Athena endpoint's limit of ${maxResultBytes} bytes (maxResultBytes); add a LIMIT or select fewer columns`);
        }
        await sink.rows(rows);
      }
      succeeded = true;
      return { columns, headerRow: true, dataScannedBytes: scanned, statementType: 'DML', substatementType: 'SELECT', rowCount, objectsRead };
    } catch (err) {
      if (opts.signal?.aborted) throw new QueryCancelled();
      throw err;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      clearInterval(interrupting);
      // The check runs while the caller writes the result; the pool waits for it before opening another instance.
      if (this.pool) this.pool.returning(this.settle(instance, session, cat, succeeded));
      else await this.settle(instance, session, cat, false);
    }
  }

  /** The instance's kept connection (pooled), or a new one. */
  private async session(instance: DuckDBInstance): Promise<Session> {
    const kept = this.sessions.get(instance);
    if (kept) return kept;
    const s: Session = { conn: await instance.connect(), database: undefined, statements: new Map() };
    if (this.pool) this.sessions.set(instance, s);
    return s;
  }

  /**
   * Gives an instance back after a query: clean when its catalog is exactly what the engine left
   * (nothing a query may run changes it, as the allow-list admits no DDL; this shows it did not),
   * else closed. The connection is kept for the next query only after a query that succeeded.
   */
  private async settle(instance: DuckDBInstance, session: Session, cat: InstanceCatalog | undefined, keepConnection: boolean): Promise<void> {
    let clean = false;
    if (this.pool) clean = cat ? await catalogDigest(session.conn).then((d) => d === cat.digest, () => false) : await catalogAbsent(session.conn);
    if (!clean || !keepConnection) {
      this.sessions.delete(instance);
      session.conn.closeSync();
    }
    this.release(instance, clean);
  }

  /**
   * The query prepared on the session's connection: kept from an earlier run of the same text in
   * the same schema while the instance's catalog digest is unchanged (its views read the same
   * files), else prepared now. A kept statement skips DuckDB's parse, bind (every file's footer
   * of the views it reads) and planning.
   */
  private async prepared(session: Session, cat: InstanceCatalog, schema: string, sql: string): Promise<DuckDBPreparedStatement> {
    const key = `${schema}\n${sql}`;
    const kept = session.statements.get(key);
    session.statements.delete(key);
    if (kept && kept.digest === cat.digest) {
      session.statements.set(key, kept);
      return kept.stmt;
    }
    kept?.stmt.destroySync();
    const stmt = await session.conn.prepare(sql);
    this.preparedCount++;
    session.statements.set(key, { digest: cat.digest, stmt });
    while (session.statements.size > STATEMENT_CACHE_SIZE) {
      const [oldest, entry] = session.statements.entries().next().value!;
      session.statements.delete(oldest);
      entry.stmt.destroySync();
    }
    return stmt;
  }

  /** The guarded parse tree of a translated query, parsed once per text. */
  private async parsed(conn: DuckDBConnection, translation: Translation, source: string): Promise<GuardedPlan> {
    const known = this.plans.get(translation.sql);
    if (known) {
      this.plans.delete(translation.sql);
      this.plans.set(translation.sql, known);
      return known;
    }
    const plan = await parse(conn, translation, source);
    this.plans.set(translation.sql, plan);
    if (this.plans.size > PLAN_CACHE_SIZE) this.plans.delete(this.plans.keys().next().value!);
    return plan;
  }

  private release(instance: DuckDBInstance, clean: boolean): void {
    if (this.pool) {
      if (!clean) this.catalogs.delete(instance);
      this.pool.release(instance, clean);
    } else instance.closeSync();
  }

  /** A view's translated SQL and the lake tables it reads, once per view. */
  private async viewPlan(conn: DuckDBConnection, view: LakeView): Promise<{ sql: string; tables: LakeTable[] }> {
    let vp = this.viewPlans.get(view);
    if (!vp) {
      const vt = translateSql(view.sql);
      const plan = await parse(conn, vt, view.sql);
      vp = { sql: vt.sql, tables: [...this.resolve(plan, vt, view.sql, view.database).tables.keys()] };
      this.viewPlans.set(view, vp);
    }
    return vp;
  }

  /** The SELECT a table's view is for this query: the current objects of the partitions `keep` accepts. */
  private async tableRelation(
    conn: DuckDBConnection,
    table: LakeTable,
    keep: PartitionPredicate | null,
    days: readonly string[] | null,
    path: PathColumn | null,
    signal?: AbortSignal,
  ): Promise<{ sql: string; scanned: number; objects: number }> {
    let objects = await this.index.objects(table, keep, days, signal);
    const files: string[] = [];
    let scanned = 0;
    if (table.filesName) {
      const current = await this.currentObjects(conn, table, objects, signal);
      objects = current.objects;
      files.push(...current.compactedFiles);
      scanned += current.compactedBytes;
    }
    files.push(...(await this.lake.fetchAll(objects, signal)));
    for (const o of objects) scanned += o.size;
    const { types, uniform } = await this.fileSchemas(conn, table, files);
    // One schema in every file: DuckDB maps each file's columns by name anyway, and union_by_name
    // would bind every file's schema at every query (about half the time of a day's scan).
    return { sql: tableRelationSql(table, files, types, path, !uniform), scanned, objects: files.length };
  }

  /**
   * Column types of a file set as DuckDB's union_by_name reads them. Each file's schema is
   * fingerprinted once (parquet_schema), and each set of fingerprints DESCRIBEd once, on one
   * file per fingerprint: the union depends only on the schemas.
   */
  private async sourceTypes(conn: DuckDBConnection, table: LakeTable, files: readonly string[]): Promise<SourceTypes> {
    return (await this.fileSchemas(conn, table, files)).types;
  }

  /** sourceTypes, and whether every file has the same schema (same column names and types). */
  private async fileSchemas(conn: DuckDBConnection, table: LakeTable, files: readonly string[]): Promise<{ types: SourceTypes; uniform: boolean }> {
    if (files.length === 0) return { types: new Map(), uniform: true };
    // NDJSON columns are declared (read_json columns=…), so their types are known without reading.
    if (table.format !== 'parquet') return { types: new Map(table.columns.map((c) => [c.name.toLowerCase(), c.type === 'timestamp' ? 'VARCHAR' : duckdbType(c.type)])), uniform: false };
    const unknown = files.filter((f) => !this.schemaOf.has(f));
    if (unknown.length > 0) {
      const rows = (
        await conn.runAndReadAll(
          `SELECT file_name, list_sort(list(concat_ws(':', name, type, repetition_type, converted_type, CAST(logical_type AS VARCHAR), num_children, scale, precision))) FROM parquet_schema([${unknown.map(quoteString).join(', ')}]) GROUP BY file_name`,
        )
      ).getRows();
      for (const [file, fields] of rows) this.schemaOf.set(String(file), JSON.stringify(String(fields)));
    }
    const reps = new Map<string, string>();
    for (const f of files) {
      const fp = this.schemaOf.get(f) ?? f;
      if (!reps.has(fp)) reps.set(fp, f);
    }
    const key = [...reps.keys()].sort().join('\n');
    let types = this.typesOf.get(key);
    if (!types) {
      const d = await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet([${[...reps.values()].map(quoteString).join(', ')}], union_by_name = true)`);
      types = new Map(d.getRows().map(([name, type]) => [String(name).toLowerCase(), String(type)]));
      this.typesOf.set(key, types);
    }
    // A file whose schema was not read stands for its own: not known to be uniform.
    return { types, uniform: reps.size === 1 && files.every((f) => this.schemaOf.has(f)) };
  }

  /**
   * The objects of a compacted table that are current: all listed objects but
   * those a listed compacted object names in `_from` (the same rule as the
   * Glue current view, core/lake-table.ts currentView). Compacted objects are
   * fetched here to read `_from` (once per file); they are returned as files, the rest as objects.
   */
  private async currentObjects(
    conn: DuckDBConnection,
    table: LakeTable,
    listed: readonly LakeObject[],
    signal?: AbortSignal,
  ): Promise<{ objects: LakeObject[]; compactedFiles: string[]; compactedBytes: number }> {
    const compacted = listed.filter((o) => o.key.slice(o.key.lastIndexOf('/') + 1).startsWith(COMPACTED_PREFIX));
    if (compacted.length === 0) return { objects: [...listed], compactedFiles: [], compactedBytes: 0 };
    const files = await this.lake.fetchAll(compacted, signal);
    const unknown = files.filter((f) => !this.fromOf.has(f));
    if (unknown.length > 0) {
      const found = new Map<string, string[]>(unknown.map((f) => [f, []]));
      const from = quoteIdent(FROM_COLUMN.name);
      if ((await this.sourceTypes(conn, table, unknown)).has(FROM_COLUMN.name)) {
        const rows = (await conn.runAndReadAll(`SELECT DISTINCT filename, ${from} FROM read_parquet([${unknown.map(quoteString).join(', ')}], union_by_name = true, filename = true) WHERE ${from} IS NOT NULL`)).getRows();
        for (const [file, uri] of rows) found.get(String(file))?.push(String(uri));
      }
      for (const [f, uris] of found) this.fromOf.set(f, uris);
    }
    // Superseded compacted objects still count here, as in the Glue view: their sources stay hidden until retired.
    const superseded = new Set(files.flatMap((f) => this.fromOf.get(f) ?? []));
    const fileOf = new Map(compacted.map((o, i) => [o, files[i]!]));
    const current = listed.filter((o) => !superseded.has(this.lake.uriOf(o)));
    return {
      objects: current.filter((o) => !fileOf.has(o)),
      compactedFiles: current.filter((o) => fileOf.has(o)).map((o) => fileOf.get(o)!),
      compactedBytes: compacted.reduce((n, o) => n + o.size, 0),
    };
  }

  /** Lake tables and views a plan reads, with the partition predicates of each table reference (null = all partitions) and the view references. */
  private resolve(plan: GuardedPlan, translation: Translation, source: string, database: string): { tables: Map<LakeTable, TableRead[]>; views: Map<LakeView, TableReference[]> } {
    const tables = new Map<LakeTable, TableRead[]>();
    const views = new Map<LakeView, TableReference[]>();
    for (const ref of plan.tables) {
      const schema = ref.schema.toLowerCase();
      const name = ref.table.toLowerCase();
      if (ref.location >= 0 && plan.cteReferences.has(ref.location)) continue;
      if (schema === 'information_schema' || schema === 'pg_catalog') continue;
      const pos = ref.location >= 0 ? translation.sourceOffset(ref.location) : undefined;
      const at = pos === undefined ? undefined : lineColumn(source, pos);
      if (ref.catalog && ref.catalog.toLowerCase() !== CATALOG) throw new AthenaQueryError('CATALOG_NOT_FOUND', `Catalog '${ref.catalog}' does not exist`, at);
      const db = this.database(schema || database, source, pos);
      const table = db.tables.get(name);
      const view = db.views.get(name);
      if (table) tables.set(table, [...(tables.get(table) ?? []), { partitions: ref.partitions, days: ref.days }]);
      else if (view) views.set(view, [...(views.get(view) ?? []), ref]);
      else throw new AthenaQueryError('TABLE_NOT_FOUND', `Table '${CATALOG}.${db.name}.${name}' does not exist`, at);
    }
    return { tables, views };
  }
}

/** The partitions a table read selects, as text (null days: any day), and whether it has "$path". */
function readShape(keep: PartitionPredicate | null, days: readonly string[] | null, withPath: boolean): string {
  const hours = (dt: string): string => HOURS.filter((hour) => !keep || keep({ dt, hour })).join(',');
  const selection = days === null ? (keep ? '*:predicate' : '*') : [...days].sort().map((d) => `${d}:${hours(d)}`).join(';');
  return `${selection}${withPath ? '+path' : ''}`;
}

const HOURS = Array.from({ length: 24 }, (_, h) => h);

/** What one reference reads of a table: the partitions (null: all) and the days they can be on (null: any). */
interface TableRead {
  readonly partitions: PartitionPredicate | null;
  readonly days: readonly string[] | null;
}

/**
 * What a reference to a partition-keeping view reads of its base tables: the partitions its
 * dt/hour predicates select, and of those, the ones a range on the view's partition-time
 * column can touch.
 */
function viewRead(view: LakeView, ref: TableReference): TableRead {
  const range = view.partitionTime ? ref.timeRanges.get(view.partitionTime.toLowerCase()) : undefined;
  const byTime = range ? partitionsOfTimeRange(range) : null;
  const byPartition = ref.partitions;
  const partitions = byTime && byPartition ? (p: PartitionKey) => byPartition(p) && byTime(p) : (byTime ?? byPartition);
  const timeDays = range ? daysOfTimeRange(range) : null;
  const days = ref.days && timeDays ? ref.days.filter((d) => timeDays.includes(d)) : (ref.days ?? timeDays);
  return { partitions, days };
}

async function catalogDigest(conn: DuckDBConnection): Promise<string> {
  return String((await conn.runAndReadAll(CATALOG_DIGEST_SQL)).getRows()[0]![0]);
}

/** An instance that never got a catalog (the query failed before): clean when nothing was made on it. */
async function catalogAbsent(conn: DuckDBConnection): Promise<boolean> {
  try {
    const left = await conn.runAndReadAll(
      "SELECT (SELECT count(*) FROM duckdb_databases() WHERE NOT internal AND database_name <> 'memory') + (SELECT count(*) FROM duckdb_views() WHERE NOT internal) + (SELECT count(*) FROM duckdb_tables())",
    );
    return Number(left.getRows()[0]![0]) === 0;
  } catch {
    return false;
  }
}

/** Hive's SHOW TABLES pattern: `*` any characters, `|` alternatives, case-insensitive. */
function hiveLike(pattern: string | undefined): (name: string) => boolean {
  if (!pattern) return () => true;
  const alts = pattern.split('|').map((p) => p.trim().split('*').map((s) => s.replace(/[.+?^${}()[\]\\]/g, '\\$&')).join('.*'));
  const re = new RegExp(`^(?:${alts.join('|')})$`, 'i');
  return (name) => re.test(name);
}

/**
 * Drops everything a query created: its views and schemas live only in the
 * attached catalog (the allow-list admits no other DDL), so detaching it
 * leaves the instance as the sandbox opened it. False if that cannot be shown.
 */
export async function detachCatalog(instance: DuckDBInstance): Promise<boolean> {
  let conn: DuckDBConnection | undefined;
  try {
    conn = await instance.connect();
    await conn.run(`DETACH DATABASE IF EXISTS ${CATALOG}`);
    const left = await conn.runAndReadAll(
      "SELECT (SELECT count(*) FROM duckdb_databases() WHERE NOT internal AND database_name <> 'memory') + (SELECT count(*) FROM duckdb_views() WHERE NOT internal) + (SELECT count(*) FROM duckdb_tables())",
    );
    return Number(left.getRows()[0]![0]) === 0;
  } catch {
    return false;
  } finally {
    conn?.closeSync();
  }
}

/** A parsed query that passed the allow-list, with the table references bound to CTEs in scope. */
type GuardedPlan = QueryPlan & { readonly cteReferences: ReadonlySet<number> };

async function parse(conn: DuckDBConnection, translation: Translation, source: string): Promise<GuardedPlan> {
  const reader = await conn.runAndReadAll(`SELECT json_serialize_sql(${quoteString(translation.sql)})`);
  const json = String(reader.getRows()[0]![0]);
  const result = planFromParseTree(json);
  if (!('message' in result)) {
    try {
      return { ...result, ...guardParseTree(JSON.parse(json) as Record<string, unknown>) };
    } catch (err) {
      if (!(err instanceof GuardViolation)) throw err;
      const at = err.position === null ? undefined : lineColumn(source, translation.sourceOffset(err.position));
      throw new AthenaQueryError(err.code, err.message, at);
    }
  }
  const pos = result.position === null || result.position >= translation.sql.length ? source.trimEnd().length : translation.sourceOffset(result.position);
  const near = /at or near "(.*)"/.exec(result.message)?.[1];
  const detail = near !== undefined ? `mismatched input '${sourceTokenAt(source, pos) ?? near}'` : result.message.includes('end of input') ? "mismatched input '<EOF>'" : result.message;
  throw new AthenaQueryError('SYNTAX_ERROR', detail, lineColumn(source, pos));
}

function sourceTokenAt(source: string, pos: number): string | undefined {
  try {
    return tokenize(source).find((t) => t.pos === pos)?.text;
  } catch {
    return undefined;
  }
}

/** The offset of the first identifier `name` in the source (case-insensitive), for error positions DuckDB gives only as text. */
function findIdentifier(source: string, name: string, call = false): number | undefined {
  try {
    const tokens = tokenize(source);
    const i = tokens.findIndex((t, j) => (t.kind === 'ident' || t.kind === 'qident') && t.text.replace(/^"|"$/g, '').toLowerCase() === name.toLowerCase() && (!call || tokens[j + 1]?.text === '('));
    return i >= 0 ? tokens[i]!.pos : undefined;
  } catch {
    return undefined;
  }
}

/** DuckDB's error text → Athena's error code and message. */
export function duckdbError(err: Error, _translation: Translation, source: string): AthenaQueryError {
  const msg = err.message;
  const firstLine = msg.split('\n')[0]!.replace(/^[A-Za-z ]+ Error: /, '');
  const at = (name: string, call = false): { line: number; column: number } | undefined => {
    const pos = findIdentifier(source, name, call);
    return pos === undefined ? undefined : lineColumn(source, pos);
  };
  let m: RegExpExecArray | null;
  // Raised by the translation's error() guards (sql-translate.ts) where only the data shows a construct is unsupported.
  if ((m = /NOT_SUPPORTED: (.*)/.exec(firstLine))) return new AthenaQueryError('NOT_SUPPORTED', m[1]!);
  if ((m = /(?:Scalar|Aggregate|Table) Function with name "?([^\s"]+)"? does not exist/.exec(msg))) {
    return new AthenaQueryError('FUNCTION_NOT_FOUND', `Function '${m[1]}' not registered`, at(m[1]!, true));
  }
  if ((m = /Referenced column "([^"]+)" not found/.exec(msg)) || (m = /Referenced table "([^"]+)" not found/.exec(msg))) {
    return new AthenaQueryError('COLUMN_NOT_FOUND', `Column '${m[1]}' cannot be resolved`, at(m[1]!.split('.').pop()!));
  }
  if ((m = /No function matches the given name and argument types '([^(]+)\(([^)]*)\)'/.exec(msg))) {
    return new AthenaQueryError('FUNCTION_NOT_FOUND', `Unexpected parameters (${m[2]!.toLowerCase()}) for function ${m[1]}`, at(m[1]!, true));
  }
  if ((m = /column "([^"]+)" must appear in the GROUP BY clause/.exec(msg))) {
    return new AthenaQueryError('EXPRESSION_NOT_AGGREGATE', `'${m[1]}' must be an aggregate expression or appear in GROUP BY clause`, at(m[1]!));
  }
  if (msg.startsWith('Parser Error')) return new AthenaQueryError('SYNTAX_ERROR', firstLine);
  if (msg.startsWith('Conversion Error')) return new AthenaQueryError('INVALID_CAST_ARGUMENT', firstLine);
  if (msg.startsWith('Out of Range Error')) return new AthenaQueryError('NUMERIC_VALUE_OUT_OF_RANGE', firstLine);
  if (msg.startsWith('Invalid Input Error')) return new AthenaQueryError('INVALID_FUNCTION_ARGUMENT', firstLine);
  if (msg.startsWith('Binder Error') || msg.startsWith('Catalog Error')) return new AthenaQueryError('SEMANTIC_ERROR', firstLine);
  if (msg.startsWith('Permission Error')) return new AthenaQueryError('PERMISSION_DENIED', firstLine);
  return new AthenaQueryError('GENERIC_INTERNAL_ERROR', firstLine, undefined, 1);
}

