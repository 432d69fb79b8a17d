/**
 * The compactor's listing (functions/compactor/compaction.ts listPartitionObjects), which
 * `dev`'s hourly compaction and `shardflow status` use, against the local S3 emulator
 * with more objects than one listing page holds (1,000). s3rver's ListObjectsV2
 * continuation token needs DES, which Node's OpenSSL 3 refuses, so a V2 listing of a
 * table past 1,000 objects failed on its second page.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listPartitionObjects } from '../functions/compactor/compaction';
import { localS3Client } from '../local/aws-clients';
import { freePort } from '../local/services/service';
import { startS3Emulator, type S3Emulator } from '../local/services/s3';

const BUCKET = 'lake';
const OBJECTS = 1_050;
let tmp: string;
let s3Service: S3Emulator;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-listing-'));
  s3Service = await startS3Emulator({ port: await freePort(), dataDir: path.join(tmp, 's3'), buckets: [BUCKET] });
}, 60_000);

afterAll(async () => {
  await s3Service?.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('listPartitionObjects', () => {
  it(`lists all ${OBJECTS} objects of a prefix, in key order, past the first page`, async () => {
    const s3 = localS3Client(s3Service.endpoint);
    try {
      const keys = Array.from({ length: OBJECTS }, (_, i) => `tables/t/dt=2026-03-01/hour=${String(Math.floor(i / 60)).padStart(2, '0')}/o-${String(i).padStart(5, '0')}.parquet`);
      for (let i = 0; i < keys.length; i += 50) {
        await Promise.all(keys.slice(i, i + 50).map((Key, j) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: `object ${i + j}` }))));
      }
      // A key outside the prefix that sorts inside the run must not be listed.
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'tables/u/x.parquet', Body: 'other table' }));

      const listed = await listPartitionObjects(s3, BUCKET, 'tables/t/');
      expect(listed.map((o) => o.key)).toEqual([...keys].sort());
      expect(listed[7]!.size).toBe('object 7'.length);
      expect(listed.every((o) => /^[0-9a-f]{32}$/.test(o.etag))).toBe(true);
      expect(await listPartitionObjects(s3, BUCKET, 'tables/t/dt=2026-03-01/hour=17/')).toHaveLength(OBJECTS - 17 * 60);
    } finally {
      s3.destroy();
    }
  }, 120_000);
});
