/**
 * The record codec's fast path: reads the schema's fields straight out of a
 * record's JSON text, without building the parsed object. JSON.parse was the
 * largest single cost of the handler (~2.3 µs of a ~150-byte record), and a
 * generic parser must build every key and value of an object we then read five
 * fields from.
 *
 * The scanner is deliberately partial. It returns false, and the caller falls
 * back to JSON.parse, whenever it is not certain to give what JSON.parse gives:
 * any character ≥ U+0080 (the text comes from atob, one char per byte, so only
 * ASCII is sure to be its own UTF-8 decoding), a backslash in a key or in a
 * schema field's string, a schema field holding an object or array, a schema
 * key seen twice (JSON.parse keeps the last), nesting deeper than MAX_DEPTH,
 * a top level that is not an object, and anything that is not JSON. So it never
 * accepts text that JSON.parse rejects, and every value it returns is the one
 * JSON.parse would have put under that key (test/json-scan.test.ts checks both
 * on random and mutated records).
 *
 * Grammar: RFC 8259 (ECMA-404), which is what JSON.parse implements.
 */

import { parseUtcIsoAt } from './iso-time';

/** A schema field's value as JSON.parse gives it: containers are never returned (the scanner bails). */
export type ScanValue = string | number | boolean | null;

/** Nesting of unknown fields' values we follow before handing the record to JSON.parse. */
const MAX_DEPTH = 64;

/** 10^0 … 10^22: every one exact in a double, the bound of Clinger's fast path. */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const DIGIT0 = 0x30;
const DIGIT9 = 0x39;

function skipWs(t: string, i: number, n: number): number {
  while (i < n) {
    const c = t.charCodeAt(i);
    // JSON whitespace is exactly these four; JSON.parse rejects any other.
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
  return i;
}

/** Where skipValue puts the numbers of fields outside the schema. */
const discard = new Float64Array(1);

/**
 * Reads a JSON number at t[i] into out[slot] and returns the index after it,
 * or -1 if the text there is not a JSON number. (A Float64Array slot, not a
 * returned pair or a module variable: either would box every double.)
 *
 * The value is exact without Number(): when the decimal significand has at
 * most 15 digits (so it is an integer < 2^53, exact in a double) and the
 * decimal exponent is within ±22 (10^e exact), one IEEE multiply or divide of
 * two exact values is correctly rounded (Clinger, "How to read floating point
 * numbers accurately", PLDI 1990), which is also what JSON.parse returns.
 * Otherwise Number() of the same text, which for text in JSON's number
 * grammar is the same correctly rounded conversion JSON.parse does.
 */
function readNumber(t: string, i: number, n: number, out: Float64Array, slot: number): number {
  const start = i;
  let neg = false;
  if (t.charCodeAt(i) === MINUS) {
    neg = true;
    i++;
  }
  if (i >= n) return -1;
  let c = t.charCodeAt(i);
  if (c < DIGIT0 || c > DIGIT9) return -1;
  let m = 0;
  let digits = 0;
  if (c === DIGIT0) {
    i++;
    // A leading zero stands alone: "01" is not JSON.
    if (i < n) {
      c = t.charCodeAt(i);
      if (c >= DIGIT0 && c <= DIGIT9) return -1;
    }
  } else {
    while (i < n) {
      c = t.charCodeAt(i);
      if (c < DIGIT0 || c > DIGIT9) break;
      m = m * 10 + (c - DIGIT0);
      digits++;
      i++;
    }
  }
  let exp = 0;
  if (i < n && t.charCodeAt(i) === DOT) {
    i++;
    const fracStart = i;
    while (i < n) {
      c = t.charCodeAt(i);
      if (c < DIGIT0 || c > DIGIT9) break;
      m = m * 10 + (c - DIGIT0);
      // Leading zeros of a fraction (0.000123) do not count towards the 15 significant digits.
      if (m !== 0) digits++;
      i++;
    }
    if (i === fracStart) return -1;
    exp = fracStart - i;
  }
  if (i < n && (t.charCodeAt(i) | 0x20) === 0x65 /* e or E */) {
    i++;
    let expNeg = false;
    if (i < n) {
      c = t.charCodeAt(i);
      if (c === MINUS || c === PLUS) {
        expNeg = c === MINUS;
        i++;
      }
    }
    const expStart = i;
    let e = 0;
    while (i < n) {
      c = t.charCodeAt(i);
      if (c < DIGIT0 || c > DIGIT9) break;
      if (e < 100_000) e = e * 10 + (c - DIGIT0); // beyond that only "too big" matters, and Number() decides
      i++;
    }
    if (i === expStart) return -1;
    exp += expNeg ? -e : e;
  }
  if (digits <= 15 && exp >= -22 && exp <= 22) {
    const v = exp < 0 ? m / POW10[-exp]! : m * POW10[exp]!;
    out[slot] = neg ? -v : v;
  } else {
    out[slot] = Number(t.slice(start, i));
  }
  return i;
}

/** Index after a JSON string whose opening quote is at t[i], or -1; escapes are checked, not decoded. */
function skipString(t: string, i: number, n: number): number {
  i++;
  while (i < n) {
    const c = t.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    if (c < 0x20 || c >= 0x80) return -1;
    if (c === BACKSLASH) {
      if (++i >= n) return -1;
      const e = t.charCodeAt(i);
      if (e === 0x75 /* u */) {
        if (i + 4 >= n) return -1;
        for (let k = 1; k <= 4; k++) {
          const h = t.charCodeAt(i + k);
          if (!((h >= DIGIT0 && h <= DIGIT9) || (h >= 0x61 && h <= 0x66) || (h >= 0x41 && h <= 0x46))) return -1;
        }
        i += 4;
      } else if (e !== QUOTE && e !== BACKSLASH && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) {
        return -1; // only \" \\ \/ \b \f \n \r \t \uXXXX
      }
    }
    i++;
  }
  return -1;
}

/** Index after the literal `word` at t[i], or -1. */
function skipLiteral(t: string, i: number, n: number, word: string): number {
  if (i + word.length > n) return -1;
  for (let k = 0; k < word.length; k++) if (t.charCodeAt(i + k) !== word.charCodeAt(k)) return -1;
  return i + word.length;
}

/** Index after any JSON value at t[i] (a field outside the schema: validated, not kept), or -1. */
function skipValue(t: string, i: number, n: number, depth: number): number {
  if (i >= n) return -1;
  const c = t.charCodeAt(i);
  if (c === QUOTE) return skipString(t, i, n);
  if (c === MINUS || (c >= DIGIT0 && c <= DIGIT9)) return readNumber(t, i, n, discard, 0);
  if (c === 0x74) return skipLiteral(t, i, n, 'true');
  if (c === 0x66) return skipLiteral(t, i, n, 'false');
  if (c === 0x6e) return skipLiteral(t, i, n, 'null');
  if (c !== LBRACE && c !== LBRACKET) return -1;
  if (depth >= MAX_DEPTH) return -1;
  const object = c === LBRACE;
  const close = object ? RBRACE : RBRACKET;
  i = skipWs(t, i + 1, n);
  if (i < n && t.charCodeAt(i) === close) return i + 1;
  for (;;) {
    if (object) {
      if (i >= n || t.charCodeAt(i) !== QUOTE) return -1;
      i = skipString(t, i, n);
      if (i < 0) return -1;
      i = skipWs(t, i, n);
      if (i >= n || t.charCodeAt(i) !== COLON) return -1;
      i = skipWs(t, i + 1, n);
    }
    i = skipValue(t, i, n, depth + 1);
    if (i < 0) return -1;
    i = skipWs(t, i, n);
    if (i >= n) return -1;
    const d = t.charCodeAt(i);
    if (d === close) return i + 1;
    if (d !== COMMA) return -1;
    i = skipWs(t, i + 1, n);
  }
}

/** What a scan found for a field: kinds[k] of RecordScanner. */
export const ABSENT = 0;
export const STRING = 1;
export const NUMBER = 2;
export const TRUE = 3;
export const FALSE = 4;
export const NULL = 5;
/** A string in the common event-time format (iso-time.ts), for a field scanned as an event time: epoch ms in numbers[k]. */
export const ISO_MS = 6;

/** A key the scanner may match with startsWith: no quote, backslash, control or non-ASCII character to validate. */
const PLAIN_KEY = /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * Reads the fields of one flat schema out of JSON object text. After a
 * successful scan, field k is described by `kinds[k]`; a STRING is
 * `text.slice(starts[k], ends[k])` (no escapes, by construction), a NUMBER is
 * `numbers[k]`. Typed arrays rather than an array of values: the scanner
 * outlives many garbage collections, and storing each record's fresh strings
 * and boxed numbers into it cost a write barrier and a remembered-set entry
 * per field. Not reentrant (one per decoder).
 */
export class RecordScanner {
  readonly kinds: Uint8Array;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  readonly numbers: Float64Array;
  private readonly names: readonly string[];
  private readonly plain: readonly boolean[];
  private readonly eventTimes: readonly boolean[];
  /** The field expected next: producers send keys in the same order, so the first comparison usually hits. */
  private next = 0;

  /** @param eventTimes per field: read strings in the common event-time format as epoch ms (kind ISO_MS) */
  constructor(names: readonly string[], eventTimes: readonly boolean[] = []) {
    this.names = names.slice();
    this.plain = names.map((n) => PLAIN_KEY.test(n));
    this.eventTimes = names.map((_, k) => eventTimes[k] === true);
    this.kinds = new Uint8Array(names.length);
    this.starts = new Int32Array(names.length);
    this.ends = new Int32Array(names.length);
    this.numbers = new Float64Array(names.length);
  }

  /** Field k's value as JSON.parse gives it, from the text last scanned; undefined when absent. */
  value(t: string, k: number): ScanValue | undefined {
    switch (this.kinds[k]) {
      case STRING:
      case ISO_MS:
        return t.slice(this.starts[k], this.ends[k]);
      case NUMBER:
        return this.numbers[k];
      case TRUE:
        return true;
      case FALSE:
        return false;
      case NULL:
        return null;
      default:
        return undefined;
    }
  }

  /** Field index of the key t[from, from+len), or -1 for a key outside the schema. */
  private field(t: string, from: number, len: number): number {
    const names = this.names;
    const count = names.length;
    for (let k = 0, f = this.next; k < count; k++, f = f + 1 === count ? 0 : f + 1) {
      const name = names[f]!;
      if (name.length !== len) continue;
      let j = 0;
      while (j < len && t.charCodeAt(from + j) === name.charCodeAt(j)) j++;
      if (j === len) {
        this.next = f + 1 === count ? 0 : f + 1;
        return f;
      }
    }
    return -1;
  }

  /**
   * Scans `t`. True: `t` is valid JSON, an object, and each field's kind and
   * value are what JSON.parse(t)[name] holds (ABSENT if the key is not there).
   * False: no claim either way; use JSON.parse.
   */
  scan(t: string): boolean {
    const kinds = this.kinds;
    const names = this.names;
    for (let k = 0; k < kinds.length; k++) kinds[k] = ABSENT; // fill() is a runtime call, dearer for five slots
    const n = t.length;
    let i = skipWs(t, 0, n);
    if (i >= n || t.charCodeAt(i) !== LBRACE) return false;
    i = skipWs(t, i + 1, n);
    if (i < n && t.charCodeAt(i) === RBRACE) return skipWs(t, i + 1, n) === n;
    for (;;) {
      if (i >= n || t.charCodeAt(i) !== QUOTE) return false;
      const keyStart = i + 1;
      let j = keyStart;
      let f = this.next;
      const guess = names[f]!;
      const len = guess.length;
      // A char loop, not t.startsWith(guess, keyStart): that is a builtin call per key, a quarter of the scan.
      let m = 0;
      if (this.plain[f]) while (m < len && t.charCodeAt(keyStart + m) === guess.charCodeAt(m)) m++;
      if (m === len && t.charCodeAt(keyStart + len) === QUOTE) {
        // The usual case, the key producers send next: its characters are the name's, valid as they are.
        j = keyStart + len;
        this.next = f + 1 === names.length ? 0 : f + 1;
      } else {
        for (;;) {
          if (j >= n) return false;
          const c = t.charCodeAt(j);
          if (c === QUOTE) break;
          // An escaped key might spell a schema name ("\u0069d" is "id"): JSON.parse decides.
          if (c === BACKSLASH || c < 0x20 || c >= 0x80) return false;
          j++;
        }
        f = this.field(t, keyStart, j - keyStart);
      }
      i = skipWs(t, j + 1, n);
      if (i >= n || t.charCodeAt(i) !== COLON) return false;
      i = skipWs(t, i + 1, n);
      if (i >= n) return false;
      if (f < 0) {
        i = skipValue(t, i, n, 0);
        if (i < 0) return false;
      } else {
        if (kinds[f] !== ABSENT) return false; // a repeated key: JSON.parse keeps the last, we do not guess
        const c = t.charCodeAt(i);
        if (c === QUOTE) {
          const s = i + 1;
          let e = -1;
          if (this.eventTimes[f]) {
            // Every character of the common event-time format is a digit or one of "-:T .Z", so a string
            // that parses as one needs no escape check, and the codec no second pass over it.
            const end = t.charCodeAt(s + 24) === QUOTE ? s + 24 : t.charCodeAt(s + 20) === QUOTE ? s + 20 : -1;
            const ms = end < 0 ? NaN : parseUtcIsoAt(t, s, end - s);
            if (ms === ms) {
              kinds[f] = ISO_MS;
              this.numbers[f] = ms;
              e = end;
            }
          }
          if (e < 0) {
            e = s;
            for (;;) {
              if (e >= n) return false;
              const d = t.charCodeAt(e);
              if (d === QUOTE) break;
              if (d === BACKSLASH || d < 0x20 || d >= 0x80) return false;
              e++;
            }
            kinds[f] = STRING;
          }
          this.starts[f] = s;
          this.ends[f] = e;
          i = e + 1;
        } else if (c === MINUS || (c >= DIGIT0 && c <= DIGIT9)) {
          i = readNumber(t, i, n, this.numbers, f);
          if (i < 0) return false;
          kinds[f] = NUMBER;
        } else if (c === 0x74) {
          i = skipLiteral(t, i, n, 'true');
          if (i < 0) return false;
          kinds[f] = TRUE;
        } else if (c === 0x66) {
          i = skipLiteral(t, i, n, 'false');
          if (i < 0) return false;
          kinds[f] = FALSE;
        } else if (c === 0x6e) {
          i = skipLiteral(t, i, n, 'null');
          if (i < 0) return false;
          kinds[f] = NULL;
        } else {
          return false; // an object or array where the schema wants a scalar, or not JSON
        }
      }
      i = skipWs(t, i, n);
      if (i >= n) return false;
      const c = t.charCodeAt(i);
      if (c === RBRACE) return skipWs(t, i + 1, n) === n;
      if (c !== COMMA) return false;
      i = skipWs(t, i + 1, n);
    }
  }
}

/** JSON.parse's value of `s`, a whole JSON number (the template's number captures). */
export function jsonNumber(s: string): number {
  return readNumber(s, 0, s.length, numberSlot, 0) === s.length ? numberSlot[0]! : Number.NaN;
}
const numberSlot = new Float64Array(1);

/** What a record template expects of a field's value (its schema type, as far as the shape goes). */
export type TemplateValue = 'string' | 'number' | 'boolean' | 'timestamp';

/**
 * The commonest record shape as one regular expression: an object with
 * exactly the schema's keys, in schema order, each value a string without
 * escapes (printable ASCII), a JSON number, true/false, or null, with any JSON
 * whitespace between tokens (JSON.stringify's output, Python's json.dumps
 * spacing). V8 compiles it to native code, and one exec is a third of the
 * scanner's time on such records; it hands back the values as captures.
 *
 * Anything the template does not match goes to the scanner, so it only needs
 * to be right where it matches: there the text is valid JSON, an object, its
 * keys are distinct, and a string capture is exactly the parsed string.
 *
 * Per field k, `groups[k]` is its first capture group: for 'string' the
 * string's characters; for 'number' the number's text; for 'boolean' the
 * literal; for 'timestamp' the string's characters, then (next group) a
 * number's text. Every group of a field undefined: the value is null.
 * Null when some name needs escaping in JSON (PLAIN_KEY), or there are no fields.
 */
export function recordTemplate(names: readonly string[], values: readonly TemplateValue[]): { readonly regex: RegExp; readonly groups: readonly number[] } | null {
  if (names.length === 0 || !names.every((n) => PLAIN_KEY.test(n))) return null;
  const ws = '[\\t\\n\\r ]*';
  const str = '"([\\x20\\x21\\x23-\\x5b\\x5d-\\x7f]*)"';
  const num = '(-?(?:0|[1-9][0-9]*)(?:\\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)';
  const groups: number[] = [];
  let group = 1;
  const parts = names.map((name, k) => {
    groups.push(group);
    const key = `"${name.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&')}"`;
    let value: string;
    switch (values[k]) {
      case 'string': value = `(?:${str}|null)`; group += 1; break;
      case 'number': value = `(?:${num}|null)`; group += 1; break;
      case 'boolean': value = '(true|false|null)'; group += 1; break;
      default: value = `(?:${str}|${num}|null)`; group += 2;
    }
    return `${key}${ws}:${ws}${value}`;
  });
  return { regex: new RegExp(`^${ws}\\{${ws}${parts.join(`${ws},${ws}`)}${ws}\\}${ws}$`), groups };
}
