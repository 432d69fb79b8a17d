import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import clickstream from '../pipelines/clickstream';
import { deploy } from './helpers';
import { orders } from './fixtures';
import { wildcardStatements } from './fixtures';

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };

function statements(t: Template): Statement[] {
  return Object.values(t.findResources('AWS::IAM::Policy')).flatMap(
    (r) => (r as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement,
  );
}

describe('Kinesis pipeline (clickstream example)', () => {
  test('stream is provisioned with the pipeline shard count, KMS-encrypted, 24 h retention', () => {
    // GIVEN the clickstream example (2 shards) / WHEN deployed
    const { stack } = deploy(clickstream);
    // THEN
    Template.fromStack(stack).hasResourceProperties('AWS::Kinesis::Stream', {
      Name: 'clickstream-events',
      ShardCount: 2,
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
      RetentionPeriodHours: 24,
      StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
    });
  });

  test('on-demand pipelines get an on-demand stream', () => {
    const { stack } = deploy(orders());
    Template.fromStack(stack).hasResourceProperties('AWS::Kinesis::Stream', { StreamModeDetails: { StreamMode: 'ON_DEMAND' } });
  });

  test('event source mapping carries pipeline.processing, partial batch responses and an S3 on-failure destination', () => {
    // GIVEN a pipeline with non-default processing options
    const { stack } = deploy(orders());
    const t = Template.fromStack(stack);
    // THEN every option reaches the mapping
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 5,
      ParallelizationFactor: 4,
      StartingPosition: 'LATEST',
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 2,
      MaximumRecordAgeInSeconds: 6 * 3600,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('ProcessorFailedBatches'), 'Arn'] } } },
    });
    // AND no FilterCriteria unless asked for (lambdaFilterCriteria defaults to false)
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FilterCriteria: Match.absent() });
  });

  test('function: ARM64, Node.js 22, LAKE_BUCKET only in env, log retention', () => {
    const { stack } = deploy(clickstream);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['arm64'],
      Runtime: 'nodejs22.x',
      Environment: { Variables: { LAKE_BUCKET: { 'Fn::Join': ['', ['shardflow-lake-', { Ref: 'AWS::AccountId' }, '-', { Ref: 'AWS::Region' }]] } } },
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  test('IAM: writes only to this pipeline\'s lake prefixes, and no statement has Resource "*"', () => {
    const { stack } = deploy(clickstream);
    const t = Template.fromStack(stack);
    const all = statements(t);
    expect(wildcardStatements(t)).toEqual([]);
    const writes = all.find((s) => JSON.stringify(s.Action) === JSON.stringify(['s3:DeleteObject', 's3:PutObject']) || JSON.stringify(s.Action) === JSON.stringify(['s3:PutObject', 's3:DeleteObject']));
    const text = JSON.stringify(writes?.Resource);
    for (const prefix of ['/tables/clickstream_events/*', '/tables/clickstream_partials/*', '/tables/clickstream_late/*', '/quarantine/clickstream/*']) {
      expect(text).toContain(prefix);
    }
    expect(text).not.toMatch(/\/tables\/\*"/);
    // ListBucket is limited to the pipeline's manifest prefix (so a missing manifest is a 404, not a 403)
    expect(all).toContainEqual(expect.objectContaining({
      Action: 's3:ListBucket',
      Condition: { StringLike: { 's3:prefix': ['_shardflow/batches/clickstream/*'] } },
    }));
  });

  test('alarms: iterator age at half the retention, errors, throttles, failed batches; one dashboard', () => {
    const { stack } = deploy(clickstream);
    const t = Template.fromStack(stack);
    // 12 h = half the 24 h retention
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'IteratorAge', Namespace: 'AWS/Lambda', Threshold: 12 * 3600 * 1000, Statistic: 'Maximum' });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Threshold: 1 });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Throttles', Threshold: 1 });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'PutRequests', Namespace: 'AWS/S3', Threshold: 1,
      Dimensions: Match.arrayWith([{ Name: 'FilterId', Value: 'FailedBatches' }]),
    });
    t.hasResourceProperties('AWS::S3::Bucket', { MetricsConfigurations: [{ Id: 'FailedBatches' }] });
    t.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    t.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'shardflow-clickstream' });
  });

  test('outputs name the stream, bucket, workgroup and database', () => {
    const { stack } = deploy(clickstream);
    const t = Template.fromStack(stack);
    t.hasOutput('StreamName', {});
    t.hasOutput('LakeBucketName', {});
    t.hasOutput('WorkgroupName', { Value: 'shardflow' });
    t.hasOutput('DatabaseName', { Value: 'shardflow' });
  });
});
