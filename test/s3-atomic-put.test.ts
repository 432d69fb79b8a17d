/**
 * The S3 emulator's writes are atomic, as S3's are: a reader of the store's files, a listing or
 * a GetObject sees the old object or the new one, whole, never a prefix, also when the writer
 * is cut off mid-body (local/services/s3-atomic-store.ts). The local Athena endpoint reads these
 * files in place; before this, `dev-crash` once failed with "too small to be a Parquet file".
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { CopyObjectCommand, GetObjectCommand, ListObjectsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lakeTable } from '../core';
import { LakeReader } from '../local/athena/catalog';
import { localS3Client } from '../local/aws-clients';
import { freePort } from '../local/services/service';
import { s3ObjectFile, startS3Emulator, type S3Emulator } from '../local/services/s3';
import clickstream from '../pipelines/clickstream';

const BUCKET = 'atomic';
const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

let tmp: string;
let dataDir: string;
let port: number;
let emulator: S3Emulator;
let s3: S3Client;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-s3-atomic-'));
  dataDir = path.join(tmp, 's3');
  port = await freePort();
  emulator = await startS3Emulator({ port, dataDir, buckets: [BUCKET] });
  s3 = localS3Client(emulator.endpoint);
});

afterAll(async () => {
  s3?.destroy();
  await emulator?.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

/**
 * A PUT whose body arrives in `chunks` pieces with a pause between them, as a slow client's
 * would. `cutAfter`: the connection is destroyed after that many pieces (a client killed
 * mid-upload). Resolves with the status, or null when cut.
 */
function slowPut(key: string, body: Buffer, chunks: number, cutAfter?: number): { done: Promise<number | null>; sent: () => number } {
  let sent = 0;
  const done = new Promise<number | null>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path: `/${BUCKET}/${key}`, headers: { 'Content-Length': body.length, 'Content-Type': 'application/octet-stream' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (err) => (cutAfter !== undefined ? resolve(null) : reject(err)));
    const size = Math.ceil(body.length / chunks);
    const next = (): void => {
      if (cutAfter !== undefined && sent === cutAfter) {
        req.destroy();
        resolve(null);
        return;
      }
      if (sent === chunks) {
        req.end();
        return;
      }
      req.write(body.subarray(sent * size, (sent + 1) * size));
      sent++;
      setTimeout(next, 4);
    };
    next();
  });
  return { done, sent: () => sent };
}

/** What a reader of the store's file for `key` would read now (null: no such file). */
function fileDigest(key: string): string | null {
  try {
    return md5(fsSync.readFileSync(s3ObjectFile(dataDir, BUCKET, key)!));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function putWhole(key: string, body: Buffer): Promise<string> {
  const r = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  return r.ETag!.replace(/"/g, '');
}

/** The store's files under the object's directory (object, .md5, metadata and any temporary file). */
async function filesBeside(key: string): Promise<string[]> {
  return (await fs.readdir(path.dirname(s3ObjectFile(dataDir, BUCKET, key)!))).sort();
}

describe('S3 emulator writes are atomic', () => {
  it('a rewrite in progress shows readers the old object whole until the new one is whole', async () => {
    const key = 'rewrite/obj.bin';
    const a = randomBytes(512 * 1024);
    const b = randomBytes(4 * 1024 * 1024);
    expect(await putWhole(key, a)).toBe(md5(a));

    const put = slowPut(key, b, 64);
    const seen = new Map<string, number>();
    let finished = false;
    void put.done.finally(() => (finished = true));
    while (!finished) {
      const d = fileDigest(key) ?? 'missing';
      seen.set(d, (seen.get(d) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(await put.done).toBe(200);
    const d = fileDigest(key) ?? 'missing';
    seen.set(d, (seen.get(d) ?? 0) + 1);

    // THEN every read saw A or B, never a prefix of B or an empty file; A was seen while B was arriving.
    expect([...seen.keys()].filter((k) => k !== md5(a) && k !== md5(b))).toEqual([]);
    expect(seen.get(md5(a)) ?? 0).toBeGreaterThan(5);
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(md5(await got.Body!.transformToByteArray())).toBe(md5(b));
    expect(got.ETag).toBe(`"${md5(b)}"`);
  });

  it('a new object is not listed, and has no file, until its body is whole', async () => {
    const key = 'fresh/obj.bin';
    const b = randomBytes(2 * 1024 * 1024);
    const put = slowPut(key, b, 32);
    while (put.sent() < 16) await new Promise((r) => setTimeout(r, 2));
    const listed = await s3.send(new ListObjectsCommand({ Bucket: BUCKET, Prefix: 'fresh/' }));
    expect(listed.Contents ?? []).toEqual([]);
    expect(fileDigest(key)).toBeNull();
    expect(await put.done).toBe(200);
    const after = await s3.send(new ListObjectsCommand({ Bucket: BUCKET, Prefix: 'fresh/' }));
    expect((after.Contents ?? []).map((o) => [o.Key, o.ETag, o.Size])).toEqual([[key, `"${md5(b)}"`, b.length]]);
  });

  it('an upload cut off mid-body leaves the old object as it was and no partial file', async () => {
    const key = 'cut/obj.bin';
    const a = randomBytes(256 * 1024);
    await putWhole(key, a);
    const before = await filesBeside(key);

    expect(await slowPut(key, randomBytes(2 * 1024 * 1024), 32, 10).done).toBeNull();
    // The server notices the reset on its own schedule: wait for its temporary file to go.
    let files = await filesBeside(key);
    for (let i = 0; i < 200 && files.join() !== before.join(); i++) {
      await new Promise((r) => setTimeout(r, 10));
      files = await filesBeside(key);
    }
    expect(files).toEqual(before);
    expect(fileDigest(key)).toBe(md5(a));
    const listed = await s3.send(new ListObjectsCommand({ Bucket: BUCKET, Prefix: 'cut/' }));
    expect((listed.Contents ?? []).map((o) => [o.Key, o.ETag, o.Size])).toEqual([[key, `"${md5(a)}"`, a.length]]);
  });

  it('CopyObject writes the copy whole, with the source ETag', async () => {
    const a = randomBytes(300 * 1024);
    await putWhole('copy/src.bin', a);
    const r = await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'copy/dest.bin', CopySource: `${BUCKET}/copy/src.bin` }));
    expect(r.CopyObjectResult?.ETag).toBe(`"${md5(a)}"`);
    expect(fileDigest('copy/dest.bin')).toBe(md5(a));
    expect((await filesBeside('copy/dest.bin')).filter((f) => f.endsWith('.sfpart'))).toEqual([]);
  });

  it("the emulator's own putObject has a small body whole, with its .md5 and metadata, before it returns; a large one once it resolves", async () => {
    const small = randomBytes(64 * 1024);
    const key = 'direct/small.csv';
    const put = emulator.putObject(BUCKET, key, small, 'text/csv');
    // Read before the returned promise is awaited, or any event-loop turn.
    expect(fileDigest(key)).toBe(md5(small));
    const objectFile = s3ObjectFile(dataDir, BUCKET, key)!;
    expect(fsSync.readFileSync(`${objectFile}.md5`, 'utf8')).toBe(md5(small));
    expect(JSON.parse(fsSync.readFileSync(objectFile.replace(/_S3rver_object$/, '_S3rver_metadata.json'), 'utf8'))).toEqual({ 'content-type': 'text/csv' });
    await put;
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(got.ETag).toBe(`"${md5(small)}"`);
    expect(got.ContentType).toBe('text/csv');
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(small)).toBe(true);
    const large = randomBytes(1024 * 1024 + 1);
    await emulator.putObject(BUCKET, 'direct/large.bin', large, 'application/octet-stream');
    expect(fileDigest('direct/large.bin')).toBe(md5(large));
    expect((await filesBeside(key)).filter((f) => f.endsWith('.sfpart'))).toEqual([]);
    await expect(emulator.putObject('no-such-bucket', key, small, 'text/csv')).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });

  it('a temporary file left by a killed writer is removed at the next start', async () => {
    const dir = path.dirname(s3ObjectFile(dataDir, BUCKET, 'stale/x.bin')!);
    await fs.mkdir(dir, { recursive: true });
    // pid 1 is init: never this process, so its part is a dead writer's.
    const stale = path.join(dir, '.x.bin._S3rver_object.1.7.sfpart');
    await fs.writeFile(stale, 'half an object');
    await emulator.stop();
    emulator = await startS3Emulator({ port, dataDir, buckets: [BUCKET] });
    s3.destroy();
    s3 = localS3Client(emulator.endpoint);
    expect(fsSync.existsSync(stale)).toBe(false);
    const listed = await s3.send(new ListObjectsCommand({ Bucket: BUCKET, Prefix: 'stale/' }));
    expect(listed.Contents ?? []).toEqual([]);
  });
});

describe('the local Athena lister reads ETags it can trust', () => {
  it('an object file newer than its .md5 is listed with the digest of its bytes', async () => {
    const table = lakeTable(clickstream, 'raw');
    const key = `${table.location}dt=2026-01-01/hour=00/a.parquet`;
    const oldBytes = randomBytes(1000);
    await putWhole(key, oldBytes);
    const file = s3ObjectFile(dataDir, BUCKET, key)!;
    // As between the two renames of a rewrite: new bytes, the old .md5, the object the newer.
    const newBytes = randomBytes(1200);
    await fs.writeFile(file, newBytes);
    const past = new Date(Date.now() - 60_000);
    await fs.utimes(`${file}.md5`, past, past);

    const reader = new LakeReader({
      s3,
      bucket: BUCKET,
      cacheDir: path.join(tmp, 'cache'),
      objectFile: (k) => s3ObjectFile(dataDir, BUCKET, k),
      inPlace: { objectRoot: path.join(path.resolve(dataDir), BUCKET, '/') },
    });
    const listed = await reader.list(table, null);
    expect(listed.map((o) => [o.key, o.etag, o.size])).toEqual([[key, md5(newBytes), newBytes.length]]);

    // An object file older than its .md5 is settled: the .md5 is taken as it is, nothing is hashed.
    const older = new Date(past.getTime() - 1000);
    await fs.utimes(file, older, older);
    expect((await reader.list(table, null)).map((o) => o.etag)).toEqual([md5(oldBytes)]);
  });
});
