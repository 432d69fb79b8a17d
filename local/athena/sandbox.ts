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
 * its owner wants (one per query today, see engine.ts).
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
