/**
 * A Parquet writer for lake tables: one row group, one column chunk per
 * column, one v1 data page per chunk, PLAIN values (a string column of at
 * most 16 distinct values: a dictionary page, then PLAIN_DICTIONARY
 * indices), RLE / bit-packed hybrid levels (every column OPTIONAL: max
 * definition level 1; nested columns write their own levels), Thrift compact
 * protocol for the page headers and the footer. Spec: apache/parquet-format
 * `src/main/thrift/parquet.thrift`, `Encodings.md`, and Thrift's
 * `compact-protocol.md`.
 *
 * Why it exists: the raw table is written once per event on the handler's hot
 * path, and hyparquet-writer's general path (dictionary sampling, Dremel
 * shredding, a row-by-row value array per column) ran at ~200k rows/s, below
 * the 250k events/s goal for the whole handler. This writer reads each row
 * once into per-column arrays (splitter.ts), then each value once from there
 * into the page buffer (columns/*.ts), and keeps min/max/null_count on the
 * way. Numbers in docs/deps-parquet.md.
 *
 * Layout of the module folder: byte-sink.ts (growing buffers), thrift.ts
 * (compact protocol), levels.ts, buffers.ts (the scratch one writer owns),
 * columns/ (one encoder per column type, registered in columns/index.ts),
 * footer.ts (FileMetaData), and this file (pages and the file).
 */
import { maxCompressedLength, snappyCompressInto } from '../snappy-block';
import type { LakeColumn } from '../lake-table';
import { ByteSink, copyBytes } from './byte-sink';
import { ColumnBuffers } from './buffers';
import { COLUMN_ENCODERS, type ValueCheck } from './columns';
import { writeDictionaryIds } from './columns/string';
import { writeFileMetaData, writeStats, type Chunk } from './footer';
import { CODEC_ID, ENCODING_PLAIN, ENCODING_PLAIN_DICTIONARY, ENCODING_RLE, MAGIC, PAGE_DATA, PAGE_DICTIONARY, type PlainCodec } from './format';
import { writeFlatDefinitionLevels } from './levels';
import { splitColumns } from './splitter';
import { CompactWriter } from './thrift';

export type { PlainCodec } from './format';
export type { ValueCheck } from './columns';

export interface WriteOptions {
  readonly codec: PlainCodec;
  /** Validates and canonicalizes any value the fast path does not accept, or throws. */
  readonly check: ValueCheck;
  /** For 'gzip', the compressor (node:zlib lives in core/encode.ts). */
  readonly compress?: (page: Uint8Array) => Uint8Array;
}

/**
 * One Parquet file at a time, into buffers this writer owns and reuses from
 * file to file. Either `encode(columns, rows)` for a whole table of row
 * objects, or column by column: `begin(columns, n)`, `column(values)` once per
 * column in order, `finish()`. Writers share nothing mutable, so any number can
 * be in the middle of a file at once.
 */
export class ParquetWriter {
  private readonly b = new ColumnBuffers();
  /** The file being written. */
  private readonly out = new ByteSink(1 << 16);
  /** A page's levels + values before compression. */
  private pageBuf = new Uint8Array(1 << 16);
  /** A page after Snappy, before it is copied behind its header (whose size depends on it). */
  private packedBuf = new Uint8Array(1 << 16);
  /** Where packPage left the page body: `pageBody[0, pageBodyLen)`, valid until its next call. */
  private pageBody: Uint8Array = this.pageBuf;
  private pageBodyLen = 0;
  /** A page header, written before the page it describes is copied behind it. */
  private readonly header = new ByteSink(256);
  private readonly headerWriter = new CompactWriter(this.header);
  /** The data page's dictionary indices (bit width + hybrid runs), before they join the levels. */
  private readonly idSink = new ByteSink(1 << 12);

  // The file in progress.
  private columns: readonly LakeColumn[] = [];
  private numRows = 0;
  private chunks: Chunk[] = [];
  private options: WriteOptions | null = null;

  /** Whether a file is begun and not finished (or abandoned by a throw). */
  get busy(): boolean {
    return this.options !== null;
  }

  /** Encodes rows of a lake table as one Parquet file. */
  encode(columns: readonly LakeColumn[], rows: readonly Readonly<Record<string, unknown>>[], options: WriteOptions): Uint8Array {
    this.begin(columns, rows.length, options);
    try {
      if (rows.length > 0) {
        const byColumn = splitColumns(columns, rows);
        for (let c = 0; c < columns.length; c++) this.column(byColumn[c]!);
      }
      return this.finish();
    } finally {
      this.options = null;
    }
  }

  /** Starts a file of `numRows` rows. Forgets any file begun and not finished. */
  begin(columns: readonly LakeColumn[], numRows: number, options: WriteOptions): void {
    this.columns = columns;
    this.numRows = numRows;
    this.chunks = [];
    this.options = options;
    this.out.pos = 0;
    this.out.bytes(MAGIC);
    const defBytes = (numRows + 7) >> 3;
    if (this.b.defBits.length < defBytes) this.b.defBits = new Uint8Array(defBytes * 2);
  }

  /** Writes the next column's chunk from `values[0, numRows)` (null or undefined: a null). */
  column(values: readonly unknown[]): void {
    const options = this.options;
    if (!options) throw new Error('ParquetWriter.column: no file begun');
    const c = this.chunks.length;
    const col = this.columns[c];
    if (!col) throw new Error(`ParquetWriter.column: the file has ${this.columns.length} column(s), all written`);
    const n = this.numRows;
    if (n === 0) return;
    const { codec, check, compress } = options;
    const b = this.b;
    const out = this.out;
    const header = this.header;
    const hw = this.headerWriter;
    const encoder = COLUMN_ENCODERS[col.type];
    b.defBits.fill(0, 0, (n + 7) >> 3);
    b.levelSink.pos = 0;
    const stats = encoder.writeValues(b, col, values, n, check);
    if (!encoder.writesOwnLevels) writeFlatDefinitionLevels(b.levelSink, b.defBits, n, stats.nullCount);
    const dict = stats.dictionary;
    let dictionaryOffset: number | null = null;
    let uncompressedSize = 0;
    let compressedSize = 0;
    if (dict) {
      // The dictionary page: PLAIN_DICTIONARY as parquet-mr's v1 writer (Spark, Hive) labels it, read by every engine.
      const plainLen = this.packPage(b.scratch, null, codec, compress);
      const bodyLen = this.pageBodyLen;
      header.pos = 0;
      hw.inStruct(() => {
        hw.i32(1, PAGE_DICTIONARY);
        hw.i32(2, plainLen);
        hw.i32(3, bodyLen);
        hw.struct(7, () => {
          hw.i32(1, dict.size);
          hw.i32(2, ENCODING_PLAIN_DICTIONARY);
        });
      });
      dictionaryOffset = out.pos;
      out.append(header.buf, header.pos);
      out.append(this.pageBody, bodyLen);
      uncompressedSize += header.pos + plainLen;
      compressedSize += header.pos + bodyLen;
      this.idSink.pos = 0;
      writeDictionaryIds(this.idSink, b.dictIds, dict.ids, dict.size);
    }
    const plainLen = this.packPage(b.levelSink, dict ? this.idSink : b.scratch, codec, compress);
    const bodyLen = this.pageBodyLen;
    header.pos = 0;
    hw.inStruct(() => {
      hw.i32(1, PAGE_DATA);
      hw.i32(2, plainLen);
      hw.i32(3, bodyLen);
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
    out.append(this.pageBody, bodyLen);
    uncompressedSize += header.pos + plainLen;
    compressedSize += header.pos + bodyLen;
    this.chunks.push({ col, physicalType: encoder.physicalType, pageOffset, dictionaryOffset, uncompressedSize, compressedSize, stats });
  }

  /** Writes the footer and returns the file (a copy: the writer's buffers are reused). */
  finish(): Uint8Array {
    const options = this.options;
    if (!options) throw new Error('ParquetWriter.finish: no file begun');
    if (this.numRows > 0 && this.chunks.length !== this.columns.length) {
      throw new Error(`ParquetWriter.finish: ${this.chunks.length} of ${this.columns.length} column(s) written`);
    }
    const out = this.out;
    const footerStart = out.pos;
    const fw = new CompactWriter(out);
    fw.inStruct(() => writeFileMetaData(fw, this.columns, this.numRows, this.chunks, CODEC_ID[options.codec]));
    out.u32(out.pos - footerStart);
    out.bytes(MAGIC);
    this.options = null;
    this.chunks = [];
    return out.buf.slice(0, out.pos);
  }

  /** A page body: `first`'s bytes then `second`'s joined, then compressed into pageBody. Returns the uncompressed length. */
  private packPage(first: ByteSink, second: ByteSink | null, codec: PlainCodec, compress?: (page: Uint8Array) => Uint8Array): number {
    const plainLen = first.pos + (second ? second.pos : 0);
    if (this.pageBuf.length < plainLen) this.pageBuf = new Uint8Array(plainLen * 2);
    const pageBuf = this.pageBuf;
    copyBytes(first.buf, first.pos, pageBuf, 0);
    if (second) copyBytes(second.buf, second.pos, pageBuf, first.pos);
    if (codec === 'uncompressed') {
      this.pageBody = pageBuf;
      this.pageBodyLen = plainLen;
    } else if (codec === 'gzip') {
      this.pageBody = compress!(pageBuf.subarray(0, plainLen));
      this.pageBodyLen = this.pageBody.length;
    } else {
      const need = maxCompressedLength(plainLen);
      if (this.packedBuf.length < need) this.packedBuf = new Uint8Array(need * 2);
      this.pageBody = this.packedBuf;
      this.pageBodyLen = snappyCompressInto(pageBuf.subarray(0, plainLen), this.packedBuf, 0);
    }
    return plainLen;
  }
}

/** Idle writers, so that the per-call path reuses warm buffers; a caller inside another's check() gets its own. */
const idle: ParquetWriter[] = [];
const MAX_IDLE = 4;

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
  const w = idle.pop() ?? new ParquetWriter();
  try {
    return w.encode(columns, rows, compress ? { codec, check, compress } : { codec, check });
  } finally {
    if (idle.length < MAX_IDLE) idle.push(w);
  }
}
