/**
 * CloudFormation custom resource: creates a Kafka topic with the pipeline's
 * partition count on an MSK cluster that uses IAM auth (MSK Serverless has no
 * auto-creation and no API for topics, so a Kafka admin client does it).
 * Runs inside the cluster's VPC; the Provider framework outside the VPC answers
 * CloudFormation, so this function needs no internet or S3 access.
 *
 * Properties: BootstrapServers (comma-separated host:port), Topic, Partitions.
 * Partitions can grow on update; Kafka cannot shrink them, so a smaller count fails.
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { generateAuthToken } from 'aws-msk-iam-sasl-signer-js';
import { Kafka, logLevel } from 'kafkajs';

interface TopicProps {
  readonly BootstrapServers: string;
  readonly Topic: string;
  readonly Partitions: string;
}

export async function handler(event: CloudFormationCustomResourceEvent): Promise<{ PhysicalResourceId: string }> {
  const props = event.ResourceProperties as unknown as TopicProps & { ServiceToken: string };
  const topic = props.Topic;
  const partitions = Number(props.Partitions);
  const region = process.env.AWS_REGION;
  if (!region) throw new Error('AWS_REGION is not set');
  const kafka = new Kafka({
    clientId: 'shardflow-topic-provisioner',
    brokers: props.BootstrapServers.split(','),
    ssl: true,
    logLevel: logLevel.WARN,
    sasl: {
      mechanism: 'oauthbearer',
      oauthBearerProvider: async () => ({ value: (await generateAuthToken({ region })).token }),
    },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (event.RequestType === 'Delete') {
      const existing = await admin.listTopics();
      if (existing.includes(event.PhysicalResourceId)) await admin.deleteTopics({ topics: [event.PhysicalResourceId] });
      return { PhysicalResourceId: event.PhysicalResourceId };
    }
    const existing = await admin.listTopics();
    if (!existing.includes(topic)) {
      await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
      return { PhysicalResourceId: topic };
    }
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    const current = meta.topics[0]?.partitions.length ?? 0;
    if (current > partitions) {
      throw new Error(`Topic ${topic} has ${current} partitions; Kafka cannot reduce them to ${partitions}`);
    }
    if (current < partitions) await admin.createPartitions({ topicPartitions: [{ topic, count: partitions }] });
    return { PhysicalResourceId: topic };
  } finally {
    await admin.disconnect();
  }
}
