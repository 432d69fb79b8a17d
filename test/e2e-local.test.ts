/**
 * End to end on real embedded services: Kinesis emulator, s3rver, a Kafka
 * broker and the local Athena endpoint. 20,000 clickstream events go to
 * Kinesis and 20,000 IoT readings to Kafka (out of order, some late, some
 * malformed, some filtered); the aggregate views, queried through
 * @aws-sdk/client-athena, must equal what the test computes from what it sent.
 * Then `dev` is stopped mid-stream and started again: the numbers hold.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AthenaClient } from '@aws-sdk/client-athena';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localAthenaClient, localKinesisClient } from '../local/aws-clients';
import { sendToKafka, sendToKinesis, type OutgoingRecord } from '../local/producers';
import { runAthenaQuery } from '../local/query';
import { startLocalRuntime, type LocalRuntime } from '../local/runtime';
import { freePort } from '../local/services/service';
import clickstream from '../pipelines/clickstream';
import iot from '../pipelines/iot';
import { clickstreamWorkload } from './support/clickstream-events';
import { iotWorkload } from './support/iot-events';

const N = 20_000;
let dataDir: string;
let ports: Record<'kinesis' | 's3' | 'kafka' | 'athena', number>;
let runtime: LocalRuntime | null = null;
let athena: AthenaClient;

async function start(): Promise<LocalRuntime> {
  runtime = await startLocalRuntime({ pipelines: [clickstream, iot], dataDir, ports });
  athena?.destroy();
  athena = localAthenaClient(runtime.info.endpoints.athena);
  return runtime;
}

async function scalar(sql: string): Promise<number> {
  const r = await runAthenaQuery(athena, { sql });
  return Number(r.rows[0]![0]);
}

/** Polls until the lake holds every non-filtered record of a pipeline, or fails with what is missing. */
async function waitForLake(tables: { raw: string; late: string; quarantine: string }, expected: { raw: number; late: number; quarantined: number }, timeoutMs = 240_000) {
  const deadline = Date.now() + timeoutMs;
  let got = { raw: -1, late: -1, quarantined: -1 };
  while (Date.now() < deadline) {
    got = {
      raw: await scalar(`SELECT count(*) FROM ${tables.raw}`),
      late: await scalar(`SELECT count(*) FROM ${tables.late}`),
      quarantined: await scalar(`SELECT count(*) FROM ${tables.quarantine}`),
    };
    if (got.raw >= expected.raw && got.late >= expected.late && got.quarantined >= expected.quarantined) return got;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  throw new Error(`lake not complete after ${timeoutMs} ms: expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`);
}

const parseTs = (s: string) => Date.parse(s.replace(' ', 'T') + 'Z');

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-e2e-'));
  ports = { kinesis: await freePort(), s3: await freePort(), kafka: await freePort(), athena: await freePort() };
  await start();
}, 300_000);

afterAll(async () => {
  athena?.destroy();
  await runtime?.stop();
  await fs.rm(dataDir, { recursive: true, force: true });
}, 120_000);

describe('local runtime end to end', () => {
  const now = Date.now();
  const clicks = clickstreamWorkload(N, { seed: 11, startMs: now, arrivalStepMs: 0, onTheLimit: false });
  const readings = iotWorkload(N, now, 12);
  const clickRecords: OutgoingRecord[] = clicks.records.map((r, i) => ({ data: r.text, partitionKey: `u${i % 97}` }));
  const iotRecords: OutgoingRecord[] = readings.records.map((r) => ({ data: r.text, partitionKey: r.key }));

  it('accounts for every event sent: sent = raw + filtered + quarantined + late, and the views match', async () => {
    // Act: first half, then stop `dev` mid-stream, start it again, then the second half.
    const kinesis = localKinesisClient(runtime!.info.endpoints.kinesis!);
    const kafka = new Kafka({ clientId: 'e2e', brokers: [runtime!.info.endpoints.kafka!], logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const half = N / 2;
    const sent1 = await sendToKinesis(kinesis, clickstream.source.kind === 'kinesis' ? clickstream.source.stream : '', clickRecords.slice(0, half));
    const sent2 = await sendToKafka(producer, 'iot-readings', iotRecords.slice(0, half));
    await producer.disconnect();
    kinesis.destroy();
    expect(sent1.sent + sent2.sent).toBe(N);

    // Let the mappings get part-way, then stop cleanly in the middle of the stream.
    await new Promise((r) => setTimeout(r, 1_500));
    await runtime!.stop();
    await start();

    const kinesis2 = localKinesisClient(runtime!.info.endpoints.kinesis!);
    const producer2 = new Kafka({ clientId: 'e2e2', brokers: [runtime!.info.endpoints.kafka!], logLevel: logLevel.NOTHING }).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer2.connect();
    const sent3 = await sendToKinesis(kinesis2, 'clickstream-events', clickRecords.slice(half));
    const sent4 = await sendToKafka(producer2, 'iot-readings', iotRecords.slice(half));
    await producer2.disconnect();
    kinesis2.destroy();
    expect([sent3.failed, sent4.failed]).toEqual([0, 0]);

    // Assess: every record is in exactly one place.
    const c = clicks.counts;
    const lakeClicks = await waitForLake({ raw: 'clickstream_events', late: 'clickstream_late', quarantine: 'clickstream_quarantine' }, { raw: c.raw, late: c.late, quarantined: c.quarantined });
    expect(lakeClicks).toEqual({ raw: c.raw, late: c.late, quarantined: c.quarantined });
    expect(lakeClicks.raw + c.filtered + lakeClicks.quarantined + lakeClicks.late).toBe(N);
    const ic = readings.counts;
    const lakeIot = await waitForLake({ raw: 'iot_readings', late: 'iot_late', quarantine: 'iot_quarantine' }, { raw: ic.raw, late: ic.late, quarantined: ic.quarantined });
    expect(lakeIot).toEqual({ raw: ic.raw, late: ic.late, quarantined: ic.quarantined });
    expect(lakeIot.raw + ic.filtered + lakeIot.quarantined + lakeIot.late).toBe(N);

    // The clickstream view equals what the test computed from what it sent.
    const view = await runAthenaQuery(athena, { sql: 'SELECT window_start, category, events, total_value, max_value, users FROM clickstream_by_category_1m ORDER BY window_start, category' });
    const expected = [...clicks.windows.values()].sort((a, b) => a.window_start - b.window_start || a.category.localeCompare(b.category));
    expect(view.rows).toHaveLength(expected.length);
    view.rows.forEach((row, i) => {
      const want = expected[i]!;
      expect([parseTs(row[0]!), row[1]]).toEqual([want.window_start, want.category]);
      expect(Number(row[2])).toBe(want.events);
      expect(Number(row[3])).toBeCloseTo(want.total_value, 6);
      expect(Number(row[4])).toBe(want.max_value);
      // Fewer than k = 1024 distinct users per window: the KMV sketch is exact.
      expect(Number(row[5])).toBe(want.users.size);
    });

    // And the IoT view.
    const iotView = await runAthenaQuery(athena, { sql: 'SELECT window_start, site, readings, avg_temperature, max_temperature FROM iot_by_site_5m ORDER BY window_start, site' });
    const iotExpected = [...readings.windows.values()].sort((a, b) => a.window_start - b.window_start || a.site.localeCompare(b.site));
    expect(iotView.rows).toHaveLength(iotExpected.length);
    iotView.rows.forEach((row, i) => {
      const want = iotExpected[i]!;
      expect([parseTs(row[0]!), row[1]]).toEqual([want.window_start, want.site]);
      expect(Number(row[2])).toBe(want.readings);
      expect(Number(row[3])).toBeCloseTo(want.sum / want.readings, 6);
      expect(Number(row[4])).toBe(want.max);
    });
  }, 600_000);
});
