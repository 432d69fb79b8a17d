/**
 * Cost bench: what a shard costs to move into the lake, from S3 requests
 * counted on the code that runs (the stream processor's handler and the
 * compactor's hourly pass, against the S3 emulator, through an SDK middleware
 * that counts every request by command), priced in scripts/bench/cost-model.ts
 * and set beside Amazon Data Firehose's price for the same events.
 *
 * For each rate (10, 100, 1,000 events/s per shard) and batching setting, six
 * batches of the size Lambda's mapping would build are run through the
 * handler; the compactor's requests for one hour are measured at two object
 * counts and taken as linear in the number of batch objects an hour leaves.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { DEFAULT_PROCESSING } from '../../core';
import { compactPipeline, RETIRE_AFTER_MS, sealDelayMs } from '../../functions/compactor/compaction';
import { silentLogger } from '../../functions/shared/logger';
import { createStreamProcessor } from '../../functions/stream-processor/handler';
import { localS3Client } from '../../local/aws-clients';
import { startS3Emulator } from '../../local/services/s3';
import { freePort } from '../../local/services/service';
import clickstream from '../../pipelines/clickstream';
import { kinesisEvent, kinesisRecord } from '../../test/support/events';
import { addedLatencyS, billingClass, eventsPerBatch, firehosePerMillion, monthlyCost, type RequestCounts } from './cost-model';
import { benchScratchDir, result, type BenchSuiteOutput } from './types';

const RATES = [10, 100, 1000] as const;
const BATCHES = 6;
/** The settings before this bench chose the defaults: 1 s window, 1,000 records. */
const PREVIOUS = { label: 'previous default (1 s, 1,000)', batchSize: 1000, windowS: 1 };
const CURRENT = { label: `default (${DEFAULT_PROCESSING.batchingWindowMs / 1000} s, ${DEFAULT_PROCESSING.batchSize.toLocaleString('en-US')})`, batchSize: DEFAULT_PROCESSING.batchSize, windowS: DEFAULT_PROCESSING.batchingWindowMs / 1000 };
/** A shorter window that still stays within 2× of Firehose, for pipelines that want the lake fresher. */
const FRESHER = { label: 'fresher (10 s, 10,000)', batchSize: 10_000, windowS: 10 };
const MEMORY_MB = 1024;

/** Counts every request the client sends, by command name. */
function countRequests(s3: S3Client): { take(): RequestCounts } {
  let counts = { put: 0, get: 0, delete: 0 };
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      counts[billingClass(context.commandName ?? '')]++;
      return next(args);
    },
    { step: 'initialize', name: 'shardflowRequestCounter' },
  );
  return {
    take() {
      const c = counts;
      counts = { put: 0, get: 0, delete: 0 };
      return c;
    },
  };
}

const per = (c: RequestCounts, n: number): RequestCounts => ({ put: c.put / n, get: c.get / n, delete: c.delete / n });

export async function benchCost(): Promise<BenchSuiteOutput> {
  const tmp = await benchScratchDir('shardflow-bench-cost');
  const s3Service = await startS3Emulator({ port: await freePort(), dataDir: path.join(tmp, 's3') });
  const s3 = localS3Client(s3Service.endpoint);
  const counter = countRequests(s3);
  let bucketNo = 0;
  let seq = 0;
  const event = (ms: number) => {
    const n = seq++;
    return kinesisRecord({ event_id: `e${n}`, user_id: `u${n % 5000}`, category: ['books', 'games', 'music', 'toys'][n % 4], value: 11 + (n % 89), ts: ms }, { seq: n, arrivalMs: ms + 500 });
  };
  const freshBucket = async (): Promise<string> => {
    const bucket = `bench-cost-${bucketNo++}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    counter.take();
    return bucket;
  };
  const hourStart = Date.UTC(2026, 2, 1, 10);
  try {
    /** Requests and handler time per batch of `size` events arriving at `rate`/s. */
    const handlerPerBatch = async (rate: number, size: number): Promise<{ requests: RequestCounts; ms: number; eventBytes: number }> => {
      const bucket = await freshBucket();
      const handler = createStreamProcessor(clickstream, { s3, bucket, logger: silentLogger });
      let t = hourStart;
      const times: number[] = [];
      let bytes = 0;
      let events = 0;
      // One warm-up batch (JIT, first connections), not counted.
      for (let b = -1; b < BATCHES; b++) {
        const records = Array.from({ length: size }, () => event((t += 1000 / rate)));
        for (const r of records) bytes += Buffer.from(r.kinesis.data, 'base64').length;
        events += records.length;
        if (b === 0) counter.take();
        const t0 = performance.now();
        const res = await handler(kinesisEvent(records));
        if (b >= 0) times.push(performance.now() - t0);
        if (res.batchItemFailures.length > 0) throw new Error('a bench batch failed');
      }
      const median = times.sort((x, y) => x - y)[Math.floor(times.length / 2)]!;
      return { requests: per(counter.take(), BATCHES), ms: median, eventBytes: bytes / events };
    };

    /** Requests of the compactor passes that compact and then retire one hour holding `objects` batch objects per table. */
    const compactorPerHour = async (objects: number): Promise<RequestCounts> => {
      const bucket = await freshBucket();
      const handler = createStreamProcessor(clickstream, { s3, bucket, logger: silentLogger });
      for (let b = 0; b < objects; b++) {
        await handler(kinesisEvent(Array.from({ length: 20 }, (_, i) => event(hourStart + Math.floor(((b * 20 + i) / (objects * 20)) * 3_600_000)))));
      }
      counter.take();
      const sealed = hourStart + 3_600_000 + sealDelayMs(clickstream) + 1;
      await compactPipeline(s3, bucket, clickstream, { now: () => sealed });
      await compactPipeline(s3, bucket, clickstream, { now: () => sealed + RETIRE_AFTER_MS + 1 });
      return counter.take();
    };
    const [lo, hi] = [4, 16];
    const cLo = await compactorPerHour(lo);
    const cHi = await compactorPerHour(hi);
    const slope = (k: keyof RequestCounts) => (cHi[k] - cLo[k]) / (hi - lo);
    const compactor = (n: number): RequestCounts => {
      const at = (k: keyof RequestCounts) => Math.max(0, cLo[k] + slope(k) * (n - lo));
      return { put: at('put'), get: at('get'), delete: at('delete') };
    };

    const rows: string[] = [];
    const results = [];
    let worst = 0;
    let eventBytes = 0;
    for (const rate of RATES) {
      for (const s of [PREVIOUS, CURRENT, FRESHER]) {
        const size = eventsPerBatch(rate, s.batchSize, s.windowS);
        const h = await handlerPerBatch(rate, size);
        eventBytes = h.eventBytes;
        const m = monthlyCost({ ratePerS: rate, batchSize: s.batchSize, windowS: s.windowS, handler: h.requests, compactor, compactedTables: 1, lambdaMs: h.ms, memoryMb: MEMORY_MB });
        const firehose = firehosePerMillion(h.eventBytes, true);
        const ratio = m.perMillionEvents / firehose;
        if (s === CURRENT) worst = Math.max(worst, ratio);
        const usd = (x: number) => x.toFixed(x < 1 ? 3 : 2);
        rows.push(
          `| ${rate.toLocaleString('en-US')} | ${s.label} | ${size.toLocaleString('en-US')} | ${addedLatencyS(rate, s.batchSize, s.windowS).toFixed(0)} s | ${(h.requests.put + h.requests.get + h.requests.delete).toFixed(1)} (${h.requests.put.toFixed(1)} PUT, ${h.requests.get.toFixed(1)} GET) | ${usd(m.handlerRequests)} | ${usd(m.compactorRequests)} | ${usd(m.lambda)} | ${usd(m.total)} | ${m.perMillionEvents.toFixed(4)} | ${firehose.toFixed(4)} | ${ratio.toFixed(2)}× |`,
        );
        results.push(result(`cost per million events at ${rate} events/s, ${s.label}`, 1 / m.perMillionEvents, 'Firehose with Parquet conversion', 1 / firehose, `USD per million events ${m.perMillionEvents.toFixed(4)} vs ${firehose.toFixed(4)} (rates here are million events per USD)`));
      }
    }
    const markdown = [
      '## Cost per shard: counted S3 requests (handler and compactor) vs Amazon Data Firehose',
      '',
      `Counted on the code that runs: ${BATCHES} batches per setting through the stream processor's handler against the S3 emulator, and the compactor's two hourly passes (compact, then retire) over an hour holding ${lo} and ${hi} batch objects per table (requests are linear in between: ${slope('put').toFixed(1)} PUT/LIST and ${slope('get').toFixed(1)} GET per extra object). Monthly USD for one shard of the clickstream example at a steady rate, US East list prices of 2026-12-01 (scripts/bench/cost-model.ts names the pages); Lambda at ${MEMORY_MB} MB (the default), billed for the median handler time measured here. Firehose: ingestion plus Parquet conversion for ${eventBytes.toFixed(0)}-byte events, each billed as 5 KB. The Kinesis shard (about 11 USD a month) is left out on both sides.`,
      '',
      '| events/s | batching | events per batch | added latency (worst) | S3 requests per batch | handler S3, USD/month | compactor S3, USD/month | Lambda, USD/month | total, USD/month | USD per million events | Firehose, USD per million events | vs Firehose |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
      `With the defaults the dearest of the three rates costs ${worst.toFixed(2)}× Firehose's price (the goal: at most 2×). "Added latency" is how long the first event of a batch waits for the batch to close. Requests per batch are those of a batch with raw and partials rows; a batch with late or quarantined rows adds one PUT per such partition. Command: \`npm run bench -- --only cost\`.`,
    ].join('\n');
    return { results, markdown };
  } finally {
    s3.destroy();
    await s3Service.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
