/**
 * The second Kinesis engine: kinesalite is the default (see
 * local/services/kinesis.ts for the measurement); kinesis-local (kinesis-mock,
 * the engine LocalStack runs) must keep working end to end for LocalStack users.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localAthenaClient, localKinesisClient } from '../local/aws-clients';
import { sendToKinesis } from '../local/producers';
import { runAthenaQuery } from '../local/query';
import { startLocalRuntime, type LocalRuntime } from '../local/runtime';
import { freePort } from '../local/services/service';
import clickstream from '../pipelines/clickstream';
import { clickstreamWorkload } from './support/clickstream-events';

let dataDir: string;
let rt: LocalRuntime;

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-kl-'));
  rt = await startLocalRuntime({
    pipelines: [clickstream],
    dataDir,
    kinesisEngine: 'kinesis-local',
    ports: { kinesis: await freePort(), s3: await freePort(), athena: await freePort() },
  });
}, 180_000);

afterAll(async () => {
  await rt?.stop();
  await fs.rm(dataDir, { recursive: true, force: true });
}, 60_000);

describe('local runtime on kinesis-local', () => {
  it('processes a small stream end to end and the view matches what was sent', async () => {
    const w = clickstreamWorkload(500, { seed: 21, startMs: Date.now(), arrivalStepMs: 0, onTheLimit: false });
    const kinesis = localKinesisClient(rt.info.endpoints.kinesis!);
    const sent = await sendToKinesis(kinesis, 'clickstream-events', w.records.map((r, i) => ({ data: r.text, partitionKey: `k${i % 13}` })));
    kinesis.destroy();
    expect(sent).toMatchObject({ sent: 500, failed: 0 });
    const deadline = Date.now() + 120_000;
    while (rt.status()[0]!.counts.received < 500 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(rt.status()[0]!.counts).toMatchObject({ received: 500, raw: w.counts.raw, filtered: w.counts.filtered, quarantined: w.counts.quarantined, late: w.counts.late });
    const athena = localAthenaClient(rt.info.endpoints.athena);
    const r = await runAthenaQuery(athena, { sql: 'SELECT sum(events) FROM clickstream_by_category_1m' });
    athena.destroy();
    expect(Number(r.rows[0]![0])).toBe(w.counts.raw);
  }, 180_000);
});
