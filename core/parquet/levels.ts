/** Levels in the RLE / bit-packed hybrid (parquet-format `Encodings.md`). */
import type { ByteSink } from './byte-sink';

/**
 * RLE runs of the hybrid, for list levels: they come in long runs (a
 * 200-value sketch is 0 then 199 ones, and 200 twos), where one run header
 * and one value byte beat 200 bit-packed bits. Levels here are < 256, so the
 * value takes one byte (ceil(bit width / 8)).
 */
export class LevelRuns {
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

/**
 * Definition levels of a flat OPTIONAL column (max level 1), bit width 1, behind a 4-byte length
 * (data page v1): no nulls → one RLE run of n ones; else one bit-packed run of ceil(n/8) groups.
 */
export function writeFlatDefinitionLevels(out: ByteSink, defBits: Uint8Array, n: number, nullCount: number): void {
  const start = out.pos;
  out.u32(0);
  if (nullCount === 0) {
    out.varint(n * 2);
    out.byte(1);
  } else {
    const defBytes = (n + 7) >> 3;
    out.varint(defBytes * 2 + 1);
    out.append(defBits, defBytes);
  }
  out.view.setUint32(start, out.pos - start - 4, true);
}
