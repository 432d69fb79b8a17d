/**
 * S3 emulator: npm `s3rver`, path-style addressing, objects kept on disk under
 * `dataDir` so that a restart loses nothing.
 *
 * s3rver (unmaintained since 2021) turns bucket names and keys into file paths
 * without checking them, and stores browser form POSTs: measured, a multipart
 * POST with `key=../../x` wrote outside its directory and `DELETE /%2E%2E%2F…`
 * removed a directory outside it. It therefore runs behind local/http-guard.ts
 * (loopback Host only, no foreign Origin, no form posts, valid bucket names, no
 * dot segments or encoded slashes, a body cap). docs/security.md has the
 * threat model and why s3rver was kept rather than replaced.
 */
import { statSync } from 'node:fs';
import fs from 'node:fs/promises';
import type { Server } from 'node:http';
import S3rver from 's3rver';
import { guardServer, isValidBucketName, pathProblem } from '../http-guard';
import { makeStoreAtomic, removeStaleParts, type FilesystemStoreLike } from './s3-atomic-store';
import { assertPortFree, ServiceStartError, type RunningService } from './service';

export { s3ObjectFile } from './s3-files';

export interface S3EmulatorOptions {
  /** Loopback port. @default 4569 */
  readonly port?: number;
  /** Directory that holds buckets and objects. */
  readonly dataDir: string;
  /** Buckets created at start if missing. */
  readonly buckets?: readonly string[];
  /** Largest object one PUT may store, in bytes (413 above). @default 1 GiB */
  readonly maxObjectBytes?: number;
  /** Further loopback ports whose pages may call S3 (a local web UI). @default [] */
  readonly allowedOriginPorts?: readonly number[];
}

export const DEFAULT_S3_PORT = 4569;
/**
 * 1 GiB: well above a compacted hour partition of a busy dev day, well below a
 * disk-filling upload (S3 itself allows 5 GiB per PUT).
 */
export const DEFAULT_MAX_OBJECT_BYTES = 1024 * 1024 * 1024;

const SERVICE = 'S3 emulator (s3rver)';

/** A key the HTTP guard would let through to the store (its own path check, S3's 1,024-byte limit). */
const isSafeKey = (key: string): boolean => key.length > 0 && Buffer.byteLength(key) <= 1024 && pathProblem(key, 'key') === null;

/** An object stored (etag and size given) or removed (neither), as the emulator's store saw it. */
export interface S3ObjectChange {
  readonly bucket: string;
  readonly key: string;
  /** Without quotes. Absent: the object was removed. */
  readonly etag?: string;
  readonly size?: number;
}

export type S3ChangeListener = (change: S3ObjectChange) => void;

export interface S3Emulator extends RunningService {
  /**
   * Calls `listener` for every object the store writes or removes (PutObject, POST, CopyObject,
   * multipart completion, DeleteObject, DeleteObjects), once the store has done it and before the
   * response is sent: a client that has its answer knows every listener has run. Returns the
   * unsubscribe function. The local Athena endpoint keeps its object index with it.
   */
  onObjectChange(listener: S3ChangeListener): () => void;
  /** The directory of the store (objects as files, see s3ObjectFile). */
  readonly directory: string;
  /**
   * Stores an object from this process, as a PutObject would (change listeners included),
   * without the HTTP round trip: the local Athena endpoint writes its result objects so.
   * Resolves once GetObject reads the whole object (s3-atomic-store.ts); a body of up to
   * 1 MiB (SYNC_WRITE_BYTES there) is whole before the call returns. Rejects with a
   * NoSuchBucket error when the bucket does not exist.
   */
  putObject(bucket: string, key: string, body: Uint8Array, contentType: string): Promise<void>;
}

/** The hooks s3rver's FilesystemStore offers for writes; multipart completion goes through putObject. */
interface S3rverStore extends FilesystemStoreLike {
  getBucketPath(bucket: string): string;
  deleteObject(bucket: string, key: string): Promise<void>;
}

/** Wraps the store's write methods so that each completed change is reported to the listeners. */
function watchStore(store: S3rverStore, listeners: ReadonlySet<S3ChangeListener>): void {
  const emit = (c: S3ObjectChange): void => {
    for (const l of listeners) {
      try {
        l(c);
      } catch {
        // A listener's failure must not fail the client's write.
      }
    }
  };
  const put = store.putObject.bind(store);
  const copy = store.copyObject.bind(store);
  const del = store.deleteObject.bind(store);
  store.putObject = async (object) => {
    const r = await put(object);
    emit({ bucket: object.bucket, key: object.key, etag: r.md5, size: r.size });
    return r;
  };
  store.copyObject = async (srcBucket, srcKey, destBucket, destKey, meta) => {
    const m = await copy(srcBucket, srcKey, destBucket, destKey, meta);
    emit({ bucket: destBucket, key: destKey, etag: String(m.etag ?? '').replace(/"/g, ''), size: Number(m['content-length']) });
    return m;
  };
  store.deleteObject = async (bucket, key) => {
    await del(bucket, key);
    emit({ bucket, key });
  };
}

export async function startS3Emulator(opts: S3EmulatorOptions): Promise<S3Emulator> {
  const port = opts.port ?? DEFAULT_S3_PORT;
  await assertPortFree(SERVICE, port);
  await fs.mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const server = new S3rver({
    port,
    address: '127.0.0.1',
    directory: opts.dataDir,
    silent: true,
    configureBuckets: (opts.buckets ?? []).map((name) => ({ name, configs: [] })),
  });
  const listeners = new Set<S3ChangeListener>();
  const store = (server as unknown as { store: S3rverStore }).store;
  makeStoreAtomic(store);
  watchStore(store, listeners);
  await removeStaleParts(opts.dataDir);
  let httpServer: Server;
  try {
    // run() resolves in the listen callback; the guard is in place before the first request is read.
    httpServer = (await server.run(), (server as unknown as { httpServer: Server }).httpServer);
  } catch (err) {
    throw new ServiceStartError(SERVICE, `failed to start on port ${port}: ${(err as Error).message}`);
  }
  guardServer(httpServer, {
    service: SERVICE,
    ports: [port],
    allowedOriginPorts: opts.allowedOriginPorts ?? [],
    maxBodyBytes: opts.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES,
    paths: 's3',
    errorFormat: 'xml',
  });
  let stopped = false;
  return {
    name: 's3',
    endpoint: `http://127.0.0.1:${port}`,
    port,
    directory: opts.dataDir,
    onObjectChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async putObject(bucket, key, body, contentType) {
      if (!isValidBucketName(bucket) || !isSafeKey(key)) throw new Error(`S3 emulator: refusing to store ${bucket}/${key}`);
      // The check s3rver's getBucket makes, without an event-loop turn: a small body is then written before this returns.
      if (!statSync(store.getBucketPath(bucket), { throwIfNoEntry: false })?.isDirectory()) throw Object.assign(new Error('The specified bucket does not exist'), { name: 'NoSuchBucket' });
      const content = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      await store.putObject({ bucket, key, content, metadata: { 'content-type': contentType } });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      listeners.clear();
      await server.close();
    },
  };
}
