/**
 * Local runtime benchmarks (issue: local runtime):
 * - end-to-end throughput per source: events/s from the first `send` call to
 *   queryable aggregates, against the send alone (the producer into the
 *   emulator, measured in the same run on the same events);
 * - local Athena query time on a day of data (24 hourly partitions) with a
 *   partition predicate on dt/hour against the same question without one:
 *   the ratio shows the pruning.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { createStreamProcessor } from '../../functions/stream-processor/handler';
import { silentLogger } from '../../functions/shared/logger';
import { localAthenaClient, localKinesisClient } from '../../local/aws-clients';
import { sendToKafka, sendToKinesis, type OutgoingRecord } from '../../local/producers';
import { runAthenaQuery } from '../../local/query';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { freePort } from '../../local/services/service';
import clickstream from '../../pipelines/clickstream';
import iot from '../../pipelines/iot';
import { clickstreamWorkload } from '../../test/support/clickstream-events';
import { kinesisEvent, kinesisRecord } from '../../test/support/events';
import { iotWorkload } from '../../test/support/iot-events';
import { result, type BenchResult, type BenchSuiteOutput } from './types';

const EVENTS = 20_000;
const DAY_EVENTS = 48_000;

async function waitForReceived(rt: LocalRuntime, pipeline: string, n: number, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = rt.status().find((x) => x.pipeline === pipeline)!;
    if (s.counts.received >= n) return;
    if (Date.now() > deadline) throw new Error(`${pipeline}: ${s.counts.received}/${n} processed after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function benchLocalE2e(): Promise<BenchSuiteOutput> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-bench-e2e-'));
  const rt = await startLocalRuntime({
    pipelines: [clickstream, iot],
    dataDir,
    ports: { kinesis: await freePort(), s3: await freePort(), kafka: await freePort(), athena: await freePort() },
  });
  const athena = localAthenaClient(rt.info.endpoints.athena);
  const results: BenchResult[] = [];
  const rows: string[] = [];
  try {
    // --- Kinesis: clickstream
    const now = Date.now();
    const clicks = clickstreamWorkload(EVENTS, { seed: 3, startMs: now, arrivalStepMs: 0, onTheLimit: false }).records.map((r, i): OutgoingRecord => ({ data: r.text, partitionKey: `u${i % 97}` }));
    const kinesis = localKinesisClient(rt.info.endpoints.kinesis!);
    let t = performance.now();
    await sendToKinesis(kinesis, 'clickstream-events', clicks);
    const kinesisSendMs = performance.now() - t;
    await waitForReceived(rt, 'clickstream', EVENTS);
    await runAthenaQuery(athena, { sql: 'SELECT count(*) FROM clickstream_by_category_1m' });
    const kinesisE2eMs = performance.now() - t;
    kinesis.destroy();
    results.push(result('local e2e: Kinesis (kinesalite) → handler → lake → view', (EVENTS / kinesisE2eMs) * 1000, 'send only (PutRecords into kinesalite)', (EVENTS / kinesisSendMs) * 1000, `${EVENTS} events, 2 shards, batch size 1000`));

    // --- Kafka: iot
    const readings = iotWorkload(EVENTS, Date.now(), 4).records.map((r): OutgoingRecord => ({ data: r.text, partitionKey: r.key }));
    const producer = new Kafka({ clientId: 'bench', brokers: [rt.info.endpoints.kafka!], logLevel: logLevel.NOTHING }).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    t = performance.now();
    await sendToKafka(producer, 'iot-readings', readings);
    const kafkaSendMs = performance.now() - t;
    await waitForReceived(rt, 'iot', EVENTS);
    await runAthenaQuery(athena, { sql: 'SELECT count(*) FROM iot_by_site_5m' });
    const kafkaE2eMs = performance.now() - t;
    await producer.disconnect();
    results.push(result('local e2e: Kafka broker → handler → lake → view', (EVENTS / kafkaE2eMs) * 1000, 'send only (kafkajs into the broker, acks=all)', (EVENTS / kafkaSendMs) * 1000, `${EVENTS} events, 3 partitions, batch size 1000`));

    // --- A day of data, 24 hourly partitions, written by the real handler in batches of 1000.
    const dayStart = Date.UTC(2026, 9, 1);
    const day = clickstreamWorkload(DAY_EVENTS, { seed: 5, startMs: dayStart, arrivalStepMs: 86_400_000 / DAY_EVENTS });
    const handler = createStreamProcessor(clickstream, { s3: rt.s3, bucket: rt.info.lakeBucket, logger: silentLogger });
    for (let i = 0; i < DAY_EVENTS; i += 1000) {
      await handler(kinesisEvent(day.records.slice(i, i + 1000).map((r, j) => kinesisRecord(r.text, { seq: i + j, arrivalMs: r.arrivalMs, raw: true, shardId: 'shardId-bench' }))));
    }
    const pruned = `SELECT category, count(*) AS n FROM clickstream_events WHERE dt = '2026-10-01' AND hour = 12 GROUP BY category`;
    const unpruned = `SELECT category, count(*) AS n FROM clickstream_events WHERE date_format(ts, '%Y-%m-%d %H') = '2026-10-01 12' GROUP BY category`;
    const time = async (sql: string) => {
      await runAthenaQuery(athena, { sql }); // warm the object cache: measure the query, not the first download
      const samples: { ms: number; bytes: number; rows: string }[] = [];
      for (let i = 0; i < 5; i++) {
        const s = performance.now();
        const r = await runAthenaQuery(athena, { sql });
        samples.push({ ms: performance.now() - s, bytes: r.dataScannedBytes, rows: JSON.stringify([...r.rows].sort()) });
      }
      samples.sort((a, b) => a.ms - b.ms);
      return samples[2]!;
    };
    const p = await time(pruned);
    const u = await time(unpruned);
    if (p.rows !== u.rows) throw new Error(`pruned and unpruned queries disagree: ${p.rows} vs ${u.rows}`);
    results.push(result('local Athena: one hour of a day, dt/hour predicate', 1000 / p.ms, 'same question without a partition predicate', 1000 / u.ms, `queries/s; median of 5 wall ms ${p.ms.toFixed(0)} vs ${u.ms.toFixed(0)}; bytes scanned ${p.bytes} vs ${u.bytes}`));
    rows.push(`| pruned: \`${pruned}\` | ${p.ms.toFixed(0)} | ${p.bytes.toLocaleString('en-US')} |`, `| unpruned: \`${unpruned}\` | ${u.ms.toFixed(0)} | ${u.bytes.toLocaleString('en-US')} |`);
  } finally {
    athena.destroy();
    await rt.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  }

  const markdown = [
    '## Local runtime end to end, and partition pruning',
    '',
    `End to end: ${EVENTS.toLocaleString('en-US')} events per source through the real services (kinesalite, a Kafka broker, s3rver, the DuckDB Athena endpoint) and the real handler, timed from the first send to a successful query of the aggregate view. The baseline is the send alone, so the ratio is the share of ingest speed the whole pipeline keeps.`,
    '',
    '| measure | events/s | baseline | baseline events/s | ratio | notes |',
    '|---|---:|---|---:|---:|---|',
    ...results.map((r) => `| ${r.name} | ${r.events_per_s.toLocaleString('en-US')} | ${r.baseline} | ${r.baseline_events_per_s.toLocaleString('en-US')} | ${r.ratio} | ${r.notes ?? ''} |`),
    '',
    `Pruning: ${DAY_EVENTS.toLocaleString('en-US')} clickstream events over one day (24 hourly partitions), same answer both ways (checked):`,
    '',
    '| query | median ms | bytes scanned |',
    '|---|---:|---:|',
    ...rows,
  ].join('\n');
  return { results, markdown };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log((await benchLocalE2e()).markdown);
}
