/** Test access to the lake: download what the handler wrote and query it with DuckDB. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';

export async function listKeys(s3: S3Client, bucket: string, prefix = ''): Promise<{ key: string; etag: string; size: number }[]> {
  const out: { key: string; etag: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of r.Contents ?? []) out.push({ key: o.Key!, etag: o.ETag ?? '', size: o.Size ?? 0 });
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/** Copies every object under `prefix` to `dir`, keeping the key as the relative path. */
export async function downloadLake(s3: S3Client, bucket: string, dir: string, prefix = ''): Promise<string[]> {
  const keys = await listKeys(s3, bucket, prefix);
  for (const { key } of keys) {
    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const file = path.join(dir, key);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, await r.Body!.transformToByteArray());
  }
  return keys.map((k) => k.key);
}

export async function duckQuery(sql: string): Promise<Record<string, unknown>[]> {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    const reader = await conn.runAndReadAll(sql);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    conn.closeSync();
  }
}
