import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, test } from 'vitest';
import { ScheduledQueries } from '../lib/scheduled-queries';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { INLINE_CODE, deploy, newStack } from './helpers';
import { orders } from './fixtures';

const hourly = orders({
  scheduledQueries: [
    { name: 'hourly_totals', schedule: 'rate(1 hour)', sql: 'SELECT category, count(*) FROM shardflow.orders_events GROUP BY 1' },
    { name: 'nightly', schedule: 'cron(0 2 * * ? *)', sql: 'SELECT 1', outputTable: 'orders_nightly' },
  ],
});

describe('ScheduledQueries', () => {
  test('one schedule per query, expression as given, in UTC, starting the state machine', () => {
    const { stack } = deploy(hourly, { compactor: false });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::Scheduler::Schedule', 2);
    t.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 hour)',
      ScheduleExpressionTimezone: 'Etc/UTC',
      Target: Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('ScheduledQueriesStateMachine') }, RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 3 }) }),
    });
    t.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(0 2 * * ? *)', ScheduleExpressionTimezone: 'Etc/UTC' });
  });

  test('state machine runs Athena StartQueryExecution .sync in the workgroup, with retries, logs and tracing', () => {
    const { stack } = deploy(hourly);
    const t = Template.fromStack(stack);
    const sm = Object.values(t.findResources('AWS::StepFunctions::StateMachine'))[0] as { Properties: { DefinitionString: unknown; TracingConfiguration: unknown; LoggingConfiguration: { Level: string } } };
    const def = JSON.stringify(sm.Properties.DefinitionString);
    expect(def).toContain('athena:startQueryExecution.sync');
    expect(def).toContain('\\"WorkGroup\\":\\"shardflow\\"');
    expect(def).toContain('States.TaskFailed');
    expect(sm.Properties.TracingConfiguration).toEqual({ Enabled: true });
    expect(sm.Properties.LoggingConfiguration.Level).toBe('ALL');
  });

  test('IAM: the only "*" statement holds log-delivery and X-Ray actions, which have no resource-level form', () => {
    const { stack } = deploy(hourly);
    const stmts = Object.entries(Template.fromStack(stack).findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.includes('ScheduledQueries'))
      .flatMap(([, r]) => (r as { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } } }).Properties.PolicyDocument.Statement);
    const star = stmts.filter((s) => s.Resource === '*').flatMap((s) => [s.Action].flat());
    expect(star.length).toBeGreaterThan(0);
    expect(star.every((a) => a.startsWith('logs:') || a.startsWith('xray:'))).toBe(true);
    // reads are scoped to table prefixes, results to the results prefix
    expect(JSON.stringify(stmts)).toContain('/athena-results/*');
    expect(JSON.stringify(stmts)).toContain('/tables/orders_nightly/*');
  });

  test('failure alarm on failed, timed-out or aborted runs; it is on the pipeline dashboard', () => {
    const { stack } = deploy(hourly);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 1,
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'failed + timedOut + aborted' })]),
    });
    expect(JSON.stringify(t.findResources('AWS::CloudWatch::Dashboard'))).toContain('ScheduledQueriesFailureAlarm');
  });

  test('placeholders: the pipeline stack adds the query renderer; the construct alone without one fails at synth', () => {
    const p = orders({ scheduledQueries: [{ name: 'windowed', schedule: 'rate(1 hour)', sql: 'SELECT * FROM t WHERE ts >= {{window_start}}' }] });
    const { stack } = deploy(p);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.stateMachineStep', Description: Match.stringLikeRegexp('query renderer') });
    expect(JSON.stringify(t.findResources('AWS::StepFunctions::StateMachine'))).toContain('QueryRenderer');
    const bare = newStack('Bare');
    expect(() => new ScheduledQueries(bare, 'Q', { pipeline: p, lakeBucket: s3.Bucket.fromBucketName(bare, 'B', 'lake'), workgroupName: 'wg' }))
      .toThrow(/scheduledQueries\[0\]\.sql uses placeholder \{\{window_start\}\}.*given renderer: none/);
  });

  test('with a renderer (the query runner) the state machine invokes it before Athena', () => {
    // GIVEN a stand-in renderer function
    const stack = newStack();
    const bucket = s3.Bucket.fromBucketName(stack, 'Lake', 'lake');
    const renderer = new lambda.Function(stack, 'Runner', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: INLINE_CODE });
    const p = orders({ scheduledQueries: [{ name: 'windowed', schedule: 'rate(1 hour)', sql: "SELECT '{{window_start}}'" }] });
    // WHEN
    new ScheduledQueries(stack, 'Queries', { pipeline: p, lakeBucket: bucket, workgroupName: 'shardflow', renderer });
    // THEN
    const def = JSON.stringify(Template.fromStack(stack).findResources('AWS::StepFunctions::StateMachine'));
    expect(def).toContain('RenderQuery');
    expect(def).toContain('lambda:invoke');
  });

  test('every run is recorded by the query runner: after success, and after failure before the run fails', () => {
    // GIVEN the pipeline stack (it adds the query runner) / WHEN deployed
    const { stack } = deploy(hourly);
    const t = Template.fromStack(stack);
    const sm = Object.values(t.findResources('AWS::StepFunctions::StateMachine'))[0] as { Properties: { DefinitionString: { 'Fn::Join': [string, unknown[]] } } };
    // The definition with its tokens blanked out is plain JSON.
    const def = JSON.parse(sm.Properties.DefinitionString['Fn::Join'][1].map((x) => (typeof x === 'string' ? x : 'TOKEN')).join('')) as {
      StartAt: string;
      States: Record<string, { Next?: string; End?: boolean; Type: string; Catch?: { Next: string; ResultPath?: string }[]; Parameters?: { Payload?: Record<string, unknown> } }>;
    };
    // THEN render → run → record, and a failed run → record → fail
    expect(def.StartAt).toBe('RenderQuery');
    expect(def.States.RenderQuery!.Next).toBe('RunQuery');
    expect(def.States.RunQuery!.Next).toBe('RecordRun');
    expect(def.States.RecordRun!.End).toBe(true);
    expect(def.States.RunQuery!.Catch).toEqual([expect.objectContaining({ Next: 'RecordFailure', ResultPath: '$.error' })]);
    expect(def.States.RecordFailure!.Next).toBe('QueryFailed');
    expect(def.States.QueryFailed!.Type).toBe('Fail');
    expect(def.States.RecordRun!.Parameters!.Payload).toMatchObject({ step: 'record', 'athena.$': '$.athena', 'execution.$': '$$.Execution.Id' });
    expect(def.States.RecordFailure!.Parameters!.Payload).toMatchObject({ step: 'record', 'error.$': '$.error' });
    // AND the runner may write its own run records and read query executions, nothing more in S3
    const runner = Object.entries(t.findResources('AWS::IAM::Policy')).filter(([id]) => id.startsWith('QueryRenderer')).flatMap(([, r]) => (r as { Properties: { PolicyDocument: { Statement: { Sid?: string; Action: unknown; Resource: unknown }[] } } }).Properties.PolicyDocument.Statement);
    expect(runner.find((x) => x.Sid === 'WriteRunRecords')).toMatchObject({ Action: 's3:PutObject' });
    expect(JSON.stringify(runner.find((x) => x.Sid === 'WriteRunRecords')!.Resource)).toContain('/_shardflow/query-runs/orders/*');
    expect(runner.find((x) => x.Sid === 'ReadQueryExecutions')).toMatchObject({ Action: 'athena:GetQueryExecution' });
  });

  test('bad retry count fails at synth with the value', () => {
    const stack = newStack();
    const bucket = s3.Bucket.fromBucketName(stack, 'Lake', 'lake');
    expect(() => new ScheduledQueries(stack, 'Q', { pipeline: hourly, lakeBucket: bucket, workgroupName: 'w', retryAttempts: 11 })).toThrow(/Retry attempts .* \(given 11\)/);
  });
});
