/**
 * kinesalite as a process of its own (the entry of the child that kinesis.ts
 * starts through ServiceProcess, so tether.mjs stops it when its parent dies):
 *
 *   node [--import tsx] kinesalite-process.ts <port> <leveldb dir> <allowed origin ports as JSON>
 *
 * Why a process: kinesalite is single-threaded JavaScript, and every record a
 * send puts and the event source mapping reads back passes through it. In the
 * runtime's process it shared one event loop with the mappings, the handler
 * and s3rver, so consuming slowed the send itself (scripts/bench/local-e2e.ts);
 * here it runs beside them, as Kinesis runs apart from Lambda.
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { guardServer, type HttpGuardOptions } from '../http-guard';
import { installFastKinesaliteDb, installFastKinesaliteValidation, installKinesaliteMetaCache } from './kinesalite-fast';
import { installKinesaliteReadCache } from './kinesalite-read-cache';

/**
 * Both engines answer any Host and any Origin (kinesalite grants every preflight
 * `Access-Control-Allow-Origin: *`); the guard refuses what a web page could send.
 */
export function kinesisGuard(service: string, port: number, allowedOriginPorts: readonly number[]): HttpGuardOptions {
  return {
    service,
    ports: [port],
    allowedOriginPorts,
    // The AWS JSON 1.1 protocol the SDK speaks, and the CBOR/JSON variants kinesalite also reads.
    contentTypes: ['application/x-amz-json-1.1', 'application/x-amz-cbor-1.1', 'application/cbor', 'application/json'],
    errorFormat: 'json',
  };
}

/**
 * Time a stream spends CREATING/DELETING/UPDATING, in ms. AWS takes ~30 s;
 * locally that only slows tests, and createStreamIfMissing waits for ACTIVE anyway.
 */
export const STATE_TRANSITION_MS = 10;

/** What the child prints (and exits 1 with) when its LevelDB store is held by another process. */
export const STORE_IN_USE = 'Is another emulator using the same dataDir?';

interface KinesaliteOptions {
  path?: string;
  createStreamMs?: number;
  deleteStreamMs?: number;
  updateStreamMs?: number;
  shardLimit?: number;
}
type KinesaliteFactory = (opts: KinesaliteOptions) => Server;

interface LevelDown {
  open(cb: (err?: Error) => void): void;
  close(cb: (err?: Error) => void): void;
}

const require = createRequire(import.meta.url);

/**
 * kinesalite opens LevelDB lazily and, when that fails (another process holds
 * the LOCK), emits an unhandled 'error'. Opening it once here first turns that
 * into a message and exit code.
 */
async function assertLevelDbOpens(dbPath: string): Promise<void> {
  let leveldown: (location: string) => LevelDown;
  try {
    leveldown = require('leveldown') as (location: string) => LevelDown;
  } catch (err) {
    throw new Error(`cannot load leveldown (kinesalite's on-disk store): ${(err as Error).message}. Run \`npm ci\` on linux-x64/arm64 or darwin, where it ships prebuilt binaries.`);
  }
  const db = leveldown(dbPath);
  await new Promise<void>((resolve, reject) => {
    db.open((err) => {
      if (err) {
        reject(new Error(`cannot open its store ${dbPath}: ${err.message}. ${STORE_IN_USE}`));
        return;
      }
      db.close((closeErr) => (closeErr ? reject(closeErr) : resolve()));
    });
  });
}

async function main(args: readonly string[]): Promise<void> {
  const service = 'Kinesis emulator (kinesalite)';
  const port = Number(args[0]);
  const dbPath = args[1]!;
  const origins = JSON.parse(args[2] ?? '[]') as number[];
  await assertLevelDbOpens(dbPath);
  installFastKinesaliteDb();
  installKinesaliteMetaCache();
  installFastKinesaliteValidation();
  installKinesaliteReadCache();
  const kinesalite = require('kinesalite') as KinesaliteFactory;
  const server = kinesalite({
    path: dbPath,
    createStreamMs: STATE_TRANSITION_MS,
    deleteStreamMs: STATE_TRANSITION_MS,
    updateStreamMs: STATE_TRANSITION_MS,
    // kinesalite's default (10) mirrors an old AWS account limit; local pipelines may use more.
    shardLimit: 500,
  });
  guardServer(server, kinesisGuard(service, port, origins));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === 'EADDRINUSE' ? `port ${port} on 127.0.0.1 is already in use.` : `cannot listen on ${port}: ${err.message}`)),
    );
    server.listen(port, '127.0.0.1', () => resolve());
  });
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    // Closes LevelDB, then the HTTP server (kinesalite wraps server.close); exits once both are closed.
    server.close((err?: Error) => {
      if (err) process.stderr.write(`kinesalite: close failed: ${err.message}\n`);
      process.exit(err ? 1 : 0);
    });
    // Idle keep-alive sockets from SDK clients would otherwise hold close() open.
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 2_000).unref();
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, stop);
}

if (process.env.SHARDFLOW_KINESALITE_CHILD === '1') {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  });
}
