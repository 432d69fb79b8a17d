/**
 * kinesalite's sequence-number and hash-key arithmetic on native BigInt.
 *
 * kinesalite 3.3 does it with bignumber.js (decimal strings of up to 57 digits,
 * parsed and printed digit by digit): parseSequence for every record it stores
 * (the shard's start, once per record) and every record GetRecords returns,
 * stringifySequence for every record stored, an MD5-to-BigNumber per partition
 * key. Profiled under the local-e2e benchmark that was ~9 s of ~41 s of the
 * runtime process's CPU — more than LevelDB, the handler and s3rver together —
 * and it is work the consumer's GetRecords adds to every send.
 *
 * The replacements compute the same strings and objects (test/kinesalite-fast.test.ts
 * compares them with the originals); any input they do not recognise (not a
 * plain decimal string, a hex form BigInt cannot read) goes to the original.
 * kinesalite's actions call these through the `db` module's exports at call
 * time, so replacing the exports is enough; incrementSequence is replaced too
 * because the original calls its siblings directly.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';

interface SeqObj {
  shardCreateTime: number;
  seqIx?: string | number;
  byte1?: string;
  seqTime?: number;
  seqRand?: string;
  shardIx?: number;
  version?: number | null;
}

interface KinesaliteDb {
  parseSequence(seq: unknown): SeqObj;
  stringifySequence(obj: SeqObj): string;
  incrementSequence(seqObj: SeqObj | string, seqTime?: number | null): string;
  partitionKeyToHashKey(partitionKey: string): { comparedTo(other: unknown): number };
  shardIxToHex(shardIx: number | undefined): string;
}

const require = createRequire(import.meta.url);

const P124 = 1n << 124n;
const P124_NEXT = (1n << 125n) * 16n;
const P185 = 1n << 185n;
const P185_NEXT = P185 + (P185 >> 1n);
const DECIMAL = /^\d+$/;
const HEX = /^[0-9a-f]+$/;

/** The originals, for the fallback and for tests. */
export let originalKinesaliteDb: Pick<KinesaliteDb, 'parseSequence' | 'stringifySequence' | 'incrementSequence' | 'partitionKeyToHashKey'> | undefined;

function shardIxToHex(shardIx: number | undefined): string {
  return ('0000000' + (shardIx || 0).toString(16)).slice(-8);
}

/** kinesalite's seqIx: a number or a decimal string; null when BigInt would not read it as bignumber.js does. */
function seqIxBig(v: string | number | undefined): bigint | null {
  const x = v || 0;
  if (typeof x === 'number') return Number.isSafeInteger(x) && x >= 0 ? BigInt(x) : null;
  return typeof x === 'string' && DECIMAL.test(x) ? BigInt(x) : null;
}

export function makeFastKinesaliteDb(orig: Pick<KinesaliteDb, 'parseSequence' | 'stringifySequence'>) {
  // PutRecords parses its shard's starting sequence number once per record: the last few
  // version-2 results, by input, each handed out as a copy (callers may change it).
  const parsed = new Map<string, SeqObj>();
  function parseSequence(seq: unknown): SeqObj {
    const hit = typeof seq === 'string' ? parsed.get(seq) : undefined;
    if (hit) return { ...hit };
    const o = parseSequenceOnce(seq);
    if (o.version === 2) {
      if (parsed.size >= 64) parsed.clear();
      parsed.set(seq as string, { ...o });
    }
    return o;
  }
  function parseSequenceOnce(seq: unknown): SeqObj {
    if (typeof seq !== 'string' || !DECIMAL.test(seq)) return orig.parseSequence(seq);
    let n = BigInt(seq);
    if (n < P124) n += P124;
    const hex = n.toString(16);
    const version = n < P124_NEXT ? 0 : n > P185 && n < P185_NEXT ? parseInt(hex.slice(hex.length - 1), 16) : null;
    if (version === 2) {
      const seqIxHex = hex.slice(11, 27);
      let shardIxHex = hex.slice(38, 46);
      if (parseInt(seqIxHex[0]!, 16) > 7) throw new Error('Sequence index too high');
      if (parseInt(shardIxHex[0]!, 16) > 7) shardIxHex = '-' + shardIxHex;
      const shardCreateSecs = parseInt(hex.slice(1, 10), 16);
      if (shardCreateSecs >= 16025175000) throw new Error('Date too large: ' + shardCreateSecs);
      return {
        shardCreateTime: shardCreateSecs * 1000,
        seqIx: BigInt('0x' + seqIxHex).toString(),
        byte1: hex.slice(27, 29),
        seqTime: parseInt(hex.slice(29, 38), 16) * 1000,
        shardIx: parseInt(shardIxHex, 16),
        version,
      };
    }
    // Versions 0 and 1 (and errors): rare, and the original reads them from the same hex.
    return orig.parseSequence(seq);
  }

  function stringifySequence(obj: SeqObj): string {
    if (obj.version == null || obj.version == 2) {
      const seqIx = seqIxBig(obj.seqIx);
      if (seqIx !== null) {
        const hex = [
          '2',
          ('00000000' + Math.floor(obj.shardCreateTime / 1000).toString(16)).slice(-9),
          (obj.shardIx || 0).toString(16).slice(-1),
          ('0000000000000000' + seqIx.toString(16)).slice(-16),
          obj.byte1 || '00',
          ('00000000' + Math.floor((obj.seqTime || obj.shardCreateTime) / 1000).toString(16)).slice(-9),
          shardIxToHex(obj.shardIx),
          '2',
        ].join('');
        if (HEX.test(hex)) return BigInt('0x' + hex).toString();
      }
    }
    return orig.stringifySequence(obj);
  }

  function incrementSequence(seqObj: SeqObj | string, seqTime?: number | null): string {
    const o = typeof seqObj === 'string' ? parseSequence(seqObj) : seqObj;
    return stringifySequence({
      shardCreateTime: o.shardCreateTime,
      seqIx: o.seqIx,
      seqTime: seqTime || o.seqTime! + 1000,
      shardIx: o.shardIx,
    });
  }

  // Shard hash-key bounds are a handful of decimal strings, compared with every record's key.
  const bounds = new Map<string, bigint>();
  const toBig = (x: unknown): bigint => {
    if (typeof x === 'bigint') return x;
    if (typeof x === 'number') return BigInt(x);
    const s = typeof x === 'string' ? x : String((x as { toFixed(): string }).toFixed());
    let b = bounds.get(s);
    if (b === undefined) {
      b = BigInt(s);
      if (bounds.size < 10_000) bounds.set(s, b);
    }
    return b;
  };
  // Partition keys repeat (a user, a device): their hash keys, up to a bound.
  const hashes = new Map<string, bigint>();
  function partitionKeyToHashKey(partitionKey: string): { comparedTo(other: unknown): number } {
    let v = hashes.get(partitionKey);
    if (v === undefined) {
      v = BigInt('0x' + createHash('md5').update(partitionKey, 'utf8').digest('hex'));
      if (hashes.size >= 20_000) hashes.clear();
      hashes.set(partitionKey, v);
    }
    const hash = v;
    return {
      comparedTo(other: unknown): number {
        const b = toBig(other);
        return hash < b ? -1 : hash > b ? 1 : 0;
      },
    };
  }

  return { parseSequence, stringifySequence, incrementSequence, partitionKeyToHashKey };
}

/** Replaces kinesalite's bignumber.js arithmetic with the BigInt versions (idempotent). */
export function installFastKinesaliteDb(): void {
  const db = require('kinesalite/db') as KinesaliteDb;
  if (originalKinesaliteDb) return;
  originalKinesaliteDb = {
    parseSequence: db.parseSequence,
    stringifySequence: db.stringifySequence,
    incrementSequence: db.incrementSequence,
    partitionKeyToHashKey: db.partitionKeyToHashKey,
  };
  Object.assign(db, makeFastKinesaliteDb(originalKinesaliteDb));
}

type LevelCallback = (err?: Error | null, value?: unknown) => void;
interface MetaSubLevel {
  get(...args: unknown[]): unknown;
  put(...args: unknown[]): unknown;
  del(...args: unknown[]): unknown;
  isOpen?(): boolean;
  [META_CACHED]?: true;
}
interface MetaStore {
  metaDb: MetaSubLevel;
  recreate(): void;
}
const META_CACHED = Symbol('kinesalite-meta-cache');

/**
 * Streams' metadata (kinesalite's `meta` sublevel: one JSON document per stream,
 * shards and sequence counters) served from memory. Every PutRecords,
 * GetRecords and GetShardIterator reads it first (store.getStream), and under
 * the local-e2e benchmark those LevelDB gets were the largest single cost of
 * the kinesalite process. The cache holds the JSON text LevelDB holds (what
 * encoding-down wrote), filled by acknowledged writes and by reads, and each get
 * answers JSON.parse of it, as LevelDB's get would: a fresh object (callers
 * modify it), asynchronously. A key with a write or delete under way is read
 * from LevelDB until the last of them is done; a delete forgets the key.
 */
export function cacheKinesaliteMeta(metaDb: MetaSubLevel): void {
  if (metaDb[META_CACHED]) return;
  metaDb[META_CACHED] = true;
  const { get, put, del } = metaDb;
  const text = new Map<string, string>();
  /** Writes and deletes under way per key. */
  const writing = new Map<string, number>();
  /** Per key, how many writes and deletes have begun (plus `epoch`, bumped when the whole cache is dropped): a read or write that began before another does not fill the cache. */
  const version = new Map<string, number>();
  let epoch = 0;
  const stamp = (key: string): string => `${epoch}:${version.get(key) ?? 0}`;
  const begin = (key: string): string => {
    text.delete(key);
    writing.set(key, (writing.get(key) ?? 0) + 1);
    version.set(key, (version.get(key) ?? 0) + 1);
    return stamp(key);
  };
  const end = (key: string): void => {
    const n = writing.get(key)! - 1;
    if (n) writing.set(key, n);
    else writing.delete(key);
  };
  const dropAll = (): void => {
    text.clear();
    epoch++;
  };
  metaDb.get = (...args: unknown[]) => {
    const [key, cb] = args;
    if (args.length !== 2 || typeof key !== 'string' || typeof cb !== 'function') return get.apply(metaDb, args);
    const cached = writing.has(key) ? undefined : text.get(key);
    if (cached !== undefined) {
      process.nextTick(cb as LevelCallback, null, JSON.parse(cached));
      return undefined;
    }
    // Only a read that no write overlapped (none under way at its start, none begun since)
    // read what is stored now: one that began during a write may return the value before it.
    const fill = !writing.has(key);
    const before = stamp(key);
    return get.call(metaDb, key, (err: Error | null, value: unknown) => {
      if (fill && !err && !writing.has(key) && stamp(key) === before) text.set(key, JSON.stringify(value));
      (cb as LevelCallback)(err, value);
    });
  };
  metaDb.put = (...args: unknown[]) => {
    const [key, value, cb] = args;
    if (args.length !== 3 || typeof key !== 'string' || typeof cb !== 'function') {
      dropAll();
      return put.apply(metaDb, args);
    }
    // An open database encodes at the call, so later changes to the object are not what is
    // stored; while it is still opening, levelup defers the put (and its encoding): no cache.
    const json = metaDb.isOpen?.() ? JSON.stringify(value) : undefined;
    const mine = begin(key);
    return put.call(metaDb, key, value, (err?: Error | null) => {
      end(key);
      if (json !== undefined && !err && !writing.has(key) && stamp(key) === mine) text.set(key, json);
      (cb as LevelCallback)(err);
    });
  };
  metaDb.del = (...args: unknown[]) => {
    const [key, cb] = args;
    if (args.length !== 2 || typeof key !== 'string' || typeof cb !== 'function') {
      dropAll();
      return del.apply(metaDb, args);
    }
    begin(key);
    return del.call(metaDb, key, (err?: Error | null) => {
      end(key);
      (cb as LevelCallback)(err);
    });
  };
}

/** Caches every kinesalite store's stream metadata (cacheKinesaliteMeta; idempotent, before kinesalite's stores are created). */
export function installKinesaliteMetaCache(): void {
  const db = require('kinesalite/db') as { create(options?: object): MetaStore; [META_CACHED]?: true };
  if (db[META_CACHED]) return;
  db[META_CACHED] = true;
  const create = db.create;
  const patch = (store: MetaStore): void => {
    cacheKinesaliteMeta(store.metaDb);
    const recreate = store.recreate;
    store.recreate = function (this: MetaStore) {
      recreate.call(this);
      patch(this);
    };
  };
  db.create = (options?: object) => {
    const store = create(options);
    patch(store);
    return store;
  };
}

type Validate = {
  checkTypes(data: unknown, types: unknown): unknown;
  checkValidations(data: unknown, types: unknown, custom?: unknown, operation?: string): void;
};

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const B64_VALUE = new Int8Array(128).fill(-1);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((c, i) => (B64_VALUE[c.charCodeAt(0)] = i));

/**
 * Bytes of `s` as kinesalite's Blob check reads it (length a multiple of 4, base64
 * characters, and `Buffer.from(s, 'base64').toString('base64') === s`), or -1 when
 * that is not certain here: canonical base64, whose unused bits of the last
 * character before padding are zero.
 */
export function canonicalBase64Bytes(s: string): number {
  const n = s.length;
  if (n % 4 || !BASE64.test(s)) return -1;
  if (n === 0 || s.charCodeAt(n - 1) !== 61) return (n / 4) * 3;
  const pad = s.charCodeAt(n - 2) === 61 ? 2 : 1;
  const last = B64_VALUE[s.charCodeAt(n - 1 - pad)]!;
  if (last < 0 || (last & (pad === 2 ? 15 : 3)) !== 0) return -1;
  return (n / 4) * 3 - pad;
}

/**
 * kinesalite's request checks (validations/index.js: checkTypes, then checkValidations)
 * for PutRecords, without what makes them costly per record: the Blob check decodes
 * and re-encodes every record's Data, and its length check decodes it again. A
 * request whose every part is of the plain form (strings where strings go, Data
 * canonical base64, nothing else) and within every limit gets the object the
 * original would build; anything else, valid or not, goes to the originals, which
 * say what is wrong in their words. test/kinesalite-fast.test.ts compares both.
 */
export function makeFastKinesaliteValidation(orig: Validate, putRecordsTypes: unknown): Validate {
  const passed = new WeakSet<object>();
  const hashKeyPattern = /^0|([1-9]\d{0,38})$/; // kinesalite's RegExp('^' + pattern + '$'), as it reads
  const streamNamePattern = /^[a-zA-Z0-9_.-]+$/;
  const fastPutRecords = (data: unknown): object | null => {
    if (typeof data !== 'object' || data === null) return null;
    let keys = 0;
    for (const k in data) {
      if (k !== 'Records' && k !== 'StreamName') return null;
      keys++;
    }
    const { Records: records, StreamName: name } = data as { Records?: unknown; StreamName?: unknown };
    if (keys !== 2 || !Array.isArray(records) || typeof name !== 'string') return null;
    if (records.length < 1 || records.length > 500 || name.length < 1 || name.length > 128 || !streamNamePattern.test(name)) return null;
    const out = new Array<object>(records.length);
    for (let i = 0; i < records.length; i++) {
      const r = records[i] as { PartitionKey?: unknown; ExplicitHashKey?: unknown; Data?: unknown } | null;
      if (typeof r !== 'object' || r === null || Array.isArray(r)) return null;
      let n = 0;
      for (const k in r) {
        if (k !== 'PartitionKey' && k !== 'Data' && k !== 'ExplicitHashKey') return null;
        n++;
      }
      const { PartitionKey: pk, Data: d, ExplicitHashKey: ehk } = r;
      if (typeof pk !== 'string' || typeof d !== 'string' || pk.length < 1 || pk.length > 256) return null;
      const bytes = canonicalBase64Bytes(d);
      if (bytes < 0 || bytes > 1048576) return null;
      if (ehk === undefined) {
        if (n !== 2) return null;
        out[i] = { PartitionKey: pk, Data: d };
      } else {
        if (typeof ehk !== 'string' || !hashKeyPattern.test(ehk)) return null;
        out[i] = { PartitionKey: pk, ExplicitHashKey: ehk, Data: d };
      }
    }
    return { Records: out, StreamName: name };
  };
  return {
    checkTypes(data, types) {
      if (types === putRecordsTypes) {
        const out = fastPutRecords(data);
        if (out) {
          passed.add(out);
          return out;
        }
      }
      return orig.checkTypes(data, types);
    },
    checkValidations(data, types, custom, operation) {
      if (types === putRecordsTypes && typeof data === 'object' && data !== null && passed.has(data) && custom == null) return;
      orig.checkValidations(data, types, custom, operation);
    },
  };
}

/** Installs makeFastKinesaliteValidation into kinesalite's validations module (idempotent). */
export function installFastKinesaliteValidation(): void {
  const v = require('kinesalite/validations') as Validate & { [META_CACHED]?: true };
  if (v[META_CACHED]) return;
  v[META_CACHED] = true;
  const putRecords = require('kinesalite/validations/putRecords') as { types: unknown };
  Object.assign(v, makeFastKinesaliteValidation({ checkTypes: v.checkTypes, checkValidations: v.checkValidations }, putRecords.types));
}
