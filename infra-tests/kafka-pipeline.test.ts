import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import iot from '../pipelines/iot';
import { deploy } from './helpers';
import { wildcardStatements } from './fixtures';

describe('Kafka pipeline (iot example) on a new MSK Serverless cluster', () => {
  test('cluster uses IAM auth in the new VPC with a self-referencing security group on 9098', () => {
    // GIVEN the iot example / WHEN deployed with the default cluster
    const { stack } = deploy(iot);
    const t = Template.fromStack(stack);
    // THEN
    t.hasResourceProperties('AWS::MSK::ServerlessCluster', {
      ClusterName: 'shardflow-iot',
      ClientAuthentication: { Sasl: { Iam: { Enabled: true } } },
    });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp', FromPort: 9098, ToPort: 9098,
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('SourceClusterSecurityGroup'), 'GroupId'] },
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('SourceClusterSecurityGroup'), 'GroupId'] },
    });
    t.resourceCountIs('AWS::EC2::NatGateway', 0);
  });

  test('VPC endpoints let the MSK poller reach Lambda, STS and S3 without NAT', () => {
    const { stack } = deploy(iot);
    const t = Template.fromStack(stack);
    const services = Object.values(t.findResources('AWS::EC2::VPCEndpoint')).map((r) => JSON.stringify((r as { Properties: { ServiceName: unknown } }).Properties.ServiceName));
    expect(services.some((s) => s.includes('.lambda'))).toBe(true);
    expect(services.some((s) => s.includes('.sts'))).toBe(true);
    expect(services.some((s) => s.includes('.s3'))).toBe(true);
  });

  test('topic is created with the pipeline partition count from the bootstrap brokers', () => {
    const { stack } = deploy(iot);
    Template.fromStack(stack).hasResourceProperties('Custom::KafkaTopic', {
      Topic: 'iot-readings',
      Partitions: '3',
      BootstrapServers: { 'Fn::GetAtt': [Match.stringLikeRegexp('SourceBootstrapBrokers'), 'BootstrapBrokerStringSaslIam'] },
    });
  });

  test('MSK event source mapping: provisioned pollers (needed for Kafka error handling), retries, bisect, S3 on-failure', () => {
    const { stack } = deploy(iot);
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('SourceCluster'), 'Arn'] },
      Topics: ['iot-readings'],
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'shardflow-iot' },
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 3 },
      BatchSize: 10_000,
      MaximumBatchingWindowInSeconds: 60,
      StartingPosition: 'TRIM_HORIZON',
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 3,
      MaximumRecordAgeInSeconds: 86_400,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('ProcessorFailedBatches'), 'Arn'] } } },
    });
  });

  test('IAM: kafka-cluster rights on the cluster, the topic and the consumer group ARNs, not "*"', () => {
    const { stack } = deploy(iot);
    const t = Template.fromStack(stack);
    const policies = JSON.stringify(t.findResources('AWS::IAM::Policy'));
    expect(policies).toContain('kafka-cluster:ReadData');
    expect(policies).toContain(':topic/');
    expect(policies).toContain('/iot-readings');
    expect(policies).toContain(':group/');
    expect(policies).toContain('/shardflow-iot');
    expect(wildcardStatements(t)).toEqual([]);
  });

  test('offset lag alarm at ten batches per partition; bootstrap servers in the outputs', () => {
    const { stack } = deploy(iot);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'OffsetLag', Namespace: 'AWS/Lambda', Threshold: 10 * 10_000 * 3 });
    t.hasOutput('BootstrapServers', {});
    t.hasOutput('TopicName', { Value: 'iot-readings' });
  });

  test('an existing MSK cluster by ARN: no VPC, no cluster, no topic resource', () => {
    const clusterArn = 'arn:aws:kafka:eu-west-1:111122223333:cluster/prod/abcd-1234';
    const { stack } = deploy(iot, { kafkaCluster: { kind: 'msk', clusterArn } });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::MSK::ServerlessCluster', 0);
    t.resourceCountIs('AWS::EC2::VPC', 0);
    t.resourceCountIs('Custom::KafkaTopic', 0);
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: clusterArn });
    expect(JSON.stringify(t.findResources('AWS::IAM::Policy'))).toContain('arn:aws:kafka:eu-west-1:111122223333:topic/prod/abcd-1234/iot-readings');
  });

  test('a self-managed cluster reached over the internet needs a secret, said at synth', () => {
    expect(() => deploy(iot, { kafkaCluster: { kind: 'self-managed', bootstrapServers: ['b1.example.com:9096'] } })).toThrow(/needs a secret.*given none/);
  });

  test('a malformed bootstrap server fails at synth with the value', () => {
    expect(() => deploy(iot, { kafkaCluster: { kind: 'self-managed', bootstrapServers: ['no-port'] } })).toThrow(/given "no-port"/);
  });
});
