/** parquet.thrift enum values (apache/parquet-format `src/main/thrift/parquet.thrift`). */
export const TYPE_BOOLEAN = 0;
export const TYPE_INT32 = 1;
export const TYPE_INT64 = 2;
export const TYPE_DOUBLE = 5;
export const TYPE_BYTE_ARRAY = 6;
export const REPETITION_REQUIRED = 0;
export const REPETITION_OPTIONAL = 1;
export const REPETITION_REPEATED = 2;
export const CONVERTED_UTF8 = 0;
export const CONVERTED_LIST = 3;
export const CONVERTED_TIMESTAMP_MILLIS = 9;
export const ENCODING_PLAIN = 0;
export const ENCODING_PLAIN_DICTIONARY = 2;
export const ENCODING_RLE = 3;
export const PAGE_DATA = 0;
export const PAGE_DICTIONARY = 2;

/** Page compression. Codec numbers from parquet.thrift `CompressionCodec`. */
export type PlainCodec = 'uncompressed' | 'snappy' | 'gzip';
export const CODEC_ID: Readonly<Record<PlainCodec, number>> = { uncompressed: 0, snappy: 1, gzip: 2 };

export const MAGIC = Uint8Array.of(0x50, 0x41, 0x52, 0x31); // "PAR1"

export const TWO_32 = 4294967296;
