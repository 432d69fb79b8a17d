/**
 * The scratch a writer owns and lends to its column encoders: page bodies,
 * definition bits, level runs, dictionary ids, statistics bytes. One set per
 * ParquetWriter, reused from file to file (a fresh 1 MiB buffer per column was
 * GC work for nothing), never shared between writers, so two writers can
 * interleave their columns (test/parquet-writer.test.ts).
 */
import { ByteSink } from './byte-sink';
import { LevelRuns } from './levels';
import { TWO_32 } from './format';

export class ColumnBuffers {
  /** The column's PLAIN values (or its dictionary page body), before levels join them. */
  readonly scratch = new ByteSink(1 << 16);
  /** Definition-level bits, one per row, LSB first (the hybrid's bit-packed run layout); the writer sizes and clears it per column. */
  defBits = new Uint8Array(1 << 12);
  /** The page's level section, v1 layout: [u32 length, repetition levels] for lists, then [u32 length, definition levels]. */
  readonly levelSink = new ByteSink(1 << 12);
  /** A list column's repetition and definition levels as RLE runs, before they join levelSink. */
  readonly listRepSink = new ByteSink(1 << 10);
  readonly listDefSink = new ByteSink(1 << 10);
  readonly repRuns = new LevelRuns(this.listRepSink);
  readonly defRuns = new LevelRuns(this.listDefSink);
  /** A dictionary-encoded column's distinct values, and the dictionary index of each non-null value in row order. */
  readonly dictValues: string[] = [];
  dictIds = new Uint8Array(1 << 12);
  /**
   * Statistics values are written through one DataView and copied out: a DataView on a fresh
   * 8-byte array makes V8 move that array's bytes off the heap (`.buffer`), which made int64Bytes
   * ~5 % of writing a partials file.
   */
  private readonly statView = new DataView(new ArrayBuffer(8));
  private readonly statBytes = new Uint8Array(this.statView.buffer);

  int64Bytes(v: number | bigint): Uint8Array {
    if (typeof v === 'bigint') this.statView.setBigInt64(0, v, true);
    else {
      const hi = Math.floor(v / TWO_32);
      this.statView.setUint32(0, v - hi * TWO_32, true);
      this.statView.setInt32(4, hi, true);
    }
    return this.statBytes.slice(0, 8);
  }

  int32Bytes(v: number): Uint8Array {
    this.statView.setInt32(0, v, true);
    return this.statBytes.slice(0, 4);
  }

  doubleBytes(v: number): Uint8Array {
    this.statView.setFloat64(0, v, true);
    return this.statBytes.slice(0, 8);
  }
}
