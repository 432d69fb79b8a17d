/**
 * What `dev` keeps under its data directory (issue 10): status counters that
 * carry on across restarts instead of starting at zero, and files and
 * directories private to the user, old ones included.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localKinesisClient } from '../local/aws-clients';
import { sendToKinesis, type OutgoingRecord } from '../local/producers';
import { readStatusFile, startLocalRuntime, type LocalRuntime } from '../local/runtime';
import { freePort } from '../local/services/service';
import clickstream from '../pipelines/clickstream';
import { clickstreamWorkload } from './support/clickstream-events';

let dataDir: string;
let ports: Record<'kinesis' | 's3' | 'athena', number>;
let rt: LocalRuntime | null = null;

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-dev-state-'));
  ports = { kinesis: await freePort(), s3: await freePort(), athena: await freePort() };
  // A data directory as an older version (default umask) left it.
  await fs.chmod(dataDir, 0o755);
  await fs.mkdir(path.join(dataDir, 'checkpoints'), { mode: 0o755 });
  await fs.writeFile(path.join(dataDir, 'checkpoints', 'legacy.json'), '{}', { mode: 0o644 });
  await fs.chmod(path.join(dataDir, 'checkpoints', 'legacy.json'), 0o644);
});

afterAll(async () => {
  await rt?.stop();
  await fs.rm(dataDir, { recursive: true, force: true });
}, 60_000);

const records = (from: number, n: number): OutgoingRecord[] => {
  const w = clickstreamWorkload(from + n, { seed: 5, startMs: Date.now(), arrivalStepMs: 0, onTheLimit: false });
  return w.records.slice(from, from + n).map((r, i) => ({ data: r.text, partitionKey: `u${(from + i) % 7}` }));
};

async function runAndSend(batch: OutgoingRecord[], expectReceived: number): Promise<LocalRuntime> {
  rt = await startLocalRuntime({ pipelines: [clickstream], dataDir, ports });
  const kinesis = localKinesisClient(rt.info.endpoints.kinesis!);
  try {
    expect((await sendToKinesis(kinesis, 'clickstream-events', batch)).failed).toBe(0);
  } finally {
    kinesis.destroy();
  }
  const deadline = Date.now() + 60_000;
  while (rt.status()[0]!.counts.received < expectReceived && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return rt;
}

/** Every entry under `dir`, `dir` included, whose mode lets group or others in. */
async function notPrivate(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const full of [dir, ...(await fs.readdir(dir, { recursive: true })).map((p) => path.join(dir, p))]) {
    const st = await fs.lstat(full).catch(() => null);
    if (!st || st.isSymbolicLink()) continue;
    const want = st.isDirectory() ? 0o700 : 0o600;
    if ((st.mode & 0o777 & ~want) !== 0) out.push(`${path.relative(dir, full) || '.'} ${(st.mode & 0o777).toString(8)}`);
  }
  return out;
}

describe('dev state across restarts', () => {
  it('keeps status counters cumulative in status.json and status()', async () => {
    // Prepare: a first run that processes 40 records.
    let run = await runAndSend(records(0, 40), 40);
    expect(run.status()[0]!.counts.received).toBe(40);
    await run.stop();
    const first = await readStatusFile(dataDir);
    expect(first?.pipelines[0]?.counts.received).toBe(40);

    // Act: a second run, 25 more.
    run = await runAndSend(records(40, 25), 65);

    // Assess: counted on from 40, not from zero, per pipeline and per shard.
    const live = run.status()[0]!;
    expect(live.counts.received).toBe(65);
    expect(live.mapping!.partitions.reduce((n, p) => n + p.eventsIn, 0)).toBe(65);
    await run.stop();
    rt = null;
    const second = await readStatusFile(dataDir);
    expect(second?.pipelines[0]?.counts.received).toBe(65);
    expect(second?.pipelines[0]?.counts.raw).toBe(live.counts.raw);
    expect(second?.countsSince).toBe(first?.countsSince);
  }, 180_000);

  it('leaves every file 0600 and every directory 0700, including ones an older version made', async () => {
    expect(await notPrivate(dataDir)).toEqual([]);
  });
});
