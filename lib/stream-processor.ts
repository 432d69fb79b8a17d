/**
 * The stream processor: one Lambda function per pipeline (the shared handler in
 * functions/stream-processor, bundled with the pipeline inlined), its event
 * source mapping (Kinesis, MSK or self-managed Kafka) configured from
 * pipeline.processing, an S3 on-failure destination, and write rights to this
 * pipeline's lake prefixes only.
 */
import { Annotations, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeNag, nagResource, NODE22_REASON } from './nag';
import { entryPath, pipelineFunction } from './pipeline-function';
import { pipelineFilterCriteria } from '../core/pipeline-expr';
import { LAKE_STATE_PREFIXES, lakeTables } from '../core/lake-table';
import type { Pipeline } from '../core/pipeline';
import type { KafkaSource } from './kafka-source';
import { checkInteger, checkSeconds, definedOnly, InvalidPropError } from './prop-checks';

/** What the function reads. */
export type ProcessorSource =
  | { readonly kind: 'kinesis'; readonly stream: kinesis.IStream }
  | {
      readonly kind: 'kafka';
      readonly topic: KafkaSource;
      /** Consumer group, 1-200 chars; cannot change after the mapping exists. @default 'shardflow-' + pipeline name */
      readonly consumerGroupId?: string;
    };

export interface StreamProcessorProps {
  /** The validated pipeline; its processing options configure the event source mapping. */
  readonly pipeline: Pipeline;
  /** The stream or topic to read; must match pipeline.source.kind. */
  readonly source: ProcessorSource;
  /** The lake bucket the handler writes to (LAKE_BUCKET). */
  readonly lakeBucket: s3.IBucket;
  /** Where S3 server access logs of the failed-batches bucket go. @default no access logs (and a cdk-nag S1 suppression that says so) */
  readonly accessLogsBucket?: s3.IBucket;
  /** Memory, 128-10240 MB; Lambda's CPU share grows with it and Parquet encoding is CPU-bound. @default 1024 */
  readonly memorySize?: number;
  /** Per-invocation timeout, 1-900 s. @default Duration.minutes(2) */
  readonly timeout?: Duration;
  /** Retention of the function's log group. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** Kafka only: provisioned event pollers, which Lambda requires for retries, bisect, record age and partial batch responses on Kafka. Minimum 1-200, maximum 1-2000. @default { minimum: 1, maximum: partition count } */
  readonly kafkaPollers?: { readonly minimum: number; readonly maximum: number };
  /**
   * Code of the function. For tests that do not need the real bundle: bundling the
   * handler with esbuild takes seconds per stack. @default the bundled functions/stream-processor/index.ts
   */
  readonly handlerCode?: lambda.Code;
  /** Days to keep failed-batch records, 1-3650. @default 30 */
  readonly failedBatchRetentionDays?: number;
}

export const STREAM_PROCESSOR_DEFAULTS = {
  memorySize: 1024,
  timeout: Duration.minutes(2),
  logRetention: logs.RetentionDays.ONE_MONTH,
  failedBatchRetentionDays: 30,
} as const satisfies Partial<StreamProcessorProps>;

/** Entry of the shared handler (docs/architecture.md "Layers": functions/ holds the Lambda handlers). */
export const STREAM_PROCESSOR_ENTRY = entryPath('functions/stream-processor/index.ts');

/**
 * S3 on-failure destination with the two rights the Lambda guide lists
 * (s3:PutObject, s3:ListBucket); aws-cdk's S3OnFailureDestination grants read-write.
 */
export class FailedBatchesDestination implements lambda.IEventSourceDlq {
  constructor(private readonly bucket: s3.IBucket) {}

  bind(_target: lambda.IEventSourceMapping, targetHandler: lambda.IFunction): lambda.DlqDestinationConfig {
    targetHandler.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects('*')] }));
    targetHandler.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }));
    return { destination: this.bucket.bucketArn };
  }
}

export class StreamProcessor extends Construct {
  /** The Lambda function. */
  public readonly function: lambda.Function;
  /** Failed batches (after retries, or older than maxRecordAge) land here, one JSON object each. */
  public readonly failedBatches: s3.Bucket;
  /** Id of the event source mapping. */
  public readonly eventSourceMappingId: string;
  /** FilterCriteria patterns applied by the mapping (empty when the filter runs in the handler only). */
  public readonly filterPatterns: readonly string[];
  private readonly pipeline: Pipeline;
  /** Object-prefix ARNs granted to the function (each a cdk-nag IAM5 finding to acknowledge). */
  private readonly grantedObjectResources: string[] = [];

  constructor(scope: Construct, id: string, props: StreamProcessorProps) {
    super(scope, id);
    const p = { ...STREAM_PROCESSOR_DEFAULTS, ...definedOnly(props) };
    const pipeline = p.pipeline;
    this.pipeline = pipeline;
    const proc = pipeline.processing;
    if (p.source.kind !== pipeline.source.kind) {
      throw new InvalidPropError(`Source kind must match pipeline "${pipeline.name}" source kind ${pipeline.source.kind} (given ${p.source.kind})`);
    }
    checkInteger('Memory size', p.memorySize, 128, 10_240);
    checkSeconds('Timeout', p.timeout, 1, 900);
    checkInteger('Failed batch retention days', p.failedBatchRetentionDays, 1, 3650);
    checkInteger('Maximum batch size', proc.batchSize, 1, 10_000);
    checkInteger('Maximum batching window seconds', proc.batchingWindowMs / 1000, 0, 300);
    checkInteger('Parallelization factor', proc.parallelizationFactor, 1, 10);
    checkInteger('Retry attempts', proc.maxRetryAttempts, 0, 10_000);
    checkInteger('Maximum record age seconds', proc.maxRecordAgeMs / 1000, 60, 604_800);

    this.failedBatches = new s3.Bucket(this, 'FailedBatches', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      // Request metrics make a PutRequests metric, so an alarm sees a failed batch within minutes.
      metrics: [{ id: 'FailedBatches' }],
      lifecycleRules: [{ expiration: Duration.days(p.failedBatchRetentionDays) }],
      removalPolicy: RemovalPolicy.RETAIN,
      ...(p.accessLogsBucket ? { serverAccessLogsBucket: p.accessLogsBucket, serverAccessLogsPrefix: `failed-batches/${pipeline.name}/` } : {}),
    });
    if (!p.accessLogsBucket) {
      acknowledgeNag(this.failedBatches, 'No access-log bucket was passed to StreamProcessor; only Lambda event source mappings write here.', 'AwsSolutions-S1');
    } else {
      // The lake stack's access-log bucket admits S3 log delivery from this account, so no per-bucket policy is needed.
      Annotations.of(this.failedBatches).acknowledgeWarning('@aws-cdk/aws-s3:accessLogsPolicyNotAdded', 'the log bucket policy is set in the lake stack');
    }

    const logGroup = new logs.LogGroup(this, 'Logs', { retention: p.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    const common = {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: p.memorySize,
      timeout: p.timeout,
      logGroup,
      description: `Shardflow stream processor for pipeline ${pipeline.name}`,
      // Only the bucket: the pipeline is inlined in the bundle, as env vars are capped at 4 KB in total.
      environment: { LAKE_BUCKET: p.lakeBucket.bucketName },
    };
    this.function = pipelineFunction(this, 'Function', { ...common, pipeline, entry: STREAM_PROCESSOR_ENTRY, handler: 'handler', ...(p.handlerCode ? { code: p.handlerCode } : {}) });

    this.grantLakeWrites(p.lakeBucket);
    this.filterPatterns = this.compileFilter();
    const filters = this.filterPatterns.map((pattern) => ({ pattern }));
    const mapping = {
      batchSize: proc.batchSize,
      maxBatchingWindow: Duration.millis(proc.batchingWindowMs),
      startingPosition: proc.startingPosition === 'LATEST' ? lambda.StartingPosition.LATEST : lambda.StartingPosition.TRIM_HORIZON,
      reportBatchItemFailures: true,
      bisectBatchOnError: proc.bisectBatchOnError,
      retryAttempts: proc.maxRetryAttempts,
      maxRecordAge: Duration.millis(proc.maxRecordAgeMs),
      onFailure: new FailedBatchesDestination(this.failedBatches),
      ...(filters.length > 0 ? { filters } : {}),
    };

    if (p.source.kind === 'kinesis') {
      const es = new KinesisEventSource(p.source.stream, { ...mapping, parallelizationFactor: proc.parallelizationFactor });
      this.function.addEventSource(es);
      this.eventSourceMappingId = es.eventSourceMappingId;
    } else {
      const src = p.source;
      const partitions = pipeline.source.kind === 'kafka' ? pipeline.source.partitions : 1;
      const pollers = p.kafkaPollers ?? { minimum: 1, maximum: Math.max(1, partitions) };
      checkInteger('Minimum pollers', pollers.minimum, 1, 200);
      checkInteger('Maximum pollers', pollers.maximum, 1, 2000);
      if (pollers.maximum < pollers.minimum) throw new InvalidPropError(`Maximum pollers must be at least minimum pollers ${pollers.minimum} (given ${pollers.maximum})`);
      const consumerGroupId = src.consumerGroupId ?? `shardflow-${pipeline.name}`;
      const es = src.topic.eventSource({
        ...mapping,
        consumerGroupId,
        provisionedPollerConfig: { minimumPollers: pollers.minimum, maximumPollers: pollers.maximum },
      });
      this.function.addEventSource(es);
      src.topic.grantConsume(this.function, consumerGroupId);
      if (src.topic.topic) this.function.node.addDependency(src.topic.topic);
      this.eventSourceMappingId = (es as { eventSourceMappingId?: string }).eventSourceMappingId ?? '';
    }
    acknowledgeNag(this.function, NODE22_REASON, 'AwsSolutions-L1');
    acknowledgeNag(this.function, 'AWSLambdaBasicExecutionRole: writes to the function\'s own log group only.',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]');
    if (p.source.kind === 'kafka') {
      acknowledgeNag(this.function, 'AWSLambdaMSKExecutionRole is attached by ManagedKafkaEventSource: the poller\'s ENI and kafka:Describe* actions, which IAM cannot scope to one resource.',
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaMSKExecutionRole]');
    }
    acknowledgeNag(this.function, 'Object keys under this pipeline\'s own lake prefixes and in its own failed-batches bucket: key names derive from stream positions, so they cannot be listed in advance.',
      ...this.grantedObjectResources.map((r) => `AwsSolutions-IAM5[Resource::${nagResource(this, r)}]`));
  }

  /** Put/Delete on this pipeline's table prefixes; Get/Put on its batch manifests; nothing else in the lake. */
  private grantLakeWrites(bucket: s3.IBucket): void {
    const fn = this.function;
    const tables = lakeTables(this.pipeline);
    const manifests = `${LAKE_STATE_PREFIXES.batches}${this.pipeline.name}/`;
    this.grantedObjectResources.push(
      ...tables.map((t) => bucket.arnForObjects(`${t.location}*`)),
      bucket.arnForObjects(`${manifests}*`),
      this.failedBatches.arnForObjects('*'),
    );
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'WriteOwnLakeTables',
      // Delete: a retried batch of a different extent removes its predecessor's objects (lake-writer.ts).
      actions: ['s3:PutObject', 's3:DeleteObject'],
      resources: tables.map((t) => bucket.arnForObjects(`${t.location}*`)),
    }));
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'BatchManifests',
      actions: ['s3:GetObject', 's3:PutObject'],
      resources: [bucket.arnForObjects(`${manifests}*`)],
    }));
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'ListOwnManifests',
      // Without ListBucket, GetObject of a missing manifest answers 403 instead of 404.
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${manifests}*`] } },
    }));
    bucket.encryptionKey?.grantEncryptDecrypt(fn);
  }

  private compileFilter(): readonly string[] {
    const pipeline = this.pipeline;
    if (!pipeline.processing.lambdaFilterCriteria || !pipeline.filter) return [];
    const r = pipelineFilterCriteria(pipeline, pipeline.source.kind);
    if (!r.expressible) {
      throw new InvalidPropError(`Pipeline "${pipeline.name}": processing.lambdaFilterCriteria is true but the filter cannot be expressed as Lambda FilterCriteria: ${r.reason}`);
    }
    return r.filters.map((f) => f.pattern);
  }
}
