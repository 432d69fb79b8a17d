/**
 * A/B of GetRecords answered from kinesalite's in-memory mirror
 * (local/services/kinesalite-read-cache.ts) against stock kinesalite's LevelDB
 * read, in one process, on one store and the same records, rounds interleaved
 * (the order alternating, after one untimed warm-up round): each round reads
 * every record of a 2-shard stream from TRIM_HORIZON at Limit 10,000 through
 * the SDK client, as the event source mapping does.
 *
 * `npx tsx scripts/bench/kinesalite-read-ab.ts` (AB_ROUNDS, AB_RECORDS override the sizes).
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { createStreamIfMissing, localKinesisClient } from '../../local/aws-clients';
import { installFastKinesaliteDb } from '../../local/services/kinesalite-fast';
import { installKinesaliteReadCache, setReadCacheEnabled } from '../../local/services/kinesalite-read-cache';
import { freePort } from '../../local/services/service';
import { sendToKinesis } from '../../local/producers';

const ROUNDS = Number(process.env.AB_ROUNDS ?? 6);
const RECORDS = Number(process.env.AB_RECORDS ?? 20_000);

const require = createRequire(import.meta.url);
installFastKinesaliteDb();
installKinesaliteReadCache();
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kinesalite-read-ab-'));
const kinesalite = require('kinesalite') as (o: object) => Server;
const server = kinesalite({ path: path.join(dir, 'db'), createStreamMs: 10, updateStreamMs: 10, deleteStreamMs: 10, shardLimit: 500 });
const port = await freePort();
await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
const client = localKinesisClient(`http://127.0.0.1:${port}`);

const stream = 'read-ab';
await createStreamIfMissing(client, stream, 2);
const records = Array.from({ length: RECORDS }, (_, i) => ({ data: JSON.stringify({ i, user: `u${i % 97}`, pad: 'x'.repeat(150) }), partitionKey: `u${i % 97}` }));
await sendToKinesis(client, stream, records);
const shards = ((await client.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? []).map((s) => s.ShardId!);

/** Reads every record from TRIM_HORIZON; returns the total ms and the large GetRecords calls' ms. */
async function readAll(kinesis: KinesisClient): Promise<{ ms: number; calls: number[]; read: number }> {
  const t0 = performance.now();
  const calls: number[] = [];
  let read = 0;
  for (const shardId of shards) {
    let it = (await kinesis.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    while (it) {
      const t = performance.now();
      const out = await kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10_000 }));
      // The calls that return thousands of records (each shard's first): per-call cost at Limit 10,000.
      if ((out.Records?.length ?? 0) >= 5_000) calls.push(performance.now() - t);
      read += out.Records?.length ?? 0;
      if (!out.Records?.length) break;
      it = out.NextShardIterator;
    }
  }
  return { ms: performance.now() - t0, calls, read };
}

const times = { mirror: { total: [] as number[], full: [] as number[] }, stock: { total: [] as number[], full: [] as number[] } };
for (let round = 0; round <= ROUNDS; round++) {
  for (const which of round % 2 ? (['mirror', 'stock'] as const) : (['stock', 'mirror'] as const)) {
    setReadCacheEnabled(which === 'mirror');
    const r = await readAll(client);
    if (r.read !== RECORDS) throw new Error(`${which}: read ${r.read} of ${RECORDS}`);
    if (round === 0) continue;
    times[which].total.push(r.ms);
    times[which].full.push(...r.calls);
  }
}
setReadCacheEnabled(true);
const sum = (x: number[]) => x.reduce((a, b) => a + b, 0);
const median = (x: number[]) => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)]!;
console.log(`load ${os.loadavg()[0]!.toFixed(1)}; ${ROUNDS} interleaved rounds; ${RECORDS} records in 2 shards, read from TRIM_HORIZON at Limit 10,000 through the SDK`);
console.log(`read all: stock ${(sum(times.stock.total) / ROUNDS).toFixed(0)} ms, mirror ${(sum(times.mirror.total) / ROUNDS).toFixed(0)} ms, ${(sum(times.stock.total) / sum(times.mirror.total)).toFixed(2)}×`);
console.log(`one GetRecords of ≥ 5,000 records (median): stock ${median(times.stock.full).toFixed(0)} ms, mirror ${median(times.mirror.full).toFixed(0)} ms`);
client.destroy();
await new Promise((r) => server.close(r));
await fs.rm(dir, { recursive: true, force: true });
