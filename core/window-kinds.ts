/**
 * The seam between window kinds and the aggregate engine: how a kind assigns
 * an event to windows in the generated adder (partial-aggregate.ts), how a
 * batch's partial rows are finished, and which relation the view groups
 * (lake-table.ts aggregateView). A new kind is one entry in WINDOW_KINDS.
 */
import type { Aggregate } from './aggregate';
import type { Row } from './schema';
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
   * Fixed windows: the partials table itself.
   */
  viewSource(agg: Aggregate, partialsTable: string): string;
}

const tumbling: WindowKind<Extract<Window, { kind: 'tumbling' }>> = {
  adder: (w, update) => `const start = floorToMultiple(eventTime, ${w.sizeMs});\n  ${update('start', `start + ${w.sizeMs}`)}`,
  viewSource: (_a, t) => t,
};

const hopping: WindowKind<Extract<Window, { kind: 'hopping' }>> = {
  adder: (_w, update) => `for (const b of assignWindows(ctx.window, eventTime)) ${update('b.start', 'b.end')}`,
  viewSource: (_a, t) => t,
};

export const WINDOW_KINDS: { readonly [K in Window['kind']]: WindowKind<Extract<Window, { kind: K }>> } = { tumbling, hopping };

export function windowKind(w: Window): WindowKind {
  return WINDOW_KINDS[w.kind] as WindowKind;
}
