/**
 * The S3 emulator as an attacker reaches it (issue 10): raw requests against
 * s3rver on a scratch directory this test makes, with a sibling directory
 * "outside" that nothing may write to, delete or read. The AWS SDK calls the
 * runtime makes keep working behind the guard.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CopyObjectCommand, DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localS3Client } from '../local/aws-clients';
import { startS3Emulator } from '../local/services/s3';
import { freePort, type RunningService } from '../local/services/service';
import { raw, statusOfHead } from './support/raw-http';

const BUCKET = 'shardflow-lake';
let root: string;
let dataDir: string;
let outside: string;
let svc: RunningService;
let port: number;
let s3: S3Client;

/** Every path under `dir` with its size, so any write or delete shows up. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(e.parentPath, e.name);
    out.push(`${path.relative(dir, full)}${e.isFile() ? ` ${(await fs.stat(full)).size}` : '/'}`);
  }
  return out.sort();
}

let outsideBefore: string[];
let rootEntriesBefore: string[];

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-s3-security-'));
  dataDir = path.join(root, 'data', 's3');
  outside = path.join(root, 'outside');
  await fs.mkdir(path.join(outside, 'victim'), { recursive: true });
  await fs.writeFile(path.join(outside, 'victim', 'precious.txt'), 'do not delete');
  // Shaped like an s3rver object, so a traversing copy or GET would find it.
  await fs.writeFile(path.join(outside, 'secret.txt._S3rver_object'), 'TOP-SECRET-CONTENT');
  outsideBefore = await tree(outside);
  port = await freePort();
  svc = await startS3Emulator({ port, dataDir, buckets: [BUCKET] });
  rootEntriesBefore = (await fs.readdir(root)).sort();
  s3 = localS3Client(svc.endpoint);
});

afterAll(async () => {
  s3?.destroy();
  await svc?.stop();
  await fs.rm(root, { recursive: true, force: true });
});

const host = (): string => `127.0.0.1:${port}`;

/** Nothing outside the data directory changed, and nothing new appeared beside it. */
async function expectOutsideUntouched(): Promise<void> {
  expect(await tree(outside)).toEqual(outsideBefore);
  expect((await fs.readdir(root)).sort()).toEqual(rootEntriesBefore);
  expect((await fs.readdir(path.dirname(dataDir))).sort()).toEqual(['s3']);
}

const form = (key: string): { body: string; type: string } => ({
  type: 'multipart/form-data; boundary=XyZ',
  body: [
    '--XyZ',
    'Content-Disposition: form-data; name="key"',
    '',
    key,
    '--XyZ',
    'Content-Disposition: form-data; name="file"; filename="a.txt"',
    'Content-Type: text/plain',
    '',
    'written by a web page',
    '--XyZ--',
    '',
  ].join('\r\n'),
});

describe('S3 emulator behind the guard', () => {
  it('refuses a browser form POST upload, with or without Origin, and stores nothing', async () => {
    for (const headers of [{}, { Origin: 'http://evil.example' }, { Origin: `http://127.0.0.1:${port}` }] as Record<string, string>[]) {
      const f = form('../../../outside/formpost.txt');
      const r = await raw(port, { method: 'POST', path: `/${BUCKET}`, headers: { Host: host(), 'Content-Type': f.type, ...headers }, body: f.body });
      expect([403, 415]).toContain(r.status);
      expect(r.body).toMatch(/<Error><Code>(UnsupportedMediaType|ForbiddenOrigin)<\/Code>/);
    }
    const plain = form('formpost-in-bucket.txt');
    const r = await raw(port, { method: 'POST', path: `/${BUCKET}`, headers: { Host: host(), 'Content-Type': plain.type }, body: plain.body });
    expect(r.status).toBe(415);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    expect(listed.Contents ?? []).toEqual([]);
    await expectOutsideUntouched();
  });

  it('refuses DELETE of an encoded ../ bucket, and the directory outside survives', async () => {
    for (const p of ['/%2E%2E%2F%2E%2E%2Foutside%2Fvictim', '/%2E%2E%2F%2E%2E%2Foutside', '/..%2F..%2Foutside', '/%252E%252E%252F%252E%252E%252Foutside']) {
      const r = await raw(port, { method: 'DELETE', path: p, headers: { Host: host() } });
      expect(r.status, p).toBe(400);
    }
    await expectOutsideUntouched();
  });

  it('refuses keys, prefixes and copy sources that climb out of the bucket', async () => {
    const attempts: { method: string; path: string; headers?: Record<string, string>; body?: string }[] = [
      { method: 'PUT', path: `/${BUCKET}/..%2F..%2F..%2Foutside%2Fput.txt`, body: 'x' },
      { method: 'PUT', path: `/${BUCKET}/%2E%2E/%2E%2E/%2E%2E/outside/put2.txt`, body: 'x' },
      { method: 'PUT', path: `/${BUCKET}/copy.txt`, headers: { 'x-amz-copy-source': `/${BUCKET}/../../../outside/secret.txt` } },
      { method: 'GET', path: `/${BUCKET}/..%2F..%2F..%2Foutside%2Fsecret.txt` },
      { method: 'GET', path: `/${BUCKET}?list-type=2&prefix=..%2F..%2F..%2Foutside%2F` },
      { method: 'PUT', path: '/Not_A_Bucket', body: '' },
    ];
    for (const a of attempts) {
      const r = await raw(port, { method: a.method, path: a.path, headers: { Host: host(), 'Content-Type': 'application/octet-stream', ...(a.headers ?? {}) }, ...(a.body !== undefined ? { body: a.body } : {}) });
      expect(r.status, `${a.method} ${a.path}`).toBe(400);
      expect(r.body).not.toContain('TOP-SECRET-CONTENT');
    }
    await expectOutsideUntouched();
  });

  it('refuses a foreign Host (DNS rebinding) and a foreign Origin, and never answers with a wildcard CORS origin', async () => {
    expect((await raw(port, { path: `/${BUCKET}`, headers: { Host: `rebind.evil.example:${port}` } })).status).toBe(421);
    expect((await raw(port, { path: `/${BUCKET}`, headers: { Host: host(), Origin: 'http://evil.example' } })).status).toBe(403);
    const pre = await raw(port, { method: 'OPTIONS', path: `/${BUCKET}/k`, headers: { Host: host(), Origin: 'http://evil.example', 'Access-Control-Request-Method': 'PUT' } });
    expect(pre.status).toBe(403);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers 413 to an announced body over the cap without waiting for it', async () => {
    const head = `PUT /${BUCKET}/big.bin HTTP/1.1\nHost: ${host()}\nContent-Type: application/octet-stream\nContent-Length: ${2 * 1024 ** 3}`;
    expect(await statusOfHead(port, head)).toBe(413);
    await expect(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'big.bin' }))).rejects.toThrow(/NoSuchKey|does not exist/);
  });

  it('still serves the SDK calls the runtime makes', async () => {
    const key = 'pipeline/dt=2026-01-01/hour=03/part one+two.json';
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: '{"a":1}', ContentType: 'text/plain' }));
    // As functions/compactor/compaction.ts sends it; s3rver decodes the header with decodeURI.
    await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'copy.json', CopySource: `${BUCKET}/${key}` }));
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'copy.json' }));
    expect(await got.Body!.transformToString()).toBe('{"a":1}');
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'pipeline/dt=2026-01-01/' }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual([key]);
    await s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: key }, { Key: 'copy.json' }] } }));
    expect((await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }))).KeyCount).toBe(0);
    await expectOutsideUntouched();
  });
});
