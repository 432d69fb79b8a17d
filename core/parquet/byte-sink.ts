/** A growing byte buffer. Callers `reserve` before writing through `buf`/`view` directly. */
export class ByteSink {
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
export function copyBytes(src: Uint8Array, len: number, dst: Uint8Array, at: number): void {
  if (len < 64) for (let k = 0; k < len; k++) dst[at + k] = src[k]!;
  else dst.set(src.subarray(0, len), at);
}
