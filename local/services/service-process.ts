/**
 * A local service that runs as a child process (kinesis-mock, the Kafka JVM):
 * its own process group so that stop() takes any grandchildren with it, run
 * under tether.mjs so that it stops when this process dies however it dies,
 * the tail of its output kept for error messages, and readiness waits that end
 * on whichever comes first: ready, exited, or timed out.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ServiceStartError } from './service';

const TETHER = fileURLToPath(new URL('./tether.mjs', import.meta.url));

export interface ServiceProcessOptions {
  /** Human name used in errors, e.g. 'Kafka broker'. */
  readonly service: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Also append stdout and stderr to this file (kept across restarts, for post-mortems). */
  readonly logFile?: string;
  /**
   * When this process dies without stop(), the service gets SIGTERM and, this
   * many ms later, SIGKILL (tether.mjs). @default 10000
   */
  readonly orphanGraceMs?: number;
}

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the process could not be spawned at all (e.g. ENOENT). */
  readonly error?: Error;
}

/** Output kept in memory for error messages, in characters. */
const TAIL_CHARS = 4_000;

export class ServiceProcess {
  readonly exited: Promise<ProcessExit>;
  private exit: ProcessExit | undefined;
  private output = '';
  private readonly child: ChildProcess;
  private readonly killOnParentExit = (): void => this.signal('SIGKILL');

  constructor(private readonly opts: ServiceProcessOptions) {
    const log = opts.logFile ? fs.createWriteStream(opts.logFile, { flags: 'a', mode: 0o600 }) : undefined;
    const grace = opts.orphanGraceMs ?? 10_000;
    this.child = spawn(process.execPath, [TETHER, String(grace), opts.command, ...opts.args], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      // Own process group: stop() signals -pid, which reaches anything the service forks.
      detached: true,
      // stdin is the liveness pipe tether.mjs watches: it is never written, and closes when this process dies.
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdin?.on('error', () => undefined);
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString('utf8')).slice(-TAIL_CHARS);
      log?.write(chunk);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise<ProcessExit>((resolve) => {
      this.child.once('error', (error) => {
        this.exit ??= { code: null, signal: null, error };
        resolve(this.exit);
      });
      this.child.once('close', (code, signal) => {
        this.exit ??= { code, signal };
        resolve(this.exit);
      });
    }).finally(() => {
      process.off('exit', this.killOnParentExit);
      log?.end();
    });
    // A test runner that dies without calling stop() must not leave a JVM behind.
    process.on('exit', this.killOnParentExit);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get hasExited(): boolean {
    return this.exit !== undefined;
  }

  /** The last few KB of stdout+stderr. */
  tail(): string {
    return this.output.trim();
  }

  /** One line for errors: how it ended plus its last output. */
  describeExit(): string {
    const e = this.exit;
    if (!e) return 'still running';
    if (e.error) return `could not run \`${this.opts.command}\`: ${e.error.message}`;
    const how = e.signal ? `killed by ${e.signal}` : `exited with code ${e.code}`;
    const tail = this.tail();
    return tail ? `${how}. Last output:\n${tail}` : `${how} with no output`;
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`, and wait for the exit (idempotent). */
  async stop(graceMs = 10_000): Promise<ProcessExit> {
    if (this.exit) return this.exit;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  private signal(sig: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined || this.exit) return;
    try {
      process.kill(-pid, sig);
    } catch {
      // Group already gone: fall back to the child itself.
      try {
        this.child.kill(sig);
      } catch {
        /* already exited */
      }
    }
  }
}

/** One probe may not take longer than this (ms), so a half-started service cannot stall the wait. */
const PROBE_TIMEOUT_MS = 5_000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`probe took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export interface ReadinessOptions {
  readonly service: string;
  /** Resolves true once the service answers; throwing or false means not yet. */
  readonly probe: () => Promise<boolean>;
  readonly timeoutMs: number;
  /** Pause between probes, in ms. */
  readonly intervalMs?: number;
  /** When given, an exit before ready ends the wait with its output. */
  readonly process?: ServiceProcess;
}

/**
 * Polls `probe` until it answers, the process exits, or `timeoutMs` passes.
 * Throws ServiceStartError naming the cause and the last probe error.
 */
export async function waitUntilReady(opts: ReadinessOptions): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError = 'no answer yet';
  let exited = false;
  void opts.process?.exited.then(() => {
    exited = true;
  });
  while (Date.now() < deadline) {
    if (exited || opts.process?.hasExited) {
      throw new ServiceStartError(opts.service, `stopped before it was ready: ${opts.process?.describeExit()}`);
    }
    try {
      if (await withTimeout(opts.probe(), Math.max(1, Math.min(PROBE_TIMEOUT_MS, deadline - Date.now())))) return;
    } catch (err) {
      lastError = (err as Error).message || (err as Error).name;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
  if (opts.process?.hasExited) {
    throw new ServiceStartError(opts.service, `stopped before it was ready: ${opts.process.describeExit()}`);
  }
  const tail = opts.process?.tail();
  throw new ServiceStartError(
    opts.service,
    `not ready after ${opts.timeoutMs} ms (last probe: ${lastError})` + (tail ? `. Last output:\n${tail}` : ''),
  );
}

/** An exclusive claim on a data directory; `release()` is idempotent. */
export interface DataDirLock {
  /** Records the service's own pid too, so a lock whose supervisor died but whose child lives still holds. */
  recordChild(pid: number | undefined): Promise<void>;
  release(): Promise<void>;
}

/**
 * A process as pid plus start time: a pid alone names a different process once
 * the first has died and the number is reused.
 */
export interface ProcessIdentity {
  readonly pid: number;
  /** Linux: field 22 of /proc/<pid>/stat (clock ticks since boot); elsewhere `ps -o lstart=`. */
  readonly startedAt: string;
}

/** The identity of a live process, or null when no such process runs. */
export function processIdentity(pid: number): ProcessIdentity | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces or ')'; fields after the last ')' are plain.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // A zombie (Z) or dead (X) process runs no more: it only waits for its parent (or init) to reap it,
    // which after a SIGKILL of a whole group can take a while.
    if (fields[0] === 'Z' || fields[0] === 'X') return null;
    const startedAt = fields[19];
    return startedAt ? { pid, startedAt } : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && fs.existsSync('/proc/self/stat')) return null;
  }
  const ps = spawnSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8', timeout: 5_000 });
  const startedAt = ps.status === 0 ? ps.stdout.trim() : '';
  return startedAt ? { pid, startedAt } : null;
}

/** The very process `id` names still runs (same pid, same start time). */
export function isSameProcess(id: ProcessIdentity | undefined): boolean {
  if (!id) return false;
  return processIdentity(id.pid)?.startedAt === id.startedAt;
}

function isAlive(pid: unknown): boolean {
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, owned by another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface LockFile {
  readonly supervisor?: ProcessIdentity | number;
  readonly child?: ProcessIdentity | number;
}

export interface LockDataDirOptions {
  /** Lock file name inside the directory. @default '.shardflow.lock' */
  readonly name?: string;
  /** A stale child of this directory gets this long after SIGTERM before SIGKILL, in ms. @default 20000 */
  readonly staleStopGraceMs?: number;
}

/** SIGTERM to the group led by `id`, SIGKILL after `graceMs`; resolves once the leader is gone. */
async function stopStaleGroup(id: ProcessIdentity, graceMs: number): Promise<void> {
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-id.pid, sig);
    } catch {
      try {
        process.kill(id.pid, sig);
      } catch {
        /* gone */
      }
    }
  };
  const gone = async (ms: number): Promise<boolean> => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (!isSameProcess(id)) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return !isSameProcess(id);
  };
  signal('SIGTERM');
  if (await gone(graceMs)) return;
  signal('SIGKILL');
  await gone(5_000);
}

/**
 * Claims `<dir>/<name>` with O_EXCL. Needed because neither Kafka 3.9 in KRaft
 * mode nor kinesis-mock refuses a second process on the same data directory
 * (measured: a second Kafka broker corrupted the first one's metadata log).
 *
 * The lock names the supervising process and the service's process group
 * leader, each by pid and start time. A lock whose supervisor still runs is
 * refused. A lock whose supervisor died but whose service still runs (a
 * SIGKILLed `dev`, before tether.mjs has stopped the service) is taken over
 * after stopping that service: it is the same process, by start time, that
 * this directory's lock recorded, so nothing else can be hit. Nothing is ever
 * stopped by name.
 */
export async function lockDataDir(service: string, dir: string, opts: LockDataDirOptions = {}): Promise<DataDirLock> {
  const file = `${dir}/${opts.name ?? '.shardflow.lock'}`;
  const self = processIdentity(process.pid);
  const owner: { supervisor: ProcessIdentity | number; child?: ProcessIdentity } = { supervisor: self ?? process.pid };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fs.promises.writeFile(file, JSON.stringify(owner), { flag: 'wx', mode: 0o600 });
      let released = false;
      return {
        async recordChild(pid) {
          const id = pid === undefined ? null : processIdentity(pid);
          if (id) owner.child = id;
          await fs.promises.writeFile(file, JSON.stringify(owner), { mode: 0o600 });
        },
        async release() {
          if (released) return;
          released = true;
          await fs.promises.rm(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const held = await fs.promises
        .readFile(file, 'utf8')
        .then((s) => JSON.parse(s) as LockFile)
        .catch(() => ({}) as LockFile);
      const alive = (who: ProcessIdentity | number | undefined): boolean => (typeof who === 'number' ? isAlive(who) : isSameProcess(who));
      const pidOf = (who: ProcessIdentity | number | undefined): number | undefined => (typeof who === 'number' ? who : who?.pid);
      if (alive(held.supervisor) || (typeof held.child === 'number' && alive(held.child))) {
        const live = [held.supervisor, held.child].filter(alive).map(pidOf);
        throw new ServiceStartError(
          service,
          `its data directory ${dir} is in use by process ${live.join(' / ')} (lock ${file}). Stop that service or use another dataDir.`,
        );
      }
      if (typeof held.child === 'object' && alive(held.child)) {
        // Left running by a supervisor that died without stopping it.
        await stopStaleGroup(held.child, opts.staleStopGraceMs ?? 20_000);
      }
      await fs.promises.rm(file, { force: true });
    }
  }
  throw new ServiceStartError(service, `could not lock ${file}: another start keeps taking it`);
}
