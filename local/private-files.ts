/**
 * Everything under the data directory (`.shardflow/`) is the user's alone:
 * files 0600, directories 0700. It holds the lake, the streams and the logs,
 * which may carry personal data, on a laptop other accounts may share.
 *
 * Three layers, because part of what is written there is written by code we do
 * not control (s3rver, LevelDB, the Kafka JVM, DuckDB): the process umask is
 * 077 while a runtime runs (children inherit it; tether.mjs sets it too), files
 * we write ourselves are created 0600, and at start every existing entry is
 * tightened, so a data directory made by an older version is fixed too.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/** Makes files created from now on by this process and its children private. No-op in a worker thread, which cannot. */
export function usePrivateUmask(): void {
  if (isMainThread) process.umask(0o077);
}

/** `mkdir -p` with mode 0700, and 0700 on `dir` itself even when it existed. */
export async function makePrivateDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  await fs.chmod(dir, PRIVATE_DIR_MODE);
}

/**
 * Removes group and other permissions from everything under `dir` (symlinks
 * are not followed). Returns how many entries it changed.
 */
export async function tightenTree(dir: string): Promise<number> {
  let changed = 0;
  const visit = async (p: string): Promise<void> => {
    let st;
    try {
      st = await fs.lstat(p);
    } catch {
      return; // removed meanwhile
    }
    if (st.isSymbolicLink()) return;
    const mode = st.isDirectory() ? PRIVATE_DIR_MODE : st.mode & 0o700;
    if ((st.mode & 0o777) !== mode) {
      await fs.chmod(p, mode).catch(() => undefined);
      changed++;
    }
    if (st.isDirectory()) for (const name of await fs.readdir(p).catch(() => [] as string[])) await visit(path.join(p, name));
  };
  await visit(dir);
  return changed;
}

/** Replaces `file` with `data`, created 0600 and renamed into place, so a crash leaves the old or the new file, never a torn one. */
export async function writePrivateFileAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await fs.writeFile(tmp, data, { mode: PRIVATE_FILE_MODE });
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}
