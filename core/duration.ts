/**
 * Durations in pipeline definitions: a number of milliseconds, or a string such
 * as '90s', '1 minute', '5 minutes', '2h', '1 day'.
 */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = {
  ms: 1, millisecond: 1, milliseconds: 1,
  s: 1_000, sec: 1_000, second: 1_000, seconds: 1_000,
  m: 60_000, min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hr: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
};

/** Parses a Duration to whole milliseconds; returns an error message instead of throwing. */
export function parseDuration(d: Duration): { ms: number } | { error: string } {
  if (typeof d === 'number') {
    if (!Number.isInteger(d) || d < 0) return { error: `must be a non-negative whole number of milliseconds (given ${d})` };
    return { ms: d };
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$/.exec(d);
  const unit = m?.[2]?.toLowerCase();
  const factor = unit === undefined ? undefined : UNIT_MS[unit];
  if (!m || factor === undefined) {
    return { error: `must be milliseconds or a string like '30s', '1 minute', '5 minutes', '1h' (given ${JSON.stringify(d)})` };
  }
  const ms = Number(m[1]) * factor;
  if (!Number.isInteger(ms)) return { error: `must be a whole number of milliseconds (given ${JSON.stringify(d)})` };
  return { ms };
}
