/**
 * What a measure kind is: one module that owns everything the rest of the
 * engine needs to know about it (docs/architecture.md "Measures"). The engine
 * (partial-aggregate.ts), the lake tables and the view (lake-table.ts), the
 * backfill (backfill.ts), validation (aggregate.ts) and the UI ask the kind in
 * the registry (index.ts) and never switch on `fn`.
 */
import type { FieldType, FieldValue, Row, SchemaField } from '../schema';
import type { LakeColumn } from '../lake-table';

/** A field as a measure sees it: schema fields and, where the definition has them, derived columns. */
export type MeasureField = Pick<SchemaField, 'name' | 'type'>;

/** The definition's fields and how to fail, for validation and compilation. */
export interface MeasureContext {
  /** `aggregate.measures.<name>` or `aggregates[i].measures.<name>`: the path errors name. */
  readonly path: string;
  readonly fields: ReadonlyMap<string, MeasureField>;
  /** Throws a PipelineDefinitionError naming the pipeline, `path` and the rule. */
  readonly fail: (path: string, rule: string) => never;
  /** The schema, for compiling expressions (countIf). */
  readonly schema: readonly SchemaField[];
}

/** Field types to the engine's compile-time needs: the type of a field by name (throws for an unknown name). */
export type FieldTypeOf = (name: string) => FieldType;

/**
 * Code the generated per-event adder (partial-aggregate.ts) is made of. Names
 * in the snippets: `row` (the event), `g` (the group's state), `nums` (its
 * Float64Array), `seen` (its Uint8Array, one flag per measure), `vals` (one
 * slot per measure for a non-numeric value), `objs` (one per-group object per
 * measure, from `newState`), `ctx` (per-aggregate constants from `constants`).
 */
export interface AdderSlots {
  /** This measure's index (for `seen[i]`, `vals[i]`, `objs[i]`). */
  readonly i: number;
  /** Its first slot in `nums`. */
  readonly at: number;
  /** JS expression reading a field of the event, e.g. `row["value"]`. */
  readonly read: (field: string) => string;
  /** JS expression for this measure's entry of `ctx` (its `constants`). */
  readonly constant: string;
}

/** One measure kind. `S` is its spec as written in a definition. */
export interface MeasureKind<S extends { readonly fn: string } = { readonly fn: string }> {
  readonly fn: S['fn'];
  /** Checks a spec (field names and types, arguments); fails via ctx.fail with a rule that says what is wrong. */
  validate(spec: S, ctx: MeasureContext): void;
  /** The spec as the validated pipeline keeps it (plain JSON, e.g. an expression's node), when not the spec as given. */
  readonly normalize?: (spec: S) => S;
  /** Fields of the event it reads (backfill carries them). */
  inputs(spec: S): readonly string[];

  // --- the partials table and the engine ---------------------------------
  /** Columns of the partials table for measure `name`. */
  partialColumns(name: string, spec: S, type: FieldTypeOf): LakeColumn[];
  /** Float64Array slots per group (no allocation per event). */
  readonly slots: (spec: S) => number;
  /** A fresh per-group object (a sketch, a histogram), or undefined when the slots suffice. */
  readonly newState?: (spec: S) => unknown;
  /** Per-aggregate constants the adder may use (a compiled predicate …), as `ctx.m<i>`. */
  readonly constants?: (spec: S, schema: readonly SchemaField[]) => unknown;
  /** Statements of the per-event update: allocation-free for numbers. */
  update(spec: S, s: AdderSlots): string;
  /** Writes the group's partial columns into `row`. */
  writePartial(row: Row, name: string, spec: S, g: GroupSlots, i: number, at: number): void;
  /** Gives back the per-group object's buffers once the rows are out (KmvSketch.release). */
  readonly release?: (state: unknown) => void;
  /** JS merge: folds partial row `r` into `acc` (same window and group). Associative and commutative. */
  merge(acc: Row, r: Row, name: string, spec: S): void;
  /** A copy of the partial columns that a later merge may change in place (arrays). */
  readonly clone?: (row: Record<string, unknown>, name: string, spec: S) => void;

  // --- the view ------------------------------------------------------------
  /** The view's columns for this measure (names, types), in order. */
  viewColumns(name: string, spec: S, type: FieldTypeOf): LakeColumn[];
  /** SQL of the merge; see ViewSql. */
  viewSql(name: string, spec: S): ViewSql;
  /** JS finalize: the view's values from a merged partial row. */
  finalize(out: Row, merged: Row, name: string, spec: S): void;

  // --- batch ---------------------------------------------------------------
  /** Select items computing the view's columns straight from raw events (backfill), in viewColumns order. */
  backfillSql(name: string, spec: S, opts: BackfillSqlOptions): readonly string[] | BackfillSql;
  /**
   * Why a value of view column `column` from the backfill (or from SQL, `bv`)
   * and one from the streaming view (or from JS, `sv`) are too far apart, or
   * null when they agree within this kind's tolerance.
   */
  compare(column: string, bv: string | null, sv: string | null, spec: S, o: Tolerance): string | null;
}

export interface GroupSlots {
  readonly nums: Float64Array;
  readonly seen: Uint8Array;
  readonly vals: FieldValue[];
  readonly objs: unknown[];
}

/**
 * How one measure merges in the view, in Athena's SQL (the local endpoint
 * translates it for DuckDB). The view is
 *
 *   SELECT keys, <outer…>, closed, dt, hour
 *   FROM (SELECT keys, dt, hour, <inner…> FROM (SELECT *, <pre…> FROM partials) GROUP BY keys, dt, hour) m
 *   LEFT JOIN (<joined[0].sql>) j0 ON keys, dt, hour …
 *
 * `pre` are window-function columns over the partial rows (PARTITION BY the
 * keys, dt, hour: write `{partition}` for that list); `joined` are relations
 * keyed by the keys, dt and hour (write `{keys}` for them and `{partials}` for the
 * partials table) whose columns `outer` may name.
 */
export interface ViewSql {
  readonly pre?: readonly string[];
  readonly inner: readonly string[];
  readonly outer: readonly string[];
  readonly joined?: readonly string[];
}

export interface BackfillSqlOptions {
  /** COUNT(DISTINCT x) instead of approx_distinct(x). */
  readonly exactDistinct: boolean;
  /** The raw table's columns are referenced unqualified; quote a name with this. */
  readonly quote: (name: string) => string;
  readonly schema: readonly SchemaField[];
}

/**
 * Backfill select items over the raw events of a window and group, and
 * window-function columns they read (`{partition}` = the window and group columns).
 */
export interface BackfillSql {
  readonly pre?: readonly string[];
  readonly items: readonly string[];
}

export interface Tolerance {
  /** Relative tolerance of double sums and averages (summation order differs). */
  readonly tol: number;
  /** Allowed deviation in combined standard errors (approximate measures). */
  readonly sigmas: number;
  /** Relative standard error of the batch side's distinct count (0 when exact). */
  readonly batchErr: number;
}

/** Numbers of the engine: BigInt fields are read as doubles where a measure does arithmetic on them. */
export function num(v: FieldValue | undefined): number {
  return typeof v === 'bigint' ? Number(v) : (v as number);
}

/** Athena prints `timestamp with time zone` with a zone suffix; compare the UTC wall time. */
export const normTime = (v: string | null): string => (v ?? '').replace(/ UTC$/, '');

/** Equal as numbers, or as text where not numbers (timestamps, strings). */
export function sameScalar(bv: string, sv: string): boolean {
  const x = Number(bv);
  const y = Number(sv);
  if (bv.trim() !== '' && sv.trim() !== '' && !Number.isNaN(x) && !Number.isNaN(y)) return x === y;
  return normTime(bv).replace(/\.000$/, '') === normTime(sv).replace(/\.000$/, '');
}

/** Within a relative tolerance (at least 1 in absolute terms below 1). */
export function closeTo(bv: string, sv: string, tol: number): string | null {
  const x = Number(bv);
  const y = Number(sv);
  return Math.abs(x - y) <= tol * Math.max(1, Math.abs(x), Math.abs(y)) ? null : `differs by ${x - y} (relative ${((x - y) / Math.max(Math.abs(y), 1e-300)).toExponential(2)})`;
}

export const NUMERIC_TYPES: readonly FieldType[] = ['int', 'bigint', 'double'];
export const ORDERED_TYPES: readonly FieldType[] = ['int', 'bigint', 'double', 'timestamp'];

/** The named field, or a failure naming the measure, the field and the schema's fields. */
export function needField(fnName: string, field: unknown, ctx: MeasureContext, types?: readonly FieldType[], what = 'a field'): MeasureField {
  if (typeof field !== 'string' || field === '') return ctx.fail(ctx.path, `${fnName}() needs ${what}`);
  const f = ctx.fields.get(field);
  if (!f) return ctx.fail(ctx.path, `${fnName}() names field ${JSON.stringify(field)}, which is not in the schema (fields: ${[...ctx.fields.keys()].join(', ')})`);
  if (types && !types.includes(f.type)) {
    const kind = types === NUMERIC_TYPES ? 'a numeric field' : types === ORDERED_TYPES ? 'a numeric or timestamp field' : `a field of type ${types.join(' | ')}`;
    ctx.fail(ctx.path, `${fnName}() needs ${kind}; "${f.name}" is ${f.type}`);
  }
  return f;
}

/** The column type a number-valued partial of a field gets: int widens to bigint. */
export function widened(t: FieldType): FieldType {
  return t === 'int' ? 'bigint' : t;
}

/** `nullable` combine of two partial values (null = no value seen). */
export function nullableOp(a: FieldValue | undefined, b: FieldValue | undefined, op: (x: number, y: number) => number): FieldValue {
  if (a === null || a === undefined) return b ?? null;
  if (b === null || b === undefined) return a;
  return op(num(a), num(b));
}
