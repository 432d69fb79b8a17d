/** `int`: INT32, PLAIN. */
import { TYPE_INT32 } from '../format';
import { noValueStats, type ColumnEncoder } from './column-encoder';
import { flatSchema } from './flat';

export const int32Column: ColumnEncoder = {
  type: 'int',
  physicalType: TYPE_INT32,
  ...flatSchema(TYPE_INT32),
  writeValues(b, col, vals, n, check) {
    const s = b.scratch;
    const defBits = b.defBits;
    s.pos = 0;
    s.reserve(n * 4);
    const view = s.view;
    let nulls = 0;
    let p = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      const raw = vals[i];
      let v: number;
      if (typeof raw === 'number' && (raw | 0) === raw) v = raw;
      else {
        if (raw === null || raw === undefined) {
          nulls++;
          continue;
        }
        v = check(raw, col, i) as number;
      }
      defBits[i >> 3]! |= 1 << (i & 7);
      view.setInt32(p, v, true);
      p += 4;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    s.pos = p;
    if (p === 0) return noValueStats(n, nulls);
    return { numValues: n, nullCount: nulls, min: b.int32Bytes(min), max: b.int32Bytes(max) };
  },
};
