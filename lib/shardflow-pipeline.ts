/**
 * One pipeline, deployed, as a construct a user places in any stack: its source
 * (Kinesis stream or Kafka topic), the stream processor, its Glue tables and
 * view, its scheduled queries, the compactor, alarms and a dashboard. The lake
 * (bucket, databases, workgroup) is shared: a DataLake in this stack or another,
 * or one deployed elsewhere (DataLake.fromLakeAttributes).
 */
import { CfnOutput, Stack } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { Pipeline } from '../core/pipeline';
import type { ILake } from './data-lake';
import { Compactor, type CompactorProps } from './compactor';
import { KafkaSource, type KafkaCluster } from './kafka-source';
import { KinesisSource, type KinesisSourceProps } from './kinesis-source';
import { LakeCatalog } from './lake-catalog';
import { Observability } from './observability';
import { InvalidPropError } from './prop-checks';
import { QueryRenderer } from './query-renderer';
import { ScheduledQueries } from './scheduled-queries';
import { StreamProcessor, type StreamProcessorProps } from './stream-processor';

export interface ShardflowPipelineProps {
  /** The validated pipeline (definePipeline). */
  readonly pipeline: Pipeline;
  /**
   * The lake the pipeline writes to and is queried in: a DataLake of this app (LakeStack.lake,
   * or one in this very stack), shared by any number of pipelines, or DataLake.fromLakeAttributes
   * for a lake deployed elsewhere. Its databases must include pipeline.database.
   */
  readonly lake: ILake;
  /**
   * Emit the stack outputs that `shardflow --target aws` reads (stream or topic, bucket,
   * workgroup, function, dashboard). Output ids are prefixed with this construct's id unless
   * it is 'Default'. @default true
   */
  readonly outputs?: boolean;
  /** Kinesis source overrides (retention, key). @default KINESIS_SOURCE_DEFAULTS */
  readonly kinesis?: Omit<KinesisSourceProps, 'streamName' | 'shards'>;
  /** Kafka cluster for a Kafka pipeline. @default a new MSK Serverless cluster in a new VPC */
  readonly kafkaCluster?: KafkaCluster;
  /** Stream processor overrides (memory, timeout, pollers, test code). @default STREAM_PROCESSOR_DEFAULTS */
  readonly processor?: Omit<StreamProcessorProps, 'pipeline' | 'source' | 'lakeBucket' | 'accessLogsBucket'>;
  /** Test-only: code of the Kafka topic provisioner, to skip bundling. @default the bundled handler */
  readonly topicHandlerCode?: lambda.Code;
  /** Query runner function (render and record steps of scheduled queries). @default a QueryRenderer when the pipeline has scheduled queries */
  readonly queryRenderer?: lambda.IFunction;
  /** Test-only: code of the default QueryRenderer, to skip bundling. @default the bundled query runner */
  readonly queryRendererCode?: lambda.Code;
  /** Compactor overrides (memory, schedule, test code), or false for none. @default a Compactor with COMPACTOR_DEFAULTS */
  readonly compactor?: Omit<CompactorProps, 'pipeline' | 'lakeBucket'> | false;
  /** Topic for alarm notifications. @default none */
  readonly alarmTopic?: sns.ITopic;
}

export class ShardflowPipeline extends Construct {
  /** The Kinesis stream, for a Kinesis pipeline. */
  public readonly kinesisSource?: KinesisSource;
  /** The Kafka topic (and the MSK Serverless cluster, when one was made), for a Kafka pipeline. */
  public readonly kafkaSource?: KafkaSource;
  /** The stream-processor function, its event source mapping and failed-batches bucket. */
  public readonly processor: StreamProcessor;
  /** The Glue tables and views of the pipeline. */
  public readonly catalog: LakeCatalog;
  /** The schedules and state machine of the scheduled queries, when the pipeline has any. */
  public readonly scheduledQueries?: ScheduledQueries;
  /** Alarms and the dashboard. */
  public readonly observability: Observability;
  /** The hourly compactor, unless `compactor: false`. */
  public readonly compactor?: Compactor;
  private readonly emitOutputs: boolean;

  constructor(scope: Construct, id: string, props: ShardflowPipelineProps) {
    super(scope, id);
    const { pipeline, lake } = props;
    this.emitOutputs = props.outputs !== false;
    if (!lake.databaseNames.includes(pipeline.database)) {
      throw new InvalidPropError(`Database must be one of the lake's databases ${lake.databaseNames.join(', ')} (given ${JSON.stringify(pipeline.database)})`);
    }
    // The lake is found by name (pseudo-parameters only), not by CloudFormation exports: pipeline
    // stacks come and go without pinning the lake stack, and IAM resources read the same everywhere.
    // What CloudFormation cannot see through a name is the order: the lake deploys first.
    if (Construct.isConstruct(lake)) {
      if (Stack.of(lake) !== Stack.of(this)) Stack.of(this).addStackDependency(Stack.of(lake));
      else this.node.addDependency(lake);
    }
    const lakeBucket = s3.Bucket.fromBucketAttributes(this, 'LakeBucket', {
      bucketName: lake.bucketName,
      ...(lake.encryptionKey ? { encryptionKey: lake.encryptionKey } : {}),
    });
    // The lake stack's access-log bucket policy already admits log delivery from this account.
    const accessLogs = s3.Bucket.fromBucketName(this, 'AccessLogs', lake.accessLogsBucketName);

    const src = pipeline.source;
    let source: StreamProcessorProps['source'];
    if (src.kind === 'kinesis') {
      this.kinesisSource = new KinesisSource(this, 'Source', { ...props.kinesis, streamName: src.stream, shards: src.shards });
      source = { kind: 'kinesis', stream: this.kinesisSource.stream };
      this.output('StreamName', { value: this.kinesisSource.stream.streamName, description: 'Kinesis stream to send events to' });
    } else {
      this.kafkaSource = new KafkaSource(this, 'Source', {
        topicName: src.topic,
        partitions: src.partitions,
        clusterName: `shardflow-${pipeline.name}`,
        ...(props.kafkaCluster ? { cluster: props.kafkaCluster } : {}),
        ...(props.topicHandlerCode ? { topicHandlerCode: props.topicHandlerCode } : {}),
      });
      source = { kind: 'kafka', topic: this.kafkaSource };
      this.output('TopicName', { value: src.topic, description: 'Kafka topic to send events to' });
      if (this.kafkaSource.bootstrapServers) {
        this.output('BootstrapServers', { value: this.kafkaSource.bootstrapServers, description: 'Kafka bootstrap servers (IAM auth on MSK)' });
      }
      if (this.kafkaSource.clusterArn) this.output('ClusterArn', { value: this.kafkaSource.clusterArn });
    }

    this.processor = new StreamProcessor(this, 'Processor', {
      ...props.processor,
      pipeline,
      source,
      lakeBucket,
      accessLogsBucket: accessLogs,
    });
    this.catalog = new LakeCatalog(this, 'Catalog', { pipeline, bucket: lakeBucket });
    // The query runner renders each run's SQL and writes its run record (lib/query-renderer.ts).
    const renderer = props.queryRenderer ?? (pipeline.scheduledQueries.length > 0
      ? new QueryRenderer(this, 'QueryRenderer', { pipeline, lakeBucket, workgroupName: lake.workgroupName, ...(props.queryRendererCode ? { code: props.queryRendererCode } : {}) }).function
      : undefined);
    if (pipeline.scheduledQueries.length > 0) {
      this.scheduledQueries = new ScheduledQueries(this, 'ScheduledQueries', {
        pipeline,
        lakeBucket,
        workgroupName: lake.workgroupName,
        ...(renderer ? { renderer } : {}),
      });
    }
    if (props.compactor !== false) {
      this.compactor = new Compactor(this, 'Compactor', { ...props.compactor, pipeline, lakeBucket });
    }
    this.observability = new Observability(this, 'Observability', {
      pipeline,
      function: this.processor.function,
      failedBatchesBucket: this.processor.failedBatches,
      ...(this.kinesisSource ? { streamRetention: this.kinesisSource.retention } : {}),
      ...(this.scheduledQueries ? { scheduledQueryAlarms: [this.scheduledQueries.failureAlarm] } : {}),
      ...(this.compactor ? { batchAlarms: [this.compactor.failureAlarm] } : {}),
      ...(props.alarmTopic ? { alarmTopic: props.alarmTopic } : {}),
    });

    this.output('LakeBucketName', { value: lakeBucket.bucketName, description: 'S3 bucket of the lake' });
    this.output('WorkgroupName', { value: lake.workgroupName, description: 'Athena workgroup' });
    this.output('DatabaseName', { value: pipeline.database, description: 'Glue database' });
    this.output('FunctionName', { value: this.processor.function.functionName });
    this.output('FailedBatchesBucketName', { value: this.processor.failedBatches.bucketName });
    this.output('DashboardName', { value: this.observability.dashboard.dashboardName });
  }

  private output(id: string, props: { value: string; description?: string }): void {
    if (this.emitOutputs) new CfnOutput(this, id, props);
  }
}
