/**
 * K-Minimum-Values distinct-count sketch (Bar-Yossef et al. 2002; estimator
 * (k−1)/U(k) from Beyer et al., "On synopses for distinct-value estimation
 * under multiset operations", SIGMOD 2007). It is the sketch behind Apache
 * DataSketches' Theta family.
 *
 * Why KMV and not HyperLogLog: the sketch is a plain sorted array of hashes, so
 * the merge (union, keep the k smallest) and the estimate are expressible in
 * plain SQL on Athena/Trino and DuckDB alike. The final aggregate views merge
 * partials with no user-defined functions.
 *
 * Error: exact while fewer than k distinct values were seen; above that the
 * relative standard error is 1/sqrt(k − 2) ≈ 3.1 % for k = 1024.
 */

/** Sketch size: the number of smallest hashes kept. */
export const KMV_K = 1024;
/** Hashes are 52-bit non-negative integers (exact in a double and in BIGINT). */
export const HASH_SPACE = 2 ** 52;

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function fmix(h: number, len: number): number {
  h ^= len * 2;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A 52-bit hash of a value's canonical string form: two MurmurHash3 x86_32
 * states over the UTF-16 code units of `value`, seeded differently and run in
 * one pass (this runs for every event with a distinct measure).
 */
export function hash52(value: string): number {
  let h1 = 0x9747b28c;
  let h2 = 0x5bd1e995;
  const len = value.length;
  let i = 0;
  for (; i + 1 < len; i += 2) {
    let k = (value.charCodeAt(i) & 0xffff) | ((value.charCodeAt(i + 1) & 0xffff) << 16);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h1 ^= k;
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
    h2 ^= k;
    h2 = (h2 << 13) | (h2 >>> 19);
    h2 = (Math.imul(h2, 5) + 0xe6546b64) | 0;
  }
  if (i < len) {
    let k = value.charCodeAt(i) & 0xffff;
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h1 ^= k;
    h2 ^= k;
  }
  return (fmix(h1, len) & 0xfffff) * 4294967296 + fmix(h2, len); // 20 + 32 bits
}

/**
 * A KMV sketch: at most k distinct hashes, ascending. Mutable while a batch is built.
 *
 * Candidates go unsorted, duplicates included, into a Float64Array that is
 * sorted natively and deduplicated only when it fills (2k entries) or when
 * the values are read. This runs for every event with a distinct measure:
 * a Set of seen hashes (52-bit, so a heap number per entry) and
 * Array.prototype.sort with a comparator were, together, most of the
 * aggregation time of a batch.
 */
export class KmvSketch {
  private buf: Float64Array = spareBuffers.pop() ?? new Float64Array(16);
  private count = 0;
  /** Largest hash kept once the sketch is full; larger hashes are ignored. */
  private threshold = Infinity;

  constructor(readonly k: number = KMV_K) {}

  add(value: string): void {
    this.addHash(hash52(value));
  }

  addHash(h: number): void {
    if (h >= this.threshold) return;
    if (this.count === this.buf.length) {
      // Amortised: compact to at most k only when 2k candidates piled up.
      if (this.count >= 2 * this.k) this.compact();
      if (this.count === this.buf.length) {
        const grown = new Float64Array(Math.max(16, this.buf.length * 2));
        grown.set(this.buf);
        this.buf = grown;
      }
      if (h >= this.threshold) return;
    }
    this.buf[this.count++] = h;
  }

  merge(other: KmvSketch | readonly number[]): void {
    for (const h of other instanceof KmvSketch ? other.values() : other) this.addHash(h);
  }

  /** The k smallest hashes, ascending. */
  values(): number[] {
    this.compact();
    // A loop, not Array.from(subarray): that goes through the iterator protocol, a call per element.
    const out = new Array<number>(this.count);
    for (let i = 0; i < out.length; i++) out[i] = this.buf[i]!;
    return out;
  }

  /**
   * Hands the candidate buffer to the next sketch made and empties this one.
   * For a batch's aggregator once its rows are out: typed arrays over 64 bytes
   * live outside the JS heap, and allocating (and growing) one per group and
   * batch was a tenth of the aggregation time.
   */
  release(): void {
    if (spareBuffers.length < MAX_SPARE_BUFFERS && this.buf.length > 0 && this.buf.length <= 2 * this.k) spareBuffers.push(this.buf);
    this.buf = NO_BUFFER;
    this.count = 0;
    this.threshold = Infinity;
  }

  estimate(): number {
    return kmvEstimate(this.values(), this.k);
  }

  /** Sorts (numerically: a typed array needs no comparator), drops duplicates, keeps the k smallest. */
  private compact(): void {
    const live = this.buf.subarray(0, this.count).sort();
    let n = 0;
    for (let i = 0; i < live.length && n < this.k; i++) {
      const h = live[i]!;
      if (n === 0 || h !== live[n - 1]) live[n++] = h;
    }
    this.count = n;
    if (n === this.k) this.threshold = live[n - 1]! + 1;
  }
}

/** Released candidate buffers, taken by new sketches (see KmvSketch.release). At most 256 × 16 KiB. */
const spareBuffers: Float64Array[] = [];
const MAX_SPARE_BUFFERS = 256;
const NO_BUFFER = new Float64Array(0);

/** Estimate from the ascending k smallest hashes (what the SQL views compute too). */
export function kmvEstimate(sorted: readonly number[], k: number = KMV_K): number {
  if (sorted.length < k) return sorted.length;
  return Math.round(((k - 1) * HASH_SPACE) / sorted[k - 1]!);
}
