/**
 * Event times in the common producer format, `YYYY-MM-DDTHH:MM:SS[.mmm]Z`,
 * parsed without a regex or Date.parse: event time is parsed for every
 * record, and this was the hot loop's costliest step. Shared by the record
 * codec and the JSON scanner, which reads event times in place.
 */

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function digits(s: string, from: number, n: number): number {
  let x = 0;
  for (let i = from; i < from + n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    x = x * 10 + d;
  }
  return x;
}

/** Epoch ms of `s` in the common format, or NaN for anything else (which takes the general path). */
export function parseUtcIso(s: string): number {
  return parseUtcIsoAt(s, 0, s.length);
}

/** parseUtcIso of s.slice(at, at + n), without the slice (the record decoder reads event times in place). */
export function parseUtcIsoAt(s: string, at: number, n: number): number {
  if ((n !== 20 && n !== 24) || s.charCodeAt(at + n - 1) !== 90 /* Z */) return NaN;
  const t = s.charCodeAt(at + 10);
  if (s.charCodeAt(at + 4) !== 45 || s.charCodeAt(at + 7) !== 45 || (t !== 84 /* T */ && t !== 32) || s.charCodeAt(at + 13) !== 58 || s.charCodeAt(at + 16) !== 58) return NaN;
  const y = digits(s, at, 4), mo = digits(s, at + 5, 2), d = digits(s, at + 8, 2);
  const h = digits(s, at + 11, 2), mi = digits(s, at + 14, 2), sec = digits(s, at + 17, 2);
  let ms = 0;
  if (n === 24) {
    if (s.charCodeAt(at + 19) !== 46 /* . */) return NaN;
    ms = digits(s, at + 20, 3);
  }
  if (!calendarOk(y, mo, d, h, mi, sec)) return NaN;
  return (((daysFromCivil(y, mo, d) * 24 + h) * 60 + mi) * 60 + sec) * 1000 + ms;
}

/**
 * Days from 1970-01-01 to a proleptic Gregorian date, 0 ≤ y ≤ 9999 (H. Hinnant,
 * "chrono-Compatible Low-Level Date Algorithms", days_from_civil). Cheaper per
 * record than Date.UTC, a runtime call, and right for years 0-99 too, which
 * Date.UTC reads as 1900-1999 where Date.parse of the same text does not.
 */
function daysFromCivil(y: number, m: number, d: number): number {
  if (m <= 2) y--;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  return era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468;
}

/** Date.parse rolls 2026-02-30 over to March and takes 24:00; a producer sending those has a bug worth quarantining. */
export function calendarOk(y: number, mo: number, d: number, h: number, mi: number, sec: number): boolean {
  if (!(mo >= 1 && mo <= 12 && h <= 23 && mi <= 59 && sec <= 59 && d >= 1)) return false;
  const leap = mo === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= DAYS_IN_MONTH[mo - 1]! + (leap ? 1 : 0);
}

/**
 * The largest multiple of `size` that is ≤ `ms` (a window or hour start), for
 * integer ms and size with |ms| < 2^53: what `ms - (((ms % size) + size) % size)`
 * gives, without two floating-point remainders (each a call to fmod: event
 * times are beyond int32). The quotient can round across an integer only by
 * one, which the two corrections undo.
 */
export function floorToMultiple(ms: number, size: number): number {
  let start = Math.floor(ms / size) * size;
  if (start > ms) start -= size;
  else if (ms - start >= size) start += size;
  return start;
}
