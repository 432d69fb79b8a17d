/**
 * The compactor's Lambda entry point (functions/compactor/index.ts), configured
 * by environment as lib/compactor.ts deploys it, against s3rver: one scheduled
 * invocation compacts the sealed hours, a later one retires the sources, and a
 * short deadline makes a pass stop early and leave the rest to the next.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { listPartitionObjects, RETIRE_AFTER_MS } from '../functions/compactor/compaction';
import { silentLogger } from '../functions/shared/logger';
import { createStreamProcessor } from '../functions/stream-processor/handler';
import { LOCAL_CREDENTIALS } from '../local/aws-clients';
import clickstream from '../pipelines/clickstream';
import { kinesisEvent, kinesisRecord } from './support/events';
import { TestLake } from './support/test-lake';

const BUCKET = 'compactor-lambda';
let lake: TestLake;

beforeAll(async () => {
  lake = await TestLake.start('compactor-lambda', BUCKET);
  const handler = createStreamProcessor(clickstream, { s3: lake.s3, bucket: BUCKET, logger: silentLogger });
  let seq = 0;
  for (const h of [1, 2]) {
    for (let b = 0; b < 4; b++) {
      const records = Array.from({ length: 50 }, (_, i) => {
        const ts = Date.UTC(2026, 0, 10, h, b * 10, i);
        return kinesisRecord({ event_id: `e${seq}`, user_id: `u${seq % 7}`, category: 'books', value: 20, ts }, { seq: seq++, arrivalMs: ts + 500 });
      });
      expect((await handler(kinesisEvent(records))).batchItemFailures).toEqual([]);
    }
  }
  vi.stubEnv('SHARDFLOW_PIPELINE', JSON.stringify(clickstream));
  vi.stubEnv('LAKE_BUCKET', BUCKET);
  vi.stubEnv('S3_ENDPOINT', lake.s3Endpoint);
  vi.stubEnv('AWS_ACCESS_KEY_ID', LOCAL_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', LOCAL_CREDENTIALS.secretAccessKey);
  vi.stubEnv('AWS_REGION', 'us-east-1');
}, 60_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  await lake?.stop();
});

const objects = async (table: string, h: number) => (await listPartitionObjects(lake.s3, BUCKET, `tables/${table}/dt=2026-01-10/hour=0${h}/`)).length;
const context = (ms: number) => ({ getRemainingTimeInMillis: () => ms });

describe('compactor Lambda handler', () => {
  it('refuses an event for another pipeline, or with a time that is not one', async () => {
    const { handler } = await import('../functions/compactor/index');
    await expect(handler({ pipeline: 'iot' }, context(900_000))).rejects.toThrow(/event names pipeline "iot" but this function compacts pipeline "clickstream"/);
    await expect(handler({ scheduledTime: 'soon' }, context(900_000))).rejects.toThrow(/scheduledTime must be an ISO-8601 time \(given "soon"\)/);
  });

  it('stops starting partitions when the time left is short, publishes on the next pass, retires on a pass an hour later', async () => {
    const { handler } = await import('../functions/compactor/index');
    // The hours written are long sealed; the pass runs as of its scheduled time.
    const at = (ms: number) => ({ pipeline: 'clickstream', scheduledTime: new Date(ms).toISOString() });
    const t0 = Date.now() - 2 * RETIRE_AFTER_MS;
    // Less than the safety margin left: nothing is started.
    const short = await handler(at(t0), context(60_000));
    expect(short).toMatchObject({ compacted: 0, stoppedEarly: true });
    expect(await objects('clickstream_events', 1)).toBe(4);

    const pass = await handler(at(t0), context(900_000));
    expect(pass).toMatchObject({ pipeline: 'clickstream', compacted: 4, carriedOn: 0, stoppedEarly: false }); // 2 hours × raw and partials
    expect(await objects('clickstream_events', 1)).toBe(5); // published; sources wait

    // An hour too early to retire (scheduled before the wait is over), then a pass after it.
    expect(await handler(at(t0 + RETIRE_AFTER_MS - 1), context(900_000))).toMatchObject({ compacted: 0, carriedOn: 0 });
    expect(await objects('clickstream_events', 1)).toBe(5);
    const later = await handler(at(t0 + RETIRE_AFTER_MS + 1), context(900_000));
    expect(later).toMatchObject({ compacted: 0, carriedOn: 4 });
    for (const h of [1, 2]) {
      expect(await objects('clickstream_events', h)).toBe(1);
      expect(await objects('clickstream_partials', h)).toBe(1);
    }
  });
});
