/**
 * The column encoders, one per lake column type. A new column type is one
 * module in this folder and one line here (and its `ColumnType` in core/schema.ts).
 */
import type { ColumnType } from '../../schema';
import { booleanColumn } from './boolean';
import type { ColumnEncoder } from './column-encoder';
import { doubleColumn } from './double';
import { int32Column } from './int32';
import { int64Column, timestampColumn } from './int64';
import { listInt64Column } from './list-int64';
import { stringColumn } from './string';

export const COLUMN_ENCODERS: Readonly<Record<ColumnType, ColumnEncoder>> = {
  string: stringColumn,
  int: int32Column,
  bigint: int64Column,
  double: doubleColumn,
  boolean: booleanColumn,
  timestamp: timestampColumn,
  'array<bigint>': listInt64Column,
};

export type { ChunkStats, ColumnEncoder, ValueCheck } from './column-encoder';
