/**
 * The compactor (functions/compactor) as a Lambda function on an hourly
 * EventBridge Scheduler schedule: each pass publishes one object per sealed
 * partition of the pipeline's Parquet tables and, an hour later, retires the
 * objects it replaced (docs/compaction.md).
 *
 * Reserved concurrency 1: two passes planning the same partition at once
 * would each publish a compacted object, and both would count. A retry that
 * arrives while a pass runs is throttled and retried by Scheduler.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { LAKE_STATE_PREFIXES, lakeTables, type Pipeline } from '../core';
import { acknowledgeNag, nagResource, NODE22_REASON } from './nag';
import { checkInteger, definedOnly } from './prop-checks';
import { entryPath, pipelineFunction } from './pipeline-function';

export interface CompactorProps {
  /** The validated pipeline whose Parquet tables to compact. */
  readonly pipeline: Pipeline;
  /** The lake bucket. */
  readonly lakeBucket: s3.IBucket;
  /**
   * Memory, 512-10240 MB. A pass holds one partition's rows at a time (about
   * 1 KiB of memory per raw row): 3008 MB is comfortable up to about a million
   * rows an hour. @default 3008
   */
  readonly memorySize?: number;
  /** Schedule, EventBridge syntax. @default 'rate(1 hour)' */
  readonly schedule?: string;
  /** Test-only code, to skip bundling. @default the bundled functions/compactor/index.ts */
  readonly code?: lambda.Code;
  /** Log retention. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

export const COMPACTOR_DEFAULTS = {
  memorySize: 3008,
  schedule: 'rate(1 hour)',
  logRetention: logs.RetentionDays.ONE_MONTH,
} as const satisfies Partial<CompactorProps>;

export const COMPACTOR_ENTRY = entryPath('functions/compactor/index.ts');
const MANIFESTS = LAKE_STATE_PREFIXES.compaction;

export class Compactor extends Construct {
  public readonly function: lambda.Function;
  public readonly schedule: scheduler.Schedule;
  /** Errors of the compactor function (a pass that threw). */
  public readonly failureAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: CompactorProps) {
    super(scope, id);
    const p = { ...COMPACTOR_DEFAULTS, ...definedOnly(props) };
    checkInteger('Compactor memorySize', p.memorySize, 512, 10240);
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: p.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    const common = {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: p.memorySize,
      // Lambda's maximum; a pass stops starting partitions three minutes before it.
      timeout: Duration.minutes(15),
      reservedConcurrentExecutions: 1,
      logGroup,
      description: `Shardflow compactor for pipeline ${p.pipeline.name}`,
      environment: { LAKE_BUCKET: p.lakeBucket.bucketName },
    };
    this.function = pipelineFunction(this, 'Function', { ...common, pipeline: p.pipeline, entry: COMPACTOR_ENTRY, handler: 'handler', ...(p.code ? { code: p.code } : {}) });

    const prefixes = [...lakeTables(p.pipeline).filter((t) => t.filesName).map((t) => t.location), MANIFESTS];
    const objects = prefixes.map((x) => p.lakeBucket.arnForObjects(`${x}*`));
    this.function.addToRolePolicy(new iam.PolicyStatement({
      sid: 'CompactOwnTables',
      // Get: sources and manifests; Put: staging, manifests; Delete: retired sources and staging;
      // the copy of staging to the partition is a GetObject on the source and a PutObject on the target.
      actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
      resources: objects,
    }));
    this.function.addToRolePolicy(new iam.PolicyStatement({
      sid: 'ListOwnTables',
      actions: ['s3:ListBucket'],
      resources: [p.lakeBucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': prefixes.map((x) => `${x}*`) } },
    }));
    p.lakeBucket.encryptionKey?.grantEncryptDecrypt(this.function);

    // Its own role, so the acknowledgement below covers exactly this grant.
    const scheduleRole = new iam.Role(this, 'ScheduleRole', { assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com') });
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      scheduleName: `shardflow-${p.pipeline.name}-compaction`.slice(0, 64),
      description: `Compaction of the lake tables of pipeline ${p.pipeline.name}`,
      schedule: scheduler.ScheduleExpression.expression(p.schedule),
      target: new targets.LambdaInvoke(this.function, {
        role: scheduleRole,
        input: scheduler.ScheduleTargetInput.fromObject({ pipeline: p.pipeline.name, scheduledTime: scheduler.ContextAttribute.scheduledTime }),
        retryAttempts: 2,
        maxEventAge: Duration.hours(1),
      }),
    });

    this.failureAlarm = new cloudwatch.Alarm(this, 'FailedPasses', {
      alarmDescription: `Compaction of pipeline ${p.pipeline.name} failed (see the compactor's log); unfinished compactions are carried on by the next pass`,
      metric: this.function.metricErrors({ period: Duration.hours(1), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    acknowledgeNag(scheduleRole, 'lambda:InvokeFunction on the compactor and its versions (ARN:*, as Function.grantInvoke writes it); it is this pipeline\'s own compactor.',
      `AwsSolutions-IAM5[Resource::${nagResource(this, this.function.functionArn)}:*]`);
    acknowledgeNag(this.function, NODE22_REASON, 'AwsSolutions-L1');
    acknowledgeNag(this.function, 'AWSLambdaBasicExecutionRole: writes to the function\'s own log group only.',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]');
    acknowledgeNag(this.function, 'Object keys under this pipeline\'s own table prefixes and its compaction manifests: partition and object names are made as data arrives.',
      ...objects.map((r) => `AwsSolutions-IAM5[Resource::${nagResource(this, r)}]`));
  }
}
