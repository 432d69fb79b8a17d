/**
 * Record codec: base64 → JSON → typed row against the schema. A record that is
 * not JSON, is not an object, misses a required field or has a wrong type
 * yields a Rejection that names the field; the caller quarantines it.
 * Fields not in the schema are ignored (producers may add fields first and
 * pipelines adopt them later).
 */
import type { FieldValue, Row, SchemaField } from './schema';

export interface Rejection {
  readonly reason: string;
  /** The field at fault, or '' when the record as a whole is bad. */
  readonly field: string;
}

export type DecodeResult = { readonly row: Row; readonly rejection?: undefined } | { readonly row?: undefined; readonly rejection: Rejection };

/** Strict ISO-8601 date-time with an offset (Z or ±hh:mm), as producers should send event time. */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;
const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

type FieldCheck = (v: unknown) => FieldValue | Rejection;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `a string (${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)})`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

function checkFor(f: SchemaField): FieldCheck {
  const reject = (expected: string) => (v: unknown): Rejection => ({ reason: `field "${f.name}" must be ${expected}, got ${describe(v)}`, field: f.name });
  switch (f.type) {
    case 'string': {
      const bad = reject('a string');
      return (v) => (typeof v === 'string' ? v : bad(v));
    }
    case 'int': {
      const bad = reject(`a 32-bit integer`);
      return (v) => (typeof v === 'number' && Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX ? v : bad(v));
    }
    case 'bigint': {
      const bad = reject('an integer (a JSON number within ±2^53, or a string of digits)');
      return (v) => {
        if (typeof v === 'number') return Number.isSafeInteger(v) ? v : bad(v);
        if (typeof v === 'string' && /^-?\d{1,19}$/.test(v)) {
          const b = BigInt(v);
          return b >= -(2n ** 63n) && b < 2n ** 63n ? b : bad(v);
        }
        return bad(v);
      };
    }
    case 'double': {
      const bad = reject('a finite number');
      return (v) => (typeof v === 'number' && Number.isFinite(v) ? v : bad(v));
    }
    case 'boolean': {
      const bad = reject('true or false');
      return (v) => (typeof v === 'boolean' ? v : bad(v));
    }
    case 'timestamp': {
      const bad = reject('an ISO-8601 date-time with offset (2026-11-25T07:05:00Z) or epoch milliseconds');
      return (v) => {
        if (typeof v === 'number') return Number.isFinite(v) && Math.abs(v) < 8.64e15 ? Math.trunc(v) : bad(v);
        if (typeof v !== 'string') return bad(v);
        const fast = parseUtcIso(v);
        if (fast === fast) return fast; // not NaN
        if (ISO_8601.test(v) && calendarOk(digits(v, 0, 4), digits(v, 5, 2), digits(v, 8, 2), digits(v, 11, 2), digits(v, 14, 2), v[16] === ':' ? digits(v, 17, 2) : 0)) {
          const ms = Date.parse(v);
          return Number.isNaN(ms) ? bad(v) : ms;
        }
        return bad(v);
      };
    }
  }
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digits(s: string, from: number, n: number): number {
  let x = 0;
  for (let i = from; i < from + n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    x = x * 10 + d;
  }
  return x;
}

/**
 * The common producer format, `YYYY-MM-DDTHH:MM:SS[.mmm]Z`, without a regex or
 * Date.parse: event time is parsed for every record, and this was the hot
 * loop's costliest step. Anything else returns NaN and takes the general path.
 */
function parseUtcIso(s: string): number {
  const n = s.length;
  if ((n !== 20 && n !== 24) || s.charCodeAt(n - 1) !== 90 /* Z */) return NaN;
  if (s[4] !== '-' || s[7] !== '-' || (s[10] !== 'T' && s[10] !== ' ') || s[13] !== ':' || s[16] !== ':') return NaN;
  const y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2);
  const h = digits(s, 11, 2), mi = digits(s, 14, 2), sec = digits(s, 17, 2);
  let ms = 0;
  if (n === 24) {
    if (s[19] !== '.') return NaN;
    ms = digits(s, 20, 3);
  }
  if (!calendarOk(y, mo, d, h, mi, sec)) return NaN;
  return Date.UTC(y, mo - 1, d, h, mi, sec, ms);
}

/** Date.parse rolls 2026-02-30 over to March and takes 24:00; a producer sending those has a bug worth quarantining. */
function calendarOk(y: number, mo: number, d: number, h: number, mi: number, sec: number): boolean {
  if (!(mo >= 1 && mo <= 12 && h <= 23 && mi <= 59 && sec <= 59 && d >= 1)) return false;
  const leap = mo === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= DAYS_IN_MONTH[mo - 1]! + (leap ? 1 : 0);
}

function isRejection(v: FieldValue | Rejection): v is Rejection {
  return v !== null && typeof v === 'object' && !(typeof v === 'bigint') && 'reason' in v;
}

/** Compiles a decoder for a schema once; the returned function runs per record. */
export function compileDecoder(schema: readonly SchemaField[]): (json: string) => DecodeResult {
  const fields = schema.map((f) => ({ name: f.name, required: f.required, check: checkFor(f) }));
  return (json) => {
    let obj: unknown;
    try {
      obj = JSON.parse(json);
    } catch (err) {
      return { rejection: { reason: `record is not valid JSON: ${(err as Error).message}`, field: '' } };
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      return { rejection: { reason: `record must be a JSON object, got ${describe(obj)}`, field: '' } };
    }
    // The parsed object becomes the row in place: no second object per record.
    // Fields outside the schema stay on it; writers only read the table's columns.
    const row = obj as Row;
    for (const f of fields) {
      const v = row[f.name];
      if (v === undefined || v === null) {
        if (f.required) return { rejection: { reason: v === null ? `required field "${f.name}" is null` : `required field "${f.name}" is missing`, field: f.name } };
        row[f.name] = null;
        continue;
      }
      const out = f.check(v);
      if (out !== v) {
        if (isRejection(out)) return { rejection: out };
        row[f.name] = out;
      }
    }
    return { row };
  };
}

/** Decodes base64 record data to UTF-8 text (Kinesis `data`, MSK `value`). */
export function base64ToUtf8(data: string): string {
  return Buffer.from(data, 'base64').toString('utf8');
}
