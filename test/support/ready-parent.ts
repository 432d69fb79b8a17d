/**
 * Starts one of the test/support/*-parent.ts scripts (a process that starts a
 * service and prints "ready") and resolves once it has printed it, so a test
 * can SIGKILL it and check that what it started does not outlive it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export async function spawnUntilReady(script: string, args: readonly string[]): Promise<ChildProcess> {
  const parent = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      parent.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('ready')) resolve();
      });
      parent.once('exit', (code) => reject(new Error(`${script} exited (${code}) before it was ready`)));
    });
  } catch (err) {
    parent.kill('SIGKILL');
    throw err;
  }
  return parent;
}
