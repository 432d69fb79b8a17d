/**
 * A/B of kinesalite's PutRecords with the stream-metadata cache and the fast request
 * checks (local/services/kinesalite-fast.ts: cacheKinesaliteMeta,
 * makeFastKinesaliteValidation) against without them, in one process, rounds
 * interleaved (the order alternating, after one untimed warm-up round): two
 * servers on stores of their own, one with the metadata cache; the request checks
 * swapped per run. Each run sends 20,000 records in calls of 500 into a fresh
 * 2-shard stream through the SDK client, as `shardflow send` does.
 *
 * `npx tsx scripts/bench/kinesalite-put-ab.ts` (AB_ROUNDS overrides the rounds).
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createStreamIfMissing, localKinesisClient } from '../../local/aws-clients';
import { cacheKinesaliteMeta, installFastKinesaliteDb, makeFastKinesaliteValidation } from '../../local/services/kinesalite-fast';
import { freePort } from '../../local/services/service';
import { sendToKinesis } from '../../local/producers';

const ROUNDS = Number(process.env.AB_ROUNDS ?? 6);
const RECORDS = 20_000;

const require = createRequire(import.meta.url);
installFastKinesaliteDb();
type Validate = Parameters<typeof makeFastKinesaliteValidation>[0];
const validations = require('kinesalite/validations') as Validate;
const stockChecks: Validate = { checkTypes: validations.checkTypes, checkValidations: validations.checkValidations };
const fastChecks = makeFastKinesaliteValidation(stockChecks, (require('kinesalite/validations/putRecords') as { types: unknown }).types);
const kdb = require('kinesalite/db') as { create(o: object): { metaDb: never } };
const kinesalite = require('kinesalite') as (o: object) => Server;
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kinesalite-put-ab-'));

async function serve(name: string, metaCache: boolean): Promise<{ server: Server; url: string }> {
  const create = kdb.create;
  kdb.create = (o: object) => {
    const store = create(o);
    if (metaCache) cacheKinesaliteMeta(store.metaDb);
    return store;
  };
  const server = kinesalite({ path: path.join(dir, name), createStreamMs: 10, updateStreamMs: 10, deleteStreamMs: 10, shardLimit: 500 });
  kdb.create = create;
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${port}` };
}

const sides = {
  stock: await serve('stock', false),
  fast: await serve('fast', process.env.AB_META !== '0'),
};
const clients = { stock: localKinesisClient(sides.stock.url), fast: localKinesisClient(sides.fast.url) };
const records = Array.from({ length: RECORDS }, (_, i) => ({ data: JSON.stringify({ i, user: `u${i % 97}`, pad: 'x'.repeat(150) }), partitionKey: `u${i % 997}` }));
const times = { stock: [] as number[], fast: [] as number[] };
for (let round = 0; round <= ROUNDS; round++) {
  for (const which of round % 2 ? (['fast', 'stock'] as const) : (['stock', 'fast'] as const)) {
    Object.assign(validations, which === 'fast' && process.env.AB_CHECKS !== '0' ? fastChecks : stockChecks);
    const client = clients[which];
    const stream = `put-ab-${round}`;
    await createStreamIfMissing(client, stream, 2);
    const t = performance.now();
    const report = await sendToKinesis(client, stream, records);
    const ms = performance.now() - t;
    if (report.sent !== RECORDS) throw new Error(`${which}: sent ${report.sent}`);
    if (round > 0) times[which].push(ms);
  }
}
Object.assign(validations, stockChecks);
const sum = (x: number[]) => x.reduce((a, b) => a + b, 0);
console.log(`load ${os.loadavg()[0]!.toFixed(1)}; ${ROUNDS} interleaved rounds of ${RECORDS} records in calls of 500, 2 shards`);
console.log(`PutRecords: without ${(sum(times.stock) / ROUNDS).toFixed(0)} ms, with metadata cache + fast checks ${(sum(times.fast) / ROUNDS).toFixed(0)} ms, ${(sum(times.stock) / sum(times.fast)).toFixed(2)}×`);
for (const c of Object.values(clients)) c.destroy();
for (const s of Object.values(sides)) await new Promise((r) => s.server.close(r));
await fs.rm(dir, { recursive: true, force: true });
