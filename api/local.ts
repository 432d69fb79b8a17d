/**
 * `shardflow/local`: the local runtime behind `shardflow dev`, for scripts and
 * integration tests of your own (start the services and your pipelines, send,
 * query, stop). No cloud account, no Docker.
 */
export { loadPipelines, findPipeline, PipelineLoadError } from '../local/pipeline-loader';
export { startLocalRuntime, readRuntimeInfo, type LocalRuntime, type LocalRuntimeOptions, type RuntimeInfo, type PipelineStatus } from '../local/runtime';
export { localAthenaClient, localKinesisClient, localS3Client } from '../local/aws-clients';
export { runAthenaQuery, QueryFailedError, QueryTimeoutError, type QueryRequest, type QueryResult, type QueryColumn } from '../local/query';
export { generateEvents } from '../local/event-generator';
export { sendToKinesis, sendToKafka, toOutgoing, type OutgoingRecord, type SendReport } from '../local/producers';
export { freePort } from '../local/services/service';
