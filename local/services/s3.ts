/**
 * S3 emulator: npm `s3rver`, path-style addressing, objects kept on disk under
 * `dataDir` so that a restart loses nothing.
 */
import fs from 'node:fs/promises';
import S3rver from 's3rver';
import { assertPortFree, ServiceStartError, type RunningService } from './service';

export interface S3EmulatorOptions {
  /** Loopback port. @default 4569 */
  readonly port?: number;
  /** Directory that holds buckets and objects. */
  readonly dataDir: string;
  /** Buckets created at start if missing. */
  readonly buckets?: readonly string[];
}

export const DEFAULT_S3_PORT = 4569;

export async function startS3Emulator(opts: S3EmulatorOptions): Promise<RunningService> {
  const port = opts.port ?? DEFAULT_S3_PORT;
  await assertPortFree('S3 emulator (s3rver)', port);
  await fs.mkdir(opts.dataDir, { recursive: true });
  const server = new S3rver({
    port,
    address: '127.0.0.1',
    directory: opts.dataDir,
    silent: true,
    configureBuckets: (opts.buckets ?? []).map((name) => ({ name, configs: [] })),
  });
  try {
    await server.run();
  } catch (err) {
    throw new ServiceStartError('S3 emulator (s3rver)', `failed to start on port ${port}: ${(err as Error).message}`);
  }
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
