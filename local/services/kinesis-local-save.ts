/**
 * When is a kinesis-mock stop safe? kinesis-mock does not save on exit (and ignores
 * SIGTERM), so stop() must wait for one of its periodic saves that holds every write
 * acknowledged before the stop. Its save (Cache.persistToDisk, kinesis-mock v0.6) takes a
 * snapshot of its streams first, then truncates and rewrites the data file in place. So the
 * first save seen writing after the stop may hold a snapshot from before the last write:
 * the snapshot can be taken before a write is acknowledged and the file written after. Saves
 * run one at a time, so the save after that one took its snapshot after the stop began.
 */
import fs from 'node:fs/promises';

const POLL_MS = 25;

interface FileState {
  readonly mtimeMs: number;
  readonly size: number;
}

async function stat(file: string): Promise<FileState | undefined> {
  return fs.stat(file).then(
    (s) => ({ mtimeMs: s.mtimeMs, size: s.size }),
    () => undefined,
  );
}

/**
 * The file's mtime if it is later than `newerThan` and the file holds one whole save now: it
 * parses as JSON and did not change while being read (kinesis-mock prints the whole store as one
 * JSON document, so a file caught mid-write is a cut-off document that does not parse). The file
 * is read only when its mtime has moved past `newerThan`: a store can be large.
 */
async function wholeSaveMtime(file: string, newerThan: number): Promise<number | undefined> {
  const before = await stat(file);
  if (!before || before.mtimeMs <= newerThan) return undefined;
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  const after = await stat(file);
  if (text === undefined || !after || after.mtimeMs !== before.mtimeMs || after.size !== before.size) return undefined;
  try {
    JSON.parse(text);
  } catch {
    return undefined;
  }
  return before.mtimeMs;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class SaveTimeoutError extends Error {
  constructor(file: string, timeoutMs: number) {
    super(
      `kinesis-local did not save ${file} within ${timeoutMs} ms of the stop; ` +
        'records written in its last save interval before the stop may be missing after a restart',
    );
    this.name = 'SaveTimeoutError';
  }
}

/**
 * Resolves once a save of `file` that began after `since` (epoch ms) is whole on disk:
 * first a save seen writing after `since` completes, then the next save completes.
 * Rejects with SaveTimeoutError after `timeoutMs`.
 */
export async function waitForSaveAfter(file: string, since: number, timeoutMs: number): Promise<void> {
  const deadline = since + timeoutMs;
  // Phase 1: some save writes after `since` and finishes. The file's clock is the kernel's
  // coarse one, never ahead of Date.now(), so mtime > since means written after `since`.
  let firstDone: number | undefined;
  while (Date.now() < deadline) {
    firstDone = await wholeSaveMtime(file, since);
    if (firstDone !== undefined) break;
    await sleep(POLL_MS);
  }
  // Phase 2: the next save, whose snapshot followed the first one's end, finishes.
  while (firstDone !== undefined && Date.now() < deadline) {
    if ((await wholeSaveMtime(file, firstDone)) !== undefined) return;
    await sleep(POLL_MS);
  }
  throw new SaveTimeoutError(file, timeoutMs);
}
