/**
 * A/B of the local Kinesis mapping's GetRecords (local/esm/kinesis-raw-records.ts,
 * Data kept as the wire's base64) against the plain SDK call followed by what
 * the mapping did before (Data bytes encoded back to base64, the Date read),
 * in one process, on the same records, rounds interleaved with the order
 * alternating after an untimed warm-up. kinesalite runs in its own process (as
 * under `dev`), so this process's CPU time is the consumer's alone, the cost
 * that lands on the runtime's process beside the handler.
 *
 * `npx tsx scripts/bench/kinesis-get-records-ab.ts` (AB_ROUNDS, AB_RECORDS override the sizes).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { createStreamIfMissing, localKinesisClient } from '../../local/aws-clients';
import { getRecordsRaw } from '../../local/esm/kinesis-raw-records';
import { sendToKinesis } from '../../local/producers';
import { startKinesisEmulator } from '../../local/services/kinesis';
import { freePort } from '../../local/services/service';
import { benchScratchDir } from './types';

const ROUNDS = Number(process.env.AB_ROUNDS ?? 8);
const RECORDS = Number(process.env.AB_RECORDS ?? 40_000);

const dir = await benchScratchDir('kinesis-get-records-ab');
const svc = await startKinesisEmulator({ engine: 'kinesalite', port: await freePort(), dataDir: path.join(dir, 'kinesis') });
const client = localKinesisClient(svc.endpoint);
try {
  const stream = 'get-records-ab';
  await createStreamIfMissing(client, stream, 2);
  const records = Array.from({ length: RECORDS }, (_, i) => ({ data: JSON.stringify({ i, user: `u${i % 97}`, page: `/p/${i % 31}`, pad: 'x'.repeat(120) }), partitionKey: `u${i % 97}` }));
  await sendToKinesis(client, stream, records);
  const shards = ((await client.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? []).map((s) => s.ShardId!);

  type Read = (kinesis: KinesisClient, it: string) => Promise<{ n: number; next: string | undefined; sink: number }>;
  const sdk: Read = async (kinesis, it) => {
    const out = await kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10_000 }));
    let sink = 0;
    for (const r of out.Records ?? []) sink += Buffer.from(r.Data ?? new Uint8Array()).toString('base64').length + (r.ApproximateArrivalTimestamp?.getTime() ?? 0) * 0;
    return { n: out.Records?.length ?? 0, next: out.NextShardIterator, sink };
  };
  const raw: Read = async (kinesis, it) => {
    const out = await getRecordsRaw(kinesis, it, 10_000);
    if (out.source !== 'wire') throw new Error('the raw path fell back to the SDK');
    let sink = 0;
    for (const r of out.records) sink += r.data.length + r.arrivalMs * 0;
    return { n: out.records.length, next: out.nextShardIterator, sink };
  };

  /** Reads every record from TRIM_HORIZON; wall ms and this process's CPU ms. */
  async function readAll(read: Read): Promise<{ wallMs: number; cpuMs: number; n: number; sink: number }> {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let n = 0;
    let sink = 0;
    for (const shardId of shards) {
      let it = (await client.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
      while (it) {
        const out = await read(client, it);
        n += out.n;
        sink += out.sink;
        if (out.n === 0) break;
        it = out.next;
      }
    }
    const c = process.cpuUsage(c0);
    return { wallMs: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, n, sink };
  }

  const arms = { sdk, raw } as const;
  const times: Record<keyof typeof arms, { wall: number[]; cpu: number[] }> = { sdk: { wall: [], cpu: [] }, raw: { wall: [], cpu: [] } };
  let sinks: number[] = [];
  for (let round = -1; round < ROUNDS; round++) {
    const order: (keyof typeof arms)[] = round % 2 === 0 ? ['sdk', 'raw'] : ['raw', 'sdk'];
    for (const arm of order) {
      const r = await readAll(arms[arm]);
      if (r.n !== RECORDS) throw new Error(`${arm} read ${r.n} of ${RECORDS} records`);
      sinks.push(r.sink);
      if (round >= 0) {
        times[arm].wall.push(r.wallMs);
        times[arm].cpu.push(r.cpuMs);
      }
    }
  }
  if (new Set(sinks).size !== 1) throw new Error('the two arms read different data');
  sinks = [];
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`${RECORDS} records, 2 shards, Limit 10,000, ${ROUNDS} interleaved rounds (medians):`);
  for (const arm of ['sdk', 'raw'] as const) {
    console.log(`  ${arm === 'sdk' ? 'SDK output + base64 re-encode' : 'wire base64 (kinesis-raw-records)'}: wall ${median(times[arm].wall).toFixed(0)} ms, consumer CPU ${median(times[arm].cpu).toFixed(0)} ms (${((median(times[arm].cpu) * 1000) / RECORDS).toFixed(2)} µs/record)`);
  }
  console.log(`  CPU ratio sdk/raw: ${(median(times.sdk.cpu) / median(times.raw.cpu)).toFixed(2)}×`);
} finally {
  client.destroy();
  await svc.stop();
  await fs.rm(dir, { recursive: true, force: true });
}
