/**
 * Mergeable partial aggregates (docs/architecture.md "Partial aggregates"). Each batch
 * emits one partial row per (window, group); final values are a merge done by
 * the aggregate view (SUM of counts, MIN of mins, …), so late events and many
 * shards need no shared state. `mergePartialRows` is the same merge in JS: it is
 * associative and commutative, and tests hold it to that.
 */
import { floorToMultiple } from './iso-time';
import { KmvSketch, KMV_K, kmvEstimate } from './kmv-sketch';
import type { Aggregate, Pipeline } from './pipeline';
import type { FieldValue, Row } from './schema';
import { assignWindows } from './window';

/** A measure's operation, as a small integer the per-event switch compares cheaply. */
const COUNT = 0;
const SUM = 1;
const MIN = 2;
const MAX = 3;
const AVG = 4;
const DISTINCT = 5;
const OPS = { count: COUNT, sum: SUM, min: MIN, max: MAX, avg: AVG, approxDistinct: DISTINCT } as const;

/**
 * One (window, group)'s state. The numeric measures live in a Float64Array
 * (avg takes two slots: sum, count), with a seen flag per measure for the
 * ones that are null until a value arrives (sum, min, max): updating a number
 * in a typed array allocates nothing, where a number property that starts as
 * null boxes a fresh heap number on every update, i.e. per event and measure.
 */
interface GroupState {
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly groupValues: readonly FieldValue[];
  readonly nums: Float64Array;
  readonly seen: Uint8Array;
  /** Per measure: its sketch for approxDistinct, else null. */
  readonly sketches: (KmvSketch | null)[];
}

function num(v: FieldValue): number {
  return typeof v === 'bigint' ? Number(v) : (v as number);
}

/** Accumulates rows of one batch into partial aggregates per (window, group). */
export class PartialAggregator {
  /** window start → group key → state: two lookups, no key string built per event. */
  private readonly windows = new Map<number, Map<string, GroupState>>();
  private count = 0;
  private lastStart = NaN;
  private lastGroups: Map<string, GroupState> | undefined;
  /** The aggregate's measure layout and generated update, made once per aggregate (planFor). */
  private readonly plan: AggregatePlan;

  constructor(private readonly agg: Aggregate) {
    this.plan = planFor(agg);
  }

  /** Adds a row whose event time (epoch ms) is `eventTime`. */
  add(row: Row, eventTime: number): void {
    this.plan.add(this, row, eventTime);
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
      g = {
        windowStart: start,
        windowEnd: end,
        groupValues: this.agg.groupBy.map((f) => row[f] ?? null),
        nums: new Float64Array(this.plan.slotCount),
        seen: new Uint8Array(this.plan.ops.length),
        sketches: this.agg.measures.map((m) => (m.spec.fn === 'approxDistinct' ? new KmvSketch(KMV_K) : null)),
      };
      groups.set(groupKey, g);
      this.count++;
    }
    return g;
  }

  get size(): number {
    return this.count;
  }

  /** Partial rows in the partials table's column layout (see lake-table.ts partialColumns). */
  rows(): Row[] {
    const out: Row[] = [];
    const { groupBy, measures } = this.agg;
    for (const groups of this.windows.values()) {
      for (const g of groups.values()) {
        const row: Row = { window_start: g.windowStart, window_end: g.windowEnd };
        for (let k = 0; k < groupBy.length; k++) row[groupBy[k]!] = g.groupValues[k] ?? null;
        for (let i = 0; i < measures.length; i++) {
          const name = measures[i]!.name;
          const at = this.plan.slots[i]!;
          switch (this.plan.ops[i]) {
            case COUNT: row[name] = g.nums[at]!; break;
            case SUM: case MIN: case MAX: row[name] = g.seen[i] === 0 ? null : g.nums[at]!; break;
            case AVG: row[`${name}_sum`] = g.nums[at]!; row[`${name}_count`] = g.nums[at + 1]!; break;
            // Sketch columns hold the k smallest hashes as numbers (BIGINT in the lake).
            case DISTINCT: (row as Record<string, unknown>)[`${name}_sketch`] = g.sketches[i]!.values(); break;
          }
        }
        out.push(row);
      }
    }
    return out;
  }

  /** Returns the sketches' buffers for the next batch's aggregator (KmvSketch.release); rows() is empty of sketches after. */
  release(): void {
    for (const groups of this.windows.values()) for (const g of groups.values()) for (const s of g.sketches) s?.release();
  }
}

type Adder = (self: PartialAggregator, row: Row, eventTime: number) => void;

/**
 * Per aggregate, once: each measure's operation and first slot in a group's
 * `nums` (avg takes two, approxDistinct none), and the generated per-event
 * update, which bakes the same slots in as constants.
 */
interface AggregatePlan {
  readonly ops: Uint8Array;
  readonly slots: Uint8Array;
  readonly slotCount: number;
  readonly add: Adder;
}

const plans = new WeakMap<Aggregate, AggregatePlan>();

function planFor(agg: Aggregate): AggregatePlan {
  let plan = plans.get(agg);
  if (!plan) {
    const ops = Uint8Array.from(agg.measures, (m) => OPS[m.spec.fn]);
    let slotCount = 0;
    const slots = Uint8Array.from(agg.measures, (m) => {
      const at = slotCount;
      slotCount += m.spec.fn === 'avg' ? 2 : m.spec.fn === 'approxDistinct' ? 0 : 1;
      return at;
    });
    const add = new Function('ctx', adderSource(agg, slots))({ floorToMultiple, assignWindows, num, bigintSafe, groupBy: agg.groupBy, window: agg.window }) as Adder;
    plans.set(agg, (plan = { ops, slots, slotCount, add }));
  }
  return plan;
}

/**
 * The body of the per-event update, generated per aggregate: the group key,
 * the window(s), then one statement per measure with its field read by name
 * and its slot as a constant. Why generated: rows from the record decoder all
 * share one hidden class, so `row["value"]` here is a monomorphic load, where
 * a loop over the measures reading `row[field]` was a megamorphic keyed load
 * and a switch per measure, and was a fifth of the engine's time. Field names
 * enter the source only as JSON string literals.
 */
function adderSource(agg: Aggregate, slots: Uint8Array): string {
  const read = (field: string) => `row[${JSON.stringify(field)}]`;
  const groupKey =
    agg.groupBy.length === 1
      ? // One group-by field is the common case: no array and JSON key per event (and no String() of a string).
        `const k0 = ${read(agg.groupBy[0]!)};
  const groupKey = typeof k0 === 'string' ? k0 : String(k0 ?? '\u0000null');`
      : `const groupKey = JSON.stringify(groupBy.map((g) => row[g] ?? null), bigintSafe);`;
  const updates = agg.measures.map((m, i) => {
    const at = slots[i]!;
    const spec = m.spec;
    const v = 'field' in spec && spec.field !== undefined ? read(spec.field) : null;
    const guarded = (body: string) => (v === null ? body : `{ const v = ${v}; if (v !== null && v !== undefined) { ${body} } }`);
    switch (spec.fn) {
      case 'count': return guarded(`nums[${at}] += 1;`);
      case 'sum': return guarded(`nums[${at}] += num(v); seen[${i}] = 1;`);
      case 'min': return guarded(`const x = num(v); if (seen[${i}] === 0 || x < nums[${at}]) nums[${at}] = x; seen[${i}] = 1;`);
      case 'max': return guarded(`const x = num(v); if (seen[${i}] === 0 || x > nums[${at}]) nums[${at}] = x; seen[${i}] = 1;`);
      case 'avg': return guarded(`nums[${at}] += num(v); nums[${at + 1}] += 1;`);
      case 'approxDistinct': return guarded(`g.sketches[${i}].add(typeof v === 'string' ? v : String(v));`);
    }
  });
  const update = (start: string, end: string) => `{
    const g = self.group(${start}, ${end}, groupKey, row);
    const nums = g.nums;
    const seen = g.seen;
    ${updates.join('\n    ')}
  }`;
  const w = agg.window;
  return `'use strict';
const { floorToMultiple, assignWindows, num, bigintSafe, groupBy } = ctx;
return function add(self, row, eventTime) {
  ${groupKey}
  ${
    w.kind === 'tumbling'
      ? `const start = floorToMultiple(eventTime, ${w.sizeMs});
  ${update('start', `start + ${w.sizeMs}`)}`
      : `for (const b of assignWindows(ctx.window, eventTime)) ${update('b.start', 'b.end')}`
  }
};`;
}

function bigintSafe(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

/** Merges partial rows with equal (window, group) — the JS twin of the view's SQL merge. */
export function mergePartialRows(agg: Aggregate, rows: readonly Row[]): Row[] {
  const merged = new Map<string, Row>();
  for (const r of rows) {
    const key = JSON.stringify([r.window_start, r.window_end, ...agg.groupBy.map((g) => r[g] ?? null)], bigintSafe);
    const acc = merged.get(key);
    if (!acc) {
      const copy: Record<string, unknown> = { ...r };
      for (const m of agg.measures) if (m.spec.fn === 'approxDistinct') copy[`${m.name}_sketch`] = [...(r[`${m.name}_sketch`] as unknown as number[])];
      merged.set(key, copy as Row);
      continue;
    }
    for (const m of agg.measures) {
      const n = m.name;
      switch (m.spec.fn) {
        case 'count': acc[n] = num(acc[n]!) + num(r[n]!); break;
        case 'sum': acc[n] = nullableOp(acc[n]!, r[n]!, (a, b) => a + b); break;
        case 'min': acc[n] = nullableOp(acc[n]!, r[n]!, Math.min); break;
        case 'max': acc[n] = nullableOp(acc[n]!, r[n]!, Math.max); break;
        case 'avg':
          acc[`${n}_sum`] = num(acc[`${n}_sum`]!) + num(r[`${n}_sum`]!);
          acc[`${n}_count`] = num(acc[`${n}_count`]!) + num(r[`${n}_count`]!);
          break;
        case 'approxDistinct': {
          const k = `${n}_sketch`;
          const sketch = new KmvSketch(KMV_K);
          sketch.merge(acc[k] as unknown as number[]);
          sketch.merge(r[k] as unknown as number[]);
          (acc as Record<string, unknown>)[k] = sketch.values();
          break;
        }
      }
    }
  }
  return [...merged.values()];
}

function nullableOp(a: FieldValue, b: FieldValue, op: (x: number, y: number) => number): FieldValue {
  if (a === null || a === undefined) return b;
  if (b === null || b === undefined) return a;
  return op(num(a), num(b));
}

/** Final values per (window, group), as the aggregate view returns them. */
export function finalizePartialRows(agg: Aggregate, rows: readonly Row[]): Row[] {
  return mergePartialRows(agg, rows).map((r) => {
    const out: Row = { window_start: r.window_start!, window_end: r.window_end! };
    for (const g of agg.groupBy) out[g] = r[g] ?? null;
    for (const m of agg.measures) {
      switch (m.spec.fn) {
        case 'avg': {
          const c = num(r[`${m.name}_count`]!);
          out[m.name] = c === 0 ? null : num(r[`${m.name}_sum`]!) / c;
          break;
        }
        case 'approxDistinct':
          out[m.name] = kmvEstimate(r[`${m.name}_sketch`] as unknown as number[], KMV_K);
          break;
        default:
          out[m.name] = r[m.name] ?? null;
      }
    }
    return out;
  });
}

/** Convenience for tests and backfill checks: aggregate rows of a pipeline in one pass. */
export function aggregateRows(p: Pipeline, rows: readonly Row[]): Row[] {
  if (!p.aggregate) return [];
  const a = new PartialAggregator(p.aggregate);
  for (const r of rows) a.add(r, r[p.eventTime] as number);
  const out = a.rows();
  a.release();
  return out;
}
