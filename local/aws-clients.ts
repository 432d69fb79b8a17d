/**
 * AWS SDK clients aimed at the local services (Kinesis emulator, s3rver, the
 * local Athena endpoint), shared by the CLI, the tests and the emulators so that
 * every caller talks to them the same way.
 */
import http from 'node:http';
import { AthenaClient } from '@aws-sdk/client-athena';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ResourceInUseException,
} from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, HeadBucketCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface LocalClientOptions {
  /** AWS region the client signs for. @default 'us-east-1' */
  readonly region?: string;
}

export const LOCAL_REGION = 'us-east-1';

/**
 * One static pair for every local endpoint. s3rver checks signatures and knows
 * only its own default pair (S3RVER/S3RVER); the Kinesis emulators and the
 * Athena endpoint accept any key. Static credentials also keep the SDK from
 * searching ~/.aws or IMDS (which would hang for seconds on a laptop).
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** Per-request limits: an emulator that died mid-request gives an error, not a hang. */
const CONNECTION_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Kinesis client for a local emulator. HTTP/1.1 `NodeHttpHandler` with a
 * keep-alive agent: kinesis-mock speaks no HTTP/2, and a fresh TCP connection
 * per PutRecords call costs more than the call on kinesalite.
 */
export function localKinesisClient(endpoint: string, opts: LocalClientOptions = {}): KinesisClient {
  return new KinesisClient({
    endpoint,
    region: opts.region ?? LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    requestHandler: new NodeHttpHandler({
      httpAgent: new http.Agent({ keepAlive: true, maxSockets: 50 }),
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
    }),
    // One retry absorbs a dropped keep-alive socket; more would hide a dead emulator.
    maxAttempts: 2,
  });
}

/** S3 client for s3rver: path-style addressing (`http://host:port/bucket/key`), no virtual-host DNS. */
export function localS3Client(endpoint: string, opts: LocalClientOptions = {}): S3Client {
  return new S3Client({
    endpoint,
    region: opts.region ?? LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
    requestHandler: new NodeHttpHandler({
      httpAgent: new http.Agent({ keepAlive: true, maxSockets: 50 }),
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
    }),
    maxAttempts: 2,
  });
}

/** Athena client for the local Athena-compatible endpoint (same SDK calls as on AWS). */
export function localAthenaClient(endpoint: string, opts: LocalClientOptions = {}): AthenaClient {
  return new AthenaClient({
    endpoint,
    region: opts.region ?? LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    requestHandler: new NodeHttpHandler({
      httpAgent: new http.Agent({ keepAlive: true }),
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
    }),
    maxAttempts: 2,
  });
}

export interface WaitOptions {
  /** Give up after this long, in ms. @default 30000 */
  readonly timeoutMs?: number;
  /** Pause between status checks, in ms. @default 50 */
  readonly pollMs?: number;
}

/**
 * Creates a provisioned stream unless it exists, then waits until it is ACTIVE.
 * Polls DescribeStreamSummary itself: the SDK's `waitUntilStreamExists` waits at
 * least 10 s between checks, far longer than an emulator takes (50 ms here).
 */
export async function createStreamIfMissing(
  client: KinesisClient,
  name: string,
  shards: number,
  opts: WaitOptions = {},
): Promise<void> {
  if (!Number.isInteger(shards) || shards < 1) {
    throw new RangeError(`Shard count must be a positive integer (given ${shards})`);
  }
  try {
    await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  } catch (err) {
    // Exists already (perhaps still CREATING): fall through to the wait.
    if (!(err instanceof ResourceInUseException) && (err as Error).name !== 'ResourceInUseException') throw err;
  }
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let status = 'unknown';
  while (Date.now() < deadline) {
    const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    status = out.StreamDescriptionSummary?.StreamStatus ?? 'unknown';
    if (status === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 50));
  }
  throw new Error(`Stream ${name} not ACTIVE after ${timeoutMs} ms (last status ${status})`);
}

/** Creates the bucket unless it exists (idempotent; safe to call at every start). */
export async function ensureBucket(s3: S3Client, name: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: name }));
    return;
  } catch (err) {
    const status = err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
    if (status !== 404 && (err as Error).name !== 'NotFound') throw err;
  }
  try {
    await s3.send(new CreateBucketCommand({ Bucket: name }));
  } catch (err) {
    // Another caller created it between the two calls.
    const name_ = (err as Error).name;
    if (name_ !== 'BucketAlreadyOwnedByYou' && name_ !== 'BucketAlreadyExists') throw err;
  }
}
