/**
 * The shared data lake: one bucket for every pipeline's tables, quarantine,
 * batch manifests and Athena results; a bucket for its server access logs; the
 * Glue databases; an Athena workgroup that enforces where results go.
 * Tables and views are per pipeline (LakeCatalog), so they live and die with it.
 */
import { Aws, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { LAKE_STATE_PREFIXES } from '../core/lake-table';
import { acknowledgeNag } from './nag';
import { checkInteger, checkPattern, definedOnly, InvalidPropError } from './prop-checks';

/** Prefix of Athena results in the lake bucket (interactive and scheduled queries). */
export const RESULTS_PREFIX = 'athena-results/';
/** Prefix of batch manifests (functions/stream-processor/lake-writer.ts). */
export const MANIFESTS_PREFIX = LAKE_STATE_PREFIXES.batches;
/** Prefix of quarantined records (core/lake-table.ts). */
export const QUARANTINE_PREFIX = 'quarantine/';

/** Default lake bucket name: one lake per account and region, found by name from every pipeline stack. */
export const DEFAULT_LAKE_BUCKET_NAME = `shardflow-lake-${Aws.ACCOUNT_ID}-${Aws.REGION}`;
/** Access-log bucket name, likewise found by name from pipeline stacks. */
export const DEFAULT_ACCESS_LOGS_BUCKET_NAME = `shardflow-access-logs-${Aws.ACCOUNT_ID}-${Aws.REGION}`;

export interface DataLakeProps {
  /** Lake bucket name, 3-63 chars; pipeline stacks find the bucket by it. @default 'shardflow-lake-<account>-<region>' */
  readonly bucketName?: string;
  /** Access-log bucket name, 3-63 chars. @default 'shardflow-access-logs-<account>-<region>' */
  readonly accessLogsBucketName?: string;
  /** Glue database names, each matching [a-z_][a-z0-9_]{0,127}. @default ['shardflow'] */
  readonly databases?: readonly string[];
  /** Server-side encryption of the lake: S3-managed keys, or a new customer-managed KMS key (then every reader needs kms:Decrypt). @default 's3-managed' */
  readonly encryption?: 's3-managed' | 'kms';
  /** Athena workgroup name, 1-128 chars of [a-zA-Z0-9._-]. @default 'shardflow' */
  readonly workgroupName?: string;
  /** Athena cancels a query that scans more, in bytes; Athena's minimum is 10 MB (10,000,000). @default 100 GiB (about 0.49 USD at 5 USD/TB) */
  readonly bytesScannedCutoffPerQuery?: number;
  /** Days to keep Athena query results, 1-3650. @default 30 */
  readonly queryResultsExpirationDays?: number;
  /** Days to keep quarantined records, 1-3650. @default 90 */
  readonly quarantineExpirationDays?: number;
  /** Days to keep batch manifests, 8-3650: longer than the longest retry window (maxRecordAge ≤ 7 days). @default 14 */
  readonly manifestExpirationDays?: number;
  /** Days to keep server access logs, 1-3650. @default 90 */
  readonly accessLogsExpirationDays?: number;
  /** What happens to the buckets when the stack is deleted. @default RemovalPolicy.RETAIN (the lake outlives the stack) */
  readonly removalPolicy?: RemovalPolicy;
}

export const DATA_LAKE_DEFAULTS = {
  bucketName: DEFAULT_LAKE_BUCKET_NAME,
  accessLogsBucketName: DEFAULT_ACCESS_LOGS_BUCKET_NAME,
  databases: ['shardflow'],
  encryption: 's3-managed',
  workgroupName: 'shardflow',
  bytesScannedCutoffPerQuery: 100 * 1024 ** 3,
  queryResultsExpirationDays: 30,
  quarantineExpirationDays: 90,
  manifestExpirationDays: 14,
  accessLogsExpirationDays: 90,
  removalPolicy: RemovalPolicy.RETAIN,
} as const satisfies Partial<DataLakeProps>;

/**
 * What a pipeline needs of a lake: a DataLake made in this app (in any stack), or
 * one deployed elsewhere (DataLake.fromLakeAttributes). Everything is found by name,
 * so pipelines in other stacks need no CloudFormation exports.
 */
export interface ILake {
  /** Name of the lake bucket. */
  readonly bucketName: string;
  /** Name of the bucket that receives S3 server access logs (the failed-batches buckets log there). */
  readonly accessLogsBucketName: string;
  /** Athena workgroup of scheduled queries. */
  readonly workgroupName: string;
  /** Glue databases the lake holds; a pipeline's database must be one of them. */
  readonly databaseNames: readonly string[];
  /** The key that encrypts the lake bucket, when it is KMS-encrypted. @default S3-managed keys */
  readonly encryptionKey?: kms.IKey;
}

/** A lake deployed outside this app, by name. */
export interface LakeAttributes {
  /** Name of the lake bucket, 3-63 chars. */
  readonly bucketName: string;
  /** Name of the access-log bucket, 3-63 chars; its policy must admit S3 log delivery from this account. */
  readonly accessLogsBucketName: string;
  /** Athena workgroup name, 1-128 chars of [a-zA-Z0-9._-]. @default 'shardflow' */
  readonly workgroupName?: string;
  /** Glue databases that exist in the lake, each matching [a-z_][a-z0-9_]{0,127}. @default ['shardflow'] */
  readonly databaseNames?: readonly string[];
  /** The key that encrypts the lake bucket. @default S3-managed keys */
  readonly encryptionKey?: kms.IKey;
}

export class DataLake extends Construct implements ILake {
  /** A lake deployed elsewhere (another app, or by hand), for ShardflowPipeline's `lake`. */
  static fromLakeAttributes(attrs: LakeAttributes): ILake {
    const databaseNames = [...(attrs.databaseNames ?? DATA_LAKE_DEFAULTS.databases)];
    if (databaseNames.length === 0) throw new InvalidPropError('Database names must name at least one Glue database (given [])');
    for (const d of databaseNames) checkPattern('Database name', d, /^[a-z_][a-z0-9_]{0,127}$/);
    checkPattern('Bucket name', attrs.bucketName, /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/);
    checkPattern('Access logs bucket name', attrs.accessLogsBucketName, /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/);
    const workgroupName = attrs.workgroupName ?? DATA_LAKE_DEFAULTS.workgroupName;
    checkPattern('Workgroup name', workgroupName, /^[a-zA-Z0-9._-]{1,128}$/);
    return { bucketName: attrs.bucketName, accessLogsBucketName: attrs.accessLogsBucketName, workgroupName, databaseNames, ...(attrs.encryptionKey ? { encryptionKey: attrs.encryptionKey } : {}) };
  }

  /** The lake bucket. */
  public readonly bucket: s3.Bucket;
  /** Server access logs of the lake bucket and of the pipelines' failed-batches buckets. */
  public readonly accessLogsBucket: s3.Bucket;
  /** The key that encrypts the lake, when encryption is 'kms'. */
  public readonly encryptionKey?: kms.Key;
  /** Glue databases by name. */
  public readonly databases: Readonly<Record<string, glue.CfnDatabase>>;
  /** The Athena workgroup. */
  public readonly workgroup: athena.CfnWorkGroup;
  /** Name of the workgroup. */
  public readonly workgroupName: string;
  /** Name of the lake bucket (pseudo-parameter tokens only, so other stacks can use it without an export). */
  public readonly bucketName: string;
  /** Name of the access-log bucket (pseudo-parameter tokens only). */
  public readonly accessLogsBucketName: string;

  constructor(scope: Construct, id: string, props: DataLakeProps = {}) {
    super(scope, id);
    const p = { ...DATA_LAKE_DEFAULTS, ...definedOnly(props) };
    if (p.databases.length === 0) throw new InvalidPropError('Databases must name at least one Glue database (given [])');
    for (const d of p.databases) checkPattern('Database name', d, /^[a-z_][a-z0-9_]{0,127}$/);
    checkPattern('Bucket name', p.bucketName, /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/);
    checkPattern('Access logs bucket name', p.accessLogsBucketName, /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/);
    checkPattern('Workgroup name', p.workgroupName, /^[a-zA-Z0-9._-]{1,128}$/);
    checkInteger('Bytes scanned cutoff per query', p.bytesScannedCutoffPerQuery, 10_000_000, Number.MAX_SAFE_INTEGER);
    checkInteger('Query results expiration days', p.queryResultsExpirationDays, 1, 3650);
    checkInteger('Quarantine expiration days', p.quarantineExpirationDays, 1, 3650);
    checkInteger('Manifest expiration days', p.manifestExpirationDays, 8, 3650);
    checkInteger('Access logs expiration days', p.accessLogsExpirationDays, 1, 3650);
    const autoDelete = p.removalPolicy === RemovalPolicy.DESTROY;

    this.accessLogsBucketName = p.accessLogsBucketName;
    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      bucketName: p.accessLogsBucketName,
      // S3 server access logging delivers only to SSE-S3 buckets.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(p.accessLogsExpirationDays) }],
      removalPolicy: p.removalPolicy,
      autoDeleteObjects: autoDelete,
    });
    // Log delivery from any bucket of this account (pipeline stacks' failed-batches buckets
    // included), so they need not edit this policy across stacks.
    this.accessLogsBucket.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
      actions: ['s3:PutObject'],
      resources: [this.accessLogsBucket.arnForObjects('*')],
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
    }));
    acknowledgeNag(this.accessLogsBucket, 'This bucket is the access-log target; logging it to itself would loop.', 'AwsSolutions-S1');

    this.encryptionKey = p.encryption === 'kms'
      ? new kms.Key(this, 'Key', { description: 'Encrypts the Shardflow lake', enableKeyRotation: true, removalPolicy: RemovalPolicy.RETAIN })
      : undefined;
    this.bucketName = p.bucketName;
    this.bucket = new s3.Bucket(this, 'Bucket', {
      bucketName: p.bucketName,
      ...(this.encryptionKey
        ? { encryption: s3.BucketEncryption.KMS, encryptionKey: this.encryptionKey, bucketKeyEnabled: true }
        : { encryption: s3.BucketEncryption.S3_MANAGED }),
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'lake/',
      lifecycleRules: [
        { id: 'query-results', prefix: RESULTS_PREFIX, expiration: Duration.days(p.queryResultsExpirationDays) },
        { id: 'quarantine', prefix: QUARANTINE_PREFIX, expiration: Duration.days(p.quarantineExpirationDays) },
        { id: 'batch-manifests', prefix: MANIFESTS_PREFIX, expiration: Duration.days(p.manifestExpirationDays) },
        { id: 'incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
      removalPolicy: p.removalPolicy,
      autoDeleteObjects: autoDelete,
    });

    const account = Stack.of(this).account;
    this.databases = Object.fromEntries(p.databases.map((name) => [name, new glue.CfnDatabase(this, `Database-${name}`, {
      catalogId: account,
      databaseInput: { name, description: 'Shardflow lake tables and views' },
    })]));

    this.workgroupName = p.workgroupName;
    this.workgroup = new athena.CfnWorkGroup(this, 'Workgroup', {
      name: p.workgroupName,
      description: 'Shardflow queries: results in the lake bucket, encrypted, with a per-query scan limit',
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        // Clients cannot send results elsewhere or unencrypted.
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: p.bytesScannedCutoffPerQuery,
        resultConfiguration: {
          outputLocation: this.bucket.s3UrlForObject(RESULTS_PREFIX),
          encryptionConfiguration: this.encryptionKey
            ? { encryptionOption: 'SSE_KMS', kmsKey: this.encryptionKey.keyArn }
            : { encryptionOption: 'SSE_S3' },
        },
      },
    });
  }

  /** Names of the Glue databases. */
  get databaseNames(): readonly string[] {
    return Object.keys(this.databases);
  }

  /** The Glue database of that name; throws naming the databases there are. */
  database(name: string): glue.CfnDatabase {
    const d = this.databases[name];
    if (!d) throw new InvalidPropError(`Database must be one of the lake's databases ${Object.keys(this.databases).join(', ')} (given ${JSON.stringify(name)})`);
    return d;
  }
}
