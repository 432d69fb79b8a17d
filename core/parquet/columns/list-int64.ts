/**
 * `array<bigint>`: the standard 3-level LIST of parquet-format LogicalTypes.md
 * (`<name> (LIST) / repeated group list / element`, as hyparquet-writer wrote
 * it: see core/encode.ts), INT64 leaves, max repetition level 1, max
 * definition level 2, levels as RLE runs. The partials table's KMV sketches.
 */
import { CONVERTED_LIST, REPETITION_OPTIONAL, REPETITION_REPEATED, REPETITION_REQUIRED, TWO_32, TYPE_INT64 } from '../format';
import { noValueStats, type ColumnEncoder } from './column-encoder';

export const listInt64Column: ColumnEncoder = {
  type: 'array<bigint>',
  physicalType: TYPE_INT64, // the leaf, `element`
  schemaElementCount: 3,
  writesOwnLevels: true,
  writeSchema(w, col) {
    w.inStruct(() => {
      w.i32(3, REPETITION_OPTIONAL);
      w.string(4, col.name);
      w.i32(5, 1);
      w.i32(6, CONVERTED_LIST);
      w.struct(10, () => w.struct(3, () => {})); // LogicalType union, field 3 = LIST
    });
    w.inStruct(() => {
      w.i32(3, REPETITION_REPEATED);
      w.string(4, 'list');
      w.i32(5, 1);
    });
    w.inStruct(() => {
      w.i32(1, TYPE_INT64);
      w.i32(3, REPETITION_REQUIRED); // a KMV sketch never holds a null
      w.string(4, 'element');
    });
  },
  pathInSchema: (col) => [col.name, 'list', 'element'],
  writeValues(b, col, vals, n, check) {
    // Per row: null → one entry (def 0); [] → one entry (def 1); k values → k entries (def 2), the
    // first with repetition level 0 (a new row), the rest 1. Levels go to their own sinks as runs.
    const s = b.scratch;
    s.pos = 0;
    const { listRepSink, listDefSink, repRuns, defRuns, levelSink } = b;
    listRepSink.pos = 0;
    listDefSink.pos = 0;
    repRuns.begin();
    defRuns.begin();
    let nulls = 0;
    let entries = 0;
    let p = 0;
    let min: number | bigint = Infinity;
    let max: number | bigint = -Infinity;
    for (let i = 0; i < n; i++) {
      const raw = vals[i];
      if (raw === null || raw === undefined) {
        repRuns.add(0, 1);
        defRuns.add(0, 1);
        entries++;
        nulls++;
        continue;
      }
      let list = (Array.isArray(raw) ? raw : check(raw, col, i)) as readonly (number | bigint)[];
      const k = list.length;
      s.reserve(k * 8);
      let view = s.view;
      const start = p;
      for (let e = 0; e < k; e++) {
        const v = list[e]!;
        if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
          // A BigInt, or a value check() refuses with the element's index: canonicalize the whole list.
          list = check(raw, col, i) as bigint[];
          view = s.view;
          p = start;
          for (const x of list) {
            view.setBigInt64(p, x as bigint, true);
            p += 8;
            if (x < min) min = x;
            if (x > max) max = x;
          }
          break;
        }
        const hi = Math.floor(v / TWO_32);
        view.setUint32(p, v - hi * TWO_32, true);
        view.setInt32(p + 4, hi, true);
        p += 8;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      s.pos = p;
      repRuns.add(0, 1);
      if (k === 0) {
        defRuns.add(1, 1);
        entries++;
        nulls++;
        continue;
      }
      if (k > 1) repRuns.add(1, k - 1);
      defRuns.add(2, k);
      entries += k;
    }
    repRuns.end();
    defRuns.end();
    levelSink.append(listRepSink.buf, listRepSink.pos);
    levelSink.append(listDefSink.buf, listDefSink.pos);
    if (p === 0) return noValueStats(entries, nulls);
    return { numValues: entries, nullCount: nulls, min: b.int64Bytes(min), max: b.int64Bytes(max) };
  },
};
