/** Thrift compact protocol (Thrift's `compact-protocol.md`), only what parquet.thrift's structs need. */
import type { ByteSink } from './byte-sink';

// Thrift compact protocol type ids
export const CT_I32 = 5;
export const CT_I64 = 6;
export const CT_BINARY = 8;
export const CT_LIST = 9;
export const CT_STRUCT = 12;

export class CompactWriter {
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
  /** A list<binary> (ColumnMetaData.path_in_schema). */
  binaryList(id: number, items: readonly string[]): void {
    this.list(id, CT_BINARY, items.length);
    for (const s of items) {
      const bytes = utf8Name(s);
      this.out.varint(bytes.length);
      this.out.bytes(bytes);
    }
  }
  /** A list<i32> of enum values (ColumnMetaData.encodings). */
  i32List(id: number, items: readonly number[]): void {
    this.list(id, CT_I32, items.length);
    for (const v of items) this.out.varint(zigzag(v));
  }
}

export function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

const utf8 = new TextEncoder();

/**
 * UTF-8 of the footer's names, cached: a table has a handful, and encoding
 * them anew for every file (a call into TextEncoder each) was a visible share
 * of writing a batch's small partials file. A cache of immutable name bytes,
 * shared by every writer: it holds no result of any one file.
 */
const names = new Map<string, Uint8Array>();
export function utf8Name(s: string): Uint8Array {
  let b = names.get(s);
  if (!b) {
    if (names.size > 10_000) names.clear(); // many schemas in one process: bounded, not a leak
    names.set(s, (b = utf8.encode(s)));
  }
  return b;
}
