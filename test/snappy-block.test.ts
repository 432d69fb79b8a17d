import { snappyUncompress } from 'hyparquet/src/snappy.js';
import { describe, expect, it } from 'vitest';
import { maxCompressedLength, snappyCompress, snappyCompressInto } from '../core/snappy-block';
import { mulberry32 } from '../core/prng';

/** Decodes with hyparquet's decompressor (snappyjs), an implementation independent of ours. */
function roundTrip(input: Uint8Array): Uint8Array {
  const packed = snappyCompress(input);
  expect(packed.length).toBeLessThanOrEqual(maxCompressedLength(input.length));
  const out = new Uint8Array(input.length);
  snappyUncompress(packed, out);
  return out;
}

/** Inputs shaped like our pages: runs, repeats at every distance, words, random noise, and mixes of them. */
function randomInput(r: () => number): Uint8Array {
  const n = [0, 1, 3, 4, 5, 15, 16, 17, 100, 4096, 65535, 65536, 65537, 200_000][Math.floor(r() * 14)]!;
  const b = new Uint8Array(n);
  const alphabet = 1 + Math.floor(r() * 255);
  let i = 0;
  while (i < n) {
    const kind = Math.floor(r() * 3);
    const len = Math.min(n - i, 1 + Math.floor(r() * 300));
    if (kind === 0 || i === 0) for (let k = 0; k < len; k++) b[i + k] = Math.floor(r() * alphabet);
    else if (kind === 1) b.fill(Math.floor(r() * 256), i, i + len);
    else {
      // copy from back up to 70,000 bytes: crosses 64 KiB blocks and every copy-length branch
      const from = Math.max(0, i - 1 - Math.floor(r() * 70_000));
      for (let k = 0; k < len; k++) b[i + k] = b[from + k]!;
    }
    i += len;
  }
  return b;
}

describe('snappyCompress', () => {
  it('round-trips random inputs of every size class through an independent decoder', () => {
    const r = mulberry32(7);
    for (let t = 0; t < 300; t++) {
      const input = randomInput(r);
      // Buffer.equals, not toEqual: a deep diff of 200,000-element arrays takes seconds each.
      const back = roundTrip(input);
      if (!Buffer.from(back).equals(input)) expect.fail(`round trip differs, case ${t}, ${input.length} bytes`);
    }
  });

  it('compresses repetitive data: 100 KiB of one repeated 10-byte word to under 5 %', () => {
    const input = new Uint8Array(100 * 1024).map((_, i) => 'user-12345'.charCodeAt(i % 10));
    expect(snappyCompress(input).length).toBeLessThan(input.length * 0.05);
    expect(Buffer.from(roundTrip(input)).equals(input)).toBe(true);
  });

  it('ends each match at the right byte: repeats of 4 to 40 bytes, then a differing byte, at every alignment', () => {
    for (let len = 4; len <= 40; len++) {
      for (let shift = 0; shift < 4; shift++) {
        // A 40-byte word, filler, the word's first `len` bytes, one byte that differs, filler: the second copy's
        // match must stop at byte `len`, whichever byte of a 4-byte load that falls on.
        const word = Array.from({ length: 40 }, (_, k) => 65 + ((k * 7) % 26));
        const input = Uint8Array.from([...Array(shift).fill(1), ...word, 0, 2, 3, ...word.slice(0, len), 255 - word[len - 1]!, ...Array(20).fill(9)]);
        if (!Buffer.from(roundTrip(input)).equals(input)) expect.fail(`len ${len}, shift ${shift}`);
      }
    }
  });

  it('gives the same bytes for views of one reused buffer as for copies of them, at its start or not', () => {
    // Prepare: the compressor reuses its DataView while inputs start at the same buffer's start
    const r = mulberry32(11);
    const shared = new Uint8Array(70_000);
    const views: [number, number][] = [[0, 70_000], [0, 300], [0, 20], [7, 5000], [0, 65_537]];
    for (const [from, len] of views) {
      for (let k = 0; k < shared.length; k++) shared[k] = k % 97 < 50 ? Math.floor(r() * 4) : k % 13;
      const view = shared.subarray(from, from + len);
      // Act
      const packed = snappyCompress(view);
      const other = snappyCompress(new Uint8Array(len).fill(42)); // another buffer in between
      // Assess
      expect(packed).toEqual(snappyCompress(view.slice()));
      expect(Buffer.from(roundTrip(view)).equals(view)).toBe(true);
      expect(other).toEqual(snappyCompress(new Uint8Array(len).fill(42)));
    }
  });

  it('writes into a given buffer at an offset, touching nothing before it', () => {
    const input = new TextEncoder().encode('abcdabcdabcdabcd-xyz-abcdabcd'.repeat(40));
    const out = new Uint8Array(7 + maxCompressedLength(input.length)).fill(0xee);
    const end = snappyCompressInto(input, out, 7);
    expect([...out.subarray(0, 7)]).toEqual(Array(7).fill(0xee));
    expect(out.subarray(7, end)).toEqual(snappyCompress(input));
  });
});
