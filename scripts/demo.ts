/**
 * `npm run demo`: the whole pipeline on this machine, end to end. Starts the
 * local services, sends sample events to every example pipeline (clickstream
 * and orders on Kinesis, iot on Kafka), waits until they are processed, queries
 * every aggregate view through the Athena API, prints them, and stops.
 * State goes to .shardflow-demo/ (wiped at start; `shardflow dev` uses .shardflow/),
 * or to SHARDFLOW_DEMO_DIR (test/demo.test.ts).
 */
import fs from 'node:fs/promises';
import { Kafka, logLevel } from 'kafkajs';
import { formatRows } from '../cli/table-format';
import { localAthenaClient, localKinesisClient } from '../local/aws-clients';
import { generateEvents } from '../local/event-generator';
import { sendToKafka, sendToKinesis, toOutgoing } from '../local/producers';
import { runAthenaQuery } from '../local/query';
import { startLocalRuntime } from '../local/runtime';
import { freePort } from '../local/services/service';
import { pipelines } from '../pipelines';

const COUNT = Number(process.env.DEMO_EVENTS ?? 5_000);
const EXTRA = 10; // late and malformed events per pipeline, within COUNT
const dataDir = process.env.SHARDFLOW_DEMO_DIR ?? '.shardflow-demo';
const say = (s: string) => process.stderr.write(`demo: ${s}\n`);

await fs.rm(dataDir, { recursive: true, force: true });
say('starting Kinesis emulator, S3 emulator, Kafka broker and the local Athena endpoint …');
const t0 = performance.now();
const rt = await startLocalRuntime({
  pipelines,
  dataDir,
  ports: { kinesis: await freePort(), s3: await freePort(), kafka: await freePort(), athena: await freePort() },
});
say(`ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const athena = localAthenaClient(rt.info.endpoints.athena);
try {
  for (const p of pipelines) {
    const records = [...generateEvents(p, COUNT - 2 * EXTRA, { seed: 7 })].map((e, i) => toOutgoing(p, e, i));
    // Real streams carry bad and late data too: a few of each, to show where they go.
    for (const [i, e] of [...generateEvents(p, EXTRA, { seed: 8 })].entries()) {
      records.push(toOutgoing(p, { ...e, [p.eventTime]: new Date(Date.now() - p.allowedLatenessMs - 20 * 60_000).toISOString() }, COUNT + i)); // 20 min past the lateness limit
      records.push({ data: i % 2 === 0 ? `{"truncated": ` : JSON.stringify({ ...e, [p.eventTime]: 'yesterday' }), partitionKey: `bad-${i}` });
    }
    const report = p.source.kind === 'kinesis'
      ? await sendToKinesis(localKinesisClient(rt.info.endpoints.kinesis!), p.source.stream, records)
      : await (async () => {
          const producer = new Kafka({ clientId: 'demo', brokers: [rt.info.endpoints.kafka!], logLevel: logLevel.NOTHING }).producer({ idempotent: true, maxInFlightRequests: 1 });
          await producer.connect();
          try {
            return await sendToKafka(producer, p.source.kind === 'kafka' ? p.source.topic : '', records);
          } finally {
            await producer.disconnect();
          }
        })();
    say(`${p.name}: sent ${report.sent} events (${report.failed} failed, ${report.retried} retried)`);
  }
  say('waiting until every event is processed …');
  const deadline = Date.now() + 180_000;
  for (;;) {
    const s = rt.status();
    if (s.every((x) => x.counts.received >= COUNT)) break;
    if (Date.now() > deadline) throw new Error(`not processed after 180 s: ${s.map((x) => `${x.pipeline} ${x.counts.received}/${COUNT}`).join(', ')}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  for (const s of rt.status()) {
    const c = s.counts;
    say(`${s.pipeline}: received ${c.received} = raw ${c.raw} + filtered ${c.filtered} + quarantined ${c.quarantined} + late ${c.late}; ${c.objects} objects written`);
  }
  for (const p of pipelines) for (const a of p.aggregates) {
    const sql = `SELECT * FROM ${p.database}.${a.view} ORDER BY window_start DESC, 3 DESC LIMIT 12`;
    const r = await runAthenaQuery(athena, { sql });
    console.log(`\n${sql}\n`);
    console.log(formatRows(r.columns, r.rows, 'table'));
    console.log(`(${r.rows.length} rows, ${r.dataScannedBytes} bytes scanned, ${r.engineExecutionMs} ms)`);
  }
} finally {
  athena.destroy();
  await rt.stop();
  say('stopped.');
}
