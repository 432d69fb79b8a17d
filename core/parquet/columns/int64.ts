/** `bigint` (INT64) and `timestamp` (INT64 + TIMESTAMP_MILLIS), PLAIN. */
import { CONVERTED_TIMESTAMP_MILLIS, TWO_32, TYPE_INT64 } from '../format';
import type { ColumnBuffers } from '../buffers';
import type { LakeColumn } from '../../lake-table';
import { noValueStats, type ChunkStats, type ColumnEncoder, type ValueCheck } from './column-encoder';
import { flatSchema } from './flat';

function writeInt64Values(b: ColumnBuffers, col: LakeColumn, vals: readonly unknown[], n: number, check: ValueCheck): ChunkStats {
  const s = b.scratch;
  const defBits = b.defBits;
  s.pos = 0;
  s.reserve(n * 8);
  const view = s.view;
  let nulls = 0;
  let p = 0;
  let min: number | bigint = Infinity;
  let max: number | bigint = -Infinity;
  for (let i = 0; i < n; i++) {
    const raw = vals[i];
    let v: number | bigint;
    if (typeof raw === 'number' && Number.isSafeInteger(raw)) v = raw;
    else {
      if (raw === null || raw === undefined) {
        nulls++;
        continue;
      }
      // For 'bigint' a BigInt in the INT64 range comes back as is; anything else throws.
      v = check(raw, col, i) as number | bigint;
    }
    defBits[i >> 3]! |= 1 << (i & 7);
    if (typeof v === 'number') {
      const hi = Math.floor(v / TWO_32);
      view.setUint32(p, v - hi * TWO_32, true);
      view.setInt32(p + 4, hi, true);
    } else {
      view.setBigInt64(p, v, true);
    }
    p += 8;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  s.pos = p;
  if (p === 0) return noValueStats(n, nulls);
  return { numValues: n, nullCount: nulls, min: b.int64Bytes(min), max: b.int64Bytes(max) };
}

export const int64Column: ColumnEncoder = {
  type: 'bigint',
  physicalType: TYPE_INT64,
  ...flatSchema(TYPE_INT64),
  writeValues: writeInt64Values,
};

/**
 * The converted type alone, without the TIMESTAMP logical type: see core/encode.ts
 * (schemaElements) for why DuckDB and Trino then agree on plain `timestamp`.
 */
export const timestampColumn: ColumnEncoder = {
  type: 'timestamp',
  physicalType: TYPE_INT64,
  ...flatSchema(TYPE_INT64, (w) => w.i32(6, CONVERTED_TIMESTAMP_MILLIS)),
  writeValues: writeInt64Values,
};
