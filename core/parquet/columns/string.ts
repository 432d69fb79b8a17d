/**
 * `string`: BYTE_ARRAY + UTF8/STRING. PLAIN, or, for a column of at most
 * MAX_DICTIONARY distinct values in the file, a dictionary page and
 * PLAIN_DICTIONARY indices (docs/deps-parquet.md, "Dictionary-encoded strings").
 */
import type { LakeColumn } from '../../lake-table';
import type { ByteSink } from '../byte-sink';
import type { ColumnBuffers } from '../buffers';
import { CONVERTED_UTF8, TYPE_BYTE_ARRAY } from '../format';
import { noValueStats, type ChunkStats, type ColumnEncoder, type ValueCheck } from './column-encoder';
import { flatSchema } from './flat';

const utf8 = new TextEncoder();

/** Unsigned byte-wise comparison of buf[a, a+alen) and buf[b, b+blen): Parquet's order for UTF8 min/max. */
function compareBytes(buf: Uint8Array, a: number, alen: number, b: number, blen: number): number {
  const n = alen < blen ? alen : blen;
  for (let k = 0; k < n; k++) {
    const d = buf[a + k]! - buf[b + k]!;
    if (d !== 0) return d;
  }
  return alen - blen;
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
 * Most distinct values a dictionary-encoded column may have. The dictionary is
 * searched linearly with ===: a Map keyed by the rows' strings (built by the
 * JSON scanner, so not internalized: each lookup hashes the string) measured
 * slower than writing them PLAIN for a 280-of-840 user id column, where
 * Snappy already finds the repeats. Up to 16 values (a category, a country,
 * an event type), a search is a few pointer or short string compares and
 * each row shrinks to ≤ 4 bits.
 */
export const MAX_DICTIONARY = 16;

/**
 * Dictionary-encodes a string column (Encodings.md, "Dictionary Encoding"):
 * each distinct value once, PLAIN, into `scratch`, its index per row into
 * `dictIds`; min/max are compared once per distinct value. Returns null,
 * leaving defBits and scratch for the PLAIN path to reset, once a column shows
 * more than MAX_DICTIONARY distinct values (an id column does by its 17th row).
 */
function writeStringDictionary(b: ColumnBuffers, col: LakeColumn, vals: readonly unknown[], n: number, check: ValueCheck): ChunkStats | null {
  const s = b.scratch;
  s.pos = 0;
  const values = b.dictValues;
  values.length = 0;
  if (b.dictIds.length < n) b.dictIds = new Uint8Array(n * 2);
  const ids = b.dictIds;
  const defBits = b.defBits;
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

function writePlainStrings(b: ColumnBuffers, col: LakeColumn, vals: readonly unknown[], n: number, check: ValueCheck): ChunkStats {
  const s = b.scratch;
  const defBits = b.defBits;
  defBits.fill(0, 0, (n + 7) >> 3);
  s.pos = 0;
  let nulls = 0;
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
  return minAt < 0 ? noValueStats(n, nulls) : { numValues: n, nullCount: nulls, min: buf.slice(minAt, minAt + minLen), max: buf.slice(maxAt, maxAt + maxLen) };
}

export const stringColumn: ColumnEncoder = {
  type: 'string',
  physicalType: TYPE_BYTE_ARRAY,
  // LogicalType union, field 1 = STRING (an empty StringType struct), besides the converted UTF8.
  ...flatSchema(TYPE_BYTE_ARRAY, (w) => {
    w.i32(6, CONVERTED_UTF8);
    w.struct(10, () => w.struct(1, () => {}));
  }),
  writeValues(b, col, vals, n, check) {
    return writeStringDictionary(b, col, vals, n, check) ?? writePlainStrings(b, col, vals, n, check);
  },
};

/**
 * The data page body of a dictionary-encoded column after its levels: the
 * index bit width, then the indices as bit-packed runs of the RLE / bit-packed
 * hybrid (Encodings.md), LSB first, the last group padded with zeros (readers
 * stop at the page's value count).
 */
export function writeDictionaryIds(out: ByteSink, ids: Uint8Array, count: number, size: number): void {
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
