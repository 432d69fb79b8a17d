/**
 * The Glue catalog of some pipelines as `cdk synth` writes it, for a Trino that
 * reads a local lake (`shardflow dev --athena-engine trino`): the LakeCatalog
 * construct in a throw-away stack over a bucket imported by its local name,
 * synthesized. The same construct and template shape as a deployment, so the
 * local Trino sees what Athena sees.
 */
import { App, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Pipeline } from '../core';
import { LakeCatalog } from './lake-catalog';

/** A synthesized CloudFormation template (the part of it that holds Glue resources). */
export interface GlueTemplate {
  readonly Resources?: Record<string, { readonly Type: string; readonly Properties?: Record<string, unknown> }>;
}

/** Pseudo parameters the template is synthesized for (the catalog id is the account; nothing else uses them). */
export const LOCAL_GLUE_ENV = { account: '000000000000', region: 'us-east-1' } as const;

export function synthesizeGlueTemplate(pipelines: readonly Pipeline[], bucketName: string): GlueTemplate {
  const app = new App();
  const stack = new Stack(app, 'ShardflowLocalGlue', { env: LOCAL_GLUE_ENV });
  const bucket = s3.Bucket.fromBucketName(stack, 'Lake', bucketName);
  for (const p of pipelines) new LakeCatalog(stack, `Catalog-${p.name}`, { pipeline: p, bucket });
  return app.synth().getStackArtifact(stack.artifactId).template as GlueTemplate;
}
