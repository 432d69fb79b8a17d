/**
 * kinesalite's GetRecords answered from memory.
 *
 * Stock kinesalite answers every GetRecords by streaming the shard's records out
 * of LevelDB: a JSON decode and a sequence-number parse per record, through
 * subleveldown and the `lazy` stream wrapper. Every record a consumer reads costs
 * about as much again as writing it did, and the consumer reads every record
 * a send writes.
 *
 * This keeps, per store, stream and shard, an in-memory mirror of the records
 * the store acknowledged writing (what LevelDB holds, in key order) and answers
 * GetRecords from it when the iterator's position lies in the part of the shard
 * the mirror is known to hold completely. LevelDB stays the store of record: every
 * write still goes there first, and whatever the mirror cannot answer exactly
 * goes to kinesalite's own action, unchanged:
 *
 * - a stream this store created is covered from its first sequence number on;
 * - a fresh process (restart) starts with an empty mirror: a shard's mirror covers
 *   keys from the first write it sees (sequence numbers only grow within a shard,
 *   so nothing older can sit above it); iterators below that are stock's;
 * - records evicted for the memory budget raise the covered floor past them;
 * - closed shards (split, merged), retention deletes (records older than the
 *   stream's retention), invalid or expired iterators, iterators that do not
 *   parse as kinesalite's own, deleted or re-created streams: stock;
 * - any write the mirror cannot place (a key below what it holds, a value of an
 *   unexpected shape, a delete) drops that shard's mirror, and stock serves it.
 *
 * A mirrored answer is what stock computes from the same records: the same
 * Limit (stock has no per-call byte cap either, so neither has this), the same
 * record objects (PartitionKey, Data, ApproximateArrivalTimestamp, SequenceNumber,
 * in that order), NextShardIterator from kinesalite's createShardIterator (so
 * iterators of either path work in the other) and MillisBehindLatest 0, as
 * stock reports for an open shard. test/kinesalite-read-cache.test.ts compares
 * the two, response for response.
 *
 * One difference is deliberate. A GetRecords that finds nothing moves the
 * iterator's time to "now"; a PutRecords already under way (its sequence
 * numbers drawn, its LevelDB write not yet done) may then land in the second
 * before that and be skipped for good. Stock has that race (kinesalite does not
 * lock reads); here an empty answer waits for the puts that were under way when
 * it was asked, then looks again with the same "now".
 *
 * GetShardIterator is left to stock, AT_TIMESTAMP included. (Stock never answers
 * an AT_TIMESTAMP later than the shard's last record; nothing here depends on
 * that, and the tests do not ask for one.)
 *
 * Memory: the mirror holds at most `readCacheBytes` (kinesalite option; default
 * min(256 MB, heap limit / 8)) of estimated record size, evicting a shard's
 * oldest records first, from the shard whose oldest record is oldest.
 */
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import v8 from 'node:v8';

const require = createRequire(import.meta.url);

type Callback = (err: unknown, data?: unknown) => void;
type Action = (store: KinesaliteStore, data: Record<string, unknown>, cb: Callback) => void;

interface SeqObj {
  shardCreateTime: number;
  seqIx?: string | number;
  seqTime?: number;
  shardIx?: number;
  version?: number | null;
}

interface Shard {
  SequenceNumberRange: { StartingSequenceNumber: string; EndingSequenceNumber?: string };
}
interface StreamMeta {
  RetentionPeriodHours: number;
  Shards: Shard[];
}

type LevelCallback = (err?: Error | null) => void;
interface SubLevel {
  batch(ops: unknown, opts?: unknown, cb?: LevelCallback): unknown;
  put(key: unknown, value: unknown, opts?: unknown, cb?: LevelCallback): unknown;
  del(key: unknown, opts?: unknown, cb?: LevelCallback): unknown;
  [HOOKED]?: true;
}

interface KinesaliteStore {
  getStreamDb(name: string): SubLevel;
  getStream(name: string, cb: (err: unknown, stream?: StreamMeta) => void): void;
  recreate(): void;
}

interface KinesaliteDb {
  create(options?: KinesaliteStoreOptions): KinesaliteStore;
  parseSequence(seq: unknown): SeqObj;
  stringifySequence(obj: SeqObj): string;
  incrementSequence(seqObj: SeqObj | string, seqTime?: number | null): string;
  createShardIterator(streamName: string, shardId: string, seq: string): string;
  ITERATOR_PWD_KEY: Buffer;
  ITERATOR_PWD_IV: Buffer;
}

/** The options kinesalite passes on to its store (db.create), with this module's own. */
export interface KinesaliteStoreOptions {
  /** false: this store has no mirror (stock kinesalite). */
  readCache?: boolean;
  /** The mirror's budget in (estimated) bytes; default min(256 MB, heap limit / 8). */
  readCacheBytes?: number;
}

/** A record as GetRecords returns it, property order included. */
interface OutRecord {
  PartitionKey: unknown;
  Data: unknown;
  ApproximateArrivalTimestamp: unknown;
  SequenceNumber: string;
}

const HOOKED = Symbol('kinesalite-read-cache');
const KEY = /^([0-9a-f]{8})\/(\d+)$/;
const DECIMAL = /^\d+$/;
const RECORD_OVERHEAD_BYTES = 200;
const MAX_DEFAULT_BYTES = 256 * 1024 * 1024;
/** The longest an empty GetRecords waits for the puts under way when it was asked. */
const PUT_WAIT_MS = 1_000;

/** Estimated heap bytes of one mirrored record: its strings plus objects and slots. */
function recordBytes(r: OutRecord): number {
  return stringBytes(r.Data) + stringBytes(r.PartitionKey) + r.SequenceNumber.length + RECORD_OVERHEAD_BYTES;
}
function stringBytes(v: unknown): number {
  return typeof v === 'string' ? v.length : 64;
}

class ShardMirror {
  /** Records in key order; the live ones are recs[head..]. */
  recs: OutRecord[] = [];
  /** seqTime (ms, whole seconds, as the key encodes it) of recs[i]. */
  seqTimes: number[] = [];
  head = 0;
  bytes = 0;
  /**
   * The mirror holds every stored record with a key above (or, if inclusive, at) floor, keys
   * compared as LevelDB does (bytewise, which for these ASCII strings is JS string order);
   * '': every record (a stream created by this store); null: nothing known.
   */
  floor: string | null = null;
  floorInclusive = true;

  get size(): number {
    return this.recs.length - this.head;
  }

  covers(seq: string): boolean {
    const f = this.floor;
    if (f === '') return DECIMAL.test(seq);
    if (f === null || seq.length !== f.length || !DECIMAL.test(seq)) return false;
    return this.floorInclusive ? seq >= f : seq > f;
  }

  /** The index of the first live record with a key at or above seq. */
  lowerBound(seq: string): number {
    let lo = this.head;
    let hi = this.recs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.recs[mid]!.SequenceNumber < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Drops the oldest live records until at least `bytes` are freed (or none is left); returns the bytes freed. */
  evict(bytes: number): number {
    let freed = 0;
    let i = this.head;
    while (i < this.recs.length && freed < bytes) freed += recordBytes(this.recs[i++]!);
    if (i === this.head) return 0;
    this.floor = this.recs[i - 1]!.SequenceNumber;
    this.floorInclusive = false;
    this.head = i;
    this.bytes -= freed;
    if (this.head > 4096 && this.head * 2 > this.recs.length) {
      this.recs = this.recs.slice(this.head);
      this.seqTimes = this.seqTimes.slice(this.head);
      this.head = 0;
    }
    return freed;
  }
}

class StreamMirror {
  readonly shards = new Map<number, ShardMirror>();
  /** Shards whose writes the mirror could not place: stock serves them until the stream is deleted. */
  readonly disabled = new Set<number>();
  /** PutRecord/PutRecords calls under way on this stream. */
  readonly pending = new Set<Promise<void>>();
}

class StoreMirror {
  readonly streams = new Map<string, StreamMirror>();
  bytes = 0;
  /** GetRecords answered from the mirror, and by stock. */
  hits = 0;
  misses = 0;

  constructor(
    readonly db: KinesaliteDb,
    readonly budget: number,
  ) {}

  stream(name: string): StreamMirror {
    let s = this.streams.get(name);
    if (!s) this.streams.set(name, (s = new StreamMirror()));
    return s;
  }

  clear(): void {
    this.streams.clear();
    this.bytes = 0;
  }

  dropShard(stream: StreamMirror, shardIx: number, disable = false): void {
    if (disable) stream.disabled.add(shardIx);
    const shard = stream.shards.get(shardIx);
    if (!shard) return;
    this.bytes -= shard.bytes;
    stream.shards.delete(shardIx);
  }

  /** Forgets what the mirror holds of the stream; `disable`: and mirrors none of it until the stream is deleted. */
  dropStream(name: string, disable = false): void {
    const s = this.stream(name);
    for (const ix of [...s.shards.keys()]) this.dropShard(s, ix);
    s.disabled.clear();
    if (disable) s.disabled.add(-1);
  }

  /**
   * A stream this store just created: its shards hold nothing yet. (kinesalite deletes a
   * stream's records before its metadata, and creating one fails while that still exists.)
   */
  created(name: string, shardCount: number): void {
    this.dropStream(name);
    const stream = this.stream(name);
    for (let i = 0; i < shardCount; i++) {
      const shard = new ShardMirror();
      shard.floor = '';
      stream.shards.set(i, shard);
    }
  }

  /** Applies a write LevelDB has acknowledged. */
  apply(name: string, ops: readonly { type?: unknown; key?: unknown; value?: unknown }[]): void {
    const stream = this.stream(name);
    for (const op of ops) {
      const m = typeof op.key === 'string' ? KEY.exec(op.key) : null;
      if (!m) {
        this.dropStream(name, true);
        return;
      }
      const shardIx = parseInt(m[1]!, 16);
      if (op.type === 'put') this.add(stream, shardIx, m[2]!, op.value);
      else this.dropShard(stream, shardIx);
    }
    if (this.bytes > this.budget) this.evictOldest();
  }

  private add(stream: StreamMirror, shardIx: number, seq: string, value: unknown): void {
    if (stream.disabled.size && (stream.disabled.has(shardIx) || stream.disabled.has(-1))) return;
    let shard = stream.shards.get(shardIx);
    const rec = toOutRecord(seq, value);
    if (!rec) {
      this.dropShard(stream, shardIx, true);
      return;
    }
    if (!shard) {
      // The first write this store sees to the shard: its sequence index is above every stored
      // record's (kinesalite draws them from a counter that only grows), so the shard is known
      // from the lowest key of that index on.
      let floor: string;
      try {
        const o = this.db.parseSequence(seq);
        if (o.version !== 2) return;
        floor = this.db.stringifySequence({ shardCreateTime: o.shardCreateTime, shardIx: o.shardIx, seqIx: o.seqIx, seqTime: o.shardCreateTime });
      } catch {
        return;
      }
      if (floor.length !== seq.length || floor > seq) return;
      shard = new ShardMirror();
      shard.floor = floor;
      stream.shards.set(shardIx, shard);
    }
    const last = shard.size ? shard.recs[shard.recs.length - 1]!.SequenceNumber : null;
    if (last !== null && seq === last) {
      // An overwrite of the newest key: LevelDB keeps the new value.
      const i = shard.recs.length - 1;
      const size = recordBytes(rec) - recordBytes(shard.recs[i]!);
      shard.recs[i] = rec;
      shard.seqTimes[i] = seqTimeOf(rec, this.db);
      shard.bytes += size;
      this.bytes += size;
      return;
    }
    if (last !== null ? seq < last : !shard.covers(seq)) {
      // Anything written below what the mirror holds: it can no longer tell what is stored.
      this.dropShard(stream, shardIx, true);
      return;
    }
    const size = recordBytes(rec);
    shard.recs.push(rec);
    shard.seqTimes.push(seqTimeOf(rec, this.db));
    shard.bytes += size;
    this.bytes += size;
  }

  /** Evicts, a slice at a time, from the shard whose oldest record is oldest, down to 90% of the budget. */
  private evictOldest(): void {
    const target = Math.floor(this.budget * 0.9);
    while (this.bytes > target) {
      let oldest: ShardMirror | null = null;
      for (const s of this.streams.values()) {
        for (const shard of s.shards.values()) {
          if (shard.size && (!oldest || shard.seqTimes[shard.head]! < oldest.seqTimes[oldest.head]!)) oldest = shard;
        }
      }
      if (!oldest) return;
      this.bytes -= oldest.evict(Math.max(this.bytes - target, Math.ceil(oldest.bytes / 16)));
    }
  }
}

/** The record GetRecords would return for this stored key and value (the JSON LevelDB would hand back), or null. */
function toOutRecord(seq: string, value: unknown): OutRecord | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  let i = 0;
  let plain = true;
  for (const k in v) {
    if (k !== (i === 0 ? 'PartitionKey' : i === 1 ? 'Data' : i === 2 ? 'ApproximateArrivalTimestamp' : '')) plain = false;
    i++;
  }
  const t = v.ApproximateArrivalTimestamp;
  if (plain && i === 3 && typeof v.PartitionKey === 'string' && typeof v.Data === 'string' && typeof t === 'number' && Number.isFinite(t)) {
    return { PartitionKey: v.PartitionKey, Data: v.Data, ApproximateArrivalTimestamp: t, SequenceNumber: seq };
  }
  // Anything else (a CBOR client's Buffer Data, say) as LevelDB's JSON encoding returns it.
  const round = JSON.parse(JSON.stringify(value)) as unknown;
  if (typeof round !== 'object' || round === null || Array.isArray(round)) return null;
  (round as OutRecord).SequenceNumber = seq;
  return round as OutRecord;
}

/**
 * The record key's seqTime. kinesalite's puts take key and ApproximateArrivalTimestamp from one
 * `now` (ms): the key encodes Math.floor(now / 1000) seconds, the value now / 1000, so the
 * timestamp gives it without parsing the 56-digit key; anything else parses the key.
 */
function seqTimeOf(r: OutRecord, db: KinesaliteDb): number {
  const t = r.ApproximateArrivalTimestamp;
  if (typeof t === 'number' && Number.isFinite(t) && t > 0) return Math.floor(t) * 1000;
  try {
    return db.parseSequence(r.SequenceNumber).seqTime ?? 0;
  } catch {
    return 0;
  }
}

const mirrors = new WeakMap<KinesaliteStore, StoreMirror>();
let enabled = true;
let installed = false;

/**
 * Whether GetRecords may answer from the mirror (default true). Off, every GetRecords is
 * stock's while the mirror keeps following writes: for an A/B in one process.
 */
export function setReadCacheEnabled(on: boolean): void {
  enabled = on;
}

/** The mirror's size, for tests: estimated bytes and live records per stream and shard. */
export function readCacheStats(store: unknown): { bytes: number; budget: number; hits: number; misses: number; shards: Record<string, Record<number, { records: number; floor: string | null }>> } | null {
  const m = mirrors.get(store as KinesaliteStore);
  if (!m) return null;
  const shards: Record<string, Record<number, { records: number; floor: string | null }>> = {};
  for (const [name, s] of m.streams) {
    shards[name] = {};
    for (const [ix, shard] of s.shards) shards[name][ix] = { records: shard.size, floor: shard.floor };
  }
  return { bytes: m.bytes, budget: m.budget, hits: m.hits, misses: m.misses, shards };
}

export function defaultReadCacheBytes(): number {
  return Math.min(MAX_DEFAULT_BYTES, Math.floor(v8.getHeapStatistics().heap_size_limit / 8));
}

function hookSubLevel(sub: SubLevel, mirror: StoreMirror, name: string): SubLevel {
  if (sub[HOOKED]) return sub;
  const { batch, put, del } = sub;
  // kinesalite always passes a callback (and an array to batch); any other use drops the stream's mirror.
  sub.batch = (...args: unknown[]) => {
    const [ops, opts, cb] = typeof args[1] === 'function' ? [args[0], {}, args[1]] : args;
    if (!Array.isArray(ops) || typeof cb !== 'function') {
      mirror.dropStream(name, true);
      return batch.apply(sub, args as never);
    }
    return batch.call(sub, ops, opts ?? {}, (err?: Error | null) => {
      if (!err) mirror.apply(name, ops as { type?: unknown; key?: unknown; value?: unknown }[]);
      (cb as LevelCallback)(err);
    });
  };
  sub.put = (...args: unknown[]) => {
    const [key, value, opts, cb] = typeof args[2] === 'function' ? [args[0], args[1], {}, args[2]] : args;
    if (typeof cb !== 'function') {
      mirror.dropStream(name, true);
      return put.apply(sub, args as never);
    }
    return put.call(sub, key, value, opts ?? {}, (err?: Error | null) => {
      if (!err) mirror.apply(name, [{ type: 'put', key, value }]);
      (cb as LevelCallback)(err);
    });
  };
  sub.del = (...args: unknown[]) => {
    // Whatever the delete's outcome, the mirror no longer claims that shard.
    mirror.apply(name, [{ type: 'del', key: args[0] }]);
    return del.apply(sub, args as never);
  };
  sub[HOOKED] = true;
  return sub;
}

function patchStore(store: KinesaliteStore, mirror: StoreMirror): void {
  const getStreamDb = store.getStreamDb;
  const recreate = store.recreate;
  store.getStreamDb = (name: string) => hookSubLevel(getStreamDb(name), mirror, name);
  // server.listen after server.close reopens the store (a memdown one empty): start over.
  store.recreate = function (this: KinesaliteStore) {
    recreate.call(this);
    mirror.clear();
    patchStore(this, mirror);
  };
}

interface DecodedIterator {
  streamName: string;
  shardId: string;
  shardIx: number;
  seqNo: string;
}

/** The iterator as stock's getRecords reads it, or null for anything stock would refuse (stock then says why). */
function decodeIterator(db: KinesaliteDb, iterator: unknown, now: number): DecodedIterator | null {
  if (typeof iterator !== 'string') return null;
  const buffer = Buffer.from(iterator, 'base64');
  if (buffer.length < 152 || buffer.length > 280 || buffer.toString('base64') !== iterator) return null;
  if (buffer.subarray(0, 8).toString('hex') !== '0000000000000001') return null;
  let pieces: string[];
  try {
    const decipher = crypto.createDecipheriv('aes-256-cbc', db.ITERATOR_PWD_KEY, db.ITERATOR_PWD_IV);
    pieces = Buffer.concat([decipher.update(buffer.subarray(8)), decipher.final()]).toString('utf8').split('/');
  } catch {
    return null;
  }
  if (pieces.length !== 5) return null;
  const iteratorTime = +pieces[0]!;
  const [, streamName, shardId, seqNo] = pieces as [string, string, string, string];
  const shardIx = parseInt(shardId.split('-')[1]!);
  if (!/^shardId-[\d]{12}$/.test(shardId) || !(shardIx >= 0 && shardIx < 2147483648)) return null;
  if (!(iteratorTime > 0 && iteratorTime <= now) || now - iteratorTime > 300000) return null;
  if (!/[a-zA-Z0-9_.-]+/.test(streamName) || !streamName.length || streamName.length > 128) return null;
  return { streamName, shardId, shardIx, seqNo };
}

function cachedGetRecords(stock: Action, db: KinesaliteDb): Action {
  return function getRecords(store, data, cb) {
    const mirror = enabled ? mirrors.get(store) : undefined;
    if (!mirror) return stock(store, data, cb);
    const fallback = (): void => {
      mirror.misses++;
      stock(store, data, cb);
    };
    const now = Date.now();
    const it = decodeIterator(db, data.ShardIterator, now);
    const streamMirror = it && mirror.streams.get(it.streamName);
    if (!it || !streamMirror?.shards.get(it.shardIx)?.covers(it.seqNo)) return fallback();
    let seqObj: SeqObj;
    try {
      seqObj = db.parseSequence(it.seqNo);
    } catch {
      return fallback();
    }
    // The puts under way now: an empty answer waits for them (see the module comment).
    const underWay = [...streamMirror.pending];
    store.getStream(it.streamName, (err, stream) => {
      if (err || !stream || it.shardIx >= stream.Shards.length || stream.Shards[it.shardIx]!.SequenceNumberRange.EndingSequenceNumber) {
        return fallback();
      }
      const limit = typeof data.Limit === 'number' && data.Limit ? data.Limit : 10000;
      const cutoffTime = now - stream.RetentionPeriodHours * 60 * 60 * 1000;
      const answer = (mayWait: boolean): void => {
        // The mirror may have changed while LevelDB answered getStream.
        const shard = mirrors.get(store)?.streams.get(it.streamName)?.shards.get(it.shardIx);
        if (!shard?.covers(it.seqNo)) return fallback();
        const start = shard.lowerBound(it.seqNo);
        const end = Math.min(start + limit, shard.recs.length);
        // Records past retention: stock drops and deletes them.
        for (let i = start; i < end; i++) if (shard.seqTimes[i]! < cutoffTime) return fallback();
        if (start === end && mayWait && underWay.length) {
          // At most PUT_WAIT_MS: a put that never ends must not hold reads (stock would not wait).
          let timer: NodeJS.Timeout | undefined;
          void Promise.race([Promise.all(underWay), new Promise<void>((r) => (timer = setTimeout(r, PUT_WAIT_MS)))]).then(() => {
            clearTimeout(timer);
            answer(false);
          });
          return;
        }
        let nextSeq: string;
        try {
          nextSeq =
            end > start
              ? db.incrementSequence(db.parseSequence(shard.recs[end - 1]!.SequenceNumber), null)
              : db.incrementSequence(seqObj, Math.max(now, seqObj.seqTime ?? 0));
        } catch {
          return fallback();
        }
        mirror.hits++;
        cb(null, {
          MillisBehindLatest: 0,
          NextShardIterator: db.createShardIterator(it.streamName, it.shardId, nextSeq),
          Records: shard.recs.slice(start, end),
        });
      };
      answer(true);
    });
  };
}

/** PutRecord/PutRecords, counted as under way on their stream until they answer. */
function trackedPut(stock: Action): Action {
  return function put(store, data, cb) {
    const mirror = mirrors.get(store);
    if (!mirror || typeof data.StreamName !== 'string') return stock(store, data, cb);
    const pending = mirror.stream(data.StreamName).pending;
    let resolve!: () => void;
    const p = new Promise<void>((r) => (resolve = r));
    pending.add(p);
    stock(store, data, (err, out) => {
      pending.delete(p);
      resolve();
      cb(err, out);
    });
  };
}

/** DeleteStream removes the stream's records (and a re-created stream starts over): drop its mirror. */
function trackedDelete(stock: Action): Action {
  return function deleteStream(store, data, cb) {
    const mirror = mirrors.get(store);
    if (!mirror || typeof data.StreamName !== 'string') return stock(store, data, cb);
    const name = data.StreamName;
    mirror.dropStream(name);
    stock(store, data, (err, out) => {
      mirror.dropStream(name);
      cb(err, out);
    });
  };
}

function trackedCreate(stock: Action): Action {
  return function createStream(store, data, cb) {
    const mirror = mirrors.get(store);
    if (!mirror || typeof data.StreamName !== 'string' || typeof data.ShardCount !== 'number') return stock(store, data, cb);
    const name = data.StreamName;
    const shards = data.ShardCount;
    stock(store, data, (err, out) => {
      if (!err) mirror.created(name, shards);
      cb(err, out);
    });
  };
}

/** Replaces the exports of a kinesalite action module (index.js requires them when it loads). */
function wrapAction(name: string, wrap: (stock: Action) => Action): void {
  const id = require.resolve(`kinesalite/actions/${name}`);
  require(id);
  const mod = require.cache[id]!;
  mod.exports = wrap(mod.exports as Action);
}

/**
 * Installs the mirror into kinesalite (idempotent). Must run before kinesalite's index.js
 * loads (it binds the action modules then); every store created afterwards gets a mirror
 * unless its options say `readCache: false`.
 */
export function installKinesaliteReadCache(): void {
  if (installed) return;
  if (require.cache[require.resolve('kinesalite')]) throw new Error('installKinesaliteReadCache: kinesalite is already loaded');
  installed = true;
  const db = require('kinesalite/db') as KinesaliteDb;
  const create = db.create;
  db.create = function (options?: KinesaliteStoreOptions) {
    const store = create(options);
    if (options?.readCache !== false) {
      const budget = options?.readCacheBytes ?? defaultReadCacheBytes();
      const mirror = new StoreMirror(db, budget);
      mirrors.set(store, mirror);
      patchStore(store, mirror);
    }
    return store;
  };
  wrapAction('getRecords', (stock) => cachedGetRecords(stock, db));
  wrapAction('putRecord', trackedPut);
  wrapAction('putRecords', trackedPut);
  wrapAction('deleteStream', trackedDelete);
  wrapAction('createStream', trackedCreate);
}
