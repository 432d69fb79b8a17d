/**
 * The query runner's `render` entry as a Lambda function: the renderer step of
 * ScheduledQueries. It fills `{{window_start}}`-style placeholders from the
 * schedule's time, so that every run covers exactly its interval and its
 * partition predicates prune. Pure computation: no grants beyond its logs.
 */
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { Pipeline } from '../core';
import { acknowledgeNag, NODE22_REASON } from './nag';
import { processorBundling } from './stream-processor';

export interface QueryRendererProps {
  /** The validated pipeline whose scheduled queries this renders. */
  readonly pipeline: Pipeline;
  /** The lake bucket (the entry point checks LAKE_BUCKET at load; render itself writes nothing). */
  readonly lakeBucket: s3.IBucket;
  /** Test-only code, to skip bundling. @default the bundled functions/query-runner/index.ts */
  readonly code?: lambda.Code;
  /** Log retention. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

export const QUERY_RUNNER_ENTRY = fileURLToPath(new URL('../functions/query-runner/index.ts', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** True when any scheduled query's SQL holds a `{{…}}` placeholder. */
export function needsRenderer(pipeline: Pipeline): boolean {
  return pipeline.scheduledQueries.some((q) => /\{\{\s*[a-z_]+\s*\}\}/.test(q.sql));
}

export class QueryRenderer extends Construct {
  public readonly function: lambda.Function;

  constructor(scope: Construct, id: string, props: QueryRendererProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const common = {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      // Rendering is string work: seconds would mean something is wrong.
      timeout: Duration.seconds(10),
      logGroup,
      description: `Shardflow query renderer for pipeline ${props.pipeline.name}`,
      environment: { LAKE_BUCKET: props.lakeBucket.bucketName },
    };
    this.function = props.code
      ? new lambda.Function(this, 'Function', { ...common, code: props.code, handler: 'index.render' })
      : new nodejs.NodejsFunction(this, 'Function', {
          ...common,
          entry: QUERY_RUNNER_ENTRY,
          handler: 'render',
          projectRoot: PROJECT_ROOT,
          depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
          bundling: processorBundling(props.pipeline),
        });
    acknowledgeNag(this.function, NODE22_REASON, 'AwsSolutions-L1');
    acknowledgeNag(this.function, 'AWSLambdaBasicExecutionRole: writes to the function\'s own log group only.',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]');
  }
}
