/**
 * `shardflow/cdk`: the constructs and stacks, for a CDK app of your own.
 * - shardflowStacks(app, { pipelines }): the whole app (lake stack, a stack per pipeline, cdk-nag);
 * - ShardflowPipeline: one pipeline as a construct inside a stack you already have;
 * - DataLake / LakeStack: the lake pipelines share (or DataLake.fromLakeAttributes for one deployed elsewhere);
 * - the parts (sources, stream processor, catalog, scheduled queries, compactor, observability).
 */
export { shardflowStacks, type ShardflowStacksProps, type ShardflowStacks } from '../lib/shardflow-stacks';
export { ShardflowPipeline, type ShardflowPipelineProps } from '../lib/shardflow-pipeline';
export { PipelineStack, type PipelineStackProps } from '../lib/pipeline-stack';
export { LakeStack, type LakeStackProps } from '../lib/lake-stack';
export { DataLake, DATA_LAKE_DEFAULTS, type DataLakeProps, type ILake, type LakeAttributes } from '../lib/data-lake';
export { KinesisSource, KINESIS_SOURCE_DEFAULTS, type KinesisSourceProps } from '../lib/kinesis-source';
export { KafkaSource, KAFKA_SOURCE_DEFAULTS, type KafkaSourceProps, type KafkaCluster } from '../lib/kafka-source';
export { StreamProcessor, STREAM_PROCESSOR_DEFAULTS, type StreamProcessorProps, type ProcessorSource } from '../lib/stream-processor';
export { LakeCatalog, LAKE_CATALOG_DEFAULTS, type LakeCatalogProps } from '../lib/lake-catalog';
export { ScheduledQueries, SCHEDULED_QUERIES_DEFAULTS, type ScheduledQueriesProps } from '../lib/scheduled-queries';
export { QueryRenderer, type QueryRendererProps } from '../lib/query-renderer';
export { Compactor, COMPACTOR_DEFAULTS, type CompactorProps } from '../lib/compactor';
export { Observability, OBSERVABILITY_DEFAULTS, type ObservabilityProps } from '../lib/observability';
export { InvalidPropError } from '../lib/prop-checks';
