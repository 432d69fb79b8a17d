/**
 * Where `shardflow send` and `query` send their SDK calls:
 * - local: the running `shardflow dev` (endpoints from <dataDir>/runtime.json);
 * - localstack: LocalStack's edge endpoint, for users who run it;
 * - aws: the deployed stacks, names from `cdk deploy --outputs-file`, credentials
 *   from the default AWS chain, MSK through IAM SASL.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { AthenaClient } from '@aws-sdk/client-athena';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { generateAuthToken } from 'aws-msk-iam-sasl-signer-js';
import type { KafkaConfig } from 'kafkajs';
import type { Pipeline } from '../core';
import { DEFAULT_LAKE_BUCKET } from './athena/server';
import { localAthenaClient, localKinesisClient, localS3Client } from './aws-clients';
import { readRuntimeInfo } from './runtime';

export type TargetKind = 'local' | 'localstack' | 'aws';

export interface Target {
  readonly kind: TargetKind;
  kinesis(): KinesisClient;
  athena(): AthenaClient;
  kafka(p: Pipeline): KafkaConfig;
  streamName(p: Pipeline): string;
  topicName(p: Pipeline): string;
  workgroup(p?: Pipeline): string;
  s3(): S3Client;
  /** The lake bucket: run records, compaction, query results. */
  lakeBucket(p?: Pipeline): string;
}

export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

type StackOutputs = Record<string, Record<string, string>>;

function sourceName(p: Pipeline): string {
  return p.source.kind === 'kinesis' ? p.source.stream : p.source.topic;
}

/** A target on explicit local endpoints (the running `dev`'s, LocalStack's, or a test's). */
export function localTarget(kind: 'local' | 'localstack', ep: { readonly kinesis?: string; readonly athena: string; readonly kafka?: string; readonly s3: string }): Target {
  return {
    kind,
    kinesis: () => {
      if (!ep.kinesis) throw new TargetError('the running `shardflow dev` has no Kinesis emulator (no Kinesis pipeline)');
      return localKinesisClient(ep.kinesis);
    },
    athena: () => localAthenaClient(ep.athena),
    kafka: () => {
      if (!ep.kafka) throw new TargetError('the running `shardflow dev` has no Kafka broker (no Kafka pipeline)');
      return { clientId: 'shardflow-cli', brokers: [ep.kafka] };
    },
    streamName: sourceName,
    topicName: sourceName,
    workgroup: () => 'primary',
    s3: () => localS3Client(ep.s3),
    lakeBucket: () => DEFAULT_LAKE_BUCKET,
  };
}

export async function resolveTarget(kind: TargetKind, opts: { dataDir: string; outputsFile: string }): Promise<Target> {
  if (kind === 'local' || kind === 'localstack') {
    let ep: { kinesis?: string; athena: string; kafka?: string; s3: string };
    if (kind === 'localstack') {
      const edge = process.env.LOCALSTACK_ENDPOINT ?? 'http://localhost:4566';
      ep = { kinesis: edge, athena: edge, kafka: process.env.LOCALSTACK_KAFKA ?? 'localhost:4511', s3: edge };
    } else {
      const info = await readRuntimeInfo(opts.dataDir);
      if (!info) throw new TargetError(`no \`shardflow dev\` is running on ${path.resolve(opts.dataDir)}: start one with \`npx shardflow dev\` in another terminal`);
      ep = info.endpoints;
    }
    return localTarget(kind, ep);
  }

  let outputs: StackOutputs;
  try {
    outputs = JSON.parse(await fs.readFile(opts.outputsFile, 'utf8')) as StackOutputs;
  } catch (err) {
    throw new TargetError(`cannot read stack outputs from ${opts.outputsFile} (${(err as Error).message}): deploy with \`npx cdk deploy --all --outputs-file ${opts.outputsFile}\` first`);
  }
  const stackOf = (p: Pipeline) => {
    const o = outputs[`Shardflow-${p.name}`];
    if (!o) throw new TargetError(`${opts.outputsFile} has no stack Shardflow-${p.name}: was pipeline "${p.name}" deployed? (stacks: ${Object.keys(outputs).join(', ')})`);
    return o;
  };
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  return {
    kind,
    kinesis: () => new KinesisClient(region ? { region } : {}),
    athena: () => new AthenaClient(region ? { region } : {}),
    kafka: (p) => {
      const servers = stackOf(p).BootstrapServers;
      if (!servers) throw new TargetError(`stack Shardflow-${p.name} has no BootstrapServers output (an existing cluster given by ARN: pass its brokers yourself)`);
      const r = region ?? process.env.AWS_REGION;
      if (!r) throw new TargetError('set AWS_REGION to sign MSK IAM authentication');
      return {
        clientId: 'shardflow-cli',
        brokers: servers.split(','),
        ssl: true,
        // MSK Serverless accepts IAM auth only: SASL/OAUTHBEARER with a SigV4 token.
        sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: (await generateAuthToken({ region: r })).token }) },
      };
    },
    streamName: (p) => stackOf(p).StreamName ?? sourceName(p),
    topicName: (p) => stackOf(p).TopicName ?? sourceName(p),
    workgroup: (p) => {
      if (p) return stackOf(p).WorkgroupName ?? 'primary';
      const lake = outputs.ShardflowLake;
      return lake?.WorkgroupName ?? 'primary';
    },
    s3: () => new S3Client(region ? { region } : {}),
    lakeBucket: (p) => {
      const name = p ? stackOf(p).LakeBucketName : Object.values(outputs).find((o) => o.LakeBucketName)?.LakeBucketName;
      if (!name) throw new TargetError(`${opts.outputsFile} names no lake bucket (LakeBucketName output): deploy with \`npx cdk deploy --all --outputs-file ${opts.outputsFile}\``);
      return name;
    },
  };
}
