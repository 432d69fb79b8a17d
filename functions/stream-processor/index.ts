/**
 * Lambda entry point. Configuration is checked at module load so that a bad
 * deployment fails on its first cold start with a clear message:
 * - LAKE_BUCKET: the lake bucket name (required)
 * - SHARDFLOW_PIPELINE: the validated pipeline as JSON (required; the CDK
 *   bundle inlines it at build time, since Lambda caps environment variables at 4 KB)
 * - S3_ENDPOINT: an S3-compatible endpoint (optional; the local emulator)
 */
import { S3Client } from '@aws-sdk/client-s3';
import { optionalEnv, pipelineFromEnv, requireEnv } from '../shared/config';
import { createStreamProcessor } from './handler';

const bucket = requireEnv('LAKE_BUCKET');
const pipeline = pipelineFromEnv();
const endpoint = optionalEnv('S3_ENDPOINT');

export const handler = createStreamProcessor(pipeline, {
  bucket,
  s3: new S3Client(endpoint ? { endpoint, forcePathStyle: true } : {}),
});
