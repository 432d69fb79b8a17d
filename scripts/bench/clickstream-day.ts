/**
 * One day of the clickstream example in a lake bucket, written by the real
 * stream-processor handler: 24 hours × `batchesPerHour` batches ×
 * `eventsPerBatch` events, spread evenly over each hour, all on time.
 * The benches that query a full day (compaction, athena-small-query) start here.
 */
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { silentLogger } from '../../functions/shared/logger';
import { createStreamProcessor } from '../../functions/stream-processor/handler';
import clickstream from '../../pipelines/clickstream';
import { kinesisEvent, kinesisRecord } from '../../test/support/events';

/** The day written, as its `dt` partition value. */
export const CLICKSTREAM_DAY = '2026-03-01';

export async function writeClickstreamDay(s3: S3Client, bucket: string, opts: { readonly batchesPerHour: number; readonly eventsPerBatch: number }): Promise<void> {
  const { batchesPerHour, eventsPerBatch } = opts;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const handler = createStreamProcessor(clickstream, { s3, bucket, logger: silentLogger });
  let seq = 0;
  for (let h = 0; h < 24; h++) {
    for (let b = 0; b < batchesPerHour; b++) {
      const records = Array.from({ length: eventsPerBatch }, (_, i) => {
        const ts = Date.UTC(2026, 2, 1, h) + Math.floor(((b * eventsPerBatch + i) / (batchesPerHour * eventsPerBatch)) * 3_600_000);
        const ev = { event_id: `e${seq}`, user_id: `u${seq % 5000}`, category: ['books', 'games', 'music', 'toys'][seq % 4], value: 11 + (seq % 89), ts };
        return kinesisRecord(ev, { seq: seq++, arrivalMs: ts + 1_000 });
      });
      await handler(kinesisEvent(records));
    }
  }
}
