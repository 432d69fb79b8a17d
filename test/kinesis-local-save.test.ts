import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SaveTimeoutError, waitForSaveAfter } from '../local/services/kinesis-local-save';

/**
 * A fake of kinesis-mock's save (Cache.persistToDisk): it takes its snapshot first, then
 * truncates the data file and writes the document, here in two parts with a pause between,
 * so the waiter sees the file cut off and written after the stop.
 */
async function save(file: string, snapshot: string, pauseMs: number): Promise<void> {
  const fh = await fs.open(file, 'w');
  try {
    const half = Math.floor(snapshot.length / 2);
    await fh.write(snapshot.slice(0, half));
    await new Promise((r) => setTimeout(r, pauseMs));
    await fh.write(snapshot.slice(half));
  } finally {
    await fh.close();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'kinesis-local-save-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe('waitForSaveAfter (kinesis-local stop)', () => {
  it('does not take a save whose snapshot predates the stop, even though it is written after it', async () => {
    // Prepare: an old save holds record a; a save takes its snapshot, then record b is acknowledged.
    const file = path.join(root, 'stale-snapshot.json');
    await fs.writeFile(file, JSON.stringify({ records: ['a'] }));
    await sleep(20);
    const staleSnapshot = JSON.stringify({ records: ['a'] });
    const state = { records: ['a', 'b'] };
    // Act: the stop begins, then the stale save writes the file.
    const since = Date.now();
    let resolved = false;
    const waiting = waitForSaveAfter(file, since, 10_000).then(() => {
      resolved = true;
    });
    await sleep(20);
    await save(file, staleSnapshot, 80);
    await sleep(200);
    // Assess: the stale save was whole on disk for 200 ms, and the waiter still waits.
    expect(resolved).toBe(false);
    await save(file, JSON.stringify(state), 80);
    await waiting;
    expect(JSON.parse(await fs.readFile(file, 'utf8'))).toEqual(state);
  });

  it('rejects with the file named when no save follows the stop', async () => {
    // Prepare
    const file = path.join(root, 'no-save.json');
    await fs.writeFile(file, JSON.stringify({ records: ['a'] }));
    await sleep(20);
    // Act
    const since = Date.now();
    const waiting = waitForSaveAfter(file, since, 300);
    // Assess
    await expect(waiting).rejects.toThrow(SaveTimeoutError);
    await expect(waitForSaveAfter(file, Date.now(), 100)).rejects.toThrow(file);
  });

  it('resolves on the second save after the stop when saves keep coming', async () => {
    // Prepare
    const file = path.join(root, 'steady.json');
    let n = 0;
    let running = true;
    const saver = (async () => {
      while (running) {
        n += 1;
        await save(file, JSON.stringify({ save: n }), 10);
        await sleep(50);
      }
    })();
    await sleep(120);
    // Act
    const since = Date.now();
    const savesBefore = n;
    await waitForSaveAfter(file, since, 10_000);
    // Assess: the file holds a whole save that began after the stop.
    const held = JSON.parse(await fs.readFile(file, 'utf8')) as { save: number };
    running = false;
    await saver;
    expect(held.save).toBeGreaterThan(savesBefore);
  });
});
