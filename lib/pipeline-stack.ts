/**
 * One pipeline in a stack of its own (what `bin/app.ts` deploys per pipeline):
 * a ShardflowPipeline with the lake from a LakeStack. For a pipeline inside a
 * stack of your own, use ShardflowPipeline directly.
 */
import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { Compactor } from './compactor';
import type { KafkaSource } from './kafka-source';
import type { KinesisSource } from './kinesis-source';
import type { LakeCatalog } from './lake-catalog';
import type { Observability } from './observability';
import type { ScheduledQueries } from './scheduled-queries';
import { ShardflowPipeline, type ShardflowPipelineProps } from './shardflow-pipeline';
import type { StreamProcessor } from './stream-processor';

export interface PipelineStackProps extends StackProps, ShardflowPipelineProps {}

export class PipelineStack extends Stack {
  /** The pipeline construct; the fields below are its parts. */
  public readonly shardflowPipeline: ShardflowPipeline;
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

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, { description: `Shardflow pipeline ${props.pipeline.name}: ${props.pipeline.description}`.slice(0, 1024), ...props });
    // Id 'Default' leaves the construct out of logical ids: a stack made before
    // ShardflowPipeline existed keeps every resource (and output) name.
    this.shardflowPipeline = new ShardflowPipeline(this, 'Default', props);
    const p = this.shardflowPipeline;
    if (p.kinesisSource) this.kinesisSource = p.kinesisSource;
    if (p.kafkaSource) this.kafkaSource = p.kafkaSource;
    this.processor = p.processor;
    this.catalog = p.catalog;
    if (p.scheduledQueries) this.scheduledQueries = p.scheduledQueries;
    this.observability = p.observability;
    if (p.compactor) this.compactor = p.compactor;
  }
}
