/**
 * Lake tables: one definition per table (columns, types, format, partitioning,
 * location) drives the Glue table in CDK, the local Athena catalog and the
 * writers (docs/architecture.md "Lake tables").
 */
import { KMV_K, HASH_SPACE } from './kmv-sketch';
import type { Measure, Pipeline } from './pipeline';
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

/** The partial-aggregate columns of one measure. */
export function partialColumns(m: Measure, fieldType: (name: string) => FieldType): LakeColumn[] {
  const s = m.spec;
  switch (s.fn) {
    case 'count':
      return [{ name: m.name, type: 'bigint' }];
    case 'sum':
      return [{ name: m.name, type: fieldType(s.field) === 'double' ? 'double' : 'bigint' }];
    case 'min':
    case 'max':
      return [{ name: m.name, type: fieldType(s.field) === 'int' ? 'bigint' : fieldType(s.field) }];
    case 'avg':
      return [{ name: `${m.name}_sum`, type: 'double' }, { name: `${m.name}_count`, type: 'bigint' }];
    case 'approxDistinct':
      return [{ name: `${m.name}_sketch`, type: 'array<bigint>', comment: `KMV sketch, k=${KMV_K}` }];
  }
}

export function lakeTables(p: Pipeline): LakeTable[] {
  const fieldType = (n: string): FieldType => {
    const f = p.schema.find((x) => x.name === n);
    if (!f) throw new Error(`pipeline ${p.name}: no field ${n}`);
    return f.type;
  };
  const schemaColumns: LakeColumn[] = p.schema.map((f) => ({ name: f.name, type: f.type }));
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
  if (p.aggregate) {
    const a = p.aggregate;
    tables.push({
      ...base,
      name: p.tables.partials,
      role: 'partials',
      columns: [
        { name: 'window_start', type: 'timestamp' },
        { name: 'window_end', type: 'timestamp' },
        ...a.groupBy.map((g) => ({ name: g, type: fieldType(g) })),
        ...a.measures.flatMap((m) => partialColumns(m, fieldType)),
      ],
      format: 'parquet',
      location: `tables/${p.tables.partials}/`,
      filesName: filesTableName(p.tables.partials),
    });
  }
  return tables;
}

export function lakeTable(p: Pipeline, role: TableRole): LakeTable {
  const t = lakeTables(p).find((x) => x.role === role);
  if (!t) throw new Error(`pipeline ${p.name} has no ${role} table (it has no aggregate)`);
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
  /**
   * A timestamp column of the view whose value (UTC) lies in its row's own dt/hour partition
   * (with keepsPartitions): a range on it bounds the partitions too, so the local engine reads
   * only those the range can touch. Trino cannot derive that; on Athena bound dt/hour as well.
   */
  readonly partitionTime?: string;
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
 * The final aggregate view: merges partial aggregates (SUM of counts and sums,
 * MIN of mins, MAX of maxes, avg = SUM(sum)/SUM(count), union of KMV sketches).
 * Written in Athena's SQL; the local endpoint translates it for DuckDB.
 *
 * It carries the dt and hour of its partials, so that a query can bound them
 * and read only those partitions: on window_start alone, Athena's projection
 * enumerates every partition since `partitionsFrom` (25,584 at 2026-12). Every
 * partial of a window lies in the partition of its window_start
 * (core/process-batch.ts), so grouping by dt and hour too splits no window.
 */
export function aggregateView(p: Pipeline): LakeView | null {
  const a = p.aggregate;
  if (!a) return null;
  const fieldType = (n: string): FieldType => p.schema.find((x) => x.name === n)!.type;
  const keys = ['window_start', 'window_end', ...a.groupBy];
  const inner: string[] = [...keys, 'dt', 'hour'];
  const outer: string[] = [...keys];
  const columns: LakeColumn[] = [
    { name: 'window_start', type: 'timestamp' },
    { name: 'window_end', type: 'timestamp' },
    ...a.groupBy.map((g) => ({ name: g, type: fieldType(g) as ColumnType })),
  ];
  for (const m of a.measures) {
    const s = m.spec;
    switch (s.fn) {
      case 'count':
      case 'sum':
        inner.push(`SUM(${m.name}) AS ${m.name}`);
        outer.push(m.name);
        columns.push(partialColumns(m, fieldType)[0]!);
        break;
      case 'min':
      case 'max':
        inner.push(`${s.fn.toUpperCase()}(${m.name}) AS ${m.name}`);
        outer.push(m.name);
        columns.push(partialColumns(m, fieldType)[0]!);
        break;
      case 'avg':
        inner.push(`SUM(${m.name}_sum) AS ${m.name}_sum`, `SUM(${m.name}_count) AS ${m.name}_count`);
        outer.push(`${m.name}_sum / NULLIF(CAST(${m.name}_count AS double), 0) AS ${m.name}`);
        columns.push({ name: m.name, type: 'double' });
        break;
      case 'approxDistinct':
        inner.push(`slice(array_sort(array_distinct(flatten(array_agg(${m.name}_sketch)))), 1, ${KMV_K}) AS ${m.name}_kmv`);
        outer.push(
          `CAST(CASE WHEN cardinality(${m.name}_kmv) < ${KMV_K} THEN cardinality(${m.name}_kmv) ` +
            `ELSE round(${KMV_K - 1} * ${HASH_SPACE}.0 / element_at(${m.name}_kmv, ${KMV_K})) END AS bigint) AS ${m.name}`,
        );
        columns.push({ name: m.name, type: 'bigint' });
        break;
    }
  }
  outer.push('dt', 'hour');
  columns.push(...PARTITION_COLUMNS);
  const sql =
    `SELECT ${outer.join(', ')}\nFROM (\n  SELECT ${inner.join(', ')}\n  FROM ${p.database}.${p.tables.partials}\n  GROUP BY ${[...keys, 'dt', 'hour'].join(', ')}\n) merged`;
  // Every partial of a window lies in the partition of its window_start (core/process-batch.ts).
  return { database: p.database, name: a.view, pipeline: p.name, sql, columns, keepsPartitions: true, partitionTime: 'window_start' };
}
