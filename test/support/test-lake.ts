/**
 * A lake on real services for a test file: a temp folder, s3rver on a free
 * port with one bucket, and (once the data is written) the local Athena
 * endpoint over it. `stop()` undoes all of it.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AthenaClient } from '@aws-sdk/client-athena';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Pipeline } from '../../core';
import { startAthenaEndpoint, type AthenaEndpoint } from '../../local/athena';
import { localAthenaClient, localS3Client } from '../../local/aws-clients';
import { startS3Emulator } from '../../local/services/s3';
import { freePort, type RunningService } from '../../local/services/service';

export class TestLake {
  private endpoint: AthenaEndpoint | null = null;
  private athenaClient: AthenaClient | null = null;

  private constructor(
    readonly tmp: string,
    readonly bucket: string,
    private readonly s3Service: RunningService,
    readonly s3: S3Client,
  ) {}

  static async start(name: string, bucket: string): Promise<TestLake> {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), `shardflow-${name}-`));
    const s3Service = await startS3Emulator({ port: await freePort(), dataDir: path.join(tmp, 's3') });
    const s3 = localS3Client(s3Service.endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    return new TestLake(tmp, bucket, s3Service, s3);
  }

  get s3Endpoint(): string {
    return this.s3Service.endpoint;
  }

  get athenaEndpoint(): string {
    if (!this.endpoint) throw new Error('startAthena() first');
    return this.endpoint.endpoint;
  }

  /** Starts the local Athena endpoint over the bucket with these pipelines' catalog; returns a client for it. */
  async startAthena(pipelines: readonly Pipeline[]): Promise<AthenaClient> {
    this.endpoint = await startAthenaEndpoint({ port: await freePort(), s3: { endpoint: this.s3Endpoint, bucket: this.bucket }, pipelines, dataDir: path.join(this.tmp, 'athena') });
    this.athenaClient = localAthenaClient(this.endpoint.endpoint);
    return this.athenaClient;
  }

  async stop(): Promise<void> {
    this.athenaClient?.destroy();
    await this.endpoint?.stop();
    this.s3.destroy();
    await this.s3Service.stop();
    await fs.rm(this.tmp, { recursive: true, force: true });
  }
}
