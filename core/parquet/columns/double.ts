/** `double`: DOUBLE, PLAIN. */
import { TYPE_DOUBLE } from '../format';
import { noValueStats, type ColumnEncoder } from './column-encoder';
import { flatSchema } from './flat';

export const doubleColumn: ColumnEncoder = {
  type: 'double',
  physicalType: TYPE_DOUBLE,
  ...flatSchema(TYPE_DOUBLE),
  writeValues(b, col, vals, n, check) {
    const s = b.scratch;
    const defBits = b.defBits;
    s.pos = 0;
    s.reserve(n * 8);
    const view = s.view;
    let nulls = 0;
    let p = 0;
    let min = Infinity;
    let max = -Infinity;
    let nan = false;
    for (let i = 0; i < n; i++) {
      const raw = vals[i];
      let v: number;
      if (typeof raw === 'number') v = raw;
      else {
        if (raw === null || raw === undefined) {
          nulls++;
          continue;
        }
        v = check(raw, col, i) as number;
      }
      defBits[i >> 3]! |= 1 << (i & 7);
      view.setFloat64(p, v, true);
      p += 8;
      if (v < min) min = v;
      if (v > max) max = v;
      if (v !== v) nan = true;
    }
    s.pos = p;
    // parquet.thrift Statistics: NaN never in min/max; if every value is NaN there are none. Older readers
    // may compare with NaN present, so with any NaN we leave min/max out (null_count still helps).
    if (p === 0 || nan || min > max) return noValueStats(n, nulls);
    // Zeros: min is written as -0.0 and max as +0.0 (parquet.thrift, ColumnOrder notes).
    return { numValues: n, nullCount: nulls, min: b.doubleBytes(min === 0 ? -0 : min), max: b.doubleBytes(max === 0 ? 0 : max) };
  },
};
