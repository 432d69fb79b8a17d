/**
 * Kinesis emulators compared: kinesis-local (kinesis-mock) against kinesalite
 * (the baseline), both started by local/services/kinesis.ts exactly as
 * `shardflow dev` starts them (on-disk persistence on, HTTP/1.1 keep-alive SDK
 * client from local/aws-clients.ts).
 *
 * Measured per engine, on one stream of SHARDS shards:
 * - PutRecords of 500 records (the Kinesis per-call maximum) of ~200 B each:
 *   median call time of TIMED_CALLS calls into an empty stream, then again once
 *   5,000 and 20,000 records are stored (the fill calls in between are not timed);
 * - GetRecords: records/s reading the first 5,000 stored records from
 *   TRIM_HORIZON, 10,000 records per call at most (the Kinesis per-call maximum).
 *
 * An engine whose fill would overrun FILL_BUDGET_MS stops there and the table
 * says which level it did not reach, so the run stays under ~90 s.
 *
 * Run alone: `npx tsx scripts/bench/kinesis-emulators.ts` (prints the Markdown).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  PutRecordsCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { createStreamIfMissing, localKinesisClient } from '../../local/aws-clients';
import { startKinesisEmulator, type KinesisEngine } from '../../local/services/kinesis';
import { freePort } from '../../local/services/service';
import { benchScratchDir, result, type BenchResult, type BenchSuiteOutput } from './types';

/** Kinesis: at most 500 records per PutRecords call. */
const BATCH = 500;
/** Stored-record levels at which PutRecords is timed. */
const LEVELS = [0, 5_000, 20_000] as const;
/** Timed calls per level; the median is reported (one slow GC pause does not decide). */
const TIMED_CALLS = 3;
const SHARDS = 4;
/** Records read back for the GetRecords rate (same count on both engines). */
const READ_RECORDS = 5_000;
/** Kinesis: at most 10,000 records per GetRecords call. */
const READ_LIMIT = 10_000;
/** Per engine: stop filling once this much time (ms) has gone into PutRecords. */
const FILL_BUDGET_MS = 35_000;

interface EngineRun {
  /** Median ms per 500-record PutRecords call, by stored level; undefined when not reached. */
  readonly putMs: Map<number, number | undefined>;
  /** records/s reading READ_RECORDS records back; undefined when fewer were stored. */
  readonly getPerS: number | undefined;
  readonly stored: number;
  readonly fillMs: number;
}

/** A clickstream event of ~200 B of JSON, as a producer would send it. */
function event(i: number): Uint8Array {
  const body = {
    eventId: `evt-${i.toString().padStart(10, '0')}`,
    userId: `user-${i % 997}`,
    category: ['books', 'music', 'garden', 'toys'][i % 4],
    page: `/products/${i % 1000}/details`,
    value: (i % 1000) / 10,
    eventTime: new Date(1_767_225_600_000 + i * 1000).toISOString(),
    pad: 'x'.repeat(24),
  };
  return Buffer.from(JSON.stringify(body));
}

async function putBatch(client: KinesisClient, stream: string, first: number): Promise<number> {
  const started = performance.now();
  const out = await client.send(
    new PutRecordsCommand({
      StreamName: stream,
      Records: Array.from({ length: BATCH }, (_, j) => ({ PartitionKey: `pk-${first + j}`, Data: event(first + j) })),
    }),
  );
  if (out.FailedRecordCount) throw new Error(`${out.FailedRecordCount} of ${BATCH} records failed`);
  return performance.now() - started;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Reads up to `count` records from TRIM_HORIZON across all shards; returns records/s. */
async function readBack(client: KinesisClient, stream: string, count: number): Promise<number> {
  const shards = (await client.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? [];
  const started = performance.now();
  let read = 0;
  for (const shard of shards) {
    let it = (
      await client.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))
    ).ShardIterator;
    while (it && read < count) {
      const out = await client.send(new GetRecordsCommand({ ShardIterator: it, Limit: Math.min(READ_LIMIT, count - read) }));
      const n = out.Records?.length ?? 0;
      read += n;
      if (n === 0) break; // at the shard's tip
      it = out.NextShardIterator;
    }
  }
  if (read < count) throw new Error(`read back ${read} records, expected ${count}`);
  return read / ((performance.now() - started) / 1000);
}

async function runEngine(engine: KinesisEngine, dataDir: string): Promise<EngineRun> {
  const svc = await startKinesisEmulator({ engine, port: await freePort(), dataDir });
  const client = localKinesisClient(svc.endpoint);
  const putMs = new Map<number, number | undefined>();
  let getPerS: number | undefined;
  let stored = 0;
  let fillMs = 0;
  try {
    const stream = 'bench-clicks';
    await createStreamIfMissing(client, stream, SHARDS);
    for (const level of LEVELS) {
      while (stored < level && fillMs < FILL_BUDGET_MS) {
        fillMs += await putBatch(client, stream, stored);
        stored += BATCH;
      }
      if (stored < level) {
        putMs.set(level, undefined);
        continue;
      }
      const times: number[] = [];
      for (let c = 0; c < TIMED_CALLS; c++) {
        times.push(await putBatch(client, stream, stored));
        stored += BATCH;
      }
      fillMs += times.reduce((a, b) => a + b, 0);
      putMs.set(level, median(times));
      if (getPerS === undefined && stored >= READ_RECORDS) getPerS = await readBack(client, stream, READ_RECORDS);
    }
  } finally {
    client.destroy();
    await svc.stop();
  }
  return { putMs, getPerS, stored, fillMs };
}

const fmt = (n: number | undefined, unit: string): string => (n === undefined ? 'not reached' : `${Math.round(n).toLocaleString('en-US')} ${unit}`);

export async function benchKinesisEmulators(): Promise<BenchSuiteOutput> {
  const root = await benchScratchDir('shardflow-bench-kinesis');
  try {
    const base = await runEngine('kinesalite', path.join(root, 'kinesalite'));
    const cand = await runEngine('kinesis-local', path.join(root, 'kinesis-local'));

    const results: BenchResult[] = [];
    const rows: string[] = [];
    for (const level of LEVELS) {
      const b = base.putMs.get(level);
      const c = cand.putMs.get(level);
      rows.push(`| PutRecords 500 × ~200 B, ${level.toLocaleString('en-US')} stored | ${fmt(b, 'ms')} | ${fmt(c, 'ms')} | ${b && c ? (b / c).toFixed(2) : '–'} |`);
      if (b !== undefined && c !== undefined) {
        results.push(
          result(
            `kinesis-local PutRecords (500 × ~200 B) at ${level} stored`,
            (BATCH * 1000) / c,
            'kinesalite',
            (BATCH * 1000) / b,
            `median of ${TIMED_CALLS} calls: kinesis-local ${c.toFixed(0)} ms, kinesalite ${b.toFixed(0)} ms per call; ${SHARDS} shards`,
          ),
        );
      }
    }
    rows.push(`| GetRecords, first ${READ_RECORDS.toLocaleString('en-US')} records | ${fmt(base.getPerS, 'records/s')} | ${fmt(cand.getPerS, 'records/s')} | ${base.getPerS && cand.getPerS ? (cand.getPerS / base.getPerS).toFixed(2) : '–'} |`);
    if (base.getPerS !== undefined && cand.getPerS !== undefined) {
      results.push(result(`kinesis-local GetRecords (${READ_RECORDS} records)`, cand.getPerS, 'kinesalite', base.getPerS, `${SHARDS} shards, up to ${READ_LIMIT} records per call`));
    }

    const notReached = LEVELS.filter((l) => cand.putMs.get(l) === undefined || base.putMs.get(l) === undefined);
    const markdown = [
      '## Kinesis emulators: kinesis-local vs kinesalite',
      '',
      `\`npx tsx scripts/bench/kinesis-emulators.ts\`. One stream of ${SHARDS} shards per engine, started by \`local/services/kinesis.ts\` with on-disk persistence, SDK client from \`local/aws-clients.ts\` (HTTP/1.1 keep-alive). PutRecords: median of ${TIMED_CALLS} timed calls at each stored level. Ratio > 1 means kinesis-local is faster.`,
      '',
      '| case | kinesalite (baseline) | kinesis-local | ratio (kinesis-local / kinesalite, as rate) |',
      '|---|---|---|---|',
      ...rows,
      '',
      notReached.length > 0
        ? `Not reached: ${notReached.map((l) => l.toLocaleString('en-US')).join(', ')} stored — filling stops after ${FILL_BUDGET_MS / 1000} s of PutRecords per engine (kinesis-local stored ${cand.stored.toLocaleString('en-US')} records in ${(cand.fillMs / 1000).toFixed(1)} s; kinesalite ${base.stored.toLocaleString('en-US')} in ${(base.fillMs / 1000).toFixed(1)} s).`
        : `Records stored at the end: ${base.stored.toLocaleString('en-US')} per engine; time in PutRecords: kinesalite ${(base.fillMs / 1000).toFixed(1)} s, kinesis-local ${(cand.fillMs / 1000).toFixed(1)} s.`,
    ].join('\n');
    return { results, markdown };
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  const out = await benchKinesisEmulators();
  console.log(out.markdown);
  console.error(`kinesis-emulators: ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
