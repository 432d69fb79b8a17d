/**
 * The GetRecords mirror (local/services/kinesalite-read-cache.ts) against stock kinesalite.
 *
 * Each GetRecords goes to one store twice, once answered from the mirror and once by
 * kinesalite's own action (setReadCacheEnabled toggles between them), and the two raw
 * response bodies must be equal byte for byte, except for the creation time inside
 * NextShardIterator (and, for an empty answer, the second its position moved to "now").
 * The walk then continues from either answer's iterator, so each path reads the other's.
 * The same store answering both ways means the same records, sequence numbers and
 * arrival timestamps: any record the mirror gets wrong, misses or invents fails the test.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installFastKinesaliteDb, installKinesaliteMetaCache } from '../local/services/kinesalite-fast';
import { installKinesaliteReadCache, readCacheStats, setReadCacheEnabled } from '../local/services/kinesalite-read-cache';
import { freePort } from '../local/services/service';

const require = createRequire(import.meta.url);
// As kinesalite-process.ts runs it.
installFastKinesaliteDb();
installKinesaliteMetaCache();
installKinesaliteReadCache();
const kinesalite = require('kinesalite') as (o: object) => http.Server;
const kdb = require('kinesalite/db') as {
  create: (o: object) => unknown;
  parseSequence(s: string): { seqIx?: string | number; seqTime?: number };
  ITERATOR_PWD_KEY: Buffer;
  ITERATOR_PWD_IV: Buffer;
};
const cbor = require('cbor') as { Encoder: { encodeOne(v: unknown): Buffer }; Decoder: { decodeFirstSync(b: Buffer): unknown } };

/** A small deterministic PRNG: the same cases every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
const AUTH = {
  Authorization: 'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00',
  'X-Amz-Date': '20260101T000000Z',
};

interface Answer {
  status: number;
  body: Buffer;
}

function call(port: number, op: string, payload: unknown, format: 'json' | 'cbor' = 'json'): Promise<Answer> {
  const body = format === 'json' ? Buffer.from(JSON.stringify(payload)) : cbor.Encoder.encodeOne(payload);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/',
        agent,
        headers: {
          ...AUTH,
          'Content-Type': format === 'json' ? 'application/x-amz-json-1.1' : 'application/x-amz-cbor-1.1',
          'X-Amz-Target': `Kinesis_20131202.${op}`,
          'Content-Length': body.length,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    req.setTimeout(20_000, () => req.destroy(new Error(`${op}: no answer within 20 s`)));
    req.end(body);
  });
}

async function ok<T>(port: number, op: string, payload: unknown): Promise<T> {
  const a = await call(port, op, payload);
  if (a.status !== 200) throw new Error(`${op}: ${a.status} ${a.body.toString()}`);
  return (a.body.length ? JSON.parse(a.body.toString()) : {}) as T;
}

/** The iterator's plaintext without its creation time: stream/shard/sequence/padding. */
function iteratorPosition(it: string): string {
  const buf = Buffer.from(it, 'base64');
  const d = crypto.createDecipheriv('aes-256-cbc', kdb.ITERATOR_PWD_KEY, kdb.ITERATOR_PWD_IV);
  const s = Buffer.concat([d.update(buf.subarray(8)), d.final()]).toString('utf8');
  return s.slice(s.indexOf('/') + 1);
}

type GetRecordsOut = { Records: { SequenceNumber: string }[]; NextShardIterator?: string; MillisBehindLatest: number };

/** The body with NextShardIterator replaced by its position; an empty answer's position with its seconds left out. */
function normalise(a: Answer, format: 'json' | 'cbor'): { status: number; text: string; next?: string; records: number } {
  if (a.status !== 200) return { status: a.status, records: 0, text: format === 'json' ? a.body.toString() : JSON.stringify(cbor.Decoder.decodeFirstSync(a.body)) };
  const out = (format === 'json' ? JSON.parse(a.body.toString()) : cbor.Decoder.decodeFirstSync(a.body)) as GetRecordsOut;
  const next = out.NextShardIterator;
  let pos = next === undefined ? 'none' : iteratorPosition(next);
  if (next !== undefined && out.Records.length === 0) {
    // Moved to "now": the sequence index must agree; the seconds may differ by the time between the two calls.
    const [stream, shard, seq] = pos.split('/') as [string, string, string];
    pos = `${stream}/${shard}/seqIx ${String(kdb.parseSequence(seq).seqIx)}`;
  }
  // A closed shard's end reports how long ago it closed: time, not position.
  const behind = out.MillisBehindLatest > 0 ? 'after the shard closed' : out.MillisBehindLatest;
  const text = format === 'json' ? a.body.toString().replace(next ?? '\u0000', pos).replace(/^\{"MillisBehindLatest":\d+/, `{"MillisBehindLatest":"${behind}"`) : JSON.stringify({ ...out, MillisBehindLatest: behind, NextShardIterator: pos });
  if (format === 'cbor') {
    // CBOR: the bytes themselves too, with the iterator blanked to its length.
    return { status: a.status, records: out.Records.length, text: text + cbor.Encoder.encodeOne({ ...out, MillisBehindLatest: 0, NextShardIterator: next === undefined ? undefined : 'x'.repeat(next.length) }).toString('hex'), ...(next ? { next } : {}) };
  }
  return { status: a.status, records: out.Records.length, text, ...(next ? { next } : {}) };
}

/** One GetRecords both ways; expects equal answers; returns the next iterator (from either side) and the records. */
async function compareGet(port: number, iterator: string, limit: number | undefined, pick: boolean, format: 'json' | 'cbor' = 'json'): Promise<{ next?: string; records: number }> {
  const req = limit === undefined ? { ShardIterator: iterator } : { ShardIterator: iterator, Limit: limit };
  setReadCacheEnabled(true);
  const cached = normalise(await call(port, 'GetRecords', req, format), format);
  setReadCacheEnabled(false);
  let stock: ReturnType<typeof normalise>;
  try {
    stock = normalise(await call(port, 'GetRecords', req, format), format);
  } finally {
    setReadCacheEnabled(true);
  }
  expect(cached.status).toBe(stock.status);
  expect(cached.text).toBe(stock.text);
  return { next: pick ? cached.next : stock.next, records: cached.records };
}

interface Server {
  port: number;
  server: http.Server;
  store: () => unknown;
  close(): Promise<void>;
}

/** An in-process kinesalite on `dir` with the mirror (store() is its store, for readCacheStats). */
async function start(dir: string, options: object = {}): Promise<Server> {
  let store: unknown;
  const create = kdb.create;
  kdb.create = (o: object) => (store = create(o));
  const server = kinesalite({ path: dir, createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100, ...options });
  kdb.create = create;
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    port,
    server,
    store: () => store,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err?: Error) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
      }),
  };
}

async function createStream(port: number, name: string, shards: number): Promise<void> {
  await ok(port, 'CreateStream', { StreamName: name, ShardCount: shards });
  for (;;) {
    const d = await ok<{ StreamDescription: { StreamStatus: string } }>(port, 'DescribeStream', { StreamName: name });
    if (d.StreamDescription.StreamStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

function randomRecords(r: () => number, n: number): { PartitionKey: string; Data: string }[] {
  return Array.from({ length: n }, () => {
    const bytes = Math.floor(r() * r() * 2_000);
    return { PartitionKey: `k${Math.floor(r() * 1e6)}`, Data: crypto.randomBytes(bytes).toString('base64') };
  });
}

/** Per shard, every sequence number put so far, in order. */
type Written = Map<string, string[]>;

function record(written: Written, shardId: string, seq: string): void {
  const seqs = written.get(shardId);
  if (seqs) seqs.push(seq);
  else written.set(shardId, [seq]);
}

async function putRandom(port: number, stream: string, r: () => number, written: Written): Promise<void> {
  if (r() < 0.2) {
    const rec = randomRecords(r, 1)[0]!;
    const out = await ok<{ ShardId: string; SequenceNumber: string }>(port, 'PutRecord', { StreamName: stream, ...rec });
    record(written, out.ShardId, out.SequenceNumber);
    return;
  }
  const records = randomRecords(r, 1 + Math.floor(r() * r() * 500));
  const out = await ok<{ Records: { ShardId: string; SequenceNumber: string }[] }>(port, 'PutRecords', { StreamName: stream, Records: records });
  for (const o of out.Records) record(written, o.ShardId, o.SequenceNumber);
}

async function iterator(port: number, stream: string, shardId: string, r: () => number, written: Written): Promise<string> {
  const seqs = written.get(shardId) ?? [];
  const x = r();
  let req: Record<string, unknown>;
  if (x < 0.3 || !seqs.length) req = { ShardIteratorType: x < 0.15 ? 'LATEST' : 'TRIM_HORIZON' };
  else if (x < 0.8) {
    const seq = seqs[Math.floor(r() * seqs.length)]!;
    req = { ShardIteratorType: x < 0.55 ? 'AT_SEQUENCE_NUMBER' : 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: seq };
  } else {
    // AT_TIMESTAMP no later than a record's own (stock never answers one after the last record).
    const seq = seqs[Math.floor(r() * seqs.length)]!;
    req = { ShardIteratorType: 'AT_TIMESTAMP', Timestamp: (kdb.parseSequence(seq).seqTime ?? 0) / 1000 - 1 };
  }
  return (await ok<{ ShardIterator: string }>(port, 'GetShardIterator', { StreamName: stream, ShardId: shardId, ...req })).ShardIterator;
}

const LIMITS = [undefined, 1, 2, 7, 50, 333, 1000, 10_000];

let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'kinesalite-read-cache-'));
});
afterAll(async () => {
  agent.destroy();
  setReadCacheEnabled(true);
  await fs.rm(root, { recursive: true, force: true });
});

describe('kinesalite GetRecords from the mirror', () => {
  it('answers random reads as stock does, on several shards, JSON and CBOR, across a restart', { timeout: 120_000 }, async () => {
    let s = await start(path.join(root, 'random'));
    let hits = 0;
    try {
      const r = rng(11);
      const stream = 'random';
      await createStream(s.port, stream, 3);
      const shardIds = ['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002'];
      const written: Written = new Map();
      let read = 0;
      for (let round = 0; round < 40; round++) {
        if (round === 25) {
          // A restart: the mirror starts empty, the records stay in LevelDB.
          hits += readCacheStats(s.store())!.hits;
          await s.close();
          s = await start(path.join(root, 'random'));
        }
        const puts = Math.floor(r() * 4);
        for (let p = 0; p < puts; p++) await putRandom(s.port, stream, r, written);
        // A few readers per round, each walking a few calls from a random position.
        for (let w = 0; w < 3; w++) {
          const shardId = shardIds[Math.floor(r() * shardIds.length)]!;
          let it: string | undefined = await iterator(s.port, stream, shardId, r, written);
          for (let step = 0; it && step < 4; step++) {
            // CBOR with small answers: kinesalite's CBOR encoder (encodeOne) cuts larger ones short, either path.
            const cborCall = r() < 0.1;
            const got = await compareGet(s.port, it, cborCall ? 1 + Math.floor(r() * 3) : LIMITS[Math.floor(r() * LIMITS.length)], r() < 0.5, cborCall ? 'cbor' : 'json');
            read += got.records;
            it = got.next;
          }
        }
      }
      const stats = readCacheStats(s.store())!;
      // Both paths were exercised: mostly the mirror, and stock for what was there before the restart.
      expect(read).toBeGreaterThan(2_000);
      expect(hits).toBeGreaterThan(200);
      expect(stats.hits).toBeGreaterThan(20);
      expect(stats.misses).toBeGreaterThan(0);
    } finally {
      await s.close();
    }
  });

  it('answers the records from before a restart through stock, and mirrors what comes after', { timeout: 60_000 }, async () => {
    const dir = path.join(root, 'restart');
    const r = rng(5);
    const written: Written = new Map();
    let s = await start(dir);
    await createStream(s.port, 'restart', 2);
    for (let i = 0; i < 5; i++) await putRandom(s.port, 'restart', r, written);
    await s.close();
    s = await start(dir);
    try {
      expect(readCacheStats(s.store())!.shards).toEqual({});
      for (const shardId of ['shardId-000000000000', 'shardId-000000000001']) {
        const trim = (await ok<{ ShardIterator: string }>(s.port, 'GetShardIterator', { StreamName: 'restart', ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' })).ShardIterator;
        const before = await compareGet(s.port, trim, 5, true);
        expect(before.records).toBe(Math.min(5, written.get(shardId)?.length ?? 0));
      }
      const misses = readCacheStats(s.store())!.misses;
      expect(misses).toBeGreaterThanOrEqual(2);
      const old = new Map([...written].map(([k, v]) => [k, v.length]));
      for (let i = 0; i < 5; i++) await putRandom(s.port, 'restart', r, written);
      for (const shardId of ['shardId-000000000000', 'shardId-000000000001']) {
        // From the start of the shard, in small steps across the restart's boundary, both ways.
        let it: string | undefined = (await ok<{ ShardIterator: string }>(s.port, 'GetShardIterator', { StreamName: 'restart', ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' })).ShardIterator;
        let total = 0;
        for (let step = 0; it && step < 200; step++) {
          const got = await compareGet(s.port, it, 37, step % 2 === 0);
          if (!got.records) break;
          total += got.records;
          it = got.next;
        }
        expect(total).toBe(written.get(shardId)?.length ?? 0);
        // The first new record's own position is the mirror's.
        const firstNew = written.get(shardId)![old.get(shardId) ?? 0];
        if (firstNew) {
          const at = (await ok<{ ShardIterator: string }>(s.port, 'GetShardIterator', { StreamName: 'restart', ShardId: shardId, ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: firstNew })).ShardIterator;
          const hits = readCacheStats(s.store())!.hits;
          await compareGet(s.port, at, undefined, true);
          expect(readCacheStats(s.store())!.hits).toBe(hits + 1);
        }
      }
    } finally {
      await s.close();
    }
  });

  it('evicts the oldest records for its budget and leaves them to stock', { timeout: 60_000 }, async () => {
    const budget = 200_000;
    const s = await start(path.join(root, 'evict'), { readCacheBytes: budget });
    try {
      const r = rng(9);
      const written: Written = new Map();
      await createStream(s.port, 'evict', 2);
      for (let i = 0; i < 12; i++) await putRandom(s.port, 'evict', r, written);
      const stats = readCacheStats(s.store())!;
      expect(stats.bytes).toBeLessThanOrEqual(budget);
      const held = Object.values(stats.shards.evict!).reduce((a, b) => a + b.records, 0);
      const all = [...written.values()].reduce((a, b) => a + b.length, 0);
      expect(held).toBeGreaterThan(0);
      expect(held).toBeLessThan(all);
      for (const shardId of ['shardId-000000000000', 'shardId-000000000001']) {
        let it: string | undefined = (await ok<{ ShardIterator: string }>(s.port, 'GetShardIterator', { StreamName: 'evict', ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' })).ShardIterator;
        let total = 0;
        for (let step = 0; it && step < 500; step++) {
          const got = await compareGet(s.port, it, 1 + Math.floor(r() * 60), step % 2 === 1);
          if (!got.records) break;
          total += got.records;
          it = got.next;
        }
        expect(total).toBe(written.get(shardId)?.length ?? 0);
        // At and after each record around the mirror's floor (the newest evicted record, the oldest kept).
        const floor = stats.shards.evict![Number(shardId.slice(-1))]?.floor;
        const seqs = written.get(shardId) ?? [];
        const ix = floor ? seqs.findIndex((q) => q >= floor) : -1;
        for (let i = Math.max(0, ix - 3); ix >= 0 && i < Math.min(seqs.length, ix + 3); i++) {
          for (const type of ['AT_SEQUENCE_NUMBER', 'AFTER_SEQUENCE_NUMBER']) {
            const at = (await ok<{ ShardIterator: string }>(s.port, 'GetShardIterator', { StreamName: 'evict', ShardId: shardId, ShardIteratorType: type, StartingSequenceNumber: seqs[i] })).ShardIterator;
            await compareGet(s.port, at, 3, true);
          }
        }
      }
      const after = readCacheStats(s.store())!;
      expect(after.hits).toBeGreaterThan(0);
      expect(after.misses).toBeGreaterThan(0);
    } finally {
      await s.close();
    }
  });

  it('leaves closed shards to stock and follows a deleted and re-created stream', { timeout: 60_000 }, async () => {
    const s = await start(path.join(root, 'reshard'));
    try {
      const r = rng(3);
      const written: Written = new Map();
      await createStream(s.port, 'reshard', 2);
      for (let i = 0; i < 4; i++) await putRandom(s.port, 'reshard', r, written);
      await ok(s.port, 'SplitShard', { StreamName: 'reshard', ShardToSplit: 'shardId-000000000000', NewStartingHashKey: (2n ** 126n).toString() });
      for (;;) {
        const d = await ok<{ StreamDescription: { StreamStatus: string } }>(s.port, 'DescribeStream', { StreamName: 'reshard' });
        if (d.StreamDescription.StreamStatus === 'ACTIVE') break;
        await new Promise((res) => setTimeout(res, 5));
      }
      for (let i = 0; i < 4; i++) await putRandom(s.port, 'reshard', r, written);
      for (const shardId of ['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002', 'shardId-000000000003']) {
        let it: string | undefined = (await ok<{ ShardIterator: string }>(s.port, 'GetShardIterator', { StreamName: 'reshard', ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' })).ShardIterator;
        let total = 0;
        for (let step = 0; it && step < 100; step++) {
          const got = await compareGet(s.port, it, 100, step % 2 === 0);
          total += got.records;
          if (!got.records) break;
          it = got.next;
        }
        expect(total).toBe(written.get(shardId)?.length ?? 0);
      }
      // Delete and re-create under the same name: the old records are gone in both paths.
      await ok(s.port, 'DeleteStream', { StreamName: 'reshard' });
      for (;;) {
        const a = await call(s.port, 'DescribeStream', { StreamName: 'reshard' });
        if (a.status === 400) break;
        await new Promise((res) => setTimeout(res, 5));
      }
      await createStream(s.port, 'reshard', 1);
      const fresh: Written = new Map();
      for (let i = 0; i < 3; i++) await putRandom(s.port, 'reshard', r, fresh);
      const it = (await ok<{ ShardIterator: string }>(s.port, 'GetShardIterator', { StreamName: 'reshard', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' })).ShardIterator;
      const got = await compareGet(s.port, it, 10_000, true);
      expect(got.records).toBe(fresh.get('shardId-000000000000')!.length);
    } finally {
      await s.close();
    }
  });

  it('keeps every record of puts that run while consumers poll', { timeout: 60_000 }, async () => {
    const s = await start(path.join(root, 'concurrent'));
    try {
      const stream = 'concurrent';
      await createStream(s.port, stream, 4);
      const shardIds = [0, 1, 2, 3].map((i) => `shardId-00000000000${i}`);
      const r = rng(23);
      const written: Written = new Map();
      let sending = true;
      // Readers poll every shard from LATEST while two producers put: metadata reads overlap writes.
      const latest = await Promise.all(
        shardIds.map(async (shardId) => (await ok<{ ShardIterator: string }>(s.port, 'GetShardIterator', { StreamName: stream, ShardId: shardId, ShardIteratorType: 'LATEST' })).ShardIterator),
      );
      const readers = latest.map(async (first) => {
        const read: string[] = [];
        let it: string | undefined = first;
        for (let idle = 0; it && (sending || idle < 3); ) {
          const out: GetRecordsOut = await ok<GetRecordsOut>(s.port, 'GetRecords', { ShardIterator: it, Limit: 1000 });
          read.push(...out.Records.map((x) => x.SequenceNumber));
          idle = out.Records.length || sending ? 0 : idle + 1;
          it = out.NextShardIterator;
        }
        return read;
      });
      const producers = [0, 1].map(async () => {
        for (let i = 0; i < 30; i++) await putRandom(s.port, stream, r, written);
      });
      await Promise.all(producers);
      sending = false;
      const read = await Promise.all(readers);
      for (const [i, shardId] of shardIds.entries()) {
        const seqs = written.get(shardId) ?? [];
        expect(new Set(seqs).size).toBe(seqs.length);
        expect(read[i]!.length).toBe(seqs.length);
        expect(read[i]).toEqual([...seqs].sort());
      }
    } finally {
      await s.close();
    }
  });

  it('an empty answer waits for the puts under way when it was asked', { timeout: 30_000 }, async () => {
    const s = await start(path.join(root, 'wait'));
    try {
      await createStream(s.port, 'wait', 1);
      await ok(s.port, 'PutRecords', { StreamName: 'wait', Records: [{ PartitionKey: 'a', Data: 'AAAA' }] });
      const it = (await ok<{ ShardIterator: string }>(s.port, 'GetShardIterator', { StreamName: 'wait', ShardId: 'shardId-000000000000', ShardIteratorType: 'LATEST' })).ShardIterator;
      // The next put's LevelDB write is held until released: its sequence numbers are drawn, its records not stored.
      const sub = (s.store() as { getStreamDb(n: string): { batch: (...a: unknown[]) => unknown } }).getStreamDb('wait');
      const batch = sub.batch;
      let release!: () => void;
      const held = new Promise<void>((entered) => {
        sub.batch = (...args: unknown[]) => {
          sub.batch = batch;
          release = () => batch.apply(sub, args);
          entered();
        };
      });
      const put = ok(s.port, 'PutRecords', { StreamName: 'wait', Records: Array.from({ length: 5 }, (_, i) => ({ PartitionKey: `k${i}`, Data: 'AAAA' })) });
      await held;
      const got = ok<GetRecordsOut>(s.port, 'GetRecords', { ShardIterator: it });
      await new Promise((r) => setTimeout(r, 200));
      release();
      await put;
      // Answered after the put, not empty before it.
      expect((await got).Records).toHaveLength(5);
    } finally {
      await s.close();
    }
  });

  it('a store opened with readCache: false has no mirror', async () => {
    const s = await start(path.join(root, 'stock'), { readCache: false });
    try {
      expect(readCacheStats(s.store())).toBeNull();
    } finally {
      await s.close();
    }
  });
});
