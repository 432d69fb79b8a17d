/**
 * The DuckDB instance a local Athena query runs in, locked down to what the
 * endpoint needs: read the lake cache, nothing else.
 *
 * - `enable_external_access = false` with `allowed_directories` = the lake
 *   cache: no file outside it can be read or written (read_text('/etc/passwd'),
 *   glob('/root/*'), COPY … TO), no http(s) URL is fetched.
 * - no extension is installed or loaded, known or community
 *   (read_text('http://…') would otherwise install httpfs).
 * - bounded `memory_limit` and `threads`; spills go to an absolute
 *   `temp_directory` inside the endpoint's data dir.
 * - `lock_configuration = true` last, so that no statement can undo any of it.
 *
 * The settings are per instance, so one sandboxed instance can live as long as
 * its owner wants: SandboxPool keeps them warm between queries (engine.ts).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { quoteString } from './catalog';

export interface SandboxOptions {
  /** Directories queries may read (the lake cache). Absolute. */
  readonly readableDirs: readonly string[];
  /** Spill directory. Absolute. */
  readonly tempDir: string;
  /** DuckDB memory limit, e.g. '1GB'. */
  readonly memoryLimit: string;
  /** DuckDB worker threads. */
  readonly threads: number;
}

/** Session defaults every query runs with, set before the configuration is locked. */
const SESSION_SETTINGS: readonly string[] = [
  "SET GLOBAL TimeZone = 'UTC'",
  // Trino divides integers as integers (5 / 2 = 2); DuckDB's default is 2.5.
  'SET GLOBAL integer_division = true',
  // Footers read once per file (the lake cache's names change with the ETag, so an entry never goes stale).
  'SET GLOBAL parquet_metadata_cache = true',
];

const dirPrefix = (d: string): string => path.join(path.resolve(d), '/');

/** A DuckDB instance with the sandbox settings applied and locked. */
export async function openSandboxedDuckDB(opts: SandboxOptions): Promise<DuckDBInstance> {
  if (!Number.isInteger(opts.threads) || opts.threads < 1) throw new Error(`DuckDB sandbox: threads must be a whole number ≥ 1 (given ${opts.threads})`);
  if (!/^\d+(\.\d+)?\s*[KMGT]i?B$/i.test(opts.memoryLimit)) throw new Error(`DuckDB sandbox: memoryLimit must look like 512MB or 2GB (given ${JSON.stringify(opts.memoryLimit)})`);
  if (!path.isAbsolute(opts.tempDir)) throw new Error(`DuckDB sandbox: tempDir must be absolute (given ${opts.tempDir})`);
  await fs.mkdir(opts.tempDir, { recursive: true, mode: 0o700 });
  const instance = await DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    allow_community_extensions: 'false',
    allow_unsigned_extensions: 'false',
    memory_limit: opts.memoryLimit,
    threads: String(opts.threads),
    temp_directory: opts.tempDir,
  });
  const conn = await instance.connect();
  try {
    for (const s of SESSION_SETTINGS) await conn.run(s);
    // allowed_directories can only be set while external access is still on; it is a prefix match, hence the trailing '/'.
    await conn.run(`SET allowed_directories = [${opts.readableDirs.map((d) => quoteString(dirPrefix(d))).join(', ')}]`);
    await conn.run('SET enable_external_access = false');
    await conn.run('SET lock_configuration = true');
  } catch (err) {
    conn.closeSync();
    instance.closeSync();
    throw err;
  }
  conn.closeSync();
  return instance;
}

/**
 * Sandboxed instances kept open between queries: opening one and applying the
 * settings costs more than a small query. A query takes an idle instance (or
 * a new one when all are busy, so concurrent queries never share one) and
 * gives it back clean; one that cannot be cleaned is closed instead.
 */
export class SandboxPool {
  private readonly idle: DuckDBInstance[] = [];
  private closed = false;
  private openedCount = 0;
  /** Instances open now. */
  private live = 0;

  constructor(
    private readonly opts: SandboxOptions,
    /** Idle instances kept; more are closed when given back. */
    private readonly maxIdle: number,
  ) {}

  /** Instances on their way back (returning()). */
  private readonly inReturn = new Set<Promise<void>>();

  /** An idle instance; if none, one being given back; if none either, a new one. */
  async acquire(): Promise<DuckDBInstance> {
    for (;;) {
      if (this.closed) throw new Error('DuckDB sandbox pool is closed');
      const warm = this.idle.pop();
      if (warm) return warm;
      if (this.inReturn.size === 0) break;
      // Checking an instance takes a millisecond or two; opening one and building its catalog far longer.
      await Promise.race(this.inReturn);
    }
    return this.open();
  }

  /**
   * A new instance if fewer than maxIdle are open (idle, in use or being given back), else
   * undefined: the engine opens one for a query whose views the idle instances do not hold.
   */
  async openSpare(): Promise<DuckDBInstance | undefined> {
    if (this.closed || this.live >= this.maxIdle) return undefined;
    return this.open();
  }

  private async open(): Promise<DuckDBInstance> {
    this.openedCount++;
    this.live++;
    try {
      return await openSandboxedDuckDB(this.opts);
    } catch (err) {
      this.live--;
      throw err;
    }
  }

  /** Resolves once every instance being given back is back (idle or closed). */
  async returned(): Promise<void> {
    await Promise.all(this.inReturn);
  }

  /** An instance that `settled` gives back (release) once its owner has checked it. */
  returning(settled: Promise<void>): void {
    const p = settled.catch(() => undefined);
    this.inReturn.add(p);
    void p.finally(() => this.inReturn.delete(p));
  }

  /** Instances opened so far. */
  get opened(): number {
    return this.openedCount;
  }

  /**
   * The idle instance `score` rates highest (above 0), taken out of the pool, or undefined:
   * the engine prefers the instance whose catalog already matches a query.
   */
  take(score: (instance: DuckDBInstance) => number): DuckDBInstance | undefined {
    let best = -1;
    let bestScore = 0;
    this.idle.forEach((inst, i) => {
      const sc = score(inst);
      if (sc > bestScore) [best, bestScore] = [i, sc];
    });
    return best < 0 ? undefined : this.idle.splice(best, 1)[0];
  }

  /** Gives back an instance the caller has cleaned (clean = false closes it). */
  release(instance: DuckDBInstance, clean: boolean): void {
    if (clean && !this.closed && this.idle.length < this.maxIdle) this.idle.push(instance);
    else {
      this.live--;
      instance.closeSync();
    }
  }

  close(): void {
    this.closed = true;
    for (const i of this.idle.splice(0)) {
      this.live--;
      i.closeSync();
    }
  }
}
