import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { cacheKinesaliteMeta, canonicalBase64Bytes, makeFastKinesaliteDb, makeFastKinesaliteValidation } from '../local/services/kinesalite-fast';

const require = createRequire(import.meta.url);
// The module as kinesalite ships it: nothing in this file installs the fast versions.
const orig = require('kinesalite/db') as {
  parseSequence(seq: unknown): unknown;
  stringifySequence(obj: object): string;
  incrementSequence(o: object | string, t?: number | null): string;
  partitionKeyToHashKey(k: string): { comparedTo(x: unknown): number };
};
const fast = makeFastKinesaliteDb(orig as never);

/** A small deterministic PRNG: the same cases every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('kinesalite sequence arithmetic on BigInt', () => {
  const r = rng(7);
  const objs: object[] = [];
  for (let i = 0; i < 2_000; i++) {
    const shardCreateTime = Math.floor(1_400_000_000_000 + r() * 400_000_000_000);
    const shardIx = Math.floor(r() * (i % 3 === 0 ? 2 ** 31 : 600));
    const o: Record<string, unknown> = { shardCreateTime, shardIx };
    if (i % 5 !== 0) o.seqIx = i % 7 === 0 ? String(Math.floor(r() * 2 ** 53)) : Math.floor(r() * 1e9);
    if (i % 11 === 0) o.seqIx = '9223372036854775807'; // the end of a closed shard (splitShard, mergeShards)
    if (i % 4 !== 0) o.seqTime = shardCreateTime + Math.floor(r() * 1e10);
    if (i % 13 === 0) o.byte1 = '7f';
    objs.push(o);
  }

  it('stringifies, parses and increments as kinesalite does', () => {
    for (const o of objs) {
      const s = orig.stringifySequence(o);
      expect(fast.stringifySequence(o as never)).toBe(s);
      expect(fast.parseSequence(s)).toEqual(orig.parseSequence(s));
      expect(fast.incrementSequence(s)).toBe(orig.incrementSequence(s));
      expect(fast.incrementSequence(orig.parseSequence(s) as never, 1_700_000_000_000)).toBe(orig.incrementSequence(orig.parseSequence(s) as object, 1_700_000_000_000));
    }
  });

  it('gives the original the inputs it does not handle itself, errors included', () => {
    const v0 = orig.stringifySequence({ version: 0, shardCreateTime: 1_500_000_000_000, shardIx: 3 });
    const v1 = orig.stringifySequence({ version: 1, shardCreateTime: 1_500_000_000_000, shardIx: 3, seqIx: 5, seqTime: 1_600_000_000_000 });
    for (const s of [v0, v1, '12', '0']) expect(fast.parseSequence(s)).toEqual(orig.parseSequence(s));
    for (const bad of ['', 'abc', '1.5', '-7']) {
      let want: unknown;
      try {
        want = orig.parseSequence(bad);
      } catch (e) {
        want = (e as Error).message;
      }
      let got: unknown;
      try {
        got = fast.parseSequence(bad);
      } catch (e) {
        got = (e as Error).message;
      }
      expect(got).toEqual(want);
    }
    // A negative shard index (kinesalite prints it as a '-' inside the hex) goes to the original as well.
    expect(fast.stringifySequence({ shardCreateTime: 1_500_000_000_000, shardIx: -2 } as never)).toBe(orig.stringifySequence({ shardCreateTime: 1_500_000_000_000, shardIx: -2 }));
  });

  it('orders partition keys against shard bounds as kinesalite does', () => {
    const bounds = ['0', '85070591730234615865843651857942052863', '170141183460469231731687303715884105727', '340282366920938463463374607431768211455'];
    for (let i = 0; i < 3_000; i++) {
      const key = `k${i}-${Math.floor(r() * 1e9)}`;
      for (const b of bounds) expect(fast.partitionKeyToHashKey(key).comparedTo(b)).toBe(orig.partitionKeyToHashKey(key).comparedTo(b));
    }
  });
});

describe("kinesalite's stream metadata from memory", () => {
  type Cb = (err: Error | null, value?: unknown) => void;
  interface Sub {
    get(key: string, cb: Cb): void;
    put(key: string, value: unknown, cb: (err?: Error | null) => void): void;
    del(key: string, cb: (err?: Error | null) => void): void;
  }
  const levelup = require('levelup') as (down: unknown) => unknown;
  const memdown = require('memdown') as () => unknown;
  const sub = require('subleveldown') as (db: unknown, prefix: string, o: object) => Sub;

  const get = (db: Sub, key: string): Promise<unknown> =>
    new Promise((resolve) => db.get(key, (err, value) => resolve(err ? `error ${err.name}` : value)));
  const put = (db: Sub, key: string, value: unknown): Promise<void> => new Promise((resolve, reject) => db.put(key, value, (err) => (err ? reject(err) : resolve())));
  const del = (db: Sub, key: string): Promise<void> => new Promise((resolve, reject) => db.del(key, (err) => (err ? reject(err) : resolve())));

  it('does not keep what a read that overlapped a write returned', async () => {
    // A store whose operations finish when the test says: a get reads at its call, a put
    // stores at its end (as LevelDB may answer a get begun during a put with the old value).
    let stored: string | undefined = JSON.stringify({ v: 'old' });
    const done: (() => void)[] = [];
    const fake = {
      get(key: string, cb: Cb) {
        const at = stored;
        done.push(() => (at === undefined ? cb(Object.assign(new Error('NotFound'), { name: 'NotFoundError' })) : cb(null, JSON.parse(at))));
      },
      put(key: string, value: unknown, cb: (err?: Error | null) => void) {
        const json = JSON.stringify(value);
        done.push(() => {
          stored = json;
          cb();
        });
      },
      del(key: string, cb: (err?: Error | null) => void) {
        done.push(() => {
          stored = undefined;
          cb();
        });
      },
      isOpen: () => true,
    };
    cacheKinesaliteMeta(fake as never);
    const flush = () => done.splice(0).forEach((f) => f());
    const db = fake as unknown as Sub;
    const p = put(db, 's', { v: 'new' });
    const g = get(db, 's'); // begun during the put: reads 'old'
    flush(); // the put ends first, then the get
    await p;
    expect(await g).toEqual({ v: 'old' });
    const again = get(db, 's');
    flush();
    expect(await again).toEqual({ v: 'new' });
  });

  it('answers every get as LevelDB does, with writes and deletes in flight', async () => {
    const db = levelup(memdown());
    // The cached sublevel and a plain one on the same prefix, which reads LevelDB itself.
    const cached = sub(db, 'meta', { valueEncoding: 'json' });
    const plain = sub(db, 'meta', { valueEncoding: 'json' });
    cacheKinesaliteMeta(cached as never);
    const r = rng(3);
    const keys = ['a', 'b', 'c'];
    for (let step = 0; step < 400; step++) {
      // A few operations at once, not awaited one by one: writes and reads overlap.
      const ops: Promise<unknown>[] = [];
      const reads: [string, Promise<unknown>][] = [];
      for (let k = 0; k < 1 + Math.floor(r() * 4); k++) {
        const key = keys[Math.floor(r() * keys.length)]!;
        const x = r();
        if (x < 0.4) {
          const value = { Shards: [{ n: step, k }], _seqIx: [step, null], name: key };
          ops.push(put(cached, key, value));
          // Changing the object after put must not change what is stored.
          value.Shards[0]!.n = -1;
        } else if (x < 0.5) ops.push(del(cached, key));
        else reads.push([key, get(cached, key)]);
      }
      await Promise.all(ops);
      for (const [, p] of reads) await p;
      // Once the writes are done, the cache and LevelDB agree on every key.
      for (const key of keys) expect(await get(cached, key)).toEqual(await get(plain, key));
      // What a get returns is the caller's to change.
      const got = (await get(cached, 'a')) as { Shards?: unknown[] } | string;
      if (typeof got === 'object') {
        got.Shards = [];
        expect(await get(cached, 'a')).toEqual(await get(plain, 'a'));
      }
    }
  });
});

describe("kinesalite's PutRecords request checks", () => {
  type V = { checkTypes(d: unknown, t: unknown): unknown; checkValidations(d: unknown, t: unknown, c?: unknown, op?: string): void };
  const orig = require('kinesalite/validations') as V;
  const types = (require('kinesalite/validations/putRecords') as { types: unknown }).types;
  let origCalls = 0;
  const fastV = makeFastKinesaliteValidation(
    {
      checkTypes: (d, t) => (origCalls++, orig.checkTypes(d, t)),
      checkValidations: (d, t, c, op) => (origCalls++, orig.checkValidations(d, t, c, op)),
    },
    types,
  );

  /** checkTypes then checkValidations, as kinesalite's index.js runs them: the data or the error. */
  const run = (v: V, data: unknown): unknown => {
    try {
      const out = v.checkTypes(structuredClone(data), types);
      v.checkValidations(out, types, undefined, 'PutRecords');
      return { ok: out };
    } catch (e) {
      const err = e as { statusCode?: number; body?: unknown; message: string };
      return { statusCode: err.statusCode, body: err.body, message: err.message };
    }
  };

  it('reads base64 as the Blob check does', () => {
    const r = rng(21);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ ';
    for (let i = 0; i < 20_000; i++) {
      let s: string;
      if (i % 3 === 0) s = Buffer.from(Array.from({ length: Math.floor(r() * 9) }, () => Math.floor(r() * 256))).toString('base64');
      else s = Array.from({ length: Math.floor(r() * 9) }, () => alphabet[Math.floor(r() * (i % 3 === 1 ? 65 : alphabet.length))]).join('');
      const valid = s.length % 4 === 0 && !/[^a-zA-Z0-9+/=]|=[^=]/.test(s) && Buffer.from(s, 'base64').toString('base64') === s;
      const n = canonicalBase64Bytes(s);
      // Never valid where the original refuses; the exact length where it accepts.
      if (n >= 0) expect(valid).toBe(true);
      if (valid && n >= 0) expect(n).toBe(Buffer.from(s, 'base64').length);
      if (i % 3 === 0) expect(n).toBe(Buffer.from(s, 'base64').length);
    }
  });

  it('gives the same data or the same error as kinesalite', () => {
    const r = rng(17);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const b64 = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256))).toString('base64');
    const badData: unknown[] = ['abc', 'ab=c', 'AB==', 'A===', '====', '@@@@', 7, true, null, { a: 1 }, [1], 'AAAA AAA'];
    const badKeys: unknown[] = ['', 'k'.repeat(257), 5, null, ['x'], { k: 1 }];
    const badHash: unknown[] = ['-1', '01', 'x', '1'.repeat(40), 12, '0x', 'a1', '340282366920938463463374607431768211456'];
    let fastOk = 0;
    for (let i = 0; i < 3_000; i++) {
      const n = i % 50 === 0 ? pick([0, 501, 500]) : 1 + Math.floor(r() * 6);
      const records = Array.from({ length: n }, (): Record<string, unknown> => {
        const rec: Record<string, unknown> = { PartitionKey: `k${Math.floor(r() * 1e6)}`, Data: b64(Math.floor(r() * 40)) };
        if (r() < 0.2) rec.ExplicitHashKey = String(Math.floor(r() * 1e15));
        return rec;
      });
      const data: Record<string, unknown> = { StreamName: 's-1.x_2', Records: records };
      const x = r();
      // Most requests get one thing wrong (or odd) somewhere.
      if (x < 0.15) {
        if (n) records[Math.floor(r() * n)]!.Data = pick(badData);
      } else if (x < 0.25 && n) records[Math.floor(r() * n)]!.PartitionKey = pick(badKeys);
      else if (x < 0.35 && n) records[Math.floor(r() * n)]!.ExplicitHashKey = pick(badHash);
      else if (x < 0.4 && n) records[Math.floor(r() * n)]!.Extra = 'x';
      else if (x < 0.45 && n) delete records[Math.floor(r() * n)]!.Data;
      else if (x < 0.5) data.StreamName = pick(['', 'a b', 'x'.repeat(129), 3, null, 'ok']);
      else if (x < 0.53) data.Other = 1;
      else if (x < 0.56) data.Records = pick([null, 'x', {}, [null], [[]]]);
      const want = run(orig, data);
      const calls = origCalls;
      const got = run(fastV, data);
      expect(got).toEqual(want);
      // Valid requests of the plain form are the fast path's own.
      if (origCalls === calls) fastOk++;
    }
    expect(fastOk).toBeGreaterThan(1_000);
  });
});
