/**
 * Lake tables: one definition per table (columns, types, format, partitioning,
 * location) drives the Glue table in CDK, the local Athena catalog and the
 * writers (docs/architecture.md "Lake tables").
 */
import type { Aggregate, Measure } from './aggregate';
import { quoteIdentifier } from './filter-compile';
import { measureKind } from './measures/index';
import type { Pipeline } from './pipeline';
import { pipelineColumns } from './pipeline-expr';
import { windowKind } from './window-kinds';
import type { ColumnType, FieldType } from './schema';

export type TableRole = 'raw' | 'partials' | 'late' | 'quarantine';
export type TableFormat = 'parquet' | 'ndjson.gz';

export interface LakeColumn {
  readonly name: string;
  readonly type: ColumnType;
  readonly comment?: string;
}

export interface LakeTable {
  readonly database: string;
  readonly name: string;
  readonly pipeline: string;
  readonly role: TableRole;
  /** Data columns, in file order. Partition columns are not among them. */
  readonly columns: readonly LakeColumn[];
  /** Always dt (date, yyyy-MM-dd) then hour (integer, 00-23), UTC. */
  readonly partitionKeys: readonly [{ readonly name: 'dt'; readonly type: 'string' }, { readonly name: 'hour'; readonly type: 'int' }];
  readonly format: TableFormat;
  /** Key prefix in the lake bucket, ending with '/'. */
  readonly location: string;
  /**
   * Compacted tables (every Parquet table): the storage table that lists every
   * object under `location`, superseded ones included, plus the `_from`
   * column; `name` is then the current view over it (docs/compaction.md).
   * Null for tables that are never compacted (quarantine).
   */
  readonly filesName: string | null;
  /** Partials tables: the view of the aggregate whose partials these are. */
  readonly aggregate?: string;
}

/**
 * Column of compacted objects: the S3 URI (`s3://bucket/key`, what Athena's
 * `"$path"` gives) of the object each row was merged from. Null in objects the
 * stream processor writes. Readers drop every object some row names here.
 */
export const FROM_COLUMN: LakeColumn = { name: '_from', type: 'string', comment: 'compacted objects: the object this row was merged from' };

/** Shardflow's own state in the lake bucket, outside every table location (readers never list it). */
export const LAKE_STATE_PREFIXES = {
  /** Per-batch manifests of the stream processor (functions/stream-processor/lake-writer.ts). */
  batches: '_shardflow/batches/',
  /** Compaction manifests and staging objects (functions/compactor). */
  compaction: '_shardflow/compaction/',
  /** Run records of scheduled queries (functions/query-runner). */
  queryRuns: '_shardflow/query-runs/',
} as const;

/** Name prefix of compacted objects in a partition (`compacted-<id>.parquet`). */
export const COMPACTED_PREFIX = 'compacted-';

/** Name of the storage table under a compacted table's view. */
export function filesTableName(name: string): string {
  return `${name}_files`;
}

export const PARTITION_KEYS: LakeTable['partitionKeys'] = [
  { name: 'dt', type: 'string' },
  { name: 'hour', type: 'int' },
];

/** Extension of data objects for a format. */
export function formatExtension(f: TableFormat): string {
  return f === 'parquet' ? '.parquet' : '.ndjson.gz';
}

export const QUARANTINE_COLUMNS: readonly LakeColumn[] = [
  { name: 'received_at', type: 'timestamp', comment: 'arrival time of the record (UTC)' },
  { name: 'source', type: 'string', comment: 'shard id or topic-partition' },
  { name: 'position', type: 'string', comment: 'sequence number or offset' },
  { name: 'reason', type: 'string', comment: 'why the record was quarantined' },
  { name: 'field', type: 'string', comment: 'the field at fault, if any' },
  { name: 'payload', type: 'string', comment: 'the record data, base64' },
];

export const LATE_EXTRA_COLUMNS: readonly LakeColumn[] = [
  { name: 'arrival_time', type: 'timestamp', comment: 'arrival time of the record (UTC)' },
  { name: 'lateness_ms', type: 'bigint', comment: 'arrival − event time, milliseconds' },
];

/** The partial-aggregate columns of one measure (its kind's, core/measures/). */
export function partialColumns(m: Measure, fieldType: (name: string) => FieldType): LakeColumn[] {
  return measureKind(m.spec).partialColumns(m.name, m.spec, fieldType);
}

/** A column's type by name (schema and derived columns), for the measures' column types. */
function fieldTypes(p: Pipeline): (n: string) => FieldType {
  const columns = pipelineColumns(p);
  return (n) => {
    const f = columns.find((x) => x.name === n);
    if (!f) throw new Error(`pipeline ${p.name}: no field ${n}`);
    return f.type;
  };
}

/** The partials table of one aggregate of the pipeline. */
export function partialsTable(p: Pipeline, a: Aggregate): LakeTable {
  const fieldType = fieldTypes(p);
  return {
    database: p.database,
    pipeline: p.name,
    partitionKeys: PARTITION_KEYS,
    name: a.partials,
    role: 'partials',
    aggregate: a.view,
    columns: [
      { name: 'window_start', type: 'timestamp' },
      { name: 'window_end', type: 'timestamp' },
      ...a.groupBy.map((g) => ({ name: g, type: fieldType(g) })),
      ...a.measures.flatMap((m) => partialColumns(m, fieldType)),
    ],
    format: 'parquet',
    location: `tables/${a.partials}/`,
    filesName: filesTableName(a.partials),
  };
}

export function lakeTables(p: Pipeline): LakeTable[] {
  // Event columns: the schema's fields, then the derived columns (groupBy and measures may name either).
  const schemaColumns: LakeColumn[] = pipelineColumns(p).map((f) => ({ name: f.name, type: f.type }));
  const base = { database: p.database, pipeline: p.name, partitionKeys: PARTITION_KEYS };
  const tables: LakeTable[] = [
    { ...base, name: p.tables.raw, role: 'raw', columns: schemaColumns, format: 'parquet', location: `tables/${p.tables.raw}/`, filesName: filesTableName(p.tables.raw) },
    {
      ...base,
      name: p.tables.late,
      role: 'late',
      columns: [...schemaColumns, ...LATE_EXTRA_COLUMNS],
      format: 'parquet',
      location: `tables/${p.tables.late}/`,
      filesName: filesTableName(p.tables.late),
    },
    { ...base, name: p.tables.quarantine, role: 'quarantine', columns: QUARANTINE_COLUMNS, format: 'ndjson.gz', location: `quarantine/${p.name}/`, filesName: null },
  ];
  for (const a of p.aggregates) tables.push(partialsTable(p, a));
  return tables;
}

/** The table of a role; for 'partials', the first aggregate's (or the one named: a table name, or a view name). */
export function lakeTable(p: Pipeline, role: TableRole, name?: string): LakeTable {
  const t = lakeTables(p).find((x) => x.role === role && (name === undefined || x.name === name || x.aggregate === name));
  if (!t) throw new Error(`pipeline ${p.name} has no ${role} table${name === undefined ? '' : ` ${name}`}${role === 'partials' ? ' (its aggregates: ' + (p.aggregates.map((a) => a.view).join(', ') || 'none') + ')' : ''}`);
  return t;
}

export interface LakeView {
  readonly database: string;
  readonly name: string;
  readonly pipeline: string;
  /** Athena (Trino) SQL, table names qualified with the database. */
  readonly sql: string;
  readonly columns: readonly LakeColumn[];
  /**
   * The view's dt and hour are its base tables' own, and each of its rows comes
   * from one (dt, hour) partition: a dt/hour predicate on the view selects the
   * same partitions of its base tables, so a reader may prune them (Trino does
   * so by pushing the predicate through; the local engine applies it at listing).
   */
  readonly keepsPartitions: boolean;
}

/** dt and hour as view columns. */
const PARTITION_COLUMNS: readonly LakeColumn[] = [
  { name: 'dt', type: 'string' },
  { name: 'hour', type: 'int' },
];

/**
 * The current view of a compacted table, in Athena's SQL: every row of the
 * storage table except those of objects a compacted object supersedes (named
 * in its `_from`). Publishing a compacted object is one PUT, so a reader sees
 * either the sources or the compacted rows, never both (docs/compaction.md).
 *
 * A LEFT JOIN on (dt, hour, path) rather than NOT IN: Trino carries a query's
 * dt/hour predicates across the join's equalities into the `_from` scan, so
 * both sides read only the queried partitions, and the `_from` side reads one
 * mostly-null column.
 */
export function currentView(t: LakeTable): LakeView {
  if (!t.filesName) throw new Error(`table ${t.name} is not compacted: it has no current view`);
  const files = `${t.database}.${t.filesName}`;
  const cols = [...t.columns.map((c) => `t.${c.name}`), 't.dt', 't.hour'];
  // Quoted: Athena's naming guide asks names that begin with an underscore to be quoted.
  const from = `"${FROM_COLUMN.name}"`;
  const sql =
    `SELECT ${cols.join(', ')}\n` +
    `FROM ${files} t\n` +
    `LEFT JOIN (SELECT DISTINCT dt, hour, ${from} FROM ${files} WHERE ${from} IS NOT NULL) s\n` +
    `  ON s.dt = t.dt AND s.hour = t.hour AND s.${from} = t."$path"\n` +
    `WHERE s.${from} IS NULL`;
  return { database: t.database, name: t.name, pipeline: t.pipeline, sql, columns: [...t.columns, ...PARTITION_COLUMNS], keepsPartitions: true };
}

/**
 * The final aggregate view of one aggregate: merges its partial aggregates,
 * each measure as its kind says (SUM of counts and sums, MIN of mins, union of
 * KMV sketches, sums of histogram buckets …; core/measures/), in Athena's SQL;
 * the local endpoint translates it for DuckDB.
 *
 * It carries the dt and hour of its partials, so that a query can bound them
 * and read only those partitions: on window_start alone, Athena's projection
 * enumerates every partition since `partitionsFrom` (25,584 at 2026-12). Every
 * partial of a window lies in the partition of its window_start
 * (core/process-batch.ts), so grouping by dt and hour too splits no window.
 * Session windows are the exception: a session's partials lie in the
 * partitions of their own starts, and its dt and hour are its start's, so the
 * view cannot be pruned by them (core/window-kinds.ts, docs/architecture.md
 * "Session windows").
 *
 * `closed` is true once the window can no longer change: its end plus the
 * allowed lateness has passed, at the query's time (`current_timestamp` is the
 * time the query started, on Trino and DuckDB). An event later than that goes
 * to the late table, never into the partials. window_end is a UTC wall time,
 * read as UTC: Athena's session time zone (and the local Trino's, and DuckDB's
 * `epoch` of a timestamp).
 */
export function aggregateView(p: Pipeline, a: Aggregate): LakeView {
  const fieldType = fieldTypes(p);
  const groups = a.groupBy.map(quoteIdentifier);
  const keys = ['window_start', 'window_end', ...groups];
  const partitionKeys = [...keys, 'dt', 'hour'];
  const columns: LakeColumn[] = [
    { name: 'window_start', type: 'timestamp' },
    { name: 'window_end', type: 'timestamp' },
    ...a.groupBy.map((g) => ({ name: g, type: fieldType(g) as ColumnType })),
  ];
  const partials = `${p.database}.${a.partials}`;
  const win = windowKind(a.window);
  const source = win.viewSource(a, partials, partialsTable(p, a).columns.map((c) => c.name));
  const fill = (sql: string) => sql.replaceAll('{partition}', partitionKeys.join(', ')).replaceAll('{keys}', partitionKeys.join(', ')).replaceAll('{partials}', source);
  const pre: string[] = [];
  const inner: string[] = [];
  const outer: string[] = [];
  const joins: string[] = [];
  for (const m of a.measures) {
    const kind = measureKind(m.spec);
    const v = kind.viewSql(m.name, m.spec);
    pre.push(...(v.pre ?? []).map(fill));
    inner.push(...v.inner);
    outer.push(...v.outer);
    for (const j of v.joined ?? []) {
      const alias = `j${joins.length}`;
      // Group values may be NULL: IS NOT DISTINCT FROM matches them; window and partition columns never are.
      const on = partitionKeys.map((k) => (groups.includes(k) ? `m.${k} IS NOT DISTINCT FROM ${alias}.${k}` : `m.${k} = ${alias}.${k}`));
      joins.push(`LEFT JOIN (\n  ${fill(j)}\n) ${alias} ON ${on.join(' AND ')}`);
    }
    columns.push(...kind.viewColumns(m.name, m.spec, fieldType));
  }
  const closed = `(to_unixtime(current_timestamp) >= to_unixtime(m.window_end) + ${p.allowedLatenessMs / 1000}e0) AS closed`;
  columns.push({ name: 'closed', type: 'boolean' }, ...PARTITION_COLUMNS);
  const from = pre.length > 0 ? `(SELECT *, ${pre.join(', ')} FROM ${source}) pre` : source;
  const sql =
    `SELECT ${[...keys.map((k) => `m.${k}`), ...outer, closed, 'm.dt', 'm.hour'].join(', ')}\n` +
    `FROM (\n  SELECT ${[...partitionKeys, ...inner].join(', ')}\n  FROM ${from}\n  GROUP BY ${partitionKeys.join(', ')}\n) m` +
    (joins.length > 0 ? `\n${joins.join('\n')}` : '');
  return { database: p.database, name: a.view, pipeline: p.name, sql, columns, keepsPartitions: win.keepsPartitions };
}

/** Every aggregate view of the pipeline, in definition order. */
export function aggregateViews(p: Pipeline): LakeView[] {
  return p.aggregates.map((a) => aggregateView(p, a));
}
