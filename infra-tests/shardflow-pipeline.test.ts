/**
 * The CDK API for users' own apps: ShardflowPipeline inside a stack that exists,
 * with the lake in the same stack, in another stack, or deployed elsewhere;
 * shardflowStacks for a whole app. Inline code: bundling is bundling.test.ts's.
 */
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { definePipeline, kinesisSource, lakeTables } from '../core';
import { DataLake } from '../lib/data-lake';
import { LakeStack } from '../lib/lake-stack';
import { ShardflowPipeline, type ShardflowPipelineProps } from '../lib/shardflow-pipeline';
import { shardflowStacks } from '../lib/shardflow-stacks';
import clickstream from '../pipelines/clickstream';
import { INLINE_CODE, newApp, newStack } from './helpers';

const orders = definePipeline({
  name: 'orders',
  source: kinesisSource({ stream: 'orders-events', shards: 1 }),
  schema: { id: 'string', amount: 'double', ts: 'timestamp' },
  eventTime: 'ts',
});

const inline = { processor: { handlerCode: INLINE_CODE }, queryRendererCode: INLINE_CODE, compactor: { code: INLINE_CODE } } satisfies Partial<ShardflowPipelineProps>;

const glueTableNames = (t: Template) => Object.values(t.findResources('AWS::Glue::Table')).map((r) => (r as { Properties: { TableInput: { Name: string } } }).Properties.TableInput.Name);

describe('ShardflowPipeline in a stack of the user', () => {
  test('two pipelines and their lake in one existing stack', () => {
    // GIVEN a stack the user already has, with a lake in it
    const stack = newStack('Existing');
    const lake = new DataLake(stack, 'Lake');
    // WHEN two pipelines are placed in it
    const clicks = new ShardflowPipeline(stack, 'Clicks', { pipeline: clickstream, lake, ...inline });
    new ShardflowPipeline(stack, 'Orders', { pipeline: orders, lake, ...inline });
    const t = Template.fromStack(stack);
    // THEN each has its stream, function and Glue tables
    t.resourceCountIs('AWS::Kinesis::Stream', 2);
    t.hasResourceProperties('AWS::Kinesis::Stream', { Name: 'orders-events' });
    expect(glueTableNames(t)).toEqual(expect.arrayContaining([...lakeTables(clickstream), ...lakeTables(orders)].map((x) => x.name)));
    // AND the pipeline waits for the lake in the same stack (the bucket is found by name, which CloudFormation cannot order by)
    const fn = t.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('stream processor for pipeline clickstream') } });
    const lakeBucket = Object.keys(t.findResources('AWS::S3::Bucket', { Properties: { LoggingConfiguration: { LogFilePrefix: 'lake/' } } }))[0]!;
    expect(Object.values(fn)[0]!.DependsOn).toEqual(expect.arrayContaining([lakeBucket]));
    // AND its outputs carry the construct's id, so two pipelines do not clash
    const outputs = Object.keys(t.findOutputs('*'));
    expect(outputs.filter((o) => o.startsWith('ClicksStreamName'))).toHaveLength(1);
    expect(outputs.filter((o) => o.startsWith('OrdersStreamName'))).toHaveLength(1);
    expect(clicks.processor.function).toBeDefined();
  });

  test('a lake in another stack: the pipeline stack deploys after it', () => {
    const app = newApp();
    const lake = new LakeStack(app, 'Lake');
    const stack = new Stack(app, 'Team');
    new ShardflowPipeline(stack, 'Orders', { pipeline: orders, lake: lake.lake, outputs: false, ...inline });
    expect(stack.dependencies).toContain(lake);
    expect(Object.keys(Template.fromStack(stack).findOutputs('*'))).toEqual([]);
  });

  test('a lake deployed elsewhere, by name', () => {
    const stack = newStack();
    const lake = DataLake.fromLakeAttributes({ bucketName: 'team-lake', accessLogsBucketName: 'team-logs', workgroupName: 'analytics' });
    new ShardflowPipeline(stack, 'Orders', { pipeline: orders, lake, ...inline });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'WriteOwnLakeTables', Resource: Match.arrayWith([Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':s3:::team-lake/tables/orders_events')])] })]) })]) },
    });
    t.hasResourceProperties('AWS::S3::Bucket', { LoggingConfiguration: { DestinationBucketName: 'team-logs' } });
  });

  test.each([
    ['a database the lake lacks', () => DataLake.fromLakeAttributes({ bucketName: 'team-lake', accessLogsBucketName: 'team-logs', databaseNames: ['analytics'] }), /Database must be one of the lake's databases analytics \(given "shardflow"\)/],
    ['a bad bucket name', () => DataLake.fromLakeAttributes({ bucketName: 'Team_Lake', accessLogsBucketName: 'team-logs' }), /Bucket name must match .* \(given "Team_Lake"\)/],
  ])('rejects %s', (_label, lake, message) => {
    expect(() => new ShardflowPipeline(newStack(), 'Orders', { pipeline: orders, lake: lake(), ...inline })).toThrow(message);
  });
});

describe('shardflowStacks', () => {
  test('a lake stack with the pipelines\' databases and a stack per pipeline, logical ids without the construct', () => {
    const app = newApp();
    const { lake, pipelines } = shardflowStacks(app, {
      pipelines: [clickstream, orders],
      nag: false,
      pipelineProps: { clickstream: inline, orders: inline },
    });
    expect(lake.stackName).toBe('ShardflowLake');
    expect(Object.keys(pipelines).sort()).toEqual(['clickstream', 'orders']);
    expect(pipelines.orders!.stackName).toBe('Shardflow-orders');
    Template.fromStack(lake).resourceCountIs('AWS::Glue::Database', 1);
    // PipelineStack holds its ShardflowPipeline under the id Default: ids as before it existed.
    const outputs = Object.keys(Template.fromStack(pipelines.orders!).findOutputs('*'));
    expect(outputs).toEqual(expect.arrayContaining(['StreamName', 'LakeBucketName', 'FunctionName']));
    expect(Object.keys(Template.fromStack(pipelines.orders!).findResources('AWS::Kinesis::Stream'))[0]).toMatch(/^SourceStream/);
  });

  test('rejects props for a pipeline it was not given', () => {
    expect(() => shardflowStacks(newApp(), { pipelines: [orders], nag: false, pipelineProps: { clicks: inline } })).toThrow(/Pipeline props name a pipeline that is not in pipelines: "clicks" \(pipelines: orders\)/);
  });
});
