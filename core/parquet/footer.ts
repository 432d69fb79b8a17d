/** The file footer: parquet.thrift `FileMetaData`, one row group. */
import type { LakeColumn } from '../lake-table';
import { COLUMN_ENCODERS, type ChunkStats } from './columns';
import { ENCODING_PLAIN, ENCODING_PLAIN_DICTIONARY, ENCODING_RLE } from './format';
import { CT_STRUCT, type CompactWriter } from './thrift';

/** One column chunk as written: where its pages are and what they hold. */
export interface Chunk {
  readonly col: LakeColumn;
  readonly physicalType: number;
  /** The data page's offset; a dictionary page, if any, sits right before it at dictionaryOffset. */
  readonly pageOffset: number;
  readonly dictionaryOffset: number | null;
  readonly uncompressedSize: number; // page headers + page bodies
  readonly compressedSize: number;
  readonly stats: ChunkStats;
}

export function writeStats(w: CompactWriter, s: ChunkStats): void {
  w.i64(3, s.nullCount);
  if (s.max) w.binary(5, s.max);
  if (s.min) w.binary(6, s.min);
}

export function writeFileMetaData(w: CompactWriter, columns: readonly LakeColumn[], numRows: number, chunks: readonly Chunk[], codecId: number): void {
  w.i32(1, 1); // version
  // SchemaElements, depth first: the root, then each column's own (columns/*.ts).
  w.list(2, CT_STRUCT, 1 + columns.reduce((k, c) => k + COLUMN_ENCODERS[c.type].schemaElementCount, 0));
  w.inStruct(() => {
    w.string(4, 'schema');
    w.i32(5, columns.length);
  });
  for (const col of columns) COLUMN_ENCODERS[col.type].writeSchema(w, col);
  w.i64(3, numRows);
  const rowGroups = chunks.length ? [chunks] : [];
  w.structList(4, rowGroups, (group) => {
    w.structList(1, group, (c) => {
      // file_offset: deprecated, readers use meta_data; the chunk's first page, as parquet-mr writes it
      w.i64(2, c.dictionaryOffset ?? c.pageOffset);
      w.struct(3, () => {
        w.i32(1, c.physicalType);
        w.i32List(2, [c.dictionaryOffset === null ? ENCODING_PLAIN : ENCODING_PLAIN_DICTIONARY, ENCODING_RLE]);
        w.binaryList(3, COLUMN_ENCODERS[c.col.type].pathInSchema(c.col));
        w.i32(4, codecId);
        w.i64(5, c.stats.numValues);
        w.i64(6, c.uncompressedSize);
        w.i64(7, c.compressedSize);
        w.i64(9, c.pageOffset);
        if (c.dictionaryOffset !== null) w.i64(11, c.dictionaryOffset);
        w.struct(12, () => writeStats(w, c.stats));
      });
    });
    w.i64(2, group.reduce((a, c) => a + c.uncompressedSize, 0));
    w.i64(3, numRows);
    w.i64(5, group[0]!.dictionaryOffset ?? group[0]!.pageOffset);
    w.i64(6, group.reduce((a, c) => a + c.compressedSize, 0));
  });
  w.string(6, 'shardflow');
  // ColumnOrder union, field 1 = TYPE_ORDER (empty struct): min_value/max_value follow each type's sort order.
  w.structList(7, columns, () => w.struct(1, () => {}));
}
