import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import clickstream from '../pipelines/clickstream';
import { deploy, nagFindings } from './helpers';

describe('Compactor (per pipeline)', () => {
  test('an hourly schedule invokes one compactor at a time, with time and memory for a partition', () => {
    // GIVEN the clickstream example / WHEN deployed
    const { stack } = deploy(clickstream);
    const t = Template.fromStack(stack);
    // THEN the function: Lambda's 15 min limit, 3008 MB, and never two passes at once
    t.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'Shardflow compactor for pipeline clickstream',
      Timeout: 900,
      MemorySize: 3008,
      ReservedConcurrentExecutions: 1,
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
    });
    // AND the schedule, naming the pipeline in its input
    t.hasResourceProperties('AWS::Scheduler::Schedule', {
      Name: 'shardflow-clickstream-compaction',
      ScheduleExpression: 'rate(1 hour)',
      Target: Match.objectLike({ Input: Match.stringLikeRegexp('"pipeline":"clickstream"'), RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 2 }) }),
    });
    // AND an alarm on failed passes
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', AlarmDescription: Match.stringLikeRegexp('^Compaction of pipeline clickstream failed') });
  });

  test('may read, write and delete only its own table prefixes and compaction manifests', () => {
    const { stack } = deploy(clickstream);
    const t = Template.fromStack(stack);
    const policies = Object.values(t.findResources('AWS::IAM::Policy')) as { Properties: { PolicyDocument: { Statement: { Sid?: string; Action: string | string[]; Resource: unknown; Condition?: unknown }[] } } }[];
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
    const compact = statements.find((s) => s.Sid === 'CompactOwnTables')!;
    expect([...(compact.Action as string[])].sort()).toEqual(['s3:DeleteObject', 's3:GetObject', 's3:PutObject']);
    const resources = JSON.stringify(compact.Resource);
    for (const prefix of ['/tables/clickstream_events/*', '/tables/clickstream_partials/*', '/tables/clickstream_late/*', '/_shardflow/compaction/*']) expect(resources).toContain(prefix);
    expect(resources).not.toContain('quarantine');
    const list = statements.find((s) => s.Sid === 'ListOwnTables')!;
    expect(list.Condition).toEqual({ StringLike: { 's3:prefix': ['tables/clickstream_events/*', 'tables/clickstream_late/*', 'tables/clickstream_partials/*', '_shardflow/compaction/*'] } });
  });

  test('passes cdk-nag with each acknowledgement naming its finding', () => {
    const { stack } = deploy(clickstream);
    expect(nagFindings(stack).filter((f) => f.path.includes('Compactor'))).toEqual([]);
  });

  test('compactor: false leaves it out', () => {
    const { stack } = deploy(clickstream, { compactor: false });
    expect(Object.keys(Template.fromStack(stack).findResources('AWS::Scheduler::Schedule', { Properties: { Name: 'shardflow-clickstream-compaction' } }))).toHaveLength(0);
  });

  test('memory outside Lambda\'s range fails at synth with the value', () => {
    expect(() => deploy(clickstream, { compactor: { memorySize: 100 } })).toThrow(/Compactor memorySize must be a whole number between 512 and 10240 inclusive \(given 100\)/);
  });
});
