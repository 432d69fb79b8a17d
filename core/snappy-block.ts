/**
 * Snappy compression (github.com/google/snappy `format_description.txt`),
 * written for the Parquet pages of core/parquet/. The algorithm is the
 * reference one (and snappyjs's, which hyparquet-writer ships): 64 KiB blocks,
 * a 4-byte hash table of recent positions, skip ahead faster through bytes
 * that do not match. The difference is the output: one preallocated
 * Uint8Array of the format's worst-case size, written by index. The
 * ByteWriter-based original ran at ~15 MB/s on our pages, slower than the rest
 * of the Parquet writer together (docs/deps-parquet.md). Words are loaded
 * through a DataView (one unaligned load where four byte loads and shifts
 * were 40 % of the compressor's profile), and a match ends at the lowest
 * differing byte of two words' XOR: together ~20 % less encode time, the
 * output unchanged.
 */

const BLOCK = 1 << 16;
const MAX_HASH_BITS = 14;
/** The reference stops looking for matches this close to a block's end, so 4-byte loads stay in bounds. */
const INPUT_MARGIN = 15;

let table = new Uint16Array(1 << MAX_HASH_BITS);

/** Worst-case compressed size: snappy's MaxCompressedLength. */
export function maxCompressedLength(n: number): number {
  return 32 + n + Math.floor(n / 6);
}

/** Snappy-compresses `input` into a new buffer (raw format: varint length, then elements; no framing). */
export function snappyCompress(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(maxCompressedLength(input.length));
  return out.subarray(0, snappyCompressInto(input, out, 0));
}

/**
 * Snappy-compresses `input` into `out` from `op` on, and returns the end.
 * `out` must hold maxCompressedLength(input.length) bytes from `op`. The
 * Parquet writer compresses every page into one reused buffer: a fresh
 * worst-case buffer per page (zero-filled by the engine) was a tenth of the
 * compressor's time on 1000-row pages.
 */
export function snappyCompressInto(input: Uint8Array, out: Uint8Array, op: number): number {
  let v = input.length;
  while (v >= 0x80) {
    out[op++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[op++] = v;
  const words = wordsOf(input);
  for (let start = 0; start < input.length; start += BLOCK) {
    op = compressBlock(input, words, start, Math.min(start + BLOCK, input.length), out, op);
  }
  return op;
}

/** The last DataView made, and its buffer: the Parquet writer compresses every page from the start of one reused buffer. */
let lastWords: DataView | null = null;

/**
 * A DataView for 4-byte loads from `input`, reused when `input` starts at its buffer's start (a DataView
 * per call was ~6 % of writing a one-row file). It may then reach past `input`; compressBlock never reads there.
 */
function wordsOf(input: Uint8Array): DataView {
  if (input.byteOffset !== 0) return new DataView(input.buffer, input.byteOffset, input.length);
  if (lastWords === null || lastWords.buffer !== input.buffer) lastWords = new DataView(input.buffer);
  return lastWords;
}

function emitLiteral(input: Uint8Array, from: number, len: number, out: Uint8Array, op: number): number {
  const n = len - 1;
  if (n < 60) out[op++] = n << 2;
  else if (n < 0x100) {
    out[op++] = 60 << 2;
    out[op++] = n;
  } else {
    // a block is at most 64 KiB, so two length bytes always suffice
    out[op++] = 61 << 2;
    out[op++] = n & 0xff;
    out[op++] = n >>> 8;
  }
  // A view per literal costs more than copying a short one by hand.
  if (len < 64) {
    for (let k = 0; k < len; k++) out[op + k] = input[from + k]!;
  } else out.set(input.subarray(from, from + len), op);
  return op + len;
}

function emitCopy(offset: number, len: number, out: Uint8Array, op: number): number {
  while (len >= 68) {
    out[op++] = 2 | (63 << 2);
    out[op++] = offset & 0xff;
    out[op++] = offset >>> 8;
    len -= 64;
  }
  if (len > 64) {
    out[op++] = 2 | (59 << 2);
    out[op++] = offset & 0xff;
    out[op++] = offset >>> 8;
    len -= 60;
  }
  if (len < 12 && offset < 2048) {
    out[op++] = 1 | ((len - 4) << 2) | ((offset >>> 8) << 5);
    out[op++] = offset & 0xff;
  } else {
    out[op++] = 2 | ((len - 1) << 2);
    out[op++] = offset & 0xff;
    out[op++] = offset >>> 8;
  }
  return op;
}

function compressBlock(input: Uint8Array, words: DataView, start: number, end: number, out: Uint8Array, op: number): number {
  const size = end - start;
  let bits = 1;
  while (1 << bits <= size && bits <= MAX_HASH_BITS) bits++;
  bits--;
  const shift = 32 - bits;
  const t = table.length >= 1 << bits ? table : (table = new Uint16Array(1 << MAX_HASH_BITS));
  t.fill(0, 0, 1 << bits);

  let nextEmit = start;
  if (size >= INPUT_MARGIN) {
    const ipLimit = end - INPUT_MARGIN;
    const wordEnd = end - 4;
    let ip = start + 1;
    // Each position's 4 bytes are loaded once, for both its hash and the match test.
    let nextWord = words.getInt32(ip, true);
    let nextHash = Math.imul(nextWord, 0x1e35a7bd) >>> shift;
    for (;;) {
      // Look for a 4-byte match, stepping further apart the longer nothing matches.
      let skip = 32;
      let nextIp = ip;
      let candidate: number;
      let word: number;
      do {
        ip = nextIp;
        word = nextWord;
        const hash = nextHash;
        nextIp = ip + (skip++ >>> 5);
        if (ip > ipLimit) return emitLiteral(input, nextEmit, end - nextEmit, out, op);
        // nextIp may pass the block's end (where a DataView throws); that word is never used, the next turn returns.
        nextWord = nextIp <= wordEnd ? words.getInt32(nextIp, true) : 0;
        nextHash = Math.imul(nextWord, 0x1e35a7bd) >>> shift;
        candidate = start + t[hash]!;
        t[hash] = ip - start;
      } while (word !== words.getInt32(candidate, true));

      op = emitLiteral(input, nextEmit, ip - nextEmit, out, op);
      // Emit copies while the bytes right after one copy match again.
      do {
        const base = ip;
        // Four bytes per step while a whole word fits; the first differing word's lowest set bit
        // of a XOR (little-endian loads) says how many of its bytes still match.
        let matched = 4;
        for (;;) {
          if (ip + matched > wordEnd) {
            while (ip + matched < end && input[ip + matched] === input[candidate + matched]) matched++;
            break;
          }
          const diff = words.getInt32(ip + matched, true) ^ words.getInt32(candidate + matched, true);
          if (diff !== 0) {
            matched += (31 - Math.clz32(diff & -diff)) >>> 3;
            break;
          }
          matched += 4;
        }
        ip += matched;
        op = emitCopy(base - candidate, matched, out, op);
        nextEmit = ip;
        if (ip >= ipLimit) return nextEmit < end ? emitLiteral(input, nextEmit, end - nextEmit, out, op) : op;
        t[Math.imul(words.getInt32(ip - 1, true), 0x1e35a7bd) >>> shift] = ip - 1 - start;
        word = words.getInt32(ip, true);
        const h = Math.imul(word, 0x1e35a7bd) >>> shift;
        candidate = start + t[h]!;
        t[h] = ip - start;
      } while (word === words.getInt32(candidate, true));
      ip++;
      nextWord = words.getInt32(ip, true);
      nextHash = Math.imul(nextWord, 0x1e35a7bd) >>> shift;
    }
  }
  return nextEmit < end ? emitLiteral(input, nextEmit, end - nextEmit, out, op) : op;
}
