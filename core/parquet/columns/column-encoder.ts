/**
 * What one lake column type contributes to a Parquet file: its schema
 * elements, its leaf path, and a page encoder. Each type is one module in
 * this folder, registered in columns/index.ts.
 */
import type { LakeColumn } from '../../lake-table';
import type { ColumnType } from '../../schema';
import type { ColumnBuffers } from '../buffers';
import type { CompactWriter } from '../thrift';

/**
 * Checks a value the fast path did not accept (wrong JS type, BigInt, out of
 * range) and returns it in canonical form, or throws the LakeEncodeError the
 * caller wants. core/encode.ts passes its parquetValue, so both writers
 * give the same error messages.
 */
export type ValueCheck = (value: unknown, col: LakeColumn, rowIndex: number) => unknown;

/** Min/max as PLAIN-encoded bytes (parquet.thrift `Statistics.min_value`), null when there is none to give. */
export interface ChunkStats {
  /** Level entries in the chunk: one per row, except a list of k ≥ 1 elements gives k. */
  readonly numValues: number;
  /** Entries without a value: null rows, and for lists also empty lists (parquet-mr counts both at the leaf). */
  readonly nullCount: number;
  readonly min: Uint8Array | null;
  readonly max: Uint8Array | null;
  /**
   * Set when the column was dictionary-encoded: `scratch` then holds the
   * dictionary page body (the distinct values, PLAIN) and `dictIds` the page's
   * index per non-null value.
   */
  readonly dictionary?: { readonly size: number; readonly ids: number };
}

export interface ColumnEncoder {
  readonly type: ColumnType;
  /** parquet.thrift `Type` of the leaf. */
  readonly physicalType: number;
  /** How many SchemaElements writeSchema writes (1 for a flat column). */
  readonly schemaElementCount: number;
  /** The column's SchemaElements, depth first, each its own struct (`w.inStruct`). */
  writeSchema(w: CompactWriter, col: LakeColumn): void;
  /** Leaf path (ColumnMetaData.path_in_schema). */
  pathInSchema(col: LakeColumn): readonly string[];
  /**
   * Whether writeValues writes the page's level section into `b.levelSink` itself (nested
   * columns); otherwise the writer writes flat definition levels from `b.defBits`.
   */
  readonly writesOwnLevels: boolean;
  /**
   * Writes the PLAIN values of `vals[0, n)` into `b.scratch` (from position 0) and, for flat
   * columns, a set bit in `b.defBits` per non-null row (the writer clears it first); returns the
   * statistics. Values the fast path does not take go through `check`.
   */
  writeValues(b: ColumnBuffers, col: LakeColumn, vals: readonly unknown[], n: number, check: ValueCheck): ChunkStats;
}

/** Stats of a chunk with no value (all null). */
export function noValueStats(numValues: number, nullCount: number): ChunkStats {
  return { numValues, nullCount, min: null, max: null };
}
