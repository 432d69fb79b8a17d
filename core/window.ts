import type { Duration } from './duration';

/** Window specs as written in a definition. Event-time windows, aligned to the epoch (UTC). */
export type WindowSpec =
  | { readonly kind: 'tumbling'; readonly size: Duration }
  | { readonly kind: 'hopping'; readonly size: Duration; readonly every: Duration };

/** A validated window: sizes in milliseconds. */
export type Window =
  | { readonly kind: 'tumbling'; readonly sizeMs: number }
  | { readonly kind: 'hopping'; readonly sizeMs: number; readonly everyMs: number };

export interface WindowBounds {
  /** Inclusive start, epoch millis UTC. */
  readonly start: number;
  /** Exclusive end, epoch millis UTC. */
  readonly end: number;
}

export function tumbling(size: Duration): WindowSpec {
  return { kind: 'tumbling', size };
}

export function hopping(opts: { size: Duration; every: Duration }): WindowSpec {
  return { kind: 'hopping', size: opts.size, every: opts.every };
}

/**
 * The windows an event at `eventTime` belongs to, oldest first.
 * Tumbling: exactly one. Hopping: size / every windows (every divides size).
 */
export function assignWindows(w: Window, eventTime: number): WindowBounds[] {
  if (w.kind === 'tumbling') {
    const start = eventTime - mod(eventTime, w.sizeMs);
    return [{ start, end: start + w.sizeMs }];
  }
  const lastStart = eventTime - mod(eventTime, w.everyMs);
  const out: WindowBounds[] = [];
  for (let start = lastStart - w.sizeMs + w.everyMs; start <= lastStart; start += w.everyMs) {
    out.push({ start, end: start + w.sizeMs });
  }
  return out;
}

/** Floor modulo, so that times before 1970 still land in the right window. */
function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}
