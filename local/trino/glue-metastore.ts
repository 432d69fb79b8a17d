/**
 * Glue catalog entries, in the CloudFormation form `cdk synth` writes
 * (AWS::Glue::Database DatabaseInput, AWS::Glue::Table TableInput), written
 * field for field into Trino's file metastore, so that Trino reads the tables
 * and views exactly as Athena reads them from Glue: same columns and types,
 * parameters (partition projection included), SerDe, formats, owner and view
 * text. Nothing is derived from the pipeline here: what CDK did not put in
 * the template is not in the metastore either.
 *
 * File metastore layout (Trino 476, io.trino.plugin.hive.metastore.file):
 * `<root>/.<schema>.trinoSchema` (DatabaseMetadata JSON) and
 * `<root>/<schema>/<table>/.trinoSchema` (TableMetadata JSON).
 */
import fs from 'node:fs/promises';
import path from 'node:path';

/** A template's Glue table: its database and TableInput, intrinsics already resolved. */
export interface GlueTableEntry {
  readonly databaseName: string;
  readonly tableInput: CfnTableInput;
}

/** The TableInput fields Trino reads (CloudFormation property names). */
export interface CfnTableInput {
  readonly Name: string;
  readonly Description?: string;
  readonly Owner?: string;
  readonly TableType?: string;
  readonly Parameters?: Readonly<Record<string, string>>;
  readonly PartitionKeys?: readonly CfnColumn[];
  readonly StorageDescriptor?: {
    readonly Columns?: readonly CfnColumn[];
    readonly Location?: string;
    readonly InputFormat?: string;
    readonly OutputFormat?: string;
    readonly SerdeInfo?: { readonly SerializationLibrary?: string; readonly Parameters?: Readonly<Record<string, string>> };
  };
  readonly ViewOriginalText?: string;
  readonly ViewExpandedText?: string;
}

interface CfnColumn {
  readonly Name: string;
  readonly Type: string;
  readonly Comment?: string;
}

interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

/** Values for the intrinsics a Glue template uses: `Ref` of pseudo parameters and resources. */
export type RefValues = Readonly<Record<string, string>>;

/** Resolves Ref and Fn::Join; anything else is an error naming where it was (it would be a Glue field we cannot know). */
export function resolveIntrinsics(value: unknown, refs: RefValues, where = 'template'): unknown {
  if (Array.isArray(value)) return value.map((v, i) => resolveIntrinsics(v, refs, `${where}[${i}]`));
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 1 && keys[0] === 'Ref') {
    const name = String(obj.Ref);
    const v = refs[name];
    if (v === undefined) throw new Error(`${where}: no value given for { Ref: ${name} }`);
    return v;
  }
  if (keys.length === 1 && keys[0] === 'Fn::Join') {
    const [sep, parts] = obj['Fn::Join'] as [string, unknown[]];
    return parts.map((p, i) => String(resolveIntrinsics(p, refs, `${where}.Fn::Join[${i}]`))).join(sep);
  }
  if (keys.length === 1 && keys[0]!.startsWith('Fn::')) throw new Error(`${where}: intrinsic ${keys[0]} is not resolved here`);
  return Object.fromEntries(keys.map((k) => [k, resolveIntrinsics(obj[k], refs, `${where}.${k}`)]));
}

/** Every AWS::Glue::Table of a synthesized template, resolved. */
export function glueTablesOfTemplate(template: { Resources?: Record<string, CfnResource> }, refs: RefValues): GlueTableEntry[] {
  return Object.entries(template.Resources ?? {})
    .filter(([, r]) => r.Type === 'AWS::Glue::Table')
    .map(([id, r]) => {
      const props = resolveIntrinsics(r.Properties ?? {}, refs, id) as { DatabaseName: string; TableInput: CfnTableInput };
      return { databaseName: props.DatabaseName, tableInput: props.TableInput };
    });
}

/** Every AWS::Glue::Database name of a synthesized template. */
export function glueDatabasesOfTemplate(template: { Resources?: Record<string, CfnResource> }, refs: RefValues): string[] {
  return Object.entries(template.Resources ?? {})
    .filter(([, r]) => r.Type === 'AWS::Glue::Database')
    .map(([id, r]) => (resolveIntrinsics(r.Properties ?? {}, refs, id) as { DatabaseInput: { Name: string } }).DatabaseInput.Name);
}

/** Rewrites the bucket of every s3:// URI in a table entry (the deployed bucket name → the local one). */
export function withBucket(entry: GlueTableEntry, from: string, to: string): GlueTableEntry {
  const swap = (s: string | undefined): string | undefined => (s === undefined ? s : s.split(`s3://${from}/`).join(`s3://${to}/`));
  const t = entry.tableInput;
  const params = t.Parameters ? Object.fromEntries(Object.entries(t.Parameters).map(([k, v]) => [k, swap(v)!])) : undefined;
  const sd = t.StorageDescriptor ? { ...t.StorageDescriptor, ...(t.StorageDescriptor.Location !== undefined ? { Location: swap(t.StorageDescriptor.Location)! } : {}) } : undefined;
  return { ...entry, tableInput: { ...t, ...(params ? { Parameters: params } : {}), ...(sd ? { StorageDescriptor: sd } : {}) } };
}

const TRINO_WRITER_VERSION = '476';

const safeName = (kind: string, s: string): string => {
  // Glue names are lower-case letters, digits and underscores; anything else could walk out of the metastore directory.
  if (!/^[a-z0-9_]{1,255}$/.test(s)) throw new Error(`Glue ${kind} name ${JSON.stringify(s)} is not a lower-case Glue name`);
  return s;
};

/** Writes (or replaces) a database. */
export async function writeGlueDatabase(root: string, name: string): Promise<void> {
  const n = safeName('database', name);
  await fs.mkdir(path.join(root, n), { recursive: true });
  const meta = { writerVersion: TRINO_WRITER_VERSION, ownerName: 'hadoop', ownerType: 'USER', parameters: {} };
  await fs.writeFile(path.join(root, `.${n}.trinoSchema`), JSON.stringify(meta, null, 2));
}

const column = (c: CfnColumn) => ({ name: c.Name, type: c.Type, ...(c.Comment !== undefined ? { comment: c.Comment } : {}), properties: {} });

/** Writes (or replaces) one table or view, from its TableInput as Glue stores it. */
export async function writeGlueTable(root: string, entry: GlueTableEntry): Promise<void> {
  const t = entry.tableInput;
  const dir = path.join(root, safeName('database', entry.databaseName), safeName('table', t.Name));
  const sd = t.StorageDescriptor ?? {};
  const isView = t.TableType === 'VIRTUAL_VIEW';
  const meta = {
    writerVersion: TRINO_WRITER_VERSION,
    ...(t.Owner !== undefined ? { owner: t.Owner } : {}),
    tableType: t.TableType ?? 'EXTERNAL_TABLE',
    dataColumns: (sd.Columns ?? []).map(column),
    partitionColumns: (t.PartitionKeys ?? []).map(column),
    parameters: { ...(t.Parameters ?? {}), ...(t.Description !== undefined ? { comment: t.Parameters?.comment ?? t.Description } : {}) },
    ...(isView
      ? {}
      : {
          originalStorageFormat: {
            serde: sd.SerdeInfo?.SerializationLibrary,
            inputFormat: sd.InputFormat,
            outputFormat: sd.OutputFormat,
          },
        }),
    serdeParameters: sd.SerdeInfo?.Parameters ?? {},
    ...(sd.Location !== undefined && !isView ? { externalLocation: sd.Location } : {}),
    ...(t.ViewOriginalText !== undefined ? { viewOriginalText: t.ViewOriginalText } : {}),
    ...(t.ViewExpandedText !== undefined ? { viewExpandedText: t.ViewExpandedText } : {}),
    columnStatistics: {},
  };
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, '.trinoSchema'), JSON.stringify(meta, null, 2));
}

/** Writes the databases, then every table and view. */
export async function loadGlueCatalog(root: string, databases: readonly string[], tables: readonly GlueTableEntry[]): Promise<void> {
  for (const d of new Set([...databases, ...tables.map((t) => t.databaseName)])) await writeGlueDatabase(root, d);
  for (const t of tables) await writeGlueTable(root, t);
}
