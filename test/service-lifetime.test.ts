/**
 * Child services cannot outlive their supervisor (local/services/tether.mjs),
 * and a data directory's lock stops a stale child of that directory, and only
 * it: a pid whose start time differs from the recorded one is never signalled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSameProcess, lockDataDir, processIdentity, type ProcessIdentity } from '../local/services/service-process';

const TETHER = fileURLToPath(new URL('../local/services/tether.mjs', import.meta.url));
let root: string;
const spawned: ChildProcess[] = [];

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-lifetime-'));
});
afterAll(async () => {
  for (const c of spawned) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await fs.rm(root, { recursive: true, force: true });
});

/** A tethered `sleep` in its own process group, as ServiceProcess starts a service. */
function tetheredSleep(graceMs = 500, ignoreTerm = false): ChildProcess {
  const command = ignoreTerm ? ['sh', '-c', 'trap "" TERM; sleep 300 & wait'] : ['sleep', '300'];
  const c = spawn(process.execPath, [TETHER, String(graceMs), ...command], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  spawned.push(c);
  return c;
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

/** The sleep a tether runs: the one process in its group besides the tether. */
async function serviceOf(tether: ChildProcess): Promise<ProcessIdentity> {
  let found: ProcessIdentity | null = null;
  await until(() => {
    for (const name of fsSync.readdirSync('/proc')) {
      if (!/^\d+$/.test(name) || Number(name) === tether.pid) continue;
      try {
        const stat = fsSync.readFileSync(`/proc/${name}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(f[1]) === tether.pid) found = processIdentity(Number(name)); // f[1]: ppid
      } catch {
        /* exited */
      }
    }
    return found !== null;
  }, 5_000);
  if (!found) throw new Error('tethered service did not start');
  return found;
}

describe('tether.mjs', () => {
  it('stops the service when the parent end of the liveness pipe closes, as on SIGKILL of the parent', async () => {
    const tether = tetheredSleep();
    const sleep = await serviceOf(tether);
    expect(isSameProcess(sleep)).toBe(true);
    // What the kernel does to every fd of a killed parent.
    tether.stdin!.destroy();
    expect(await until(() => !isSameProcess(sleep), 5_000)).toBe(true);
    expect(await until(() => tether.exitCode !== null || tether.signalCode !== null, 5_000)).toBe(true);
  });

  it('kills a service that ignores SIGTERM after the grace period, though the dead parent\'s output pipes are closed too', async () => {
    const tether = tetheredSleep(500, true);
    const sh = await serviceOf(tether);
    // A dead parent closes all its ends: the tether's messages then hit EPIPE, which must not stop it.
    tether.stdout!.destroy();
    tether.stderr!.destroy();
    tether.stdin!.destroy();
    expect(await until(() => !isSameProcess(sh), 5_000)).toBe(true);
  });

  it('ends with the service: stopping the group stops both', async () => {
    const tether = tetheredSleep();
    const sleep = await serviceOf(tether);
    process.kill(-tether.pid!, 'SIGTERM');
    expect(await until(() => !isSameProcess(sleep) && tether.signalCode !== null, 5_000)).toBe(true);
  });
});

describe('processIdentity', () => {
  it('counts a zombie (exited, not yet reaped) as not running, as after a SIGKILL of dev\'s whole group', async () => {
    // `sleep 0` exits at once; its parent has exec'd into `sleep 20`, which never reaps it, so it stays a zombie.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 20'], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    spawned.push(parent);
    const zombie = await new Promise<number>((resolve) => parent.stdout!.once('data', (b: Buffer) => resolve(Number(b.toString().trim()))));
    for (let i = 0; i < 100 && !fsSync.readFileSync(`/proc/${zombie}/stat`, 'utf8').includes(') Z '); i++) await new Promise((r) => setTimeout(r, 50));
    expect(fsSync.readFileSync(`/proc/${zombie}/stat`, 'utf8')).toContain(') Z ');
    expect(processIdentity(zombie)).toBeNull();
    expect(processIdentity(parent.pid!)).not.toBeNull();
  });
});

describe('lockDataDir', () => {
  const deadSupervisor = async (): Promise<ProcessIdentity> => {
    const c = spawn(process.execPath, ['-e', '0']);
    const id = await new Promise<ProcessIdentity>((resolve) => {
      const i = processIdentity(c.pid!);
      c.once('exit', () => resolve(i ?? { pid: c.pid!, startedAt: '0' }));
    });
    return id;
  };

  it('stops a stale child recorded by a supervisor that died, then takes the lock', async () => {
    const dir = path.join(root, 'stale');
    await fs.mkdir(dir);
    const tether = tetheredSleep();
    const sleep = await serviceOf(tether);
    const leader = processIdentity(tether.pid!)!;
    await fs.writeFile(path.join(dir, '.shardflow.lock'), JSON.stringify({ supervisor: await deadSupervisor(), child: leader }));
    const lock = await lockDataDir('test service', dir, { staleStopGraceMs: 2_000 });
    expect(isSameProcess(leader)).toBe(false);
    expect(isSameProcess(sleep)).toBe(false);
    await lock.release();
  });

  it('never signals a pid that now belongs to another process (start time differs)', async () => {
    const dir = path.join(root, 'reused');
    await fs.mkdir(dir);
    const bystander = tetheredSleep();
    const real = processIdentity(bystander.pid!)!;
    await fs.writeFile(path.join(dir, '.shardflow.lock'), JSON.stringify({ supervisor: await deadSupervisor(), child: { pid: real.pid, startedAt: `${real.startedAt}1` } }));
    const lock = await lockDataDir('test service', dir, { staleStopGraceMs: 500 });
    expect(isSameProcess(real)).toBe(true);
    await lock.release();
  });

  it('refuses while the recorded supervisor runs', async () => {
    const dir = path.join(root, 'busy');
    await fs.mkdir(dir);
    const first = await lockDataDir('test service', dir);
    await expect(lockDataDir('test service', dir)).rejects.toThrow(new RegExp(`in use by process ${process.pid}`));
    await first.release();
  });
});
