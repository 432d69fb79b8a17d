/**
 * Kinesis emulator: npm `kinesalite` (LevelDB on disk; kinesalite-process.ts) or npm
 * `kinesis-local` (kinesis-mock, the engine LocalStack runs), each as a child process
 * tethered to this one. Either keeps streams and records under `dataDir` across restarts.
 */
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { localKinesisClient } from '../aws-clients';
import { startGuardProxy } from '../http-guard';
import { childEntry } from './child-entry';
import { waitForSaveAfter } from './kinesis-local-save';
import { kinesisGuard, STATE_TRANSITION_MS } from './kinesalite-process';
import { assertPortFree, freePort, ServiceStartError, type RunningService } from './service';
import { lockDataDir, ServiceProcess, waitUntilReady, type DataDirLock } from './service-process';

export type KinesisEngine = 'kinesalite' | 'kinesis-local';

export interface KinesisEmulatorOptions {
  /** Which emulator. @default DEFAULT_KINESIS_ENGINE ('kinesalite') */
  readonly engine?: KinesisEngine;
  /** Loopback HTTP port. @default 4568 */
  readonly port?: number;
  /** Directory that holds streams and records (one sub-folder per engine). */
  readonly dataDir: string;
  /** Give up on readiness after this long, in ms. @default 30000 */
  readonly startTimeoutMs?: number;
  /** Further loopback ports whose pages may call Kinesis (a local web UI). @default [] */
  readonly allowedOriginPorts?: readonly number[];
}

export const DEFAULT_KINESIS_PORT = 4568;

/**
 * kinesalite, by measurement (`npx tsx scripts/bench/kinesis-emulators.ts`, 2 cores,
 * busy machine): a 500 × ~200 B PutRecords call took kinesalite 677 / 247 / 147 ms
 * with 0 / 5,000 / 20,000 records stored, kinesis-local 2,347 / 5,065 ms and never
 * reached 20,000 within 35 s of filling; GetRecords read 1,739 vs 545 records/s.
 * kinesis-local's cost grows with the records it holds.
 */
export const DEFAULT_KINESIS_ENGINE: KinesisEngine = 'kinesalite';

/**
 * kinesis-local's save interval, in ms (its PERSIST_INTERVAL). Each save
 * re-serialises every stored record on its single thread: 500 ms made its
 * PutRecords ~1.5× slower than 60 s did (10 calls of 500 records), so 1 s,
 * which also bounds stop() to ~1 s.
 */
const PERSIST_INTERVAL_MS = 1_000;

/**
 * How long stop() waits for a save that holds every acknowledged write: two save intervals
 * when idle, but a save re-serialises the whole store on kinesis-mock's one thread, and on a
 * loaded machine that thread falls behind its schedule.
 */
const SAVE_WAIT_MS = 30 * PERSIST_INTERVAL_MS;

const require = createRequire(import.meta.url);

export async function startKinesisEmulator(opts: KinesisEmulatorOptions): Promise<RunningService> {
  const engine = opts.engine ?? DEFAULT_KINESIS_ENGINE;
  const port = opts.port ?? DEFAULT_KINESIS_PORT;
  const timeoutMs = opts.startTimeoutMs ?? 30_000;
  const origins = opts.allowedOriginPorts ?? [];
  return engine === 'kinesalite'
    ? startKinesalite(port, opts.dataDir, timeoutMs, origins)
    : startKinesisLocal(port, opts.dataDir, timeoutMs, origins);
}

/** ListStreams answers: the HTTP server is up and its store is open. */
async function answersListStreams(endpoint: string): Promise<boolean> {
  const client = localKinesisClient(endpoint);
  try {
    await client.send(new ListStreamsCommand({}), { abortSignal: AbortSignal.timeout(3_000) });
    return true;
  } finally {
    client.destroy();
  }
}

// ---- kinesalite -------------------------------------------------------------

/** SIGTERM to SIGKILL, in ms: kinesalite closes LevelDB and its server on SIGTERM in well under a second. */
const KINESALITE_STOP_GRACE_MS = 5_000;

async function startKinesalite(port: number, dataDir: string, timeoutMs: number, origins: readonly number[]): Promise<RunningService> {
  const service = 'Kinesis emulator (kinesalite)';
  const dbPath = path.join(dataDir, 'kinesalite');
  await fs.mkdir(dbPath, { recursive: true });
  // LevelDB's own LOCK refuses a second opener, but only once the child runs; the lock file also
  // lets a start after a SIGKILLed supervisor stop that supervisor's child first (service-process.ts).
  const lock = await lockDataDir(service, dataDir, { name: '.kinesalite.lock', staleStopGraceMs: KINESALITE_STOP_GRACE_MS });
  let proc: ServiceProcess | undefined;
  const kinesaliteChild = childEntry(import.meta.url, 'kinesalite-process');
  try {
    await assertPortFree(service, port);
    proc = new ServiceProcess({
      service,
      command: process.execPath,
      args: [...kinesaliteChild.execArgv, kinesaliteChild.entry, String(port), dbPath, JSON.stringify(origins)],
      env: { ...process.env, SHARDFLOW_KINESALITE_CHILD: '1' },
      logFile: path.join(dataDir, 'kinesalite.log'),
      orphanGraceMs: KINESALITE_STOP_GRACE_MS,
    });
    await lock.recordChild(proc.pid);
    const endpoint = `http://127.0.0.1:${port}`;
    await waitUntilReady({ service, process: proc, probe: () => answersListStreams(endpoint), timeoutMs, intervalMs: 50 });
    let stopping: Promise<void> | undefined;
    const running = proc;
    return {
      name: 'kinesis',
      endpoint,
      port,
      stop: () =>
        (stopping ??= (async () => {
          await running.stop(KINESALITE_STOP_GRACE_MS);
          await lock.release();
        })()),
    };
  } catch (err) {
    await proc?.stop(0);
    await lock.release();
    throw err;
  }
}

// ---- kinesis-local (kinesis-mock) -------------------------------------------

async function startKinesisLocal(port: number, dataDir: string, timeoutMs: number, origins: readonly number[]): Promise<RunningService> {
  const service = 'Kinesis emulator (kinesis-local)';
  let mainJs: string;
  try {
    mainJs = require.resolve('kinesis-local/main.js');
  } catch {
    throw new ServiceStartError(service, 'npm package kinesis-local is not installed (run `npm ci`).');
  }
  // kinesis-mock's JS build loads its TLS certificate at start, even when only plain HTTP is used.
  const certPath = path.join(path.dirname(mainJs), 'server.json');
  if (!existsSync(certPath)) {
    throw new ServiceStartError(service, `its certificate ${certPath} is missing; reinstall kinesis-local.`);
  }
  const persistDir = path.join(dataDir, 'kinesis-local');
  await fs.mkdir(persistDir, { recursive: true });
  // Two kinesis-mock processes on one data file would overwrite each other's saves. Taken before
  // the port check: one left by a SIGKILLed supervisor is stopped here (service-process.ts).
  const lock = await lockDataDir(service, persistDir, { staleStopGraceMs: 1_000 });
  try {
    await assertPortFree(service, port);
    return await runKinesisLocal({ service, port, dataDir, persistDir, mainJs, certPath, timeoutMs, lock, origins });
  } catch (err) {
    await lock.release();
    throw err;
  }
}

interface KinesisLocalLaunch {
  readonly service: string;
  readonly port: number;
  readonly dataDir: string;
  readonly persistDir: string;
  readonly mainJs: string;
  readonly certPath: string;
  readonly timeoutMs: number;
  readonly lock: DataDirLock;
  readonly origins: readonly number[];
}

const LOOPBACK_ONLY = new URL('./loopback-only.mjs', import.meta.url).href;

/**
 * kinesis-mock hard-codes 0.0.0.0 and answers any Host and Origin, so it runs
 * with loopback-only.mjs preloaded (every listen goes to 127.0.0.1) on a
 * private port, behind a guard proxy on the public one.
 */
async function runKinesisLocal(l: KinesisLocalLaunch): Promise<RunningService> {
  const { service, port, dataDir, persistDir, mainJs, certPath, timeoutMs, lock, origins } = l;
  const privatePort = await freePort();
  // It always opens a TLS port too (default 4567); give it a free one so it cannot collide.
  const tlsPort = await freePort();
  const duration = `${STATE_TRANSITION_MS}ms`;
  const proc = new ServiceProcess({
    service,
    command: process.execPath,
    args: ['--import', LOOPBACK_ONLY, mainJs],
    cwd: persistDir,
    logFile: path.join(dataDir, 'kinesis-local.log'),
    // It ignores SIGTERM; an orphan gets one more save interval, then SIGKILL.
    orphanGraceMs: PERSIST_INTERVAL_MS + 500,
    env: {
      ...process.env,
      KINESIS_MOCK_PLAIN_PORT: String(privatePort),
      KINESIS_MOCK_TLS_PORT: String(tlsPort),
      KINESIS_MOCK_CERT_PATH: certPath,
      SHOULD_PERSIST_DATA: 'true',
      LOAD_DATA_IF_EXISTS: 'true',
      PERSIST_PATH: persistDir,
      // Default 5 s. It does not save on exit (and ignores SIGTERM/SIGINT), so stop()
      // waits for the next save: this interval bounds both stop time and crash loss.
      PERSIST_INTERVAL: `${PERSIST_INTERVAL_MS}ms`,
      CREATE_STREAM_DURATION: duration,
      DELETE_STREAM_DURATION: duration,
      MERGE_SHARDS_DURATION: duration,
      SPLIT_SHARD_DURATION: duration,
      UPDATE_SHARD_COUNT_DURATION: duration,
      UPDATE_STREAM_MODE_DURATION: duration,
      SHARD_LIMIT: '500',
      LOG_LEVEL: 'WARN',
    },
  });
  await lock.recordChild(proc.pid);
  const endpoint = `http://127.0.0.1:${port}`;
  let proxy: Awaited<ReturnType<typeof startGuardProxy>>;
  try {
    await waitUntilReady({ service, process: proc, probe: () => answersListStreams(`http://127.0.0.1:${privatePort}`), timeoutMs, intervalMs: 100 });
    proxy = await startGuardProxy({ ...kinesisGuard(service, port, origins), port, upstream: { host: '127.0.0.1', port: privatePort } });
  } catch (err) {
    await proc.stop(0);
    throw err;
  }
  const persistFile = path.join(persistDir, 'kinesis-data.json');
  let stopping: Promise<void> | undefined;
  return {
    name: 'kinesis',
    endpoint,
    port,
    stop() {
      stopping ??= (async () => {
        await proxy.close();
        try {
          if (!proc.hasExited) await waitForSaveAfter(persistFile, Date.now(), SAVE_WAIT_MS);
        } finally {
          // kinesis-mock ignores SIGTERM (measured: still running 6 s later), so no grace period.
          await proc.stop(0);
          await lock.release();
        }
      })();
      return stopping;
    },
  };
}
