/**
 * The query runner (functions/query-runner) as the Lambda steps of
 * ScheduledQueries' state machine, through its `stateMachineStep` entry:
 * - render: fills `{{window_start}}`-style placeholders from the schedule's
 *   time, so that every run covers exactly its interval and its partition
 *   predicates prune;
 * - record: writes the run record (status, bytes scanned, time, output) to
 *   `_shardflow/query-runs/<pipeline>/`, as the runner does locally, so
 *   `shardflow runs` and re-runs see AWS runs the same way.
 * Grants: PutObject on its own run records, GetQueryExecution in the workgroup.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { LAKE_STATE_PREFIXES, type Pipeline } from '../core';
import { acknowledgeNag, nagResource, NODE22_REASON } from './nag';
import { entryPath, pipelineFunction } from './pipeline-function';

export interface QueryRendererProps {
  /** The validated pipeline whose scheduled queries this renders. */
  readonly pipeline: Pipeline;
  /** The lake bucket: run records are written there. */
  readonly lakeBucket: s3.IBucket;
  /** The Athena workgroup the queries run in (record reads their statistics). */
  readonly workgroupName: string;
  /** Test-only code, to skip bundling. @default the bundled functions/query-runner/index.ts */
  readonly code?: lambda.Code;
  /** Log retention. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

export const QUERY_RUNNER_ENTRY = entryPath('functions/query-runner/index.ts');

export class QueryRenderer extends Construct {
  public readonly function: lambda.Function;

  constructor(scope: Construct, id: string, props: QueryRendererProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const common = {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      // String work, one GetQueryExecution and one PutObject: seconds would mean something is wrong.
      timeout: Duration.seconds(30),
      logGroup,
      description: `Shardflow query renderer for pipeline ${props.pipeline.name}`,
      environment: { LAKE_BUCKET: props.lakeBucket.bucketName, ATHENA_WORKGROUP: props.workgroupName },
    };
    this.function = pipelineFunction(this, 'Function', { ...common, pipeline: props.pipeline, entry: QUERY_RUNNER_ENTRY, handler: 'stateMachineStep', ...(props.code ? { code: props.code } : {}) });
    const records = props.lakeBucket.arnForObjects(`${LAKE_STATE_PREFIXES.queryRuns}${props.pipeline.name}/*`);
    this.function.addToRolePolicy(new iam.PolicyStatement({ sid: 'WriteRunRecords', actions: ['s3:PutObject'], resources: [records] }));
    this.function.addToRolePolicy(new iam.PolicyStatement({
      sid: 'ReadQueryExecutions',
      actions: ['athena:GetQueryExecution'],
      resources: [Stack.of(this).formatArn({ service: 'athena', resource: 'workgroup', resourceName: props.workgroupName })],
    }));
    props.lakeBucket.encryptionKey?.grantEncrypt(this.function);
    acknowledgeNag(this.function, 'Run records of this pipeline\'s own scheduled queries: one object per query and interval, named as runs happen.',
      `AwsSolutions-IAM5[Resource::${nagResource(this, records)}]`);
    acknowledgeNag(this.function, NODE22_REASON, 'AwsSolutions-L1');
    acknowledgeNag(this.function, 'AWSLambdaBasicExecutionRole: writes to the function\'s own log group only.',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]');
  }
}
