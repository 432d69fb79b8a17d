/** Column types an event schema may use. Timestamps are ISO-8601 strings or epoch millis on the wire. */
export const FIELD_TYPES = ['string', 'int', 'bigint', 'double', 'boolean', 'timestamp'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** One field as written in a definition: a type, or a type with `required: false`. */
export type FieldSpec = FieldType | { readonly type: FieldType; readonly required?: boolean };

/** A field after validation. `required` defaults to true. */
export interface SchemaField {
  readonly name: string;
  readonly type: FieldType;
  readonly required: boolean;
}

/**
 * A typed row: strings, numbers (int, double, and timestamp as epoch millis UTC),
 * bigint (JS BigInt) and booleans; null where an optional field is absent.
 */
export type FieldValue = string | number | bigint | boolean | null;
export type Row = Record<string, FieldValue>;

/** Glue/Athena column types used by lake tables. */
export type ColumnType = 'string' | 'int' | 'bigint' | 'double' | 'boolean' | 'timestamp' | 'array<bigint>';

export function columnTypeOf(t: FieldType): ColumnType {
  return t;
}
