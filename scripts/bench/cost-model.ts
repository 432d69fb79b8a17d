/**
 * The monthly AWS bill of moving a shard's events into the lake, from S3
 * requests counted on the real code (scripts/bench/cost.ts) and list prices,
 * next to Amazon Data Firehose's price for the same events.
 *
 * Prices: US East (N. Virginia), on-demand, as published on 2026-12-01:
 * - S3 Standard requests (https://aws.amazon.com/s3/pricing/): PUT, COPY,
 *   POST, LIST 0.005 USD per 1,000; GET and all other requests 0.0004 USD per
 *   1,000; DELETE free.
 * - Lambda (https://aws.amazon.com/lambda/pricing/): 0.20 USD per million
 *   requests, 0.0000133334 USD per GB-second (Arm, first tier: the functions
 *   run on ARM64).
 * - Amazon Data Firehose (https://aws.amazon.com/firehose/pricing/): ingestion
 *   from Direct PUT or a Kinesis data stream 0.029 USD per GB for the first
 *   500 TB a month, each record rounded up to a multiple of 5 KB; format
 *   conversion to Parquet 0.018 USD per GB, on the same rounded volume.
 * The Kinesis shard itself (0.015 USD per shard-hour, about 11 USD a month) is
 * left out on both sides: Firehose reading the stream needs it too.
 */

export const PRICES = {
  s3PutPer1000: 0.005,
  s3GetPer1000: 0.0004,
  lambdaPerMillionRequests: 0.2,
  lambdaPerGbSecond: 0.0000133334,
  firehoseIngestPerGb: 0.029,
  firehoseParquetPerGb: 0.018,
  /** Firehose bills each record in 5 KB (5,120-byte) increments. */
  firehoseRecordIncrementBytes: 5120,
} as const;

export const SECONDS_PER_MONTH = 30 * 86_400;

/** Counted S3 requests, by billing class. */
export interface RequestCounts {
  /** PUT, COPY, POST, LIST (ListObjectsV2, multipart calls). */
  readonly put: number;
  /** GET, HEAD and other requests. */
  readonly get: number;
  /** DeleteObject(s): free. */
  readonly delete: number;
}

/** S3 command name → billing class (S3 pricing page: "PUT, COPY, POST, LIST requests" / "GET, SELECT, and all other requests" / DELETE free). */
export function billingClass(command: string): keyof RequestCounts {
  if (/^(Put|Copy|Create|Upload|Complete|List)/.test(command)) return 'put';
  if (/^Delete/.test(command)) return 'delete';
  return 'get';
}

export function requestCost(c: RequestCounts): number {
  return (c.put * PRICES.s3PutPer1000 + c.get * PRICES.s3GetPer1000) / 1000;
}

/**
 * Events per batch at a steady rate: Lambda's Kinesis mapping invokes when the
 * batching window ends or the batch is full, and polls each shard about once a
 * second, so a window under 1 s still batches a second of events.
 */
export function eventsPerBatch(ratePerS: number, batchSize: number, windowS: number): number {
  return Math.max(1, Math.min(batchSize, Math.round(ratePerS * Math.max(windowS, 1))));
}

/** Worst-case delay a batching choice adds before an event is in the lake, seconds. */
export function addedLatencyS(ratePerS: number, batchSize: number, windowS: number): number {
  return eventsPerBatch(ratePerS, batchSize, windowS) / ratePerS;
}

/** Firehose's price per million events of `eventBytes` each (every record billed as a multiple of 5 KB). */
export function firehosePerMillion(eventBytes: number, parquet: boolean): number {
  const billed = Math.ceil(eventBytes / PRICES.firehoseRecordIncrementBytes) * PRICES.firehoseRecordIncrementBytes;
  const gb = (1e6 * billed) / 2 ** 30;
  return gb * (PRICES.firehoseIngestPerGb + (parquet ? PRICES.firehoseParquetPerGb : 0));
}

export interface MonthlyCost {
  readonly eventsPerMonth: number;
  readonly batchesPerMonth: number;
  readonly handlerRequests: number;
  readonly compactorRequests: number;
  readonly lambda: number;
  readonly total: number;
  readonly perMillionEvents: number;
}

/**
 * One shard's month: `handler` requests per batch, `compactor(n)` requests to
 * compact and retire one hour of one table holding n batch objects (for each
 * compacted table), Lambda at `lambdaMs` per batch and `memoryMb`.
 */
export function monthlyCost(o: {
  ratePerS: number;
  batchSize: number;
  windowS: number;
  handler: RequestCounts;
  compactor: (objectsPerHour: number) => RequestCounts;
  compactedTables: number;
  lambdaMs: number;
  memoryMb: number;
}): MonthlyCost {
  const perBatch = eventsPerBatch(o.ratePerS, o.batchSize, o.windowS);
  const eventsPerMonth = o.ratePerS * SECONDS_PER_MONTH;
  const batchesPerMonth = eventsPerMonth / perBatch;
  const handlerRequests = requestCost(o.handler) * batchesPerMonth;
  const hours = SECONDS_PER_MONTH / 3600;
  const objectsPerHour = Math.min(batchesPerMonth / hours, 3600 * o.ratePerS);
  const compactorRequests = requestCost(o.compactor(objectsPerHour)) * hours * o.compactedTables;
  const lambda = batchesPerMonth * (PRICES.lambdaPerMillionRequests / 1e6 + (o.lambdaMs / 1000) * (o.memoryMb / 1024) * PRICES.lambdaPerGbSecond);
  const total = handlerRequests + compactorRequests + lambda;
  return { eventsPerMonth, batchesPerMonth, handlerRequests, compactorRequests, lambda, total, perMillionEvents: (total / eventsPerMonth) * 1e6 };
}
