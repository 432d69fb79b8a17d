/**
 * The seam between window kinds and the aggregate engine: how a kind assigns
 * an event to windows in the generated adder (partial-aggregate.ts), how a
 * batch's partial rows are finished, and which relation the view groups
 * (lake-table.ts aggregateView) with its JS twin. A new kind is one entry in WINDOW_KINDS.
 */
import type { Aggregate } from './aggregate';
import { quoteIdentifier } from './filter-compile';
import type { Row } from './schema';
import { mergeSessions, sessionSourceSql } from './session';
import type { Window } from './window';

export interface WindowKind<W extends Window = Window> {
  /**
   * JS statements for one event at `eventTime` (epoch ms), in the adder: call
   * `update(start, end)` (JS expressions) once per window the event is in.
   * `ctx.window` is the aggregate's Window, `ctx.floorToMultiple` and
   * `ctx.assignWindows` are at hand.
   */
  adder(w: W, update: (start: string, end: string) => string): string;
  /** The batch's partial rows, finished (e.g. partial sessions merged): identity for fixed windows. */
  readonly finishRows?: (agg: Aggregate, rows: Row[]) => Row[];
  /**
   * The relation the view merges: SQL of a FROM item with the partials table's
   * columns and dt, hour, whose window_start/window_end are the final windows'.
   * Fixed windows: the partials table itself. `columns`: the partials table's
   * data columns (window, groups, measures' partial columns), unquoted.
   */
  viewSource(agg: Aggregate, partialsTable: string, columns: readonly string[]): string;
  /** The JS twin of viewSource: partial rows with their final window_start/window_end (mergePartialRows applies it). */
  readonly viewRows?: (agg: Aggregate, rows: readonly Row[]) => Row[];
  /**
   * Whether each final window's partials lie in the one partition (dt, hour)
   * the view gives it, so a dt/hour predicate on the view may prune the
   * partials it reads (lake-table.ts LakeView.keepsPartitions).
   */
  readonly keepsPartitions: boolean;
}

const tumbling: WindowKind<Extract<Window, { kind: 'tumbling' }>> = {
  adder: (w, update) => `const start = floorToMultiple(eventTime, ${w.sizeMs});\n  ${update('start', `start + ${w.sizeMs}`)}`,
  viewSource: (_a, t) => t,
  keepsPartitions: true,
};

const hopping: WindowKind<Extract<Window, { kind: 'hopping' }>> = {
  adder: (_w, update) => `for (const b of assignWindows(ctx.window, eventTime)) ${update('b.start', 'b.end')}`,
  viewSource: (_a, t) => t,
  keepsPartitions: true,
};

/**
 * Session windows (core/session.ts, docs/architecture.md "Session windows").
 * A session needs its group's events in time order, and a batch brings them in
 * arrival order: the adder holds each event (PartialAggregator.hold) until the
 * batch's rows are asked for, then the aggregator replays each partial
 * session's events with `self.span` set to it, and they update that span's
 * state like any window's. The view merges the partial sessions of all
 * batches (sessionSourceSql); their rows lie in the partitions of their own
 * starts, not of their session's, so the view cannot be pruned by dt/hour.
 */
const session: WindowKind<Extract<Window, { kind: 'session' }>> = {
  adder: (_w, update) => `const span = self.span;
  if (span === null) {
    self.hold(groupKey, row, eventTime);
    return;
  }
  ${update('span.start', 'span.end')}`,
  viewSource: (a, t, columns) => {
    const window = new Set(['window_start', 'window_end', ...a.groupBy]);
    return sessionSourceSql({ from: t, groupBy: a.groupBy.map(quoteIdentifier), partialColumns: columns.filter((c) => !window.has(c)).map(quoteIdentifier) });
  },
  viewRows: (a, rows) => {
    const key = (r: Row) => JSON.stringify(a.groupBy.map((g) => r[g] ?? null), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    const spans = new Array<{ start: number; end: number }>(rows.length);
    const parts = rows.map((r, i) => ({ group: key(r), start: Number(r.window_start), end: Number(r.window_end), value: [i] }));
    for (const s of mergeSessions(parts, (x, y) => (x.push(...y), x))) for (const i of s.value) spans[i] = s;
    return rows.map((r, i) => ({ ...r, window_start: spans[i]!.start, window_end: spans[i]!.end }));
  },
  keepsPartitions: false,
};

export const WINDOW_KINDS: { readonly [K in Window['kind']]: WindowKind<Extract<Window, { kind: K }>> } = { tumbling, hopping, session };

export function windowKind(w: Window): WindowKind {
  return WINDOW_KINDS[w.kind] as WindowKind;
}
