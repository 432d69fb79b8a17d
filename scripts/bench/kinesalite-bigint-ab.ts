/**
 * A/B of kinesalite's BigInt arithmetic (local/services/kinesalite-fast.ts) against
 * its bignumber.js originals, in one process, rounds interleaved: PutRecords of
 * 20,000 records in calls of 500 into a 2-shard stream, then GetRecords of them.
 * `npx tsx scripts/bench/kinesalite-bigint-ab.ts`
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { createStreamIfMissing, localKinesisClient } from '../../local/aws-clients';
import { installFastKinesaliteDb, originalKinesaliteDb } from '../../local/services/kinesalite-fast';
import { freePort } from '../../local/services/service';
import { sendToKinesis } from '../../local/producers';

const require = createRequire(import.meta.url);
const db = require('kinesalite/db') as Record<string, unknown>;
installFastKinesaliteDb();
const fast = { parseSequence: db.parseSequence, stringifySequence: db.stringifySequence, incrementSequence: db.incrementSequence, partitionKeyToHashKey: db.partitionKeyToHashKey };
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kinesalite-ab-'));
const kinesalite = require('kinesalite') as (o: object) => Server;
const server = kinesalite({ path: path.join(dir, 'db'), createStreamMs: 10, updateStreamMs: 10, deleteStreamMs: 10, shardLimit: 500 });
const port = await freePort();
await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
const client = localKinesisClient(`http://127.0.0.1:${port}`);
const times: Record<'bigint' | 'bignumber', { put: number[]; get: number[] }> = { bigint: { put: [], get: [] }, bignumber: { put: [], get: [] } };
const ROUNDS = Number(process.env.AB_ROUNDS ?? 4);
for (let round = 0; round <= ROUNDS; round++) {
  for (const which of round % 2 ? (['bigint', 'bignumber'] as const) : (['bignumber', 'bigint'] as const)) {
    Object.assign(db, which === 'bigint' ? fast : originalKinesaliteDb);
    const stream = `ab-${which}-${round}`;
    await createStreamIfMissing(client, stream, 2);
    const records = Array.from({ length: 20_000 }, (_, i) => ({ data: JSON.stringify({ i, user: `u${i % 97}`, pad: 'x'.repeat(150) }), partitionKey: `u${i % 97}` }));
    let t = performance.now();
    await sendToKinesis(client, stream, records);
    const put = performance.now() - t;
    t = performance.now();
    let read = 0;
    for (const s of (await client.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? []) {
      let it = (await client.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: s.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
      while (it) {
        const out = await client.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10_000 }));
        read += out.Records?.length ?? 0;
        if (!out.Records?.length) break;
        it = out.NextShardIterator;
      }
    }
    const get = performance.now() - t;
    if (read !== records.length) throw new Error(`read ${read}`);
    if (round > 0) {
      times[which].put.push(put);
      times[which].get.push(get);
    }
  }
}
const sum = (x: number[]) => x.reduce((a, b) => a + b, 0);
console.log(`load ${os.loadavg()[0]!.toFixed(1)}; ${ROUNDS} interleaved rounds of 20,000 records, 2 shards`);
for (const op of ['put', 'get'] as const) {
  console.log(`${op}: bignumber.js ${(sum(times.bignumber[op]) / ROUNDS).toFixed(0)} ms, BigInt ${(sum(times.bigint[op]) / ROUNDS).toFixed(0)} ms, ${(sum(times.bignumber[op]) / sum(times.bigint[op])).toFixed(2)}×`);
}
client.destroy();
await new Promise((r) => server.close(r));
await fs.rm(dir, { recursive: true, force: true });
