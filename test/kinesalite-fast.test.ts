import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { makeFastKinesaliteDb } from '../local/services/kinesalite-fast';

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
