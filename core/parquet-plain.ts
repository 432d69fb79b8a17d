/**
 * A Parquet writer for lake tables: one row group, one column chunk per
 * column, one v1 data page per chunk, PLAIN values (a string column of at
 * most 16 distinct values: a dictionary page, then PLAIN_DICTIONARY
 * indices), RLE / bit-packed hybrid
 * levels (every column OPTIONAL: max definition level 1; an array<bigint>
 * column is the standard 3-level LIST, max repetition level 1, max definition
 * level 2), Thrift compact protocol for the page headers and the footer.
 * Spec: apache/parquet-format `src/main/thrift/parquet.thrift`, `Encodings.md`,
 * and Thrift's `compact-protocol.md`.
 *
 * Why it exists: the raw table is written once per event on the handler's hot
 * path, and hyparquet-writer's general path (dictionary sampling, Dremel
 * shredding, a row-by-row value array per column) ran at ~200k rows/s, below
 * the 250k events/s goal for the whole handler. This writer reads each row
 * once into per-column arrays (a generated splitter), then each value once
 * from there into the page buffer (strings as UTF-8 with an ASCII fast path),
 * and keeps min/max/null_count on the way. Numbers in
 * docs/deps-parquet.md. List columns (the partials table's KMV sketches) came
 * later: hyparquet-writer shreds a list value by value through generic Dremel
 * code and ran at ~11k rows/s on 50-value sketches, an order of magnitude
 * more time than the whole engine spent on the batch's events.
 */
import { maxCompressedLength, snappyCompressInto } from './snappy-block';
import type { LakeColumn } from './lake-table';

/**
 * Checks a value the fast path did not accept (wrong JS type, BigInt, out of
 * range) and returns it in canonical form, or throws the LakeEncodeError the
 * caller wants. core/encode.ts passes its parquetValue, so both writers
 * give the same error messages.
 */
export type ValueCheck = (value: unknown, col: LakeColumn, rowIndex: number) => unknown;

/** Page compression. Codec numbers from parquet.thrift `CompressionCodec`. */
export type PlainCodec = 'uncompressed' | 'snappy' | 'gzip';
const CODEC_ID: Record<PlainCodec, number> = { uncompressed: 0, snappy: 1, gzip: 2 };

// parquet.thrift enums
const TYPE_BOOLEAN = 0;
const TYPE_INT32 = 1;
const TYPE_INT64 = 2;
const TYPE_DOUBLE = 5;
const TYPE_BYTE_ARRAY = 6;
const REPETITION_REQUIRED = 0;
const REPETITION_OPTIONAL = 1;
const REPETITION_REPEATED = 2;
const CONVERTED_UTF8 = 0;
const CONVERTED_LIST = 3;
const CONVERTED_TIMESTAMP_MILLIS = 9;
const ENCODING_PLAIN = 0;
const ENCODING_PLAIN_DICTIONARY = 2;
const ENCODING_RLE = 3;
const PAGE_DATA = 0;
const PAGE_DICTIONARY = 2;

// Thrift compact protocol type ids
const CT_I32 = 5;
const CT_I64 = 6;
const CT_BINARY = 8;
const CT_LIST = 9;
const CT_STRUCT = 12;

const TWO_32 = 4294967296;

/** A growing byte buffer. Callers `reserve` before writing through `buf`/`view` directly. */
class ByteSink {
  buf: Uint8Array;
  view: DataView;
  pos = 0;
  constructor(capacity: number) {
    this.buf = new Uint8Array(Math.max(capacity, 64));
    this.view = new DataView(this.buf.buffer);
  }
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  byte(b: number): void {
    this.reserve(1);
    this.buf[this.pos++] = b;
  }
  bytes(b: Uint8Array): void {
    this.append(b, b.length);
  }
  /** Appends src[0, len). */
  append(src: Uint8Array, len: number): void {
    this.reserve(len);
    copyBytes(src, len, this.buf, this.pos);
    this.pos += len;
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  /** Unsigned LEB128 of a non-negative integer up to 2^53. */
  varint(v: number): void {
    this.reserve(10);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }
}

/**
 * Copies src[0, len) to dst at `at`. Short runs by hand: a small file's pages, headers and level
 * blocks are tens of bytes, where a subarray view plus TypedArray#set per copy cost more than the copy.
 */
function copyBytes(src: Uint8Array, len: number, dst: Uint8Array, at: number): void {
  if (len < 64) for (let k = 0; k < len; k++) dst[at + k] = src[k]!;
  else dst.set(src.subarray(0, len), at);
}

/** Thrift compact protocol, only what parquet.thrift's structs need. */
class CompactWriter {
  private last = 0;
  private readonly stack: number[] = [];
  constructor(readonly out: ByteSink) {}
  private field(id: number, type: number): void {
    const delta = id - this.last;
    if (delta > 0 && delta <= 15) this.out.byte((delta << 4) | type);
    else {
      this.out.byte(type);
      this.out.varint(zigzag(id));
    }
    this.last = id;
  }
  i32(id: number, v: number): void {
    this.field(id, CT_I32);
    this.out.varint(zigzag(v));
  }
  i64(id: number, v: number): void {
    this.field(id, CT_I64);
    this.out.varint(zigzag(v));
  }
  binary(id: number, b: Uint8Array): void {
    this.field(id, CT_BINARY);
    this.out.varint(b.length);
    this.out.bytes(b);
  }
  string(id: number, s: string): void {
    this.binary(id, utf8Name(s));
  }
  struct(id: number, body: () => void): void {
    this.field(id, CT_STRUCT);
    this.inStruct(body);
  }
  /** A struct without a field header of its own: a list element, or a top-level message (PageHeader, FileMetaData). */
  inStruct(body: () => void): void {
    this.stack.push(this.last);
    this.last = 0;
    body();
    this.out.byte(0); // STOP
    this.last = this.stack.pop()!;
  }
  list(id: number, elemType: number, size: number): void {
    this.field(id, CT_LIST);
    if (size < 15) this.out.byte((size << 4) | elemType);
    else {
      this.out.byte(0xf0 | elemType);
      this.out.varint(size);
    }
  }
  structList<T>(id: number, items: readonly T[], each: (item: T) => void): void {
    this.list(id, CT_STRUCT, items.length);
    for (const item of items) this.inStruct(() => each(item));
  }
}

function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

const utf8 = new TextEncoder();

/**
 * UTF-8 of the footer's names, cached: a table has a handful, and encoding
 * them anew for every file (a call into TextEncoder each) was a visible share
 * of writing a batch's small partials file.
 */
const names = new Map<string, Uint8Array>();
function utf8Name(s: string): Uint8Array {
  let b = names.get(s);
  if (!b) {
    if (names.size > 10_000) names.clear(); // many schemas in one process: bounded, not a leak
    names.set(s, (b = utf8.encode(s)));
  }
  return b;
}

/** Min/max as PLAIN-encoded bytes (parquet.thrift `Statistics.min_value`), null when there is none to give. */
interface ChunkStats {
  /** Level entries in the chunk: one per row, except a list of k ≥ 1 elements gives k. */
  readonly numValues: number;
  /** Entries without a value: null rows, and for lists also empty lists (parquet-mr counts both at the leaf). */
  readonly nullCount: number;
  readonly min: Uint8Array | null;
  readonly max: Uint8Array | null;
  /**
   * Set when the column was dictionary-encoded: `scratch` then holds the
   * dictionary page body (the distinct values, PLAIN) and `dictIds` the page's
   * index per non-null value.
   */
  readonly dictionary?: { readonly size: number; readonly ids: number };
}

interface Chunk {
  readonly col: LakeColumn;
  readonly physicalType: number;
  /** The data page's offset; a dictionary page, if any, sits right before it at dictionaryOffset. */
  readonly pageOffset: number;
  readonly dictionaryOffset: number | null;
  readonly uncompressedSize: number; // page headers + page bodies
  readonly compressedSize: number;
  readonly stats: ChunkStats;
}

/** Page body scratch, reused across calls: the writer is synchronous, and a fresh 1 MiB buffer per column was GC work for nothing. */
const scratch = new ByteSink(1 << 16);
/** The file being written, and a page's levels + values before compression: reused for the same reason. */
const fileSink = new ByteSink(1 << 16);
let pageBuf = new Uint8Array(1 << 16);
/** A page after Snappy, before it is copied behind its header (whose size depends on it). */
let packedBuf = new Uint8Array(1 << 16);
/** Definition-level bits, one per row, LSB first (the hybrid's bit-packed run layout). */
let defBits = new Uint8Array(1 << 12);
/** The page's level section, v1 layout: [u32 length, repetition levels] for lists, then [u32 length, definition levels]. */
const levelSink = new ByteSink(1 << 12);

/**
 * RLE runs of the RLE / bit-packed hybrid (Encodings.md), for list levels:
 * they come in long runs (a 200-value sketch is 0 then 199 ones, and 200 twos),
 * where one run header and one value byte beat 200 bit-packed bits. Levels
 * here are < 256, so the value takes one byte (ceil(bit width / 8)).
 */
class LevelRuns {
  private value = -1;
  private count = 0;
  private lengthAt = 0;
  constructor(private readonly out: ByteSink) {}
  /** Starts a level block: its 4-byte length is patched in by end(). Resets the run a thrown check() may have left open. */
  begin(): void {
    this.value = -1;
    this.count = 0;
    this.lengthAt = this.out.pos;
    this.out.u32(0);
  }
  add(value: number, count: number): void {
    if (value === this.value) {
      this.count += count;
      return;
    }
    this.flush();
    this.value = value;
    this.count = count;
  }
  end(): void {
    this.flush();
    this.value = -1;
    this.out.view.setUint32(this.lengthAt, this.out.pos - this.lengthAt - 4, true);
  }
  private flush(): void {
    if (this.count === 0) return;
    this.out.varint(this.count * 2); // run header: count << 1, low bit 0 = RLE run
    this.out.byte(this.value);
    this.count = 0;
  }
}
const listRepSink = new ByteSink(1 << 10);
const listDefSink = new ByteSink(1 << 10);
const repRuns = new LevelRuns(listRepSink);
const defRuns = new LevelRuns(listDefSink);

/**
 * Statistics values are written through one shared DataView and copied out: a DataView on a fresh
 * 8-byte array makes V8 move that array's bytes off the heap (`.buffer`), which made int64Bytes
 * ~5 % of writing a partials file.
 */
const statView = new DataView(new ArrayBuffer(8));
const statBytes = new Uint8Array(statView.buffer);

function int64Bytes(v: number | bigint): Uint8Array {
  if (typeof v === 'bigint') statView.setBigInt64(0, v, true);
  else {
    const hi = Math.floor(v / TWO_32);
    statView.setUint32(0, v - hi * TWO_32, true);
    statView.setInt32(4, hi, true);
  }
  return statBytes.slice(0, 8);
}

function int32Bytes(v: number): Uint8Array {
  statView.setInt32(0, v, true);
  return statBytes.slice(0, 4);
}

function doubleBytes(v: number): Uint8Array {
  statView.setFloat64(0, v, true);
  return statBytes.slice(0, 8);
}

/** Unsigned byte-wise comparison of buf[a, a+alen) and buf[b, b+blen): Parquet's order for UTF8 min/max. */
function compareBytes(buf: Uint8Array, a: number, alen: number, b: number, blen: number): number {
  const n = alen < blen ? alen : blen;
  for (let k = 0; k < n; k++) {
    const d = buf[a + k]! - buf[b + k]!;
    if (d !== 0) return d;
  }
  return alen - blen;
}

/**
 * Most distinct values a dictionary-encoded column may have. The dictionary is
 * searched linearly with ===: a Map keyed by the rows' strings (built by the
 * JSON scanner, so not internalized: each lookup hashes the string) measured
 * slower than writing them PLAIN for a 280-of-840 user id column, where
 * Snappy already finds the repeats. Up to 16 values (a category, a country,
 * an event type), a search is a few pointer or short string compares and
 * each row shrinks to ≤ 4 bits.
 */
const MAX_DICTIONARY = 16;
const dictValues: string[] = [];
/** Dictionary index of each non-null value, in row order. */
let dictIds = new Uint8Array(1 << 12);

/**
 * Dictionary-encodes a string column (Encodings.md, "Dictionary Encoding"):
 * each distinct value once, PLAIN, into `scratch`, its index per row into
 * `dictIds`; min/max are compared once per distinct value. Returns null,
 * leaving defBits and scratch for writeValues to reset, once a column shows
 * more than MAX_DICTIONARY distinct values (an id column does by its 17th row).
 */
function writeStringDictionary(col: LakeColumn, vals: readonly unknown[], n: number, check: ValueCheck): ChunkStats | null {
  const s = scratch;
  s.pos = 0;
  const values = dictValues;
  values.length = 0;
  if (dictIds.length < n) dictIds = new Uint8Array(n * 2);
  const ids = dictIds;
  let count = 0;
  let nulls = 0;
  let minAt = -1;
  let minLen = 0;
  let maxAt = -1;
  let maxLen = 0;
  for (let i = 0; i < n; i++) {
    const raw = vals[i];
    let v: string;
    if (typeof raw === 'string') v = raw;
    else {
      if (raw === null || raw === undefined) {
        nulls++;
        continue;
      }
      v = check(raw, col, i) as string;
    }
    defBits[i >> 3]! |= 1 << (i & 7);
    const size = values.length;
    let id = 0;
    while (id < size && values[id] !== v) id++;
    if (id === size) {
      if (size === MAX_DICTIONARY) return null;
      values.push(v);
      const start = writeUtf8(s, v);
      const len = s.pos - start;
      if (minAt < 0) {
        minAt = maxAt = start;
        minLen = maxLen = len;
      } else if (compareBytes(s.buf, start, len, minAt, minLen) < 0) {
        minAt = start;
        minLen = len;
      } else if (compareBytes(s.buf, start, len, maxAt, maxLen) > 0) {
        maxAt = start;
        maxLen = len;
      }
    }
    ids[count++] = id;
  }
  if (count === 0) return null;
  const buf = s.buf;
  return {
    numValues: n,
    nullCount: nulls,
    min: buf.slice(minAt, minAt + minLen),
    max: buf.slice(maxAt, maxAt + maxLen),
    dictionary: { size: values.length, ids: count },
  };
}

/** Appends one PLAIN BYTE_ARRAY (u32 length, UTF-8) to `s`; returns where its bytes start. */
function writeUtf8(s: ByteSink, v: string): number {
  const len16 = v.length;
  s.reserve(4 + len16 * 3); // UTF-16 unit → at most 3 UTF-8 bytes
  const buf = s.buf;
  const start = s.pos + 4;
  let p = start;
  let k = 0;
  for (; k < len16; k++) {
    const c = v.charCodeAt(k);
    if (c >= 0x80) break;
    buf[p++] = c;
  }
  if (k < len16) p = start + utf8.encodeInto(v, buf.subarray(start)).written;
  s.view.setUint32(start - 4, p - start, true);
  s.pos = p;
  return start;
}

/**
 * The data page body of a dictionary-encoded column after its levels: the
 * index bit width, then the indices as bit-packed runs of the RLE / bit-packed
 * hybrid (Encodings.md), LSB first, the last group padded with zeros (readers
 * stop at the page's value count).
 */
function writeDictionaryIds(out: ByteSink, ids: Uint8Array, count: number, size: number): void {
  // Bit width 1 for a one-value dictionary too: 0 is legal, but not every reader takes it.
  let width = 1;
  while (1 << width < size) width++;
  const groups = (count + 7) >> 3;
  out.reserve(1 + 10 + groups * width);
  out.byte(width);
  out.varint(groups * 2 + 1);
  const buf = out.buf;
  let p = out.pos;
  let acc = 0; // pending bits: fewer than 8 after each flush, plus width ≤ 4, so they fit an int
  let bits = 0;
  for (let k = 0; k < count; k++) {
    acc |= ids[k]! << bits;
    bits += width;
    if (bits >= 8) {
      buf[p++] = acc & 0xff;
      acc >>>= 8;
      bits -= 8;
    }
  }
  // Pad the last group of 8 with zero indices, which readers ignore past the page's value count.
  const end = out.pos + groups * width;
  if (bits > 0) buf[p++] = acc;
  while (p < end) buf[p++] = 0;
  out.pos = p;
}

/** Copies each row's value of each column into a new array per column (`[c][i]`), one pass over the rows. */
type ColumnSplitter = (rows: readonly Readonly<Record<string, unknown>>[]) => unknown[][];
interface SplitColumns {
  readonly names: readonly string[];
  /**
   * Fresh arrays per file. Arrays reused across files measured 3-6 % faster on rows that had
   * been in memory for a while, but on the handler's fresh rows no faster (every store became an
   * old-to-new pointer for the GC to track), and they kept the last file's values alive.
   */
  readonly split: ColumnSplitter;
}
const splitters = new Map<string, SplitColumns>();
/** By column array: a handler writes every file of a table with the same array, so most calls build no key. */
const splittersByArray = new WeakMap<readonly LakeColumn[], SplitColumns>();

/**
 * The splitter for a column list, generated once: in writeValues `rows[i][name]`, with `name` varying
 * per column, was a megamorphic keyed load (a stub-cache probe per value, ~20 % of writeValues' self
 * time), and one pass per column touched every row object once per column. The generated loop reads
 * each row once, with one named load per column that stays monomorphic (every row of a batch has
 * the shape the engine's row factory gives it).
 */
function columnSplitter(columns: readonly LakeColumn[]): SplitColumns {
  const known = splittersByArray.get(columns);
  if (known && sameNames(known.names, columns)) return known;
  const names = columns.map((c) => c.name);
  const key = JSON.stringify(names);
  let split = splitters.get(key);
  if (!split) {
    if (splitters.size > 1000) splitters.clear(); // many schemas in one process: bounded, not a leak
    const body =
      'const n = rows.length;\n' +
      names.map((_, c) => `const c${c} = new Array(n);\n`).join('') +
      'for (let i = 0; i < n; i++) {\n  const r = rows[i];\n' +
      names.map((name, c) => `  c${c}[i] = r[${JSON.stringify(name)}];\n`).join('') +
      `}\nreturn [${names.map((_, c) => `c${c}`).join(', ')}];`;
    split = { names, split: new Function('rows', body) as ColumnSplitter };
    splitters.set(key, split);
  }
  splittersByArray.set(columns, split);
  return split;
}

/** Whether the array still has the names its splitter was made for (an array changed in place must not reuse it). */
function sameNames(names: readonly string[], columns: readonly LakeColumn[]): boolean {
  if (names.length !== columns.length) return false;
  for (let c = 0; c < names.length; c++) if (names[c] !== columns[c]!.name) return false;
  return true;
}

/**
 * Writes the PLAIN values of one column into `scratch` and the definition bits
 * into `defBits`; returns the statistics. The loops are per type so each stays
 * monomorphic.
 */
function writeValues(col: LakeColumn, vals: readonly unknown[], n: number, check: ValueCheck): ChunkStats {
  const s = scratch;
  s.pos = 0;
  let nulls = 0;
  switch (col.type) {
    case 'string': {
      const dictionary = writeStringDictionary(col, vals, n, check);
      if (dictionary) return dictionary;
      defBits.fill(0, 0, (n + 7) >> 3);
      s.pos = 0;
      // min/max are kept as offsets into the page buffer (they survive its growth); -1 = none yet
      let minAt = -1;
      let minLen = 0;
      let maxAt = -1;
      let maxLen = 0;
      // While every value is ASCII, JS string order (UTF-16 units) is Parquet's byte order and one
      // builtin compare beats a byte loop over the page; the first non-ASCII value switches to bytes.
      let ascii = true;
      let minStr = '';
      let maxStr = '';
      for (let i = 0; i < n; i++) {
        const raw = vals[i];
        let v: string;
        if (typeof raw === 'string') v = raw;
        else {
          if (raw === null || raw === undefined) {
            nulls++;
            continue;
          }
          v = check(raw, col, i) as string;
        }
        defBits[i >> 3]! |= 1 << (i & 7);
        const start = writeUtf8(s, v);
        const len = s.pos - start;
        // As many UTF-8 bytes as UTF-16 units only when every unit is ASCII.
        if (len !== v.length) ascii = false;
        const buf = s.buf;
        if (minAt < 0) {
          minAt = maxAt = start;
          minLen = maxLen = len;
          minStr = maxStr = v;
        } else if (ascii) {
          if (v < minStr) {
            minStr = v;
            minAt = start;
            minLen = len;
          } else if (v > maxStr) {
            maxStr = v;
            maxAt = start;
            maxLen = len;
          }
        } else if (compareBytes(buf, start, len, minAt, minLen) < 0) {
          minAt = start;
          minLen = len;
        } else if (compareBytes(buf, start, len, maxAt, maxLen) > 0) {
          maxAt = start;
          maxLen = len;
        }
      }
      const buf = s.buf;
      return minAt < 0
        ? { numValues: n, nullCount: nulls, min: null, max: null }
        : { numValues: n, nullCount: nulls, min: buf.slice(minAt, minAt + minLen), max: buf.slice(maxAt, maxAt + maxLen) };
    }
    case 'int': {
      s.reserve(n * 4);
      const view = s.view;
      let p = 0;
      let min = Infinity;
      let max = -Infinity;
      for (let i = 0; i < n; i++) {
        const raw = vals[i];
        let v: number;
        if (typeof raw === 'number' && (raw | 0) === raw) v = raw;
        else {
          if (raw === null || raw === undefined) {
            nulls++;
            continue;
          }
          v = check(raw, col, i) as number;
        }
        defBits[i >> 3]! |= 1 << (i & 7);
        view.setInt32(p, v, true);
        p += 4;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      s.pos = p;
      if (p === 0) return { numValues: n, nullCount: nulls, min: null, max: null };
      return { numValues: n, nullCount: nulls, min: int32Bytes(min), max: int32Bytes(max) };
    }
    case 'bigint':
    case 'timestamp': {
      s.reserve(n * 8);
      const view = s.view;
      let p = 0;
      let min: number | bigint = Infinity;
      let max: number | bigint = -Infinity;
      for (let i = 0; i < n; i++) {
        const raw = vals[i];
        let v: number | bigint;
        if (typeof raw === 'number' && Number.isSafeInteger(raw)) v = raw;
        else {
          if (raw === null || raw === undefined) {
            nulls++;
            continue;
          }
          // For 'bigint' a BigInt in the INT64 range comes back as is; anything else throws.
          v = check(raw, col, i) as number | bigint;
        }
        defBits[i >> 3]! |= 1 << (i & 7);
        if (typeof v === 'number') {
          const hi = Math.floor(v / TWO_32);
          view.setUint32(p, v - hi * TWO_32, true);
          view.setInt32(p + 4, hi, true);
        } else {
          view.setBigInt64(p, v, true);
        }
        p += 8;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      s.pos = p;
      if (p === 0) return { numValues: n, nullCount: nulls, min: null, max: null };
      return { numValues: n, nullCount: nulls, min: int64Bytes(min), max: int64Bytes(max) };
    }
    case 'double': {
      s.reserve(n * 8);
      const view = s.view;
      let p = 0;
      let min = Infinity;
      let max = -Infinity;
      let nan = false;
      for (let i = 0; i < n; i++) {
        const raw = vals[i];
        let v: number;
        if (typeof raw === 'number') v = raw;
        else {
          if (raw === null || raw === undefined) {
            nulls++;
            continue;
          }
          v = check(raw, col, i) as number;
        }
        defBits[i >> 3]! |= 1 << (i & 7);
        view.setFloat64(p, v, true);
        p += 8;
        if (v < min) min = v;
        if (v > max) max = v;
        if (v !== v) nan = true;
      }
      s.pos = p;
      // parquet.thrift Statistics: NaN never in min/max; if every value is NaN there are none. Older readers
      // may compare with NaN present, so with any NaN we leave min/max out (null_count still helps).
      if (p === 0 || nan || min > max) return { numValues: n, nullCount: nulls, min: null, max: null };
      // Zeros: min is written as -0.0 and max as +0.0 (parquet.thrift, ColumnOrder notes).
      return { numValues: n, nullCount: nulls, min: doubleBytes(min === 0 ? -0 : min), max: doubleBytes(max === 0 ? 0 : max) };
    }
    case 'boolean': {
      // PLAIN BOOLEAN: bit-packed, LSB first, one bit per non-null value.
      s.reserve((n >> 3) + 1);
      const buf = s.buf;
      buf.fill(0, 0, (n >> 3) + 1);
      let count = 0;
      let sawTrue = false;
      let sawFalse = false;
      for (let i = 0; i < n; i++) {
        const raw = vals[i];
        let v: boolean;
        if (typeof raw === 'boolean') v = raw;
        else {
          if (raw === null || raw === undefined) {
            nulls++;
            continue;
          }
          v = check(raw, col, i) as boolean;
        }
        defBits[i >> 3]! |= 1 << (i & 7);
        if (v) {
          buf[count >> 3]! |= 1 << (count & 7);
          sawTrue = true;
        } else sawFalse = true;
        count++;
      }
      s.pos = (count + 7) >> 3;
      if (count === 0) return { numValues: n, nullCount: nulls, min: null, max: null };
      return { numValues: n, nullCount: nulls, min: Uint8Array.of(sawFalse ? 0 : 1), max: Uint8Array.of(sawTrue ? 1 : 0) };
    }
    case 'array<bigint>': {
      // Per row: null → one entry (def 0); [] → one entry (def 1); k values → k entries (def 2), the
      // first with repetition level 0 (a new row), the rest 1. Levels go to their own sinks as runs.
      listRepSink.pos = 0;
      listDefSink.pos = 0;
      repRuns.begin();
      defRuns.begin();
      let entries = 0;
      let p = 0;
      let min: number | bigint = Infinity;
      let max: number | bigint = -Infinity;
      for (let i = 0; i < n; i++) {
        const raw = vals[i];
        if (raw === null || raw === undefined) {
          repRuns.add(0, 1);
          defRuns.add(0, 1);
          entries++;
          nulls++;
          continue;
        }
        let list = (Array.isArray(raw) ? raw : check(raw, col, i)) as readonly (number | bigint)[];
        const k = list.length;
        s.reserve(k * 8);
        let view = s.view;
        const start = p;
        for (let e = 0; e < k; e++) {
          const v = list[e]!;
          if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
            // A BigInt, or a value check() refuses with the element's index: canonicalize the whole list.
            list = check(raw, col, i) as bigint[];
            view = s.view;
            p = start;
            for (const b of list) {
              view.setBigInt64(p, b as bigint, true);
              p += 8;
              if (b < min) min = b;
              if (b > max) max = b;
            }
            break;
          }
          const hi = Math.floor(v / TWO_32);
          view.setUint32(p, v - hi * TWO_32, true);
          view.setInt32(p + 4, hi, true);
          p += 8;
          if (v < min) min = v;
          if (v > max) max = v;
        }
        s.pos = p;
        repRuns.add(0, 1);
        if (k === 0) {
          defRuns.add(1, 1);
          entries++;
          nulls++;
          continue;
        }
        if (k > 1) repRuns.add(1, k - 1);
        defRuns.add(2, k);
        entries += k;
      }
      repRuns.end();
      defRuns.end();
      levelSink.append(listRepSink.buf, listRepSink.pos);
      levelSink.append(listDefSink.buf, listDefSink.pos);
      if (p === 0) return { numValues: entries, nullCount: nulls, min: null, max: null };
      return { numValues: entries, nullCount: nulls, min: int64Bytes(min), max: int64Bytes(max) };
    }
  }
}

function physicalType(col: LakeColumn): number {
  switch (col.type) {
    case 'string':
      return TYPE_BYTE_ARRAY;
    case 'int':
      return TYPE_INT32;
    case 'bigint':
    case 'timestamp':
      return TYPE_INT64;
    case 'double':
      return TYPE_DOUBLE;
    case 'boolean':
      return TYPE_BOOLEAN;
    case 'array<bigint>':
      return TYPE_INT64; // the leaf, `element`
  }
}

function writeStats(w: CompactWriter, s: ChunkStats): void {
  w.i64(3, s.nullCount);
  if (s.max) w.binary(5, s.max);
  if (s.min) w.binary(6, s.min);
}

/** A page header, written before the page it describes is copied behind it. Reused: a fresh sink per file cost a DataView on a small array. */
const pageHeaderSink = new ByteSink(256);
const pageHeaderWriter = new CompactWriter(pageHeaderSink);

/** The data page's dictionary indices (bit width + hybrid runs), before they join the levels. */
const idSink = new ByteSink(1 << 12);

/** Where packPage left the page body: `pageBody[0, pageBodyLen)`, in a reused buffer, valid until the next call. */
let pageBody: Uint8Array = pageBuf;
let pageBodyLen = 0;

/** A page body: `first`'s bytes then `second`'s joined, then compressed into pageBody. Returns the uncompressed length. */
function packPage(first: ByteSink, second: ByteSink | null, codec: PlainCodec, compress?: (page: Uint8Array) => Uint8Array): number {
  const plainLen = first.pos + (second ? second.pos : 0);
  if (pageBuf.length < plainLen) pageBuf = new Uint8Array(plainLen * 2);
  copyBytes(first.buf, first.pos, pageBuf, 0);
  if (second) copyBytes(second.buf, second.pos, pageBuf, first.pos);
  if (codec === 'uncompressed') {
    pageBody = pageBuf;
    pageBodyLen = plainLen;
  } else if (codec === 'gzip') {
    pageBody = compress!(pageBuf.subarray(0, plainLen));
    pageBodyLen = pageBody.length;
  } else {
    const need = maxCompressedLength(plainLen);
    if (packedBuf.length < need) packedBuf = new Uint8Array(need * 2);
    pageBody = packedBuf;
    pageBodyLen = snappyCompressInto(pageBuf.subarray(0, plainLen), packedBuf, 0);
  }
  return plainLen;
}

/**
 * Encodes rows of a lake table as one Parquet file. Same schema, types and
 * error messages as encodeParquet's hyparquet-writer path (test/encode.test.ts
 * runs both).
 *
 * @param check validates and canonicalizes any value the fast path does not accept, or throws
 * @param compress for 'gzip', the compressor (node:zlib lives in core/encode.ts)
 */
export function encodePlainParquet(
  columns: readonly LakeColumn[],
  rows: readonly Readonly<Record<string, unknown>>[],
  codec: PlainCodec,
  check: ValueCheck,
  compress?: (page: Uint8Array) => Uint8Array,
): Uint8Array {
  const n = rows.length;
  const out = fileSink;
  out.pos = 0;
  out.bytes(MAGIC);
  const chunks: Chunk[] = [];
  if (n > 0) {
    const defBytes = (n + 7) >> 3;
    if (defBits.length < defBytes) defBits = new Uint8Array(defBytes * 2);
    const header = pageHeaderSink;
    const hw = pageHeaderWriter;
    const byColumn = columnSplitter(columns).split(rows);
    for (let c = 0; c < columns.length; c++) {
      const col = columns[c]!;
      defBits.fill(0, 0, defBytes);
      levelSink.pos = 0;
      const stats = writeValues(col, byColumn[c]!, n, check); // a list column writes its levels into levelSink itself
      const levels = levelSink;
      if (col.type !== 'array<bigint>') {
        // Definition levels, RLE/bit-packed hybrid with bit width 1, behind a 4-byte length (data page v1):
        // no nulls → one RLE run of n ones; else one bit-packed run of ceil(n/8) groups.
        levels.u32(0);
        if (stats.nullCount === 0) {
          levels.varint(n * 2);
          levels.byte(1);
        } else {
          levels.varint(defBytes * 2 + 1);
          levels.append(defBits, defBytes);
        }
        levels.view.setUint32(0, levels.pos - 4, true);
      }
      const dict = stats.dictionary;
      let dictionaryOffset: number | null = null;
      let uncompressedSize = 0;
      let compressedSize = 0;
      if (dict) {
        // The dictionary page: PLAIN_DICTIONARY as parquet-mr's v1 writer (Spark, Hive) labels it, read by every engine.
        const plainLen = packPage(scratch, null, codec, compress);
        header.pos = 0;
        hw.inStruct(() => {
          hw.i32(1, PAGE_DICTIONARY);
          hw.i32(2, plainLen);
          hw.i32(3, pageBodyLen);
          hw.struct(7, () => {
            hw.i32(1, dict.size);
            hw.i32(2, ENCODING_PLAIN_DICTIONARY);
          });
        });
        dictionaryOffset = out.pos;
        out.append(header.buf, header.pos);
        out.append(pageBody, pageBodyLen);
        uncompressedSize += header.pos + plainLen;
        compressedSize += header.pos + pageBodyLen;
        idSink.pos = 0;
        writeDictionaryIds(idSink, dictIds, dict.ids, dict.size);
      }
      const plainLen = packPage(levels, dict ? idSink : scratch, codec, compress);
      header.pos = 0;
      hw.inStruct(() => {
        hw.i32(1, PAGE_DATA);
        hw.i32(2, plainLen);
        hw.i32(3, pageBodyLen);
        hw.struct(5, () => {
          hw.i32(1, stats.numValues);
          hw.i32(2, dict ? ENCODING_PLAIN_DICTIONARY : ENCODING_PLAIN);
          hw.i32(3, ENCODING_RLE);
          hw.i32(4, ENCODING_RLE);
          hw.struct(5, () => writeStats(hw, stats));
        });
      });
      const pageOffset = out.pos;
      out.append(header.buf, header.pos);
      out.append(pageBody, pageBodyLen);
      uncompressedSize += header.pos + plainLen;
      compressedSize += header.pos + pageBodyLen;
      chunks.push({ col, physicalType: physicalType(col), pageOffset, dictionaryOffset, uncompressedSize, compressedSize, stats });
    }
  }
  const footerStart = out.pos;
  const fw = new CompactWriter(out);
  fw.inStruct(() => writeFileMetaData(fw, columns, n, chunks, CODEC_ID[codec]));
  out.u32(out.pos - footerStart);
  out.bytes(MAGIC);
  return out.buf.slice(0, out.pos);
}

const MAGIC = Uint8Array.of(0x50, 0x41, 0x52, 0x31); // "PAR1"

const isList = (col: LakeColumn): boolean => col.type === 'array<bigint>';

/** Leaf path of a column: a list's values live at `<name>.list.element`. */
function pathInSchema(col: LakeColumn): string[] {
  return isList(col) ? [col.name, 'list', 'element'] : [col.name];
}

function writeFileMetaData(w: CompactWriter, columns: readonly LakeColumn[], numRows: number, chunks: readonly Chunk[], codecId: number): void {
  w.i32(1, 1); // version
  // SchemaElements, depth first. A list is the 3-level form of parquet-format LogicalTypes.md
  // ("<name> (LIST) / repeated group list / element"), as hyparquet-writer wrote it: see core/encode.ts.
  w.list(2, CT_STRUCT, 1 + columns.reduce((k, c) => k + (isList(c) ? 3 : 1), 0));
  w.inStruct(() => {
    w.string(4, 'schema');
    w.i32(5, columns.length);
  });
  for (const col of columns) {
    if (isList(col)) {
      w.inStruct(() => {
        w.i32(3, REPETITION_OPTIONAL);
        w.string(4, col.name);
        w.i32(5, 1);
        w.i32(6, CONVERTED_LIST);
        w.struct(10, () => w.struct(3, () => {})); // LogicalType union, field 3 = LIST
      });
      w.inStruct(() => {
        w.i32(3, REPETITION_REPEATED);
        w.string(4, 'list');
        w.i32(5, 1);
      });
      w.inStruct(() => {
        w.i32(1, TYPE_INT64);
        w.i32(3, REPETITION_REQUIRED); // a KMV sketch never holds a null
        w.string(4, 'element');
      });
      continue;
    }
    w.inStruct(() => {
      w.i32(1, physicalType(col));
      w.i32(3, REPETITION_OPTIONAL);
      w.string(4, col.name);
      if (col.type === 'string') w.i32(6, CONVERTED_UTF8);
      if (col.type === 'timestamp') w.i32(6, CONVERTED_TIMESTAMP_MILLIS);
      // LogicalType union, field 1 = STRING (empty StringType struct). Timestamps get none: see core/encode.ts.
      if (col.type === 'string') w.struct(10, () => w.struct(1, () => {}));
    });
  }
  w.i64(3, numRows);
  const rowGroups = chunks.length ? [chunks] : [];
  w.structList(4, rowGroups, (group) => {
    w.structList(1, group, (c) => {
      // file_offset: deprecated, readers use meta_data; the chunk's first page, as parquet-mr writes it
      w.i64(2, c.dictionaryOffset ?? c.pageOffset);
      w.struct(3, () => {
        w.i32(1, c.physicalType);
        w.list(2, CT_I32, 2);
        w.out.varint(zigzag(c.dictionaryOffset === null ? ENCODING_PLAIN : ENCODING_PLAIN_DICTIONARY));
        w.out.varint(zigzag(ENCODING_RLE));
        const path = pathInSchema(c.col);
        w.list(3, CT_BINARY, path.length);
        for (const part of path) {
          const bytes = utf8Name(part);
          w.out.varint(bytes.length);
          w.out.bytes(bytes);
        }
        w.i32(4, codecId);
        w.i64(5, c.stats.numValues);
        w.i64(6, c.uncompressedSize);
        w.i64(7, c.compressedSize);
        w.i64(9, c.pageOffset);
        if (c.dictionaryOffset !== null) w.i64(11, c.dictionaryOffset);
        w.struct(12, () => writeStats(w, c.stats));
      });
    });
    w.i64(2, group.reduce((a, c) => a + c.uncompressedSize, 0));
    w.i64(3, numRows);
    w.i64(5, group[0]!.dictionaryOffset ?? group[0]!.pageOffset);
    w.i64(6, group.reduce((a, c) => a + c.compressedSize, 0));
  });
  w.string(6, 'shardflow');
  // ColumnOrder union, field 1 = TYPE_ORDER (empty struct): min_value/max_value follow each type's sort order.
  w.structList(7, columns, () => w.struct(1, () => {}));
}
