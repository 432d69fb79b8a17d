import type { Duration } from './duration';

/**
 * Window specs as written in a definition. Event-time windows: tumbling and
 * hopping ones aligned to the epoch (UTC); session windows per group, from the
 * events themselves (core/session.ts).
 */
export type WindowSpec =
  | { readonly kind: 'tumbling'; readonly size: Duration }
  | { readonly kind: 'hopping'; readonly size: Duration; readonly every: Duration }
  | { readonly kind: 'session'; readonly gap: Duration };

/** A validated tumbling or hopping window: sizes in milliseconds. */
export type FixedWindow =
  | { readonly kind: 'tumbling'; readonly sizeMs: number }
  | { readonly kind: 'hopping'; readonly sizeMs: number; readonly everyMs: number };

/** A validated session window: a pause of `gapMs` or more between two events of a group ends a session. */
export interface SessionWindow {
  readonly kind: 'session';
  readonly gapMs: number;
}

/** A validated window. */
export type Window = FixedWindow | SessionWindow;

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
 * Session windows per group: a session is a run of events each less than
 * `gap` after the one before; it starts at its first event and ends at its
 * last + gap (exclusive). `gap`: whole seconds, more than 0, at most 1 day.
 */
export function session(opts: { gap: Duration }): WindowSpec {
  return { kind: 'session', gap: opts.gap };
}

/**
 * The windows an event at `eventTime` belongs to, oldest first.
 * Tumbling: exactly one. Hopping: size / every windows (every divides size).
 */
export function assignWindows(w: FixedWindow, eventTime: number): WindowBounds[] {
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

/** The spec that validates to `w` (durations in milliseconds). */
export function windowToSpec(w: Window): WindowSpec {
  switch (w.kind) {
    case 'tumbling': return { kind: 'tumbling', size: w.sizeMs };
    case 'hopping': return { kind: 'hopping', size: w.sizeMs, every: w.everyMs };
    case 'session': return { kind: 'session', gap: w.gapMs };
  }
}
