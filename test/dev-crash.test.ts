/**
 * `shardflow dev` (the real CLI, as a user runs it) killed with SIGKILL on its
 * whole process group in the middle of a stream, then started again on the
 * same data directory and ports with no manual step (issue 10): the Kafka
 * broker it left behind is gone, every event is in the lake exactly once, and
 * everything under the data directory is private to the user.
 *
 * Each `dev` runs under local/services/tether.mjs, so even a killed test run
 * leaves nothing behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AthenaClient } from '@aws-sdk/client-athena';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localAthenaClient, localKinesisClient } from '../local/aws-clients';
import { sendToKafka, sendToKinesis, type OutgoingRecord } from '../local/producers';
import { runAthenaQuery } from '../local/query';
import { readStatusFile } from '../local/runtime';
import { isSameProcess, type ProcessIdentity } from '../local/services/service-process';
import { freePort } from '../local/services/service';
import { clickstreamWorkload } from './support/clickstream-events';
import { iotWorkload } from './support/iot-events';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TETHER = path.join(REPO, 'local/services/tether.mjs');
const N = 4_000;

let dataDir: string;
let ports: Record<'kinesis' | 's3' | 'kafka' | 'athena', number>;

interface Dev {
  readonly proc: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}
const devs: Dev[] = [];

/** Starts `shardflow dev` in its own process group and resolves once it printed "ready". */
async function startDev(): Promise<Dev> {
  const args = [
    'cli/shardflow.mjs', '--data-dir', dataDir, '--pipelines', 'pipelines', 'dev', '--no-status', '--no-ui',
    '--kinesis-port', String(ports.kinesis), '--s3-port', String(ports.s3), '--kafka-port', String(ports.kafka), '--athena-port', String(ports.athena),
  ];
  const proc = spawn(process.execPath, [TETHER, '60000', process.execPath, ...args], { cwd: REPO, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
  proc.stderr!.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const dev: Dev = { proc, output: () => out, exited };
  devs.push(dev);
  const deadline = Date.now() + 240_000;
  for (;;) {
    if (/^ready: /m.test(out)) return dev;
    const gone = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 200))]);
    if (gone) throw new Error(`shardflow dev exited (${JSON.stringify(gone)}) before it was ready:\n${out}`);
    if (Date.now() > deadline) throw new Error(`shardflow dev not ready after 240 s:\n${out}`);
  }
}

async function stopDev(dev: Dev, signal: NodeJS.Signals): Promise<void> {
  if (dev.proc.exitCode !== null || dev.proc.signalCode !== null) return;
  try {
    process.kill(-dev.proc.pid!, signal);
  } catch {
    return;
  }
  const timer = setTimeout(() => process.kill(-dev.proc.pid!, 'SIGKILL'), 90_000);
  await dev.exited;
  clearTimeout(timer);
}

async function kafkaLockChild(): Promise<ProcessIdentity> {
  const lock = JSON.parse(await fs.readFile(path.join(dataDir, 'services', 'kafka', '.shardflow.lock'), 'utf8')) as { child: ProcessIdentity };
  return lock.child;
}

/** Every entry under `dir` whose mode lets group or others in. */
async function notPrivate(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(e.parentPath, e.name);
    const st = await fs.lstat(full).catch(() => null);
    if (st && !st.isSymbolicLink() && (st.mode & 0o077) !== 0) out.push(`${path.relative(dir, full)} ${(st.mode & 0o777).toString(8)}`);
  }
  const top = await fs.stat(dir);
  if ((top.mode & 0o777) !== 0o700) out.push(`. ${(top.mode & 0o777).toString(8)}`);
  return out;
}

async function send(clicks: OutgoingRecord[], readings: OutgoingRecord[]): Promise<void> {
  const kinesis = localKinesisClient(`http://127.0.0.1:${ports.kinesis}`);
  const producer = new Kafka({ clientId: 'dev-crash', brokers: [`127.0.0.1:${ports.kafka}`], logLevel: logLevel.NOTHING }).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const a = await sendToKinesis(kinesis, 'clickstream-events', clicks);
    const b = await sendToKafka(producer, 'iot-readings', readings);
    expect([a.failed, b.failed, a.sent + b.sent]).toEqual([0, 0, clicks.length + readings.length]);
  } finally {
    await producer.disconnect();
    kinesis.destroy();
  }
}

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-dev-crash-'));
  ports = { kinesis: await freePort(), s3: await freePort(), kafka: await freePort(), athena: await freePort() };
});

afterAll(async () => {
  for (const d of devs) await stopDev(d, 'SIGTERM').catch(() => undefined);
  await fs.rm(dataDir, { recursive: true, force: true });
}, 120_000);

describe('shardflow dev after SIGKILL', () => {
  const now = Date.now();
  const clicks = clickstreamWorkload(N, { seed: 21, startMs: now, arrivalStepMs: 0, onTheLimit: false });
  const readings = iotWorkload(N, now, 22);
  const clickRecords: OutgoingRecord[] = clicks.records.map((r, i) => ({ data: r.text, partitionKey: `u${i % 97}` }));
  const iotRecords: OutgoingRecord[] = readings.records.map((r) => ({ data: r.text, partitionKey: r.key }));

  it('restarts on the same data dir and ports with no manual step and processes every event exactly once', async () => {
    // Prepare: a running dev, half the events sent, processing under way.
    const first = await startDev();
    const brokerBefore = await kafkaLockChild();
    expect(isSameProcess(brokerBefore)).toBe(true);
    await send(clickRecords.slice(0, N / 2), iotRecords.slice(0, N / 2));
    const deadline = Date.now() + 60_000;
    for (;;) {
      const s = await readStatusFile(dataDir);
      // The two pipelines this test sends to (dev runs every example in pipelines/, orders too, which gets nothing here).
      if (s && ['clickstream', 'iot'].every((n) => (s.pipelines.find((p) => p.pipeline === n)?.counts.received ?? 0) > 0)) break;
      if (Date.now() > deadline) throw new Error(`no batch processed within 60 s:\n${first.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    // Act: SIGKILL the whole process group (no exit handler runs), then start again.
    process.kill(-first.proc.pid!, 'SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const second = await startDev();

    // Assess: the orphaned broker was stopped, not left holding the port and the lock.
    expect(isSameProcess(brokerBefore)).toBe(false);
    expect((await kafkaLockChild()).pid).not.toBe(brokerBefore.pid);
    await send(clickRecords.slice(N / 2), iotRecords.slice(N / 2));

    const athena: AthenaClient = localAthenaClient(`http://127.0.0.1:${ports.athena}`);
    try {
      const scalar = async (sql: string): Promise<number> => Number((await runAthenaQuery(athena, { sql })).rows[0]![0]);
      const lake = async () => ({
        clicks: await scalar('SELECT count(*) FROM clickstream_events'),
        clickIds: await scalar('SELECT count(DISTINCT event_id) FROM clickstream_events'),
        clicksLate: await scalar('SELECT count(*) FROM clickstream_late'),
        clicksQuarantined: await scalar('SELECT count(*) FROM clickstream_quarantine'),
        readings: await scalar('SELECT count(*) FROM iot_readings'),
        readingsLate: await scalar('SELECT count(*) FROM iot_late'),
        readingsQuarantined: await scalar('SELECT count(*) FROM iot_quarantine'),
        windowEvents: await scalar('SELECT coalesce(sum(events), 0) FROM clickstream_by_category_1m'),
      });
      const want = {
        clicks: clicks.counts.raw,
        clickIds: clicks.counts.raw,
        clicksLate: clicks.counts.late,
        clicksQuarantined: clicks.counts.quarantined,
        readings: readings.counts.raw,
        readingsLate: readings.counts.late,
        readingsQuarantined: readings.counts.quarantined,
        windowEvents: [...clicks.windows.values()].reduce((n, w) => n + w.events, 0),
      };
      let got = await lake();
      const until = Date.now() + 240_000;
      while (JSON.stringify(got) !== JSON.stringify(want) && Date.now() < until) {
        // Counts only grow; one above the target means a duplicate, and waiting will not fix it.
        if (got.clicks > want.clicks || got.readings > want.readings) break;
        await new Promise((r) => setTimeout(r, 1_000));
        got = await lake();
      }
      expect(got).toEqual(want);
    } finally {
      athena.destroy();
    }

    // Everything the runtime and its services wrote is private: files 0600 (or owner-only), dirs 0700.
    await stopDev(second, 'SIGTERM');
    expect((await second.exited).code, second.output()).toBe(0);
    expect(await notPrivate(dataDir)).toEqual([]);
  }, 600_000);
});
