/** Column types an event schema may use. Timestamps are ISO-8601 strings or epoch millis on the wire. */
export const FIELD_TYPES = ['string', 'int', 'bigint', 'double', 'boolean', 'timestamp'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/**
 * One field as written in a definition: a type, or a type with `required: false`
 * and/or a `path` into the event's JSON (`'customer.country'`; see parseFieldPath).
 */
export type FieldSpec = FieldType | { readonly type: FieldType; readonly required?: boolean; readonly path?: FieldPathSpec };

/**
 * Where a field is read from: a dot path (`'customer.country'`, `\.` for a dot
 * inside a key and `\\` for a backslash), or the keys as an array
 * (`['customer', 'country']`, taken as they are).
 */
export type FieldPathSpec = string | readonly string[];

/** A field after validation. `required` defaults to true. */
export interface SchemaField {
  readonly name: string;
  readonly type: FieldType;
  readonly required: boolean;
  /**
   * The keys leading to the value in the event's JSON object, when it is not
   * the top-level key `name` (absent then). The lake column is always `name`.
   */
  readonly path?: readonly string[];
}

/** The keys of a field's path; the top-level key `name` when it has none. */
export function fieldPath(f: SchemaField): readonly string[] {
  return f.path ?? [f.name];
}

/** A path as users write it: dots between keys, `\.` and `\\` inside one. */
export function formatFieldPath(keys: readonly string[]): string {
  return keys.map((k) => k.replace(/\\/g, '\\\\').replace(/\./g, '\\.')).join('.');
}

/**
 * The keys of a path spec, or an error message. A string splits at unescaped
 * dots (`\.` is a dot in a key, `\\` a backslash; any other escape is an
 * error); an array is the keys as they are. Every key must be non-empty; at
 * most 16 keys.
 */
export function parseFieldPath(spec: FieldPathSpec): { readonly keys: readonly string[] } | { readonly error: string } {
  let keys: string[];
  if (Array.isArray(spec)) {
    if (!spec.every((k) => typeof k === 'string')) return { error: `path keys must be strings (given ${JSON.stringify(spec)})` };
    keys = [...(spec as readonly string[])];
  } else if (typeof spec === 'string') {
    keys = [''];
    for (let i = 0; i < spec.length; i++) {
      const c = spec[i]!;
      if (c === '\\') {
        const next = spec[i + 1];
        if (next !== '.' && next !== '\\') return { error: `path ${JSON.stringify(spec)}: a backslash must be followed by "." or "\\" (at ${i})` };
        keys[keys.length - 1] += next;
        i++;
      } else if (c === '.') keys.push('');
      else keys[keys.length - 1] += c;
    }
  } else {
    return { error: `path must be a dot path string or an array of keys (given ${JSON.stringify(spec)})` };
  }
  if (keys.length === 0 || keys.some((k) => k.length === 0)) return { error: `path ${JSON.stringify(spec)} has an empty key` };
  if (keys.length > 16) return { error: `path ${JSON.stringify(spec)} is deeper than 16 keys` };
  return { keys };
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
