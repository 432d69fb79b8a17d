/**
 * Atomic object writes for s3rver's file store.
 *
 * s3rver's FilesystemStore.putObject opens `<key>._S3rver_object` with a truncating write
 * stream and writes the `.md5` beside it when the request body has passed through its hash,
 * not when the file holds it (for a Buffer body, before a byte is written). So for a moment,
 * and for ever after a crash mid-write, the store holds a short or empty object file next to a
 * `.md5` that says it is whole; a rewrite of an existing key truncates the object its readers
 * are reading. S3 never shows a partial object (a PUT is atomic), and the lake is read in place
 * from these files (local/athena/catalog.ts), so writes here go to a temporary file in the same
 * directory and are renamed over the object once complete:
 *
 *   1. body → `.<name>.<pid>.<n>.sfpart` (a name no listing matches: it does not end in
 *      `._S3rver_object`, and it starts with '.'), hashed as it is written, closed;
 *   2. rename over `<key>._S3rver_object`: readers see the old object or the new one, whole;
 *   3. `.md5` and `.metadata.json` the same way (temp + rename).
 *
 * Between 2 and 3 the object is new and its `.md5` old, for the length of two renames (after
 * a crash there, until the key is written again). The in-place lister treats an object file
 * newer than its `.md5` as still being written (catalog.ts listFiles); HTTP GetObject in that
 * instant would answer the new bytes under the old ETag, which S3 never does; docs/security.md
 * lists it with the store's other limits. A crash before 2 leaves only a temporary file, which
 * removeStaleParts deletes at the next start: the client never got an answer for it.
 *
 * A Buffer body of at most SYNC_WRITE_BYTES (the local Athena endpoint's small result objects,
 * S3Emulator.putObject) takes the same three steps with synchronous calls: putObject has then
 * written it whole before it returns its promise, with no event-loop turns between the steps.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Largest Buffer body written with synchronous calls: a millisecond or less of the event loop;
 * larger bodies go through a stream, in pieces.
 */
export const SYNC_WRITE_BYTES = 1024 * 1024;

/** Suffix of a write in progress; `.<name>.<pid>.<n>` before it. */
const PART_SUFFIX = '.sfpart';

/** What s3rver keeps of an object's metadata (its S3Object.ALLOWED_METADATA, and x-amz-meta-*). */
const KEPT_METADATA = new Set(['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'content-type', 'expires', 'x-amz-storage-class', 'x-amz-website-redirect-location']);

/** The parts of s3rver's FilesystemStore this module replaces or uses (lib/stores/filesystem.js). */
export interface FilesystemStoreLike {
  rootDirectory: string;
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  getMetadata(bucket: string, key: string): Promise<Record<string, unknown>>;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5?: string): Promise<void>;
  putObject(object: { bucket: string; key: string; content?: unknown; metadata?: Record<string, string> }): Promise<{ md5: string; size: number }>;
  copyObject(srcBucket: string, srcKey: string, destBucket: string, destKey: string, meta: Record<string, string> | undefined): Promise<Record<string, unknown>>;
}

let partCounter = 0;

function partPath(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${++partCounter}${PART_SUFFIX}`);
}

/** Writes `data` to `target` through a temporary file and a rename. */
async function writeFileAtomic(target: string, data: string | Buffer): Promise<void> {
  const tmp = partPath(target);
  try {
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** writeFileAtomic with synchronous calls. */
function writeFileAtomicSync(target: string, data: string | Buffer): void {
  const tmp = partPath(target);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** The metadata s3rver would store for an object (putMetadata's pick). */
function keptMetadata(metadata: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata ?? {})) if (KEPT_METADATA.has(k) || k.startsWith('x-amz-meta-')) out[k] = v;
  return out;
}

/**
 * Replaces the store's putObject and copyObject with atomic ones (see the module comment).
 * Multipart completion calls `this.putObject`, so it is atomic too.
 */
export function makeStoreAtomic(store: FilesystemStoreLike): void {
  /** The three steps for a small Buffer, synchronously (see the module comment). */
  const writeSmallObject = (bucket: string, key: string, content: Buffer, metadata: Record<string, string> | undefined): { md5: string; size: number } => {
    const objectPath = store.getResourcePath(bucket, key, 'object');
    mkdirSync(path.dirname(objectPath), { recursive: true });
    writeFileAtomicSync(objectPath, content);
    const md5 = createHash('md5').update(content).digest('hex');
    writeFileAtomicSync(store.getResourcePath(bucket, key, 'object.md5'), md5);
    writeFileAtomicSync(store.getResourcePath(bucket, key, 'metadata.json'), JSON.stringify(keptMetadata(metadata), null, 2));
    return { md5, size: content.length };
  };

  const writeObject = async (bucket: string, key: string, content: Readable | Buffer, metadata: Record<string, string> | undefined): Promise<{ md5: string; size: number }> => {
    const objectPath = store.getResourcePath(bucket, key, 'object');
    await fs.mkdir(path.dirname(objectPath), { recursive: true });
    const tmp = partPath(objectPath);
    const hash = createHash('md5');
    let size = 0;
    try {
      const source = Buffer.isBuffer(content) ? Readable.from([content]) : content;
      const count = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          size += chunk.length;
          cb(null, chunk);
        },
      });
      // pipeline resolves once the file stream has flushed and closed: the bytes are in the file.
      await pipeline(source, count, createWriteStream(tmp));
      await fs.rename(tmp, objectPath);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    const md5 = hash.digest('hex');
    await writeFileAtomic(store.getResourcePath(bucket, key, 'object.md5'), md5);
    await writeFileAtomic(store.getResourcePath(bucket, key, 'metadata.json'), JSON.stringify(keptMetadata(metadata), null, 2));
    return { md5, size };
  };

  store.putObject = async (object) => {
    const content = object.content;
    // s3rver hands over the request (or its aws-chunked decoder) as a stream, or a Buffer.
    const isStream = typeof (content as { pipe?: unknown } | null)?.pipe === 'function';
    if (!Buffer.isBuffer(content) && !isStream) throw new TypeError(`S3 emulator: unsupported body for ${object.bucket}/${object.key}`);
    if (Buffer.isBuffer(content) && content.length <= SYNC_WRITE_BYTES) return writeSmallObject(object.bucket, object.key, content, object.metadata);
    return writeObject(object.bucket, object.key, content as Readable | Buffer, object.metadata);
  };

  store.copyObject = async (srcBucket, srcKey, destBucket, destKey, replacementMetadata) => {
    const src = store.getResourcePath(srcBucket, srcKey, 'object');
    const dest = store.getResourcePath(destBucket, destKey, 'object');
    if (src === dest) {
      // A copy onto itself changes metadata only (S3 requires REPLACE for it).
      if (replacementMetadata) await writeFileAtomic(store.getResourcePath(destBucket, destKey, 'metadata.json'), JSON.stringify(keptMetadata(replacementMetadata), null, 2));
      return store.getMetadata(destBucket, destKey);
    }
    const metadata = replacementMetadata ?? (Object.fromEntries(Object.entries(await store.getMetadata(srcBucket, srcKey)).map(([k, v]) => [k, String(v)])) as Record<string, string>);
    await writeObject(destBucket, destKey, createReadStream(src), metadata);
    return store.getMetadata(destBucket, destKey);
  };
}

/**
 * Deletes the temporary files that writes of other processes left under `directory` (a crash
 * mid-write; this process's own may be in progress). Returns how many it removed.
 */
export async function removeStaleParts(directory: string): Promise<number> {
  let names: string[];
  try {
    names = await fs.readdir(directory, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  const own = `.${process.pid}.`;
  let removed = 0;
  for (const name of names) {
    if (!name.endsWith(PART_SUFFIX)) continue;
    const base = path.basename(name);
    if (!base.startsWith('.') || base.slice(0, -PART_SUFFIX.length).replace(/\.\d+$/, '.').endsWith(own)) continue;
    await fs.rm(path.join(directory, name), { force: true });
    removed++;
  }
  return removed;
}
