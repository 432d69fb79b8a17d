/** `boolean`: BOOLEAN, PLAIN (bit-packed, LSB first, one bit per non-null value). */
import { TYPE_BOOLEAN } from '../format';
import { noValueStats, type ColumnEncoder } from './column-encoder';
import { flatSchema } from './flat';

export const booleanColumn: ColumnEncoder = {
  type: 'boolean',
  physicalType: TYPE_BOOLEAN,
  ...flatSchema(TYPE_BOOLEAN),
  writeValues(b, col, vals, n, check) {
    const s = b.scratch;
    const defBits = b.defBits;
    s.pos = 0;
    s.reserve((n >> 3) + 1);
    const buf = s.buf;
    buf.fill(0, 0, (n >> 3) + 1);
    let nulls = 0;
    let count = 0;
    let sawTrue = false;
    let sawFalse = false;
    for (let i = 0; i < n; i++) {
      const raw = vals[i];
      let v: boolean;
      if (typeof raw === 'boolean') v = raw;
      else {
        if (raw === null || raw === undefined) {
          nulls++;
          continue;
        }
        v = check(raw, col, i) as boolean;
      }
      defBits[i >> 3]! |= 1 << (i & 7);
      if (v) {
        buf[count >> 3]! |= 1 << (count & 7);
        sawTrue = true;
      } else sawFalse = true;
      count++;
    }
    s.pos = (count + 7) >> 3;
    if (count === 0) return noValueStats(n, nulls);
    return { numValues: n, nullCount: nulls, min: Uint8Array.of(sawFalse ? 0 : 1), max: Uint8Array.of(sawTrue ? 1 : 0) };
  },
};
