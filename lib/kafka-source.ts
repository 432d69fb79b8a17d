/**
 * The Kafka topic a pipeline reads, on one of three clusters:
 * - a new MSK Serverless cluster (IAM auth) in a new or given VPC, with the topic
 *   created at deploy time with the pipeline's partition count;
 * - an existing MSK cluster, by ARN (IAM auth; the topic must exist);
 * - a self-managed cluster, by bootstrap servers (the topic must exist).
 *
 * Lambda's MSK poller runs in the cluster's subnets with the cluster's security
 * groups. It must reach Lambda and STS (and S3, for the on-failure destination):
 * the new VPC has no NAT, so it gets interface endpoints for Lambda and STS and a
 * gateway endpoint for S3, and the security group admits itself on the IAM port.
 */
import { Arn, ArnFormat, CustomResource, Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import {
  AuthenticationMethod,
  ManagedKafkaEventSource,
  SelfManagedKafkaEventSource,
  type KafkaEventSourceProps,
} from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as msk from 'aws-cdk-lib/aws-msk';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { acknowledgeNag, nagResource, NODE22_REASON } from './nag';
import { checkInteger, checkPattern, definedOnly, InvalidPropError } from './prop-checks';
import { bundlingLockFile, packageModule, packageRoot } from './package-files';

/** MSK's port for clients that authenticate with IAM (SASL/OAUTHBEARER over TLS). */
export const MSK_IAM_PORT = 9098;

/** Where the topic lives. */
export type KafkaCluster =
  | {
      readonly kind: 'msk-serverless';
      /** VPC for the cluster. @default a new VPC: 2 AZs, isolated subnets only, no NAT */
      readonly vpc?: ec2.IVpc;
      /** Subnets for the cluster (at least 2 AZs). @default the VPC's private or isolated subnets */
      readonly subnets?: ec2.SubnetSelection;
      /** Add Lambda and STS interface endpoints and an S3 gateway endpoint (the poller needs them without NAT). @default true */
      readonly vpcEndpoints?: boolean;
    }
  | {
      readonly kind: 'msk';
      /** ARN of an existing provisioned or serverless MSK cluster with IAM auth. */
      readonly clusterArn: string;
    }
  | {
      readonly kind: 'self-managed';
      /** host:port of one or more brokers. */
      readonly bootstrapServers: readonly string[];
      /** VPC the brokers are reachable in (with subnets and securityGroup). @default reached over the internet, which needs `secret` */
      readonly vpc?: ec2.IVpc;
      /** Subnets for Lambda's poller. @default none (required with vpc) */
      readonly subnets?: ec2.SubnetSelection;
      /** Security group for Lambda's poller. @default none (required with vpc) */
      readonly securityGroup?: ec2.ISecurityGroup;
      /** Credentials for SASL/SCRAM or BASIC auth. @default none */
      readonly secret?: secretsmanager.ISecret;
      /** @default AuthenticationMethod.SASL_SCRAM_512_AUTH */
      readonly authenticationMethod?: AuthenticationMethod;
    };

export interface KafkaSourceProps {
  /** Topic name, 1-249 chars of [a-zA-Z0-9._-]. */
  readonly topicName: string;
  /** Partition count of the topic created on a new cluster, 1-1000. @default 1 */
  readonly partitions?: number;
  /** The cluster. @default { kind: 'msk-serverless' } */
  readonly cluster?: KafkaCluster;
  /** Name of a new MSK Serverless cluster, 1-64 chars of [a-zA-Z0-9-], starting with a letter. @default 'shardflow-' + topic name, cut to 64 */
  readonly clusterName?: string;
  /** Entry of the topic-creation Lambda; tests may swap in inline code. @default the bundled kafka-topic-handler */
  readonly topicHandlerCode?: lambda.Code;
}

export const KAFKA_SOURCE_DEFAULTS = {
  partitions: 1,
  cluster: { kind: 'msk-serverless' },
} as const satisfies Partial<KafkaSourceProps>;

/** Event source options the pipeline decides; the topic and cluster come from this construct. */
export type KafkaConsumerOptions = Omit<KafkaEventSourceProps, 'topic'>;

export class KafkaSource extends Construct {
  public readonly topicName: string;
  /** The MSK cluster ARN (new or given), or undefined for a self-managed cluster. */
  public readonly clusterArn?: string;
  /** The new MSK Serverless cluster, when this construct made one. */
  public readonly cluster?: msk.CfnServerlessCluster;
  /** The VPC of a new cluster (new or given). */
  public readonly vpc?: ec2.IVpc;
  /** The security group of a new cluster: admits itself on the IAM port (Lambda's poller uses it too). */
  public readonly securityGroup?: ec2.SecurityGroup;
  /** Bootstrap servers (comma-separated) of a new cluster (a deploy-time value) or of a self-managed one. */
  public readonly bootstrapServers?: string;
  /** The custom resource that creates the topic on a new cluster. */
  public readonly topic?: CustomResource;
  private readonly spec: KafkaCluster;

  constructor(scope: Construct, id: string, props: KafkaSourceProps) {
    super(scope, id);
    const p = { ...KAFKA_SOURCE_DEFAULTS, ...definedOnly(props) };
    checkPattern('Topic name', p.topicName, /^[a-zA-Z0-9._-]{1,249}$/);
    checkInteger('Partition count', p.partitions, 1, 1000);
    this.topicName = p.topicName;
    this.spec = p.cluster;

    switch (p.cluster.kind) {
      case 'msk': {
        this.clusterArn = p.cluster.clusterArn;
        break;
      }
      case 'self-managed': {
        const c = p.cluster;
        if (c.bootstrapServers.length === 0) throw new InvalidPropError('Bootstrap servers must list at least one host:port (given [])');
        for (const s of c.bootstrapServers) checkPattern('Bootstrap server', s, /^[^\s:,]+:\d{1,5}$/);
        if (c.vpc && (!c.subnets || !c.securityGroup)) {
          throw new InvalidPropError(`A self-managed cluster in a VPC needs subnets and securityGroup (given subnets: ${c.subnets ? 'yes' : 'none'}, securityGroup: ${c.securityGroup ? 'yes' : 'none'})`);
        }
        if (!c.vpc && !c.secret) throw new InvalidPropError('A self-managed cluster reached over the internet needs a secret with its credentials (given none)');
        this.bootstrapServers = c.bootstrapServers.join(',');
        break;
      }
      case 'msk-serverless': {
        const made = this.serverlessCluster(p.cluster, p.clusterName ?? `shardflow-${p.topicName}`.replace(/[^a-zA-Z0-9-]/g, '-').slice(0, 64));
        this.vpc = made.vpc;
        this.securityGroup = made.securityGroup;
        this.cluster = made.cluster;
        this.clusterArn = made.cluster.attrArn;
        this.bootstrapServers = made.bootstrapServers;
        this.topic = this.topicResource(made, p.partitions, p.topicHandlerCode);
        break;
      }
    }
  }

  /** The event source for a consumer of this topic; for MSK it also grants the IAM rights to read. */
  eventSource(options: KafkaConsumerOptions): lambda.IEventSource {
    const s = this.spec;
    if (s.kind === 'self-managed') {
      return new SelfManagedKafkaEventSource({
        ...options,
        topic: this.topicName,
        bootstrapServers: [...s.bootstrapServers],
        ...(s.vpc ? { vpc: s.vpc, vpcSubnets: s.subnets, securityGroup: s.securityGroup } : {}),
        ...(s.secret ? { secret: s.secret } : {}),
        authenticationMethod: s.authenticationMethod ?? AuthenticationMethod.SASL_SCRAM_512_AUTH,
      });
    }
    return new ManagedKafkaEventSource({ ...options, topic: this.topicName, clusterArn: this.clusterArn! });
  }

  /**
   * IAM rights for a consumer group to read this topic from an MSK cluster with IAM
   * auth (the action list is the one the Lambda MSK guide gives for the poller).
   */
  grantConsume(grantee: iam.IGrantable, consumerGroupId: string): void {
    if (!this.clusterArn) return; // self-managed: auth is by secret, not IAM
    const { clusterArn, topicArn, groupArn } = this.kafkaArns(consumerGroupId);
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeClusterDynamicConfiguration'],
      resourceArns: [clusterArn],
    });
    iam.Grant.addToPrincipal({ grantee, actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'], resourceArns: [topicArn] });
    iam.Grant.addToPrincipal({ grantee, actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'], resourceArns: [groupArn] });
  }

  /** Cluster, topic and group ARNs: MSK names topics and groups `<kind>/<clusterName>/<clusterUuid>/<name>`. */
  kafkaArns(consumerGroupId = '*'): { clusterArn: string; topicArn: string; groupArn: string } {
    const clusterArn = this.clusterArn!;
    const c = Arn.split(clusterArn, ArnFormat.SLASH_RESOURCE_NAME);
    const base = `arn:${c.partition}:kafka:${c.region}:${c.account}`;
    return {
      clusterArn,
      topicArn: `${base}:topic/${c.resourceName}/${this.topicName}`,
      groupArn: `${base}:group/${c.resourceName}/${consumerGroupId}`,
    };
  }

  private serverlessCluster(spec: Extract<KafkaCluster, { kind: 'msk-serverless' }>, clusterName: string) {
    checkPattern('MSK cluster name', clusterName, /^[a-zA-Z][a-zA-Z0-9-]{0,63}$/);
    const vpc = spec.vpc ?? new ec2.Vpc(this, 'Vpc', {
      // MSK Serverless needs subnets in at least two AZs.
      maxAzs: 2,
      // No NAT (~32 USD/month each): the poller reaches AWS APIs through endpoints.
      natGateways: 0,
      subnetConfiguration: [{ name: 'kafka', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      flowLogs: {
        rejected: {
          trafficType: ec2.FlowLogTrafficType.REJECT,
          destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH })),
        },
      },
    });
    const subnets = spec.subnets ?? { subnetType: spec.vpc ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED };
    const securityGroup = new ec2.SecurityGroup(this, 'ClusterSecurityGroup', {
      vpc,
      description: `MSK Serverless cluster ${clusterName}, its Lambda poller and topic provisioner`,
      // Egress is bounded by the VPC itself: isolated subnets, endpoints only.
      allowAllOutbound: true,
    });
    // Lambda's MSK poller uses the cluster's own security group: it must admit itself.
    securityGroup.addIngressRule(securityGroup, ec2.Port.tcp(MSK_IAM_PORT), 'Kafka IAM auth from members of this group (Lambda poller, topic provisioner)');
    if (spec.vpcEndpoints ?? true) {
      for (const [name, service] of [['LambdaEndpoint', ec2.InterfaceVpcEndpointAwsService.LAMBDA], ['StsEndpoint', ec2.InterfaceVpcEndpointAwsService.STS]] as const) {
        const endpoint = vpc.addInterfaceEndpoint(name, { service, subnets });
        acknowledgeNag(endpoint, 'Ingress is HTTPS from the VPC CIDR only (CDK default for interface endpoints); cdk-nag cannot resolve the CIDR token of a new VPC.', 'AwsSolutions-EC23');
      }
      // The S3 on-failure destination is written by the poller from inside this VPC.
      vpc.addGatewayEndpoint('S3Endpoint', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    }
    const cluster = new msk.CfnServerlessCluster(this, 'Cluster', {
      clusterName,
      clientAuthentication: { sasl: { iam: { enabled: true } } },
      vpcConfigs: [{ subnetIds: vpc.selectSubnets(subnets).subnetIds, securityGroups: [securityGroup.securityGroupId] }],
    });
    // MSK Serverless exposes its bootstrap string through the API only, not as a CloudFormation attribute.
    const brokers = new cr.AwsCustomResource(this, 'BootstrapBrokers', {
      onUpdate: {
        service: 'Kafka',
        action: 'GetBootstrapBrokers',
        parameters: { ClusterArn: cluster.attrArn },
        physicalResourceId: cr.PhysicalResourceId.of(cluster.attrArn),
        outputPaths: ['BootstrapBrokerStringSaslIam'],
      },
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [cluster.attrArn] }),
      installLatestAwsSdk: false,
    });
    acknowledgeAwsCustomResourceSingleton(this);
    return { vpc, subnets, securityGroup, cluster, bootstrapServers: brokers.getResponseField('BootstrapBrokerStringSaslIam') };
  }

  private topicResource(
    made: { vpc: ec2.IVpc; subnets: ec2.SubnetSelection; securityGroup: ec2.SecurityGroup; cluster: msk.CfnServerlessCluster; bootstrapServers: string },
    partitions: number,
    code: lambda.Code | undefined,
  ): CustomResource {
    const common = {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: Duration.minutes(2),
      vpc: made.vpc,
      vpcSubnets: made.subnets,
      securityGroups: [made.securityGroup],
      logGroup: new logs.LogGroup(this, 'TopicProvisionerLogs', { retention: logs.RetentionDays.ONE_MONTH }),
    };
    const fn = code
      ? new lambda.Function(this, 'TopicProvisioner', { ...common, code, handler: 'index.handler' })
      : new nodejs.NodejsFunction(this, 'TopicProvisioner', {
          ...common,
          entry: packageModule('lib/custom-resources/kafka-topic-handler'),
          handler: 'handler',
          projectRoot: packageRoot(),
          depsLockFilePath: bundlingLockFile(),
          bundling: { forceDockerBundling: false, format: nodejs.OutputFormat.CJS, target: 'node22', minify: true, externalModules: [] },
        });
    const arns = this.kafkaArns();
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster'], resources: [arns.clusterArn] }));
    fn.addToRolePolicy(new iam.PolicyStatement({
      actions: ['kafka-cluster:CreateTopic', 'kafka-cluster:DescribeTopic', 'kafka-cluster:AlterTopic', 'kafka-cluster:DeleteTopic'],
      resources: [arns.topicArn],
    }));
    const provider = new cr.Provider(this, 'TopicProvider', { onEventHandler: fn });
    const topic = new CustomResource(this, 'Topic', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::KafkaTopic',
      properties: { BootstrapServers: made.bootstrapServers, Topic: this.topicName, Partitions: String(partitions) },
    });
    topic.node.addDependency(made.cluster);
    acknowledgeNag(fn, NODE22_REASON, 'AwsSolutions-L1');
    acknowledgeNag(fn, 'Log writing and the VPC ENI actions a function in a VPC needs; IAM cannot scope ENI actions to one resource.',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]');
    acknowledgeNag(provider, 'CDK Provider framework: AWSLambdaBasicExecutionRole for its own logs.',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]');
    acknowledgeNag(provider, 'CDK Provider framework: may invoke the provisioner function and its versions (`:*`), nothing else.',
      `AwsSolutions-IAM5[Resource::${nagResource(this, fn.functionArn)}:*]`);
    return topic;
  }
}

/** The stack-wide singleton that AwsCustomResource creates; its acknowledgements must sit on it. */
function acknowledgeAwsCustomResourceSingleton(scope: Construct): void {
  const stack = Stack.of(scope);
  const singleton = stack.node.tryFindChild('AWS679f53fac002430cb0da5b7982bd2287');
  if (!singleton) return;
  acknowledgeNag(singleton, 'AwsCustomResource singleton (reads the bootstrap brokers): AWSLambdaBasicExecutionRole for its own logs.',
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]');
}
