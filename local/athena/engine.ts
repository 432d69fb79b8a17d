/**
 * Runs one Athena statement on a sandboxed in-memory DuckDB: classify, translate,
 * parse (DuckDB's parser), resolve tables against the catalog, prune and fetch
 * lake objects, create the views, execute, format.
 *
 * Each running query has a sandboxed DuckDB instance (sandbox.ts) to itself,
 * taken warm from a pool and given back with its catalog detached: its views
 * see exactly the partitions this query needs, and cancelling (interrupt) or
 * failing one query cannot disturb another. Every parse tree passes the
 * allow-list (sql-guard.ts) first; results are read chunk by chunk and stop
 * at the row/byte caps; a query past its time limit is interrupted.
 */
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { COMPACTED_PREFIX, FROM_COLUMN, type LakeTable, type LakeView } from '../../core';
import { describeFilesSql, emptyRelationSql, hiveTypeName, quoteIdent, quoteString, tableRelationSql, type CatalogDatabase, type LakeObject, type LakeReader } from './catalog';
import { planFromParseTree, type PartitionPredicate, type QueryPlan } from './query-plan';
import { columnInfo, formatValue, stringColumn, type ColumnInfo } from './result-format';
import { openSandboxedDuckDB, SandboxPool, type SandboxOptions } from './sandbox';
import { guardParseTree, GuardViolation } from './sql-guard';
import { AthenaQueryError, classifyStatement, lineColumn, tokenize, translateSql, type Translation } from './sql-translate';

/** The one data catalog, as Athena names it. */
export const CATALOG = 'awsdatacatalog';

export interface QueryOutcome {
  readonly columns: readonly ColumnInfo[];
  readonly rows: readonly (readonly (string | null)[])[];
  /** SELECT results start with a header row in GetQueryResults and the CSV; SHOW/DESCRIBE results do not. */
  readonly headerRow: boolean;
  /** Bytes of lake objects read. */
  readonly dataScannedBytes: number;
  readonly statementType: 'DML' | 'UTILITY';
  readonly substatementType: string;
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
   * 'pooled': sandboxed instances stay open between queries (one per running query).
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

export class AthenaQueryEngine {
  private readonly pool: SandboxPool | undefined;
  private openedUnpooled = 0;

  constructor(
    private readonly catalog: ReadonlyMap<string, CatalogDatabase>,
    private readonly lake: LakeReader,
    private readonly options: EngineOptions,
  ) {
    // As many idle instances as the endpoint runs queries at once by default (server.ts maxConcurrentQueries).
    this.pool = options.instances === 'per-query' ? undefined : new SandboxPool(options.sandbox, 4);
  }

  /** DuckDB instances this engine has opened (one per query when not pooled). */
  get instancesOpened(): number {
    return this.pool?.opened ?? this.openedUnpooled;
  }

  /** Closes the idle instances; a query still running closes its own when it ends. */
  close(): void {
    this.pool?.close();
  }

  /** Runs one statement within the time limit; past it, fails with EXCEEDED_TIME_LIMIT. */
  async run(source: string, opts: RunOptions): Promise<QueryOutcome> {
    const { timeoutMs } = this.options.limits;
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(), timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timer.signal]) : timer.signal;
    try {
      return await this.runStatement(source, { ...opts, signal });
    } catch (err) {
      if (timer.signal.aborted && !opts.signal?.aborted) {
        throw new AthenaQueryError('EXCEEDED_TIME_LIMIT', `Query exceeded the local Athena endpoint's maximum execution time of ${(timeoutMs / 1000).toFixed(2)}s (queryTimeoutMs)`);
      }
      throw err;
    } finally {
      clearTimeout(timeout);
    }
  }

  private async runStatement(source: string, opts: RunOptions): Promise<QueryOutcome> {
    const stmt = classifyStatement(source);
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
        return this.query(source, opts);
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

  private async query(source: string, opts: RunOptions): Promise<QueryOutcome> {
    const translation = translateSql(source, opts.parameters ?? []);
    if (!this.pool) this.openedUnpooled++;
    const instance = this.pool ? await this.pool.acquire() : await openSandboxedDuckDB(this.options.sandbox);
    let conn: DuckDBConnection;
    try {
      conn = await instance.connect();
    } catch (err) {
      this.pool?.release(instance, false);
      throw err;
    }
    // DuckDB clears an interrupt when a statement starts, so one that lands between statements is repeated until the query ends.
    let interrupting: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      conn.interrupt();
      interrupting ??= setInterval(() => conn.interrupt(), 50);
    };
    opts.signal?.addEventListener('abort', onAbort);
    try {
      opts.signal?.throwIfAborted();
      const plan = await parse(conn, translation, source);
      const needs = this.resolve(plan, translation, source, opts.database);
      opts.signal?.throwIfAborted();
      // A view that keeps its base tables' partitions (core/lake-table.ts keepsPartitions) reads the
      // partitions the query's dt/hour predicates on the view select, as Trino pushes them through;
      // any other view reads its base tables whole.
      for (const [view, viewPreds] of needs.views) {
        const vt = translateSql(view.sql);
        const vplan = await parse(conn, vt, view.sql);
        for (const [table] of this.resolve(vplan, vt, view.sql, view.database).tables) {
          needs.tables.set(table, [...(needs.tables.get(table) ?? []), ...(view.keepsPartitions ? viewPreds : [null])]);
        }
      }
      let scanned = 0;
      const path = /"\$path"/i.test(translation.sql) ? this.lake.pathColumn : null;
      // TimeZone = UTC and integer division are the sandbox's session defaults.
      await conn.run(`ATTACH ':memory:' AS ${CATALOG}`);
      for (const db of this.catalog.values()) {
        await conn.run(`CREATE SCHEMA ${CATALOG}.${quoteIdent(db.name)}`);
        for (const table of db.tables.values()) {
          const preds = needs.tables.get(table);
          let relation: string;
          if (!preds) relation = emptyRelationSql(table, path !== null);
          else {
            const keep: PartitionPredicate | null = preds.includes(null) ? null : (p) => preds.some((f) => f!(p));
            let objects = await this.lake.list(table, keep, opts.signal);
            const files: string[] = [];
            if (table.filesName) {
              const current = await this.currentObjects(conn, objects, opts.signal);
              objects = current.objects;
              files.push(...current.compactedFiles);
              scanned += current.compactedBytes;
            }
            for (const o of objects) {
              files.push(await this.lake.fetch(o, opts.signal));
              scanned += o.size;
            }
            const sourceTypes = new Map<string, string>();
            if (files.length > 0) {
              const d = await conn.runAndReadAll(describeFilesSql(table, files));
              for (const [name, type] of d.getRows()) sourceTypes.set(String(name).toLowerCase(), String(type));
            }
            relation = tableRelationSql(table, files, sourceTypes, path);
          }
          await conn.run(`CREATE VIEW ${CATALOG}.${quoteIdent(db.name)}.${quoteIdent(table.name)} AS ${relation}`);
        }
      }
      for (const db of this.catalog.values()) {
        await conn.run(`USE ${CATALOG}.${quoteIdent(db.name)}`);
        for (const view of db.views.values()) {
          await conn.run(`CREATE VIEW ${CATALOG}.${quoteIdent(db.name)}.${quoteIdent(view.name)} AS ${translateSql(view.sql).sql}`);
        }
      }
      if (this.catalog.has(opts.database.toLowerCase())) await conn.run(`USE ${CATALOG}.${quoteIdent(opts.database.toLowerCase())}`);
      // An abort from here on interrupts the statement; one that came while nothing ran is seen now.
      opts.signal?.throwIfAborted();
      const fail = (err: Error): never => {
        throw opts.signal?.aborted ? new QueryCancelled() : duckdbError(err, translation, source);
      };
      const result = await conn.stream(translation.sql).catch(fail);
      const types = result.columnTypes();
      const names = plan.columnNames && plan.columnNames.length === types.length ? plan.columnNames : result.columnNames().map((n) => n.toLowerCase());
      const { maxResultRows, maxResultBytes } = this.options.limits;
      const rows: (string | null)[][] = [];
      let bytes = 0;
      for (;;) {
        const chunk = await result.fetchChunk().catch(fail);
        if (!chunk || chunk.rowCount === 0) break;
        opts.signal?.throwIfAborted();
        for (const r of chunk.getRows()) {
          const row = r.map((v, i) => formatValue(v, types[i]!));
          for (const v of row) bytes += v === null ? 1 : v.length + 1;
          rows.push(row);
        }
        if (rows.length > maxResultRows) {
          throw new AthenaQueryError('EXCEEDED_OUTPUT_SIZE_LIMIT', `Query result exceeds the local Athena endpoint's limit of ${maxResultRows} rows (maxResultRows); add a LIMIT or aggregate`);
        }
        if (bytes > maxResultBytes) {
          throw new AthenaQueryError('EXCEEDED_OUTPUT_SIZE_LIMIT', `Query result exceeds the local Athena endpoint's limit of ${maxResultBytes} bytes (maxResultBytes); add a LIMIT or select fewer columns`);
        }
      }
      return { columns: names.map((n, i) => columnInfo(n, types[i]!)), rows, headerRow: true, dataScannedBytes: scanned, statementType: 'DML', substatementType: 'SELECT' };
    } catch (err) {
      if (opts.signal?.aborted) throw new QueryCancelled();
      throw err;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      clearInterval(interrupting);
      conn.closeSync();
      if (this.pool) this.pool.release(instance, await detachCatalog(instance));
      else instance.closeSync();
    }
  }

  /**
   * The objects of a compacted table that are current: all listed objects but
   * those a listed compacted object names in `_from` (the same rule as the
   * Glue current view, core/lake-table.ts currentView). Compacted objects are
   * fetched here to read `_from`; they are returned as files, the rest as objects.
   */
  private async currentObjects(
    conn: DuckDBConnection,
    listed: readonly LakeObject[],
    signal?: AbortSignal,
  ): Promise<{ objects: LakeObject[]; compactedFiles: string[]; compactedBytes: number }> {
    const compacted = listed.filter((o) => o.key.slice(o.key.lastIndexOf('/') + 1).startsWith(COMPACTED_PREFIX));
    if (compacted.length === 0) return { objects: [...listed], compactedFiles: [], compactedBytes: 0 };
    const fileOf = new Map<LakeObject, string>();
    for (const o of compacted) fileOf.set(o, await this.lake.fetch(o, signal));
    const list = `[${[...fileOf.values()].map(quoteString).join(', ')}]`;
    const from = quoteIdent(FROM_COLUMN.name);
    const hasFrom = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${list}, union_by_name = true)`)).getRows().some((r) => String(r[0]) === FROM_COLUMN.name);
    const superseded = new Set<string>();
    if (hasFrom) {
      // Superseded compacted objects still count here, as in the Glue view: their sources stay hidden until retired.
      const rows = (await conn.runAndReadAll(`SELECT DISTINCT ${from} FROM read_parquet(${list}, union_by_name = true) WHERE ${from} IS NOT NULL`)).getRows();
      for (const [uri] of rows) superseded.add(String(uri));
    }
    const current = listed.filter((o) => !superseded.has(this.lake.uriOf(o)));
    return {
      objects: current.filter((o) => !fileOf.has(o)),
      compactedFiles: current.filter((o) => fileOf.has(o)).map((o) => fileOf.get(o)!),
      compactedBytes: compacted.reduce((n, o) => n + o.size, 0),
    };
  }

  /** Lake tables and views a plan reads, with the partition predicates of each reference (null = all partitions). */
  private resolve(plan: GuardedPlan, translation: Translation, source: string, database: string): { tables: Map<LakeTable, (PartitionPredicate | null)[]>; views: Map<LakeView, (PartitionPredicate | null)[]> } {
    const tables = new Map<LakeTable, (PartitionPredicate | null)[]>();
    const views = new Map<LakeView, (PartitionPredicate | null)[]>();
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
      if (table) tables.set(table, [...(tables.get(table) ?? []), ref.partitions]);
      else if (view) views.set(view, [...(views.get(view) ?? []), ref.partitions]);
      else throw new AthenaQueryError('TABLE_NOT_FOUND', `Table '${CATALOG}.${db.name}.${name}' does not exist`, at);
    }
    return { tables, views };
  }
}

function utility(substatement: string, column: string, rows: string[][]): QueryOutcome {
  return { columns: [stringColumn(column)], rows, headerRow: false, dataScannedBytes: 0, statementType: 'UTILITY', substatementType: substatement };
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

