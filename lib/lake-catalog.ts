/**
 * One pipeline's Glue catalog entries: a table per LakeTable (core/lake-table.ts)
 * with Athena partition projection over dt/hour, and the aggregate view as an
 * Athena (Trino) view. Projection means no crawler and no MSCK REPAIR: Athena
 * computes partitions from the query's dt/hour predicates.
 *
 * A compacted table is two entries: the storage table `<name>_files` (every
 * object, plus `_from`) and the view `<name>` that drops objects a compacted
 * object supersedes, so users query `<name>` and never count a row twice while
 * compaction runs (docs/compaction.md).
 */
import * as glue from 'aws-cdk-lib/aws-glue';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { aggregateView, currentView, FROM_COLUMN, lakeTables, type LakeTable, type LakeView } from '../core/lake-table';
import type { Pipeline } from '../core/pipeline';
import type { ColumnType } from '../core/schema';
import { checkPattern, definedOnly } from './prop-checks';

export interface LakeCatalogProps {
  /** The validated pipeline whose tables and view to declare. */
  readonly pipeline: Pipeline;
  /** The lake bucket the tables point at. */
  readonly bucket: s3.IBucket;
  /** Glue database name; pass the lake's CfnDatabase ref so the table waits for it. @default pipeline.database */
  readonly databaseName?: string;
  /** First day Athena projects partitions for, yyyy-MM-dd (UTC); queries before it see no data. @default '2024-01-01' */
  readonly partitionsFrom?: string;
}

export const LAKE_CATALOG_DEFAULTS = { partitionsFrom: '2024-01-01' } as const satisfies Partial<LakeCatalogProps>;

const PARQUET = {
  inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
  outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
  serdeInfo: { serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
};
const NDJSON_GZ = {
  // Text input reads .gz objects decompressed, by extension.
  inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
  outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
  // The Hive JSON SerDe reads 'yyyy-MM-dd HH:mm:ss.SSS' (how the writers emit UTC timestamps)
  // as TIMESTAMP by default; the format is also stated for readers of the catalog.
  serdeInfo: {
    serializationLibrary: 'org.apache.hive.hcatalog.data.JsonSerDe',
    parameters: { 'timestamp.formats': 'yyyy-MM-dd HH:mm:ss.SSS' },
  },
};

/** Hive column type (Glue) → Trino type (view definitions). */
const TRINO_TYPE: Record<ColumnType, string> = {
  string: 'varchar',
  int: 'integer',
  bigint: 'bigint',
  double: 'double',
  boolean: 'boolean',
  timestamp: 'timestamp(3)',
  'array<bigint>': 'array(bigint)',
};

/** Table parameters for Athena partition projection over dt (date) and hour (00-23). */
export function projectionParameters(bucketName: string, t: LakeTable, from: string): Record<string, string> {
  return {
    'projection.enabled': 'true',
    'projection.dt.type': 'date',
    'projection.dt.format': 'yyyy-MM-dd',
    'projection.dt.range': `${from},NOW`,
    'projection.dt.interval': '1',
    'projection.dt.interval.unit': 'DAYS',
    'projection.hour.type': 'integer',
    'projection.hour.range': '0,23',
    'projection.hour.digits': '2',
    'storage.location.template': `s3://${bucketName}/${t.location}dt=\${dt}/hour=\${hour}/`,
  };
}

/**
 * ViewOriginalText of an Athena view: Trino's Hive view encoding, base64 of the
 * view's JSON definition between `/* Presto View: ` and ` *\/`.
 */
export function prestoViewText(v: LakeView): string {
  const definition = {
    originalSql: v.sql,
    catalog: 'awsdatacatalog',
    schema: v.database,
    columns: v.columns.map((c) => ({ name: c.name, type: TRINO_TYPE[c.type] })),
    runAsInvoker: false,
    properties: {},
  };
  return `/* Presto View: ${Buffer.from(JSON.stringify(definition), 'utf8').toString('base64')} */`;
}

/**
 * Owner of the views. Athena engine v3 (Trino) reads a view whose definition
 * says `"runAsInvoker": false` (a DEFINER view, what Athena's own CREATE VIEW
 * writes) as running as the Glue table's Owner, and refuses it when there is
 * none (INVALID_VIEW: Run-as identity must be set for a run-as definer view).
 * Trino's own CREATE VIEW keeps the owner on the table, not in the JSON, and the
 * Athena guide's example of a view created through Glue sets `"Owner": "hadoop"`
 * (Athena user guide, "Considerations for views"): the same here. Athena checks
 * the caller's own permissions on the data either way ("you cannot use views
 * to manage access control on data in Amazon S3").
 */
export const VIEW_OWNER = 'hadoop';

/** A Glue VIRTUAL_VIEW (an Athena view) of a LakeView. */
function viewInput(v: LakeView, description: string): glue.CfnTable.TableInputProperty {
  return {
    name: v.name,
    description,
    owner: VIEW_OWNER,
    tableType: 'VIRTUAL_VIEW',
    parameters: { presto_view: 'true', comment: 'Presto View' },
    viewOriginalText: prestoViewText(v),
    viewExpandedText: '/* Presto View */',
    storageDescriptor: {
      columns: v.columns.map((c) => ({ name: c.name, type: c.type })),
      serdeInfo: {},
    },
  };
}

export class LakeCatalog extends Construct {
  /** Glue tables by Glue name (`<name>_files` for the storage table of a compacted table). */
  public readonly tables: Readonly<Record<string, glue.CfnTable>>;
  /** Current views of the compacted tables, by table name. */
  public readonly currentViews: Readonly<Record<string, glue.CfnTable>>;
  /** The first aggregate view, when the pipeline aggregates. */
  public readonly view?: glue.CfnTable;
  /** Every aggregate view, by view name. */
  public readonly views: Readonly<Record<string, glue.CfnTable>>;

  constructor(scope: Construct, id: string, props: LakeCatalogProps) {
    super(scope, id);
    const p = { ...LAKE_CATALOG_DEFAULTS, ...definedOnly(props) };
    checkPattern('Partitions from', p.partitionsFrom, /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/);
    const databaseName = p.databaseName ?? p.pipeline.database;
    const catalogId = Stack.of(this).account;

    const tables: Record<string, glue.CfnTable> = {};
    const currentViews: Record<string, glue.CfnTable> = {};
    for (const t of lakeTables(p.pipeline)) {
      const format = t.format === 'parquet' ? PARQUET : NDJSON_GZ;
      const glueName = t.filesName ?? t.name;
      const columns = t.filesName ? [...t.columns, FROM_COLUMN] : t.columns;
      const table = new glue.CfnTable(this, `Table-${glueName}`, {
        catalogId,
        databaseName,
        tableInput: {
          name: glueName,
          description: t.filesName
            ? `Shardflow ${t.role} storage of pipeline ${t.pipeline}: every object, superseded ones included; query the view ${t.name}`
            : `Shardflow ${t.role} table of pipeline ${t.pipeline}`,
          tableType: 'EXTERNAL_TABLE',
          parameters: {
            EXTERNAL: 'TRUE',
            classification: t.format === 'parquet' ? 'parquet' : 'json',
            ...(t.format === 'ndjson.gz' ? { compressionType: 'gzip' } : {}),
            ...projectionParameters(p.bucket.bucketName, t, p.partitionsFrom),
          },
          partitionKeys: t.partitionKeys.map((k) => ({ name: k.name, type: k.type })),
          storageDescriptor: {
            location: p.bucket.s3UrlForObject(t.location),
            columns: columns.map((c) => ({ name: c.name, type: c.type, ...(c.comment ? { comment: c.comment } : {}) })),
            ...format,
          },
        },
      });
      tables[glueName] = table;
      if (t.filesName) {
        const view = new glue.CfnTable(this, `View-${t.name}`, {
          catalogId,
          databaseName,
          tableInput: viewInput(currentView(t), `Shardflow ${t.role} table of pipeline ${t.pipeline} (current objects of ${t.filesName})`),
        });
        view.node.addDependency(table);
        currentViews[t.name] = view;
      }
    }
    this.tables = tables;
    this.currentViews = currentViews;

    const views: Record<string, glue.CfnTable> = {};
    for (const a of p.pipeline.aggregates) {
      const v = aggregateView(p.pipeline, a);
      const view = new glue.CfnTable(this, `View-${v.name}`, {
        catalogId,
        databaseName,
        tableInput: viewInput(v, `Final aggregates of pipeline ${v.pipeline} (merge of the partials in ${a.partials})`),
      });
      // The view reads the partials view: create it after, drop it first.
      const partials = currentViews[a.partials];
      if (partials) view.node.addDependency(partials);
      views[v.name] = view;
    }
    this.views = views;
    const first = p.pipeline.aggregates[0];
    if (first) this.view = views[first.view];
  }
}
