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
import fs from 'node:fs/promises';
import type { Server } from 'node:http';
import S3rver from 's3rver';
import { guardServer } from '../http-guard';
import { assertPortFree, ServiceStartError, type RunningService } from './service';

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

export async function startS3Emulator(opts: S3EmulatorOptions): Promise<RunningService> {
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
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close();
    },
  };
}
