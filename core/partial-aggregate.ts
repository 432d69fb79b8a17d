/**
 * Mergeable partial aggregates (DESIGN.md "Partial aggregates"). Each batch
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
  /** Per measure: the field it reads (undefined for count()), its operation and its first slot in `nums`. */
  private readonly fields: (string | undefined)[];
  private readonly ops: Uint8Array;
  private readonly slots: Uint8Array;
  private readonly slotCount: number;

  constructor(private readonly agg: Aggregate) {
    this.fields = agg.measures.map((m) => ('field' in m.spec ? m.spec.field : undefined));
    this.ops = Uint8Array.from(agg.measures, (m) => OPS[m.spec.fn]);
    let slot = 0;
    this.slots = Uint8Array.from(agg.measures, (m) => {
      const at = slot;
      slot += m.spec.fn === 'avg' ? 2 : m.spec.fn === 'approxDistinct' ? 0 : 1;
      return at;
    });
    this.slotCount = slot;
  }

  /** Adds a row whose event time (epoch ms) is `eventTime`. */
  add(row: Row, eventTime: number): void {
    const gb = this.agg.groupBy;
    // One group-by field is the common case: skip the array and JSON key per event (and String() of a string).
    let groupKey: string;
    if (gb.length === 1) {
      const v = row[gb[0]!];
      groupKey = typeof v === 'string' ? v : String(v ?? '\u0000null');
    } else groupKey = JSON.stringify(gb.map((g) => row[g] ?? null), bigintSafe);
    const w = this.agg.window;
    if (w.kind === 'tumbling') {
      const start = floorToMultiple(eventTime, w.sizeMs);
      this.addTo(this.group(start, start + w.sizeMs, groupKey, row), row);
      return;
    }
    for (const b of assignWindows(w, eventTime)) this.addTo(this.group(b.start, b.end, groupKey, row), row);
  }

  private group(start: number, end: number, groupKey: string, row: Row): GroupState {
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
        nums: new Float64Array(this.slotCount),
        seen: new Uint8Array(this.ops.length),
        sketches: this.agg.measures.map((m) => (m.spec.fn === 'approxDistinct' ? new KmvSketch(KMV_K) : null)),
      };
      groups.set(groupKey, g);
      this.count++;
    }
    return g;
  }

  private addTo(g: GroupState, row: Row): void {
    const { ops, slots, fields } = this;
    const nums = g.nums;
    for (let i = 0; i < ops.length; i++) {
      const f = fields[i];
      const v = f === undefined ? 1 : row[f];
      if (v === null || v === undefined) continue;
      const at = slots[i]!;
      switch (ops[i]) {
        case COUNT: nums[at] = nums[at]! + 1; break;
        case SUM: nums[at] = nums[at]! + num(v); g.seen[i] = 1; break;
        case MIN: { const x = num(v); if (g.seen[i] === 0 || x < nums[at]!) nums[at] = x; g.seen[i] = 1; break; }
        case MAX: { const x = num(v); if (g.seen[i] === 0 || x > nums[at]!) nums[at] = x; g.seen[i] = 1; break; }
        case AVG: nums[at] = nums[at]! + num(v); nums[at + 1] = nums[at + 1]! + 1; break;
        case DISTINCT: g.sketches[i]!.add(typeof v === 'string' ? v : String(v)); break;
      }
    }
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
          const at = this.slots[i]!;
          switch (this.ops[i]) {
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
