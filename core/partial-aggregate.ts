/**
 * Mergeable partial aggregates (docs/architecture.md "Partial aggregates"). Each batch
 * emits one partial row per (window, group) and aggregate; final values are a merge done by
 * the aggregate view (SUM of counts, MIN of mins, …), so late events and many
 * shards need no shared state. `mergePartialRows` is the same merge in JS: it is
 * associative and commutative, and tests hold it to that. What each measure
 * keeps, and how it merges, is its kind's (core/measures/).
 */
import type { Aggregate } from './aggregate';
import { floorToMultiple } from './iso-time';
import { measureKind, type MeasureKind, type MeasureSpec } from './measures/index';
import { num } from './measures/types';
import type { Pipeline } from './pipeline';
import { pipelineColumns } from './pipeline-expr';
import type { FieldValue, Row, SchemaField } from './schema';
import { SessionBuffer, type SessionCut } from './session';
import { assignWindows, type SessionWindow } from './window';
import { windowKind } from './window-kinds';

/**
 * One (window, group)'s state. The numeric parts of measures live in a
 * Float64Array (avg takes two slots: sum, count), with a seen flag per measure
 * for the ones that are null until a value arrives (sum, min, max): updating a
 * number in a typed array allocates nothing, where a number property that
 * starts as null boxes a fresh heap number on every update, i.e. per event and
 * measure. `vals` holds a non-numeric value per measure (minBy's field), `objs`
 * a per-group object (a sketch, a histogram).
 */
interface GroupState {
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly groupValues: readonly FieldValue[];
  readonly nums: Float64Array;
  readonly seen: Uint8Array;
  readonly vals: FieldValue[];
  readonly objs: unknown[];
}

/** Accumulates rows of one batch into partial aggregates per (window, group) of one aggregate. */
export class PartialAggregator {
  /** window start → group key → state: two lookups, no key string built per event. */
  private readonly windows = new Map<number, Map<string, GroupState>>();
  private count = 0;
  private lastStart = NaN;
  private lastGroups: Map<string, GroupState> | undefined;
  /** The aggregate's measure layout and generated update, made once per aggregate (planFor). */
  private readonly plan: AggregatePlan;
  /**
   * Session windows (window-kinds.ts): the batch's events, held until rows();
   * then the partial session whose events are being replayed, else null.
   */
  private held: SessionBuffer<Row> | null = null;
  span: SessionCut | null = null;

  /** `schema`: the pipeline's, for measures that compile an expression over it (countIf). */
  constructor(
    private readonly agg: Aggregate,
    schema: readonly SchemaField[] = [],
  ) {
    this.plan = planFor(agg, schema);
  }

  /** Adds a row whose event time (epoch ms) is `eventTime`. */
  add(row: Row, eventTime: number): void {
    this.plan.add(this, row, eventTime);
  }

  /** Holds an event until the batch's rows are asked for: session windows need each group's events in time order. Called by the generated adder. */
  hold(groupKey: string, row: Row, eventTime: number): void {
    (this.held ??= new SessionBuffer<Row>((this.agg.window as SessionWindow).gapMs)).add(groupKey, row, eventTime);
  }

  /** Replays the held events, each partial session's through the adder with `span` set to it. */
  private replayHeld(): void {
    const held = this.held;
    if (held === null) return;
    this.held = null;
    held.forEachSession((_key, cut, rows) => {
      this.span = cut;
      for (let i = cut.first; i <= cut.last; i++) this.plan.add(this, rows[i]!, cut.start);
    });
    this.span = null;
  }

  /** The state of (window, group), created on first use. Called by the generated adder. */
  group(start: number, end: number, groupKey: string, row: Row): GroupState {
    // A batch's events fall in few windows, mostly the one of the event before.
    let groups = start === this.lastStart ? this.lastGroups : this.windows.get(start);
    if (!groups) this.windows.set(start, (groups = new Map()));
    this.lastStart = start;
    this.lastGroups = groups;
    let g = groups.get(groupKey);
    if (!g) {
      const n = this.agg.measures.length;
      g = {
        windowStart: start,
        windowEnd: end,
        groupValues: this.agg.groupBy.map((f) => row[f] ?? null),
        nums: new Float64Array(this.plan.slotCount),
        seen: new Uint8Array(n),
        vals: new Array<FieldValue>(n).fill(null),
        objs: this.plan.newState.map((make, i) => (make ? make(this.agg.measures[i]!.spec) : null)),
      };
      groups.set(groupKey, g);
      this.count++;
    }
    return g;
  }

  /** Partial rows so far (the held events of session windows count once rows() has replayed them). */
  get size(): number {
    return this.count;
  }

  /** Partial rows in the partials table's column layout (see lake-table.ts partialColumns). */
  rows(): Row[] {
    this.replayHeld();
    const out: Row[] = [];
    const { groupBy, measures } = this.agg;
    const { kinds, slots } = this.plan;
    for (const groups of this.windows.values()) {
      for (const g of groups.values()) {
        const row: Row = { window_start: g.windowStart, window_end: g.windowEnd };
        for (let k = 0; k < groupBy.length; k++) row[groupBy[k]!] = g.groupValues[k] ?? null;
        for (let i = 0; i < measures.length; i++) kinds[i]!.writePartial(row, measures[i]!.name, measures[i]!.spec, g, i, slots[i]!);
        out.push(row);
      }
    }
    const finish = windowKind(this.agg.window).finishRows;
    return finish ? finish(this.agg, out) : out;
  }

  /** Returns per-group buffers for the next batch's aggregator (KmvSketch.release); rows() is empty of sketches after. */
  release(): void {
    const { kinds } = this.plan;
    for (const groups of this.windows.values()) {
      for (const g of groups.values()) {
        for (let i = 0; i < g.objs.length; i++) if (g.objs[i] !== null) kinds[i]!.release?.(g.objs[i]);
      }
    }
  }
}

type Adder = (self: PartialAggregator, row: Row, eventTime: number) => void;

/**
 * Per aggregate, once: each measure's kind and first slot in a group's `nums`,
 * and the generated per-event update, which bakes the same slots in as constants.
 */
interface AggregatePlan {
  readonly kinds: readonly MeasureKind<MeasureSpec>[];
  readonly slots: Uint16Array;
  readonly slotCount: number;
  readonly newState: readonly (((spec: MeasureSpec) => unknown) | undefined)[];
  readonly add: Adder;
}

const plans = new WeakMap<Aggregate, AggregatePlan>();

function planFor(agg: Aggregate, schema: readonly SchemaField[]): AggregatePlan {
  let plan = plans.get(agg);
  if (!plan) {
    const kinds = agg.measures.map((m) => measureKind(m.spec));
    let slotCount = 0;
    const slots = Uint16Array.from(agg.measures, (m, i) => {
      const at = slotCount;
      slotCount += kinds[i]!.slots(m.spec);
      return at;
    });
    const ctx: Record<string, unknown> = { floorToMultiple, assignWindows, num, bigintSafe, groupBy: agg.groupBy, window: agg.window };
    agg.measures.forEach((m, i) => (ctx[`m${i}`] = kinds[i]!.constants?.(m.spec, schema)));
    const add = new Function('ctx', adderSource(agg, kinds, slots))(ctx) as Adder;
    plans.set(agg, (plan = { kinds, slots, slotCount, newState: kinds.map((k) => k.newState), add }));
  }
  return plan;
}

/**
 * The body of the per-event update, generated per aggregate: the group key,
 * the window(s), then one statement per measure (its kind's snippet) with its
 * field read by name and its slot as a constant. Why generated: rows from the
 * record decoder all share one hidden class, so `row["value"]` here is a
 * monomorphic load, where a loop over the measures reading `row[field]` was a
 * megamorphic keyed load and a switch per measure, and was a fifth of the
 * engine's time. Field names enter the source only as JSON string literals.
 */
function adderSource(agg: Aggregate, kinds: readonly MeasureKind<MeasureSpec>[], slots: Uint16Array): string {
  const read = (field: string) => `row[${JSON.stringify(field)}]`;
  const groupKey =
    agg.groupBy.length === 1
      ? // One group-by field is the common case: no array and JSON key per event (and no String() of a string).
        `const k0 = ${read(agg.groupBy[0]!)};
  const groupKey = typeof k0 === 'string' ? k0 : String(k0 ?? '\u0000null');`
      : `const groupKey = JSON.stringify(groupBy.map((g) => row[g] ?? null), bigintSafe);`;
  const updates = agg.measures.map((m, i) => kinds[i]!.update(m.spec, { i, at: slots[i]!, read, constant: `ctx.m${i}` }));
  const update = (start: string, end: string) => `{
    const g = self.group(${start}, ${end}, groupKey, row);
    const nums = g.nums;
    const seen = g.seen;
    const vals = g.vals;
    const objs = g.objs;
    ${updates.join('\n    ')}
  }`;
  return `'use strict';
const { floorToMultiple, assignWindows, num, bigintSafe, groupBy } = ctx;
return function add(self, row, eventTime) {
  ${groupKey}
  ${windowKind(agg.window).adder(agg.window, update)}
};`;
}

function bigintSafe(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

/** Merges partial rows with equal (window, group) — the JS twin of the view's SQL merge. */
export function mergePartialRows(agg: Aggregate, rows: readonly Row[]): Row[] {
  const kinds = agg.measures.map((m) => measureKind(m.spec));
  const merged = new Map<string, Row>();
  const final = windowKind(agg.window).viewRows?.(agg, rows) ?? rows;
  for (const r of final) {
    const key = JSON.stringify([r.window_start, r.window_end, ...agg.groupBy.map((g) => r[g] ?? null)], bigintSafe);
    const acc = merged.get(key);
    if (!acc) {
      const copy: Record<string, unknown> = { ...r };
      agg.measures.forEach((m, i) => kinds[i]!.clone?.(copy, m.name, m.spec));
      merged.set(key, copy as Row);
      continue;
    }
    agg.measures.forEach((m, i) => kinds[i]!.merge(acc, r, m.name, m.spec));
  }
  return [...merged.values()];
}

export interface FinalizeOptions {
  /** With both: the view's `closed` column, as the view computes it at `now` (see lake-table.ts aggregateView). */
  readonly now?: number;
  readonly allowedLatenessMs?: number;
}

/** Final values per (window, group), as the aggregate view returns them. */
export function finalizePartialRows(agg: Aggregate, rows: readonly Row[], opts: FinalizeOptions = {}): Row[] {
  const kinds = agg.measures.map((m) => measureKind(m.spec));
  return mergePartialRows(agg, rows).map((r) => {
    const out: Row = { window_start: r.window_start!, window_end: r.window_end! };
    for (const g of agg.groupBy) out[g] = r[g] ?? null;
    agg.measures.forEach((m, i) => kinds[i]!.finalize(out, r, m.name, m.spec));
    if (opts.now !== undefined && opts.allowedLatenessMs !== undefined) out.closed = opts.now >= num(r.window_end!) + opts.allowedLatenessMs;
    return out;
  });
}

/** One aggregator per aggregate of the pipeline, in order. */
export function pipelineAggregators(p: Pipeline): PartialAggregator[] {
  return p.aggregates.map((a) => new PartialAggregator(a, pipelineColumns(p)));
}

/** Convenience for tests and backfill checks: one aggregate's partial rows of `rows` in one pass. @default the first aggregate */
export function aggregateRows(p: Pipeline, rows: readonly Row[], agg: Aggregate | undefined = p.aggregates[0]): Row[] {
  if (!agg) return [];
  const a = new PartialAggregator(agg, pipelineColumns(p));
  for (const r of rows) a.add(r, r[p.eventTime] as number);
  const out = a.rows();
  a.release();
  return out;
}
