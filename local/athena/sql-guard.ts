/**
 * The allow-list a query's parse tree must pass before it runs: the local
 * Athena endpoint executes what DuckDB parses, and DuckDB's FROM clause reads
 * far more than Athena's (table functions such as read_text, glob, query;
 * replacement scans that turn `FROM "/path/x.csv"` into a file read; PIVOT,
 * SHOW/SUMMARIZE refs). A query may name only
 *
 * - catalog tables (checked against the catalog by the engine),
 * - CTEs visible where they are named (per scope, see below),
 * - subqueries, joins, VALUES,
 * - the table functions Athena has: UNNEST.
 *
 * CTE scope follows SQL (and DuckDB's binder): the CTEs of a query node are
 * visible in that node's body and in the subqueries below it; the i-th CTE of
 * a WITH sees the ones before it (and itself only under WITH RECURSIVE). A
 * name bound here is a subset of what DuckDB binds, never more: a name we took
 * for a CTE that DuckDB did not would fall through to a replacement scan.
 *
 * The sandboxed DuckDB (sandbox.ts) is the second wall: even a query this
 * guard missed can read only the lake cache.
 *
 * Input: DuckDB's `json_serialize_sql` output (DuckDB 1.5's ParsedExpression /
 * TableRef / QueryNode serialisation, as in query-plan.ts).
 */

type Json = { readonly [k: string]: unknown };
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
/** DuckDB writes "no location" as 2^64 − 1. */
const location = (v: unknown): number => (typeof v === 'number' && v < 2 ** 53 ? v : -1);

/** Table functions Athena (Trino) has, by the name DuckDB parses them as. */
const TABLE_FUNCTIONS: ReadonlySet<string> = new Set(['unnest']);

const QUERY_NODES: ReadonlySet<string> = new Set(['SELECT_NODE', 'SET_OPERATION_NODE', 'RECURSIVE_CTE_NODE']);
/** TableRef types DuckDB serialises; only some are allowed. */
const TABLE_REFS: ReadonlySet<string> = new Set(['BASE_TABLE', 'JOIN', 'SUBQUERY', 'TABLE_FUNCTION', 'EXPRESSION_LIST', 'EMPTY', 'PIVOT', 'SHOW_REF', 'COLUMN_DATA', 'DELIM_GET', 'BOUND_TABLE_REF']);
const ALLOWED_REFS: ReadonlySet<string> = new Set(['BASE_TABLE', 'JOIN', 'SUBQUERY', 'TABLE_FUNCTION', 'EXPRESSION_LIST', 'EMPTY']);

/** A query the allow-list refuses; `position` is an offset in the SQL that was parsed. */
export class GuardViolation extends Error {
  constructor(
    /** Trino error code. */
    readonly code: 'NOT_SUPPORTED' | 'FUNCTION_NOT_FOUND',
    message: string,
    readonly position: number | null,
  ) {
    super(message);
    this.name = 'GuardViolation';
  }
}

export interface GuardResult {
  /** Offsets (in the parsed SQL) of the table references that name a CTE in scope; every other reference must be a catalog table. */
  readonly cteReferences: ReadonlySet<number>;
}

/** Checks a parsed statement (the JSON object json_serialize_sql returned, without error) against the allow-list. Throws GuardViolation. */
export function guardParseTree(parsed: Json): GuardResult {
  const statements = parsed.statements;
  if (!Array.isArray(statements) || statements.length !== 1) {
    throw new GuardViolation('NOT_SUPPORTED', `one statement per query (given ${Array.isArray(statements) ? statements.length : 0})`, null);
  }
  const stmt = statements[0] as unknown;
  if (!isObj(stmt) || !isObj(stmt.node)) throw new GuardViolation('NOT_SUPPORTED', 'only queries (SELECT, WITH, VALUES) are supported', null);
  const cteReferences = new Set<number>();
  new Walker(cteReferences).query(stmt.node, new Set());
  return { cteReferences };
}

class Walker {
  constructor(private readonly cteRefs: Set<number>) {}

  query(node: Json, scope: ReadonlySet<string>): void {
    const type = str(node.type);
    if (!QUERY_NODES.has(type)) throw new GuardViolation('NOT_SUPPORTED', `query node ${type || 'of unknown kind'} is not supported`, null);
    const inner = new Set(scope);
    const map = isObj(node.cte_map) && Array.isArray(node.cte_map.map) ? (node.cte_map.map as unknown[]) : [];
    for (const entry of map) {
      if (!isObj(entry) || !isObj(entry.value)) throw new GuardViolation('NOT_SUPPORTED', 'malformed WITH clause', null);
      const name = str(entry.key).toLowerCase();
      const q = entry.value.query;
      const body = isObj(q) && isObj(q.node) ? q.node : undefined;
      if (!body) throw new GuardViolation('NOT_SUPPORTED', `malformed CTE ${name}`, null);
      // The CTE body sees the CTEs before it, and itself only when recursive.
      const own = body.type === 'RECURSIVE_CTE_NODE' && str(body.cte_name).toLowerCase() === name ? new Set([...inner, name]) : inner;
      this.query(body, own);
      inner.add(name);
    }
    for (const [k, v] of Object.entries(node)) {
      if (k === 'cte_map' || k === 'type') continue;
      if (k === 'from_table') this.tableRef(v, inner);
      else if ((k === 'left' || k === 'right') && isObj(v) && QUERY_NODES.has(str(v.type))) {
        // A recursive CTE's recursive branch sees the CTE itself.
        const s = type === 'RECURSIVE_CTE_NODE' && k === 'right' ? new Set([...inner, str(node.cte_name).toLowerCase()]) : inner;
        this.query(v, s);
      } else this.any(v, inner);
    }
  }

  tableRef(ref: unknown, scope: ReadonlySet<string>): void {
    if (!isObj(ref)) throw new GuardViolation('NOT_SUPPORTED', 'malformed FROM clause', null);
    const type = str(ref.type);
    const at = location(ref.query_location);
    if (!ALLOWED_REFS.has(type)) throw new GuardViolation('NOT_SUPPORTED', `${type.replace(/_/g, ' ') || 'this relation'} is not supported in FROM`, at >= 0 ? at : null);
    switch (type) {
      case 'BASE_TABLE': {
        if (ref.at_clause !== null && ref.at_clause !== undefined) throw new GuardViolation('NOT_SUPPORTED', 'time travel (AT clause) is not supported', at >= 0 ? at : null);
        const unqualified = !str(ref.catalog_name) && !str(ref.schema_name);
        if (unqualified && scope.has(str(ref.table_name).toLowerCase()) && at >= 0) this.cteRefs.add(at);
        return;
      }
      case 'TABLE_FUNCTION': {
        const fn = ref.function;
        const name = isObj(fn) ? str(fn.function_name).toLowerCase() : '';
        const schema = isObj(fn) ? str(fn.schema) || str(fn.catalog) : '';
        if (!TABLE_FUNCTIONS.has(name) || schema) {
          const fnAt = isObj(fn) ? location(fn.query_location) : -1;
          throw new GuardViolation('FUNCTION_NOT_FOUND', `Table function '${name || '?'}' not registered (the local Athena endpoint allows only UNNEST in FROM)`, fnAt >= 0 ? fnAt : at >= 0 ? at : null);
        }
        this.any(fn, scope);
        return;
      }
      case 'JOIN':
        this.tableRef(ref.left, scope);
        this.tableRef(ref.right, scope);
        this.any(ref.condition, scope);
        return;
      case 'SUBQUERY': {
        const sq = ref.subquery;
        if (!isObj(sq) || !isObj(sq.node)) throw new GuardViolation('NOT_SUPPORTED', 'malformed subquery', at >= 0 ? at : null);
        this.query(sq.node, scope);
        return;
      }
      default:
        // EXPRESSION_LIST (VALUES), EMPTY: expressions only.
        for (const [k, v] of Object.entries(ref)) if (k !== 'type') this.any(v, scope);
    }
  }

  /** Expressions and anything else: finds the query nodes and table references inside. */
  any(v: unknown, scope: ReadonlySet<string>): void {
    if (Array.isArray(v)) {
      for (const x of v) this.any(x, scope);
      return;
    }
    if (!isObj(v)) return;
    if (v.class === 'SUBQUERY') {
      const sq = v.subquery;
      if (!isObj(sq) || !isObj(sq.node)) throw new GuardViolation('NOT_SUPPORTED', 'malformed subquery', null);
      this.query(sq.node, scope);
      this.any(v.child, scope);
      return;
    }
    if (v.class === undefined && typeof v.type === 'string') {
      // A table reference or query node where this walker did not expect one: check it the same way.
      if (QUERY_NODES.has(v.type) && 'cte_map' in v) return this.query(v, scope);
      if (TABLE_REFS.has(v.type)) return this.tableRef(v, scope);
    }
    for (const x of Object.values(v)) this.any(x, scope);
  }
}
