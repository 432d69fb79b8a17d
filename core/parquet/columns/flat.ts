/** The schema side shared by flat (non-nested) columns: one OPTIONAL leaf named like the column. */
import type { LakeColumn } from '../../lake-table';
import { REPETITION_OPTIONAL } from '../format';
import type { CompactWriter } from '../thrift';
import type { ColumnEncoder } from './column-encoder';

type FlatSchema = Pick<ColumnEncoder, 'schemaElementCount' | 'writeSchema' | 'pathInSchema' | 'writesOwnLevels'>;

/**
 * @param extra writes the converted type (field 6) and logical type (field 10) after the name, if any
 */
export function flatSchema(physicalType: number, extra?: (w: CompactWriter) => void): FlatSchema {
  return {
    schemaElementCount: 1,
    writesOwnLevels: false,
    writeSchema(w: CompactWriter, col: LakeColumn): void {
      w.inStruct(() => {
        w.i32(1, physicalType);
        w.i32(3, REPETITION_OPTIONAL);
        w.string(4, col.name);
        extra?.(w);
      });
    },
    pathInSchema: (col: LakeColumn) => [col.name],
  };
}
