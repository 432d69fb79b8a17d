/**
 * A lake on real services for a test file: a temp folder, s3rver on a free
 * port with one bucket, and (once the data is written) local Athena endpoints
 * over it, told of the emulator's changes or listing per query, or an engine
 * in the test's own process. `stop()` undoes all of it.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AthenaClient } from '@aws-sdk/client-athena';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Pipeline } from '../../core';
import { startAthenaEndpoint, type AthenaEndpoint } from '../../local/athena';
import { buildCatalog, LakeReader } from '../../local/athena/catalog';
import { AthenaQueryEngine } from '../../local/athena/engine';
import { LakeIndex } from '../../local/athena/lake-index';
import { localAthenaClient, localS3Client } from '../../local/aws-clients';
import { startS3Emulator, type S3Emulator } from '../../local/services/s3';
import { freePort } from '../../local/services/service';

export class TestLake {
  private endpoint: AthenaEndpoint | null = null;
  private athenaClient: AthenaClient | null = null;
  private readonly more: { endpoint: AthenaEndpoint; client: AthenaClient }[] = [];

  private constructor(
    readonly tmp: string,
    readonly bucket: string,
    /** The S3 emulator: its change reports and its object files. */
    readonly emulator: S3Emulator,
    readonly s3: S3Client,
  ) {}

  static async start(name: string, bucket: string): Promise<TestLake> {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), `shardflow-${name}-`));
    const emulator = await startS3Emulator({ port: await freePort(), dataDir: path.join(tmp, 's3') });
    const s3 = localS3Client(emulator.endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    return new TestLake(tmp, bucket, emulator, s3);
  }

  get s3Endpoint(): string {
    return this.emulator.endpoint;
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

  /**
   * One more endpoint over the bucket, each with a data dir of its own: `watched`, told of every
   * change the emulator makes and reading its files (what `dev` runs), or listing per query.
   */
  async addAthena(pipelines: readonly Pipeline[], opts: { watched: boolean }): Promise<{ client: AthenaClient; dataDir: string }> {
    const dataDir = path.join(this.tmp, `athena-${this.more.length}`);
    const endpoint = await startAthenaEndpoint({
      port: await freePort(),
      s3: { endpoint: this.s3Endpoint, bucket: this.bucket, ...(opts.watched ? { emulator: this.emulator } : {}) },
      pipelines,
      dataDir,
    });
    const client = localAthenaClient(endpoint.endpoint);
    this.more.push({ endpoint, client });
    return { client, dataDir };
  }

  /**
   * A query engine in this process (no endpoint, no worker) whose lake index is kept by the
   * emulator's change reports, one sandboxed thread per instance; `close()` stops both.
   */
  async watchedEngine(pipelines: readonly Pipeline[], name: string): Promise<{ engine: AthenaQueryEngine; close: () => void }> {
    const cache = path.join(this.tmp, `${name}-cache`);
    await fs.mkdir(cache, { recursive: true });
    const catalog = buildCatalog(pipelines);
    const reader = new LakeReader({ s3: this.s3, bucket: this.bucket, cacheDir: cache });
    const index = new LakeIndex(reader, [...catalog.values()].flatMap((d) => [...d.tables.values()]), true);
    const off = this.emulator.onObjectChange((c) => index.apply([{ key: c.key, ...(c.etag !== undefined ? { etag: c.etag, size: c.size! } : {}) }]));
    const engine = new AthenaQueryEngine(
      catalog,
      reader,
      { sandbox: { readableDirs: [cache], tempDir: path.join(this.tmp, `${name}-tmp`), memoryLimit: '256MB', threads: 1 }, limits: { timeoutMs: 60_000, maxResultRows: 10_000, maxResultBytes: 1 << 22 } },
      index,
    );
    return {
      engine,
      close: () => {
        off();
        engine.close();
      },
    };
  }

  async stop(): Promise<void> {
    this.athenaClient?.destroy();
    await this.endpoint?.stop();
    for (const { endpoint, client } of this.more) {
      client.destroy();
      await endpoint.stop();
    }
    this.s3.destroy();
    await this.emulator.stop();
    await fs.rm(this.tmp, { recursive: true, force: true });
  }
}
