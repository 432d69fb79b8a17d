/**
 * The local Kinesis mapping's GetRecords (local/esm/kinesis-raw-records.ts) reads
 * each record's Data as the wire's base64: it must give what the SDK's own
 * output gives, record for record, on both emulators, and leave errors to the SDK.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  CreateStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type GetRecordsCommandOutput,
  ListShardsCommand,
  PutRecordsCommand,
  waitUntilStreamExists,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localKinesisClient } from '../local/aws-clients';
import { getRecordsRaw, rawRecordsOf } from '../local/esm/kinesis-raw-records';
import { startKinesisEmulator, type KinesisEngine } from '../local/services/kinesis';
import { freePort, type RunningService } from '../local/services/service';

let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-raw-records-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** Payloads that base64 encodes with 0, 1 and 2 padding characters, binary bytes, UTF-8 and an empty key's neighbour. */
function payloads(n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 5 === 0) out.push(Buffer.from(Array.from({ length: (i % 7) + 1 }, (_, j) => (i * 31 + j * 17) % 256)));
    else if (i % 5 === 1) out.push(Buffer.from(JSON.stringify({ i, text: 'Grüße ☃ "quoted" \\ back' })));
    else out.push(Buffer.from(`record-${i}-${'x'.repeat(i % 3)}`));
  }
  return out;
}

async function iterator(client: KinesisClient, stream: string, shardId: string): Promise<string> {
  const it = await client.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }));
  return it.ShardIterator!;
}

describe.each<KinesisEngine>(['kinesalite', 'kinesis-local'])('GetRecords with Data as the wire base64 (%s)', (engine) => {
  let svc: RunningService;
  let client: KinesisClient;
  const stream = 'raw-records';
  let shardId: string;
  const sent = payloads(120);

  beforeAll(async () => {
    svc = await startKinesisEmulator({ engine, port: await freePort(), dataDir: path.join(root, engine) });
    client = localKinesisClient(svc.endpoint);
    await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
    await waitUntilStreamExists({ client, maxWaitTime: 60 }, { StreamName: stream });
    const out = await client.send(
      new PutRecordsCommand({ StreamName: stream, Records: sent.map((d, i) => ({ PartitionKey: `key-${i % 9}-ü`, Data: d })) }),
    );
    expect(out.FailedRecordCount ?? 0).toBe(0);
    shardId = (await client.send(new ListShardsCommand({ StreamName: stream }))).Shards![0]!.ShardId!;
  }, 120_000);

  afterAll(async () => {
    client?.destroy();
    await svc?.stop();
  });

  it('gives every record as the SDK does (data re-encoded from its bytes), page by page, and the same next iterator', async () => {
    let rawIt: string | undefined = await iterator(client, stream, shardId);
    let sdkIt: string | undefined = await iterator(client, stream, shardId);
    const rawData: string[] = [];
    for (let page = 0; page < 10 && rawIt && sdkIt; page++) {
      const raw = await getRecordsRaw(client, rawIt, 25);
      const sdk: GetRecordsCommandOutput = await client.send(new GetRecordsCommand({ ShardIterator: sdkIt, Limit: 25 }));
      expect(raw.source).toBe('wire');
      expect(raw.records).toEqual(
        (sdk.Records ?? []).map((r) => ({
          sequenceNumber: r.SequenceNumber,
          partitionKey: r.PartitionKey,
          data: Buffer.from(r.Data!).toString('base64'),
          arrivalMs: r.ApproximateArrivalTimestamp!.getTime(),
        })),
      );
      expect(raw.millisBehindLatest).toBe(sdk.MillisBehindLatest);
      rawData.push(...raw.records.map((r) => r.data));
      if (raw.records.length === 0) break;
      rawIt = raw.nextShardIterator;
      sdkIt = sdk.NextShardIterator;
    }
    expect(rawData.map((d) => Buffer.from(d, 'base64'))).toEqual(sent);
  });

  it('leaves an error to the SDK: a malformed iterator fails as the plain SDK call fails', async () => {
    const err: unknown = await getRecordsRaw(client, 'not-an-iterator', 10).catch((e: unknown) => e);
    const sdkErr: unknown = await client.send(new GetRecordsCommand({ ShardIterator: 'not-an-iterator', Limit: 10 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(sdkErr).toBeInstanceOf(Error);
    expect((err as Error).name).toBe((sdkErr as Error).name);
    expect((err as Error).message).toBe((sdkErr as Error).message);
    expect((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBeGreaterThanOrEqual(400);
  });
});

describe('rawRecordsOf', () => {
  it('reads the documented shape and refuses anything else', () => {
    const ok = rawRecordsOf({
      Records: [{ Data: 'aGk=', PartitionKey: 'k', SequenceNumber: '1', ApproximateArrivalTimestamp: 1700000000.1234 }],
      NextShardIterator: 'n',
      MillisBehindLatest: 5,
    });
    expect(ok).toEqual({
      records: [{ sequenceNumber: '1', partitionKey: 'k', data: 'aGk=', arrivalMs: 1700000000123 }],
      nextShardIterator: 'n',
      millisBehindLatest: 5,
    });
    expect(rawRecordsOf({ Records: [], MillisBehindLatest: 0 })).toEqual({ records: [], nextShardIterator: undefined, millisBehindLatest: 0 });
    expect(rawRecordsOf(null)).toBeUndefined();
    expect(rawRecordsOf([])).toBeUndefined();
    expect(rawRecordsOf({})).toBeUndefined();
    expect(rawRecordsOf({ Records: [{ Data: 1, PartitionKey: 'k', SequenceNumber: '1' }] })).toBeUndefined();
    expect(rawRecordsOf({ Records: [null] })).toBeUndefined();
  });
});
