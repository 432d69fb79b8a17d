/**
 * A pipeline's scheduled batch queries: one EventBridge Scheduler schedule per
 * query (expression as given, UTC), all starting one Step Functions state machine
 * that renders the SQL, runs it on Athena (StartQueryExecution .sync, with
 * retries), records the run and fails visibly; an alarm on failed, timed-out or
 * aborted runs. Athena .sync rather than a Lambda that polls: a query may run
 * longer than Lambda's 15 minutes, and waiting costs nothing.
 *
 * The render and record steps are the shared query runner (functions/query-runner,
 * its `stateMachineStep` entry), passed as `renderer`: render fills the
 * {{window_start}}-style placeholders; record writes the run record (status,
 * bytes scanned, time, output) where the local runner writes it, after success
 * and after failure. With no renderer, the SQL runs as written and no record is
 * written, and a query that uses placeholders is a synth error rather than an
 * Athena syntax error at 3 a.m.
 */
import { Aws, Duration, RemovalPolicy, Stack, TimeZone } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { Pipeline } from '../core/pipeline';
import { RESULTS_PREFIX } from './data-lake';
import { acknowledgeNag, nagResource } from './nag';
import { checkInteger, checkSeconds, definedOnly, InvalidPropError } from './prop-checks';

export interface ScheduledQueriesProps {
  /** The validated pipeline; one schedule per pipeline.scheduledQueries entry. */
  readonly pipeline: Pipeline;
  /** The lake bucket: tables are read from it, results written to it. */
  readonly lakeBucket: s3.IBucket;
  /** Athena workgroup name (it enforces the result location and encryption). */
  readonly workgroupName: string;
  /** Glue database name. @default pipeline.database */
  readonly databaseName?: string;
  /** The query runner function (stateMachineStep): renders the SQL, records each run. @default none: SQL runs as written, no run records */
  readonly renderer?: lambda.IFunction;
  /** Retries of a failed Athena run, 0-10, with exponential backoff from 30 s. @default 2 */
  readonly retryAttempts?: number;
  /** Longest a run may take, 60-86400 s. @default Duration.hours(1) */
  readonly timeout?: Duration;
  /** Retention of the state machine's execution log. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

export const SCHEDULED_QUERIES_DEFAULTS = {
  retryAttempts: 2,
  timeout: Duration.hours(1),
  logRetention: logs.RetentionDays.ONE_MONTH,
} as const satisfies Partial<ScheduledQueriesProps>;

const PLACEHOLDER = /\{\{\s*[a-z_]+\s*\}\}/;

export class ScheduledQueries extends Construct {
  /** Runs one query: render, Athena .sync, fail on error. */
  public readonly stateMachine: sfn.StateMachine;
  /** Schedules by query name. */
  public readonly schedules: Readonly<Record<string, scheduler.Schedule>>;
  /** In alarm when a run failed, timed out or was aborted in the last 5 minutes. */
  public readonly failureAlarm: cloudwatch.Alarm;
  private readonly pipelineName: string;
  private readonly outputTables: readonly string[];

  constructor(scope: Construct, id: string, props: ScheduledQueriesProps) {
    super(scope, id);
    const p = { ...SCHEDULED_QUERIES_DEFAULTS, ...definedOnly(props) };
    const pipeline = p.pipeline;
    checkInteger('Retry attempts', p.retryAttempts, 0, 10);
    checkSeconds('Timeout', p.timeout, 60, 86_400);
    if (!p.renderer) {
      pipeline.scheduledQueries.forEach((q, i) => {
        const m = PLACEHOLDER.exec(q.sql);
        if (m) throw new InvalidPropError(`Pipeline "${pipeline.name}": scheduledQueries[${i}].sql uses placeholder ${m[0]} but no renderer (the query runner function) was given to fill it (given renderer: none)`);
      });
    }
    const databaseName = p.databaseName ?? pipeline.database;
    this.pipelineName = pipeline.name;
    this.outputTables = pipeline.scheduledQueries.flatMap((q) => (q.outputTable ? [q.outputTable] : []));

    const render: sfn.IChainable = p.renderer
      ? new tasks.LambdaInvoke(this, 'RenderQuery', {
          lambdaFunction: p.renderer,
          payload: sfn.TaskInput.fromObject({
            step: 'render',
            pipeline: pipeline.name,
            'query.$': '$.query',
            'sql.$': '$.sql',
            'scheduledTime.$': '$.scheduledTime',
          }),
          resultSelector: { 'sql.$': '$.Payload.sql' },
          resultPath: '$.rendered',
          retryOnServiceExceptions: true,
        })
      : new sfn.Pass(this, 'UseSqlAsWritten', { parameters: { 'sql.$': '$.sql' }, resultPath: '$.rendered' });

    // The Athena .sync integration as a CustomState: the CDK task grants s3:GetObject and
    // s3:ListBucket on "*" for the result location; the statements below are scoped instead.
    const run = new sfn.CustomState(this, 'RunQuery', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Aws.PARTITION}:states:::athena:startQueryExecution.sync`,
        Parameters: {
          'QueryString.$': '$.rendered.sql',
          QueryExecutionContext: { Catalog: 'AwsDataCatalog', Database: databaseName },
          // The workgroup enforces the result location (athena-results/) and its encryption.
          WorkGroup: p.workgroupName,
        },
        ResultSelector: { 'queryExecutionId.$': '$.QueryExecution.QueryExecutionId', 'state.$': '$.QueryExecution.Status.State' },
        ResultPath: '$.athena',
      },
    });
    if (p.retryAttempts > 0) {
      run.addRetry({
        // A failed query surfaces as States.TaskFailed; throttling as Athena.TooManyRequestsException.
        errors: ['Athena.TooManyRequestsException', 'Athena.InternalServerException', 'States.TaskFailed'],
        maxAttempts: p.retryAttempts,
        interval: Duration.seconds(30),
        backoffRate: 2,
      });
    }
    const queryFailed = new sfn.Fail(this, 'QueryFailed', { error: 'ScheduledQueryFailed', cause: 'Athena query failed after retries' });
    const recordStep = (id: string, outcome: Record<string, string>): tasks.LambdaInvoke =>
      new tasks.LambdaInvoke(this, id, {
        lambdaFunction: p.renderer!,
        payload: sfn.TaskInput.fromObject({
          step: 'record',
          pipeline: pipeline.name,
          'query.$': '$.query',
          'scheduledTime.$': '$.scheduledTime',
          'execution.$': '$$.Execution.Id',
          ...outcome,
        }),
        resultSelector: { 'status.$': '$.Payload.status' },
        resultPath: '$.record',
        retryOnServiceExceptions: true,
      });
    if (p.renderer) {
      const recordRun = recordStep('RecordRun', { 'athena.$': '$.athena' });
      const recordFailure = recordStep('RecordFailure', { 'error.$': '$.error' });
      // A failed record step still fails the run: the alarm fires either way.
      recordFailure.addCatch(queryFailed, { resultPath: '$.recordError' });
      run.addCatch(recordFailure.next(queryFailed), { resultPath: '$.error' });
      run.next(recordRun);
    } else {
      run.addCatch(queryFailed);
    }

    const logGroup = new logs.LogGroup(this, 'ExecutionLogs', { retention: p.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      comment: `Shardflow scheduled queries of pipeline ${pipeline.name}`,
      // With a runner, run → RecordRun was chained above; the graph is walked from the start.
      definitionBody: sfn.DefinitionBody.fromChainable(sfn.Chain.start(render).next(run)),
      timeout: p.timeout,
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });

    this.grantQueryRights(p.lakeBucket, p.workgroupName, databaseName);
    for (const q of pipeline.scheduledQueries) {
      if (q.outputTable) {
        this.stateMachine.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:AbortMultipartUpload'], resources: [p.lakeBucket.arnForObjects(`tables/${q.outputTable}/*`)] }));
      }
    }
    this.acknowledgeFindings(p.lakeBucket, databaseName, p.renderer);

    const schedules: Record<string, scheduler.Schedule> = {};
    for (const q of pipeline.scheduledQueries) {
      schedules[q.name] = new scheduler.Schedule(this, `Schedule-${q.name}`, {
        scheduleName: `shardflow-${pipeline.name}-${q.name}`.slice(0, 64),
        description: q.description || `Scheduled query ${q.name} of pipeline ${pipeline.name}`,
        schedule: scheduler.ScheduleExpression.expression(q.schedule, TimeZone.ETC_UTC),
        target: new targets.StepFunctionsStartExecution(this.stateMachine, {
          input: scheduler.ScheduleTargetInput.fromObject({
            query: q.name,
            sql: q.sql,
            scheduledTime: scheduler.ContextAttribute.scheduledTime,
          }),
          // Scheduler's own retries of StartExecution (throttling); query retries are in the state machine.
          retryAttempts: 3,
          maxEventAge: Duration.hours(1),
        }),
      });
    }
    this.schedules = schedules;

    const failed = new cloudwatch.MathExpression({
      expression: 'failed + timedOut + aborted',
      usingMetrics: {
        failed: this.stateMachine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
        timedOut: this.stateMachine.metricTimedOut({ period: Duration.minutes(5), statistic: 'Sum' }),
        aborted: this.stateMachine.metricAborted({ period: Duration.minutes(5), statistic: 'Sum' }),
      },
      label: 'Failed scheduled query runs',
      period: Duration.minutes(5),
    });
    this.failureAlarm = failed.createAlarm(this, 'FailureAlarm', {
      alarmDescription: `A scheduled query of pipeline ${pipeline.name} failed, timed out or was aborted`,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /** What Athena needs, with the caller's rights, to run a query and write its result. */
  private grantQueryRights(bucket: s3.IBucket, workgroupName: string, databaseName: string): void {
    const stack = Stack.of(this);
    const sm = this.stateMachine;
    sm.addToRolePolicy(new iam.PolicyStatement({
      actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:StopQueryExecution'],
      resources: [stack.formatArn({ service: 'athena', resource: 'workgroup', resourceName: workgroupName })],
    }));
    sm.addToRolePolicy(new iam.PolicyStatement({
      actions: ['athena:GetDataCatalog'],
      resources: [stack.formatArn({ service: 'athena', resource: 'datacatalog', resourceName: 'AwsDataCatalog' })],
    }));
    sm.addToRolePolicy(new iam.PolicyStatement({
      actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetTables', 'glue:GetPartition', 'glue:GetPartitions', 'glue:BatchGetPartition'],
      resources: [
        stack.formatArn({ service: 'glue', resource: 'catalog' }),
        stack.formatArn({ service: 'glue', resource: 'database', resourceName: databaseName }),
        stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${databaseName}/*` }),
      ],
    }));
    // Tables of any pipeline in the lake (a query may join them); this pipeline's quarantine.
    sm.addToRolePolicy(new iam.PolicyStatement({
      actions: ['s3:GetObject'],
      resources: [bucket.arnForObjects('tables/*'), bucket.arnForObjects(`quarantine/${this.pipelineName}/*`)],
    }));
    sm.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket', 's3:GetBucketLocation'], resources: [bucket.bucketArn] }));
    sm.addToRolePolicy(new iam.PolicyStatement({
      actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
      resources: [bucket.arnForObjects(`${RESULTS_PREFIX}*`)],
    }));
  }

  private acknowledgeFindings(bucket: s3.IBucket, databaseName: string, renderer: lambda.IFunction | undefined): void {
    const stack = Stack.of(this);
    const res = (v: string) => `AwsSolutions-IAM5[Resource::${nagResource(this, v)}]`;
    acknowledgeNag(this.stateMachine, 'Athena runs any table of the lake database and writes results under names it chooses: tables/* and the results prefix are as narrow as the query text allows.',
      res(bucket.arnForObjects('tables/*')),
      res(bucket.arnForObjects(`quarantine/${this.pipelineName}/*`)),
      res(bucket.arnForObjects(`${RESULTS_PREFIX}*`)),
      res(stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${databaseName}/*` })),
      ...this.outputTables.map((t) => res(bucket.arnForObjects(`tables/${t}/*`))));
    if (renderer) {
      acknowledgeNag(this.stateMachine, 'LambdaInvoke grants the renderer function and its versions (ARN:*); it is this pipeline\'s own query renderer.',
        res(`${renderer.functionArn}:*`));
    }
    acknowledgeNag(this.stateMachine, 'Vended log delivery and X-Ray actions have no resource-level permissions (Step Functions logging and tracing guides); CDK adds them for the execution log and tracing.',
      'AwsSolutions-IAM5[Resource::*]');
  }
}
