/**
 * The Kinesis data stream a pipeline reads: on-demand or provisioned shards,
 * KMS-encrypted (the AWS-managed key unless one is given), with a bounded retention.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { checkInteger, checkPattern, checkSeconds, definedOnly } from './prop-checks';

export interface KinesisSourceProps {
  /** Stream name, 1-128 chars of [a-zA-Z0-9_.-]. */
  readonly streamName: string;
  /** Provisioned shard count (1-500), or 'on-demand' (pay per GB, scales itself). @default 1 */
  readonly shards?: number | 'on-demand';
  /** How long records stay readable, 24-8760 hours. @default Duration.hours(24) */
  readonly retention?: Duration;
  /** Customer-managed key for server-side encryption, when compliance asks for one (KMS charges per API call). @default the AWS-managed key alias/aws/kinesis */
  readonly encryptionKey?: kms.IKey;
  /** What happens to the stream when the stack is deleted. @default RemovalPolicy.DESTROY (a stream is a buffer, not a store: the lake holds the data) */
  readonly removalPolicy?: RemovalPolicy;
}

/** Safe defaults, merged under the caller's props. */
export const KINESIS_SOURCE_DEFAULTS = {
  shards: 1,
  // 24 h is the cheapest retention; the iterator-age alarm fires at half of it.
  retention: Duration.hours(24),
  removalPolicy: RemovalPolicy.DESTROY,
} as const satisfies Partial<KinesisSourceProps>;

export class KinesisSource extends Construct {
  /** The stream. */
  public readonly stream: kinesis.Stream;
  /** The customer-managed key that encrypts the stream, if one was given. */
  public readonly encryptionKey?: kms.IKey;
  /** Effective retention (the observability construct derives its iterator-age threshold from it). */
  public readonly retention: Duration;

  constructor(scope: Construct, id: string, props: KinesisSourceProps) {
    super(scope, id);
    const p = { ...KINESIS_SOURCE_DEFAULTS, ...definedOnly(props) };
    checkPattern('Stream name', p.streamName, /^[a-zA-Z0-9_.-]{1,128}$/);
    if (p.shards !== 'on-demand') checkInteger('Shard count', p.shards, 1, 500);
    checkSeconds('Retention', p.retention, 24 * 3600, 8760 * 3600);

    this.retention = p.retention;
    this.encryptionKey = p.encryptionKey;
    this.stream = new kinesis.Stream(this, 'Stream', {
      streamName: p.streamName,
      ...(p.shards === 'on-demand'
        ? { streamMode: kinesis.StreamMode.ON_DEMAND }
        : { streamMode: kinesis.StreamMode.PROVISIONED, shardCount: p.shards }),
      retentionPeriod: p.retention,
      // KMS either way: AWS-managed by default (no key policy to keep, no per-consumer key cost).
      ...(this.encryptionKey
        ? { encryption: kinesis.StreamEncryption.KMS, encryptionKey: this.encryptionKey }
        : { encryption: kinesis.StreamEncryption.MANAGED }),
      removalPolicy: p.removalPolicy,
    });
  }
}
