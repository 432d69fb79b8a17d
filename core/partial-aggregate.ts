/**
 * Mergeable partial aggregates (DESIGN.md "Partial aggregates"). Each batch
 * emits one partial row per (window, group); final values are a merge done by
 * the aggregate view (SUM of counts, MIN of mins, …), so late events and many
 * shards need no shared state. `mergePartialRows` is the same merge in JS: it is
 * associative and commutative, and tests hold it to that.
 */
import { floorToMultiple } from './iso-time';
import { KmvSketch, KMV_K, kmvEstimate } from './kmv-sketch';
import type { Aggregate, Measure, Pipeline } from './pipeline';
import type { FieldValue, Row } from './schema';
import { assignWindows } from './window';

type MeasureState =
  | { fn: 'count'; n: number }
  | { fn: 'sum'; v: number | null }
  | { fn: 'min' | 'max'; v: number | null }
  | { fn: 'avg'; sum: number; n: number }
  | { fn: 'approxDistinct'; sketch: KmvSketch };

interface GroupState {
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly groupValues: readonly FieldValue[];
  readonly measures: MeasureState[];
}

function emptyState(m: Measure): MeasureState {
  switch (m.spec.fn) {
    case 'count': return { fn: 'count', n: 0 };
    case 'sum': return { fn: 'sum', v: null };
    case 'min': case 'max': return { fn: m.spec.fn, v: null };
    case 'avg': return { fn: 'avg', sum: 0, n: 0 };
    case 'approxDistinct': return { fn: 'approxDistinct', sketch: new KmvSketch(KMV_K) };
  }
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
  private readonly measureFields: (string | undefined)[];

  constructor(private readonly agg: Aggregate) {
    this.measureFields = agg.measures.map((m) => ('field' in m.spec ? m.spec.field : undefined));
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
      g = { windowStart: start, windowEnd: end, groupValues: this.agg.groupBy.map((f) => row[f] ?? null), measures: this.agg.measures.map(emptyState) };
      groups.set(groupKey, g);
      this.count++;
    }
    return g;
  }

  private addTo(g: GroupState, row: Row): void {
    const ms = g.measures;
    for (let i = 0; i < ms.length; i++) {
      const s = ms[i]!;
      const f = this.measureFields[i];
      const v = f === undefined ? 1 : row[f];
      if (v === null || v === undefined) continue;
      switch (s.fn) {
        case 'count': s.n++; break;
        case 'sum': s.v = (s.v ?? 0) + num(v); break;
        case 'min': { const x = num(v); if (s.v === null || x < s.v) s.v = x; break; }
        case 'max': { const x = num(v); if (s.v === null || x > s.v) s.v = x; break; }
        case 'avg': s.sum += num(v); s.n++; break;
        case 'approxDistinct': s.sketch.add(typeof v === 'string' ? v : String(v)); break;
      }
    }
  }

  get size(): number {
    return this.count;
  }

  /** Partial rows in the partials table's column layout (see lake-table.ts partialColumns). */
  rows(): Row[] {
    const out: Row[] = [];
    for (const g of [...this.windows.values()].flatMap((m) => [...m.values()])) {
      const row: Row = { window_start: g.windowStart, window_end: g.windowEnd };
      this.agg.groupBy.forEach((name, i) => (row[name] = g.groupValues[i] ?? null));
      this.agg.measures.forEach((m, i) => writeState(row, m, g.measures[i]!));
      out.push(row);
    }
    return out;
  }
}

/** Sketch columns hold the k smallest hashes as numbers (BIGINT in the lake). */
function writeState(row: Row, m: Measure, s: MeasureState): void {
  switch (s.fn) {
    case 'count': row[m.name] = s.n; break;
    case 'sum': case 'min': case 'max': row[m.name] = s.v; break;
    case 'avg': row[`${m.name}_sum`] = s.sum; row[`${m.name}_count`] = s.n; break;
    case 'approxDistinct': (row as Record<string, unknown>)[`${m.name}_sketch`] = s.sketch.values(); break;
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
  return a.rows();
}
