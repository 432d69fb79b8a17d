/**
 * Record codec: base64 → JSON → typed row against the schema. A record that is
 * not JSON, is not an object, misses a required field or has a wrong type
 * yields a Rejection that names the field; the caller quarantines it.
 * Fields not in the schema are ignored (producers may add fields first and
 * pipelines adopt them later).
 */
import { calendarOk, digits, parseUtcIso } from './iso-time';
import { ABSENT, FALSE, ISO_MS, jsonNumber, NULL, NUMBER, RecordScanner, recordTemplate, STRING, TRUE } from './json-scan';
import { formatFieldPath, type FieldValue, type Row, type SchemaField } from './schema';

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

function isRejection(v: FieldValue | Rejection): v is Rejection {
  return v !== null && typeof v === 'object' && !(typeof v === 'bigint') && 'reason' in v;
}

function missingOrNull(name: string, v: null | undefined, path?: readonly string[]): DecodeResult {
  const what = path ? `"${name}" (path ${formatFieldPath(path)})` : `"${name}"`;
  return { rejection: { reason: v === null ? `required field ${what} is null` : `required field ${what} is missing`, field: name } };
}

/** A path that runs into a value that is not an object (see walkPath). */
class PathBlocked {
  constructor(
    readonly blockedAt: number,
    readonly value: unknown,
  ) {}
}

/**
 * The value at `path` in a parsed object: undefined when a key is absent or
 * an object on the way is null (a missing intermediate object reads as NULL);
 * PathBlocked when a value on the way is a string, number, boolean or array.
 * Own keys only, so a key named like an Object.prototype member reads as absent.
 */
function walkPath(obj: Record<string, unknown>, path: readonly string[]): unknown {
  let v: unknown = obj;
  for (let i = 0; i < path.length; i++) {
    if (v === null || v === undefined) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) return new PathBlocked(i, v);
    const o = v as Record<string, unknown>;
    v = Object.hasOwn(o, path[i]!) ? o[path[i]!] : undefined;
  }
  return v;
}


/** Compiles a decoder for a schema once; the returned function runs per record. */
export function compileDecoder(schema: readonly SchemaField[]): (json: string) => DecodeResult {
  const fields = schema.map((f) => ({ name: f.name, required: f.required, check: checkFor(f), path: f.path ?? null }));
  const nested = fields.some((f) => f.path !== null);
  return (json) => {
    let obj: unknown;
    // No stack trace for the SyntaxError: only its message is kept, and capturing the stack was most of
    // the ~30 µs a throw costs, paid by every truncated or garbled record.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      obj = JSON.parse(json);
    } catch (err) {
      return { rejection: { reason: `record is not valid JSON: ${(err as Error).message}`, field: '' } };
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      return { rejection: { reason: `record must be a JSON object, got ${describe(obj)}`, field: '' } };
    }
    if (nested) return nestedRow(obj as Record<string, unknown>, fields);
    // The parsed object becomes the row in place: no second object per record.
    // Fields outside the schema stay on it; writers only read the table's columns.
    const row = obj as Row;
    for (const f of fields) {
      const v = row[f.name];
      if (v === undefined || v === null) {
        if (f.required) return missingOrNull(f.name, v);
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

/**
 * The row of a schema with nested paths: a new object with exactly the
 * schema's fields (reading in place could overwrite a key another field's
 * path goes through).
 */
function nestedRow(obj: Record<string, unknown>, fields: readonly { name: string; required: boolean; check: FieldCheck; path: readonly string[] | null }[]): DecodeResult {
  const row: Row = {};
  for (const f of fields) {
    const v = f.path === null ? obj[f.name] : walkPath(obj, f.path);
    if (v instanceof PathBlocked) {
      const at = formatFieldPath(f.path!.slice(0, v.blockedAt));
      return { rejection: { reason: `field "${f.name}" (path ${formatFieldPath(f.path!)}): "${at}" must be an object, got ${describe(v.value)}`, field: f.name } };
    }
    if (v === undefined || v === null) {
      if (f.required) return missingOrNull(f.name, v as null | undefined, f.path ?? undefined);
      row[f.name] = null;
      continue;
    }
    const out = f.check(v);
    if (isRejection(out)) return { rejection: f.path ? { reason: out.reason.replace(`field "${f.name}"`, `field "${f.name}" (path ${formatFieldPath(f.path)})`), field: f.name } : out };
    row[f.name] = out;
  }
  return { row };
}

/** Decodes base64 record data to UTF-8 text (Kinesis `data`, MSK `value`). */
export function base64ToUtf8(data: string): string {
  return Buffer.from(data, 'base64').toString('utf8');
}

/**
 * The record's bytes as a one-char-per-byte string, when `data` is canonical
 * padded base64 (what Kinesis and Kafka clients send); else null. atob runs
 * ~3× as fast as Buffer.from(…).toString() on 150-byte records, but it is
 * forgiving where Buffer.from is lenient in other ways (whitespace, base64url),
 * so only input on which the two cannot differ takes it: atob throws on
 * anything outside the alphabet and on misplaced '=', and the length check
 * fails whenever it skipped whitespace. The scanner then refuses any byte
 * ≥ 0x80, so the text it accepts is also the UTF-8 decoding.
 */
function canonicalBase64Latin1(data: string): string | null {
  const n = data.length;
  if (n === 0 || (n & 3) !== 0) return null;
  let text: string;
  try {
    text = atob(data);
  } catch {
    return null;
  }
  const pad = data.charCodeAt(n - 1) !== 0x3d ? 0 : data.charCodeAt(n - 2) !== 0x3d ? 1 : 2;
  return text.length === (n >> 2) * 3 - pad ? text : null;
}

/**
 * Compiles the decoder the engine runs per record: base64 record data →
 * DecodeResult, exactly `compileDecoder(schema)(base64ToUtf8(data))` in its
 * rows and rejections, except that a row holds only the schema's fields.
 *
 * Fast paths, both in core/json-scan.ts: a record of the commonest shape (the
 * schema's keys in schema order, plain values) is read by the schema's
 * template regex, any other by the scanner; the same field checks run on what
 * either reads. Any record the scanner is unsure of (non-ASCII,
 * escapes in the fields it reads, repeated keys, a non-object, invalid JSON,
 * odd base64) goes the JSON.parse way, which also words every rejection
 * for records that are not JSON objects.
 */
export function compileRecordDecoder(schema: readonly SchemaField[]): (data: string) => DecodeResult {
  const slow = compileDecoder(schema);
  // An absent key reads as Object.prototype's member off a parsed object ("constructor", "__proto__"):
  // the scanner cannot mirror that, so such schemas keep the JSON.parse path.
  if (schema.some((f) => f.name in Object.prototype)) return (data) => slow(base64ToUtf8(data));
  // Nested paths: JSON.parse and a walk of each path (the scanner reads flat objects only).
  if (schema.some((f) => f.path !== undefined)) return (data) => slow(base64ToUtf8(data));
  const scanner = new RecordScanner(
    schema.map((f) => f.name),
    schema.map((f) => f.type === 'timestamp'),
  );
  const template = schemaTemplate(schema);
  const make = new Function('ctx', recordDecoderSource(schema, template)) as (ctx: RecordDecoderContext) => (data: string) => DecodeResult;
  return make({
    scanner,
    kinds: scanner.kinds,
    starts: scanner.starts,
    ends: scanner.ends,
    numbers: scanner.numbers,
    checks: schema.map(checkFor),
    latin1: canonicalBase64Latin1,
    utf8: base64ToUtf8,
    slow,
    missingOrNull,
    isRejection,
    template: template?.regex ?? null,
    parseUtcIso,
    jsonNumber,
  });
}

/** The schema's record template (core/json-scan.ts recordTemplate): int, bigint and double fields take JSON numbers. */
export function schemaTemplate(schema: readonly SchemaField[]): ReturnType<typeof recordTemplate> {
  return recordTemplate(
    schema.map((f) => f.name),
    schema.map((f) => (f.type === 'string' || f.type === 'boolean' || f.type === 'timestamp' ? f.type : 'number')),
  );
}

interface RecordDecoderContext {
  readonly scanner: RecordScanner;
  readonly kinds: Uint8Array;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  readonly numbers: Float64Array;
  readonly checks: readonly FieldCheck[];
  readonly latin1: (data: string) => string | null;
  readonly utf8: (data: string) => string;
  readonly slow: (json: string) => DecodeResult;
  readonly missingOrNull: (name: string, v: null | undefined) => DecodeResult;
  readonly isRejection: (v: FieldValue | Rejection) => v is Rejection;
  readonly template: RegExp | null;
  readonly parseUtcIso: (s: string) => number;
  readonly jsonNumber: (s: string) => number;
}

/**
 * The body of the per-record decoder, generated per schema: one block per
 * field, in schema order, each with only its type's accepting case inline
 * (checkFor's, with its results) and everything else, rejections included,
 * through checkFor; the row is one object literal. Why generated: a loop over
 * the fields with a switch on their types, an array of checked values and a
 * row built from it was a sixth of the engine's time; this way every row gets
 * one hidden class with its fields in-object, and nothing per record is
 * allocated but the row, its values and the result. Field names enter the
 * source only as JSON string literals; the caller has excluded the one key a
 * literal treats specially (__proto__).
 */
/** The template rests after this many misses in a row, for PAUSE records (see recordDecoderSource). */
const MISSES_BEFORE_PAUSE = 32;
const PAUSE = 1024;

function recordDecoderSource(schema: readonly SchemaField[], template: { readonly groups: readonly number[] } | null): string {
  /** How a field block reads field k's scan result: its kind, its string, its number, its JSON value. */
  interface Access {
    kind: string;
    str: string;
    num: string;
    value: string;
  }
  const fieldBlock = (f: SchemaField, k: number, a: Access): string => {
    const name = JSON.stringify(f.name);
    const absent = f.required
      ? `return missingOrNull(${name}, kind === ${NULL} ? null : undefined);`
      : `v${k} = null;`;
    let accept: string;
    switch (f.type) {
      case 'string':
        accept = `if (kind === ${STRING}) v${k} = ${a.str};`;
        break;
      case 'timestamp':
        // ISO_MS: what checkFor's parseUtcIso gives for the same string; the scanner already ran it.
        accept = `if (kind === ${ISO_MS}) v${k} = ${a.num};
      else if (kind === ${NUMBER} && Number.isFinite(${a.num}) && Math.abs(${a.num}) < 8.64e15) v${k} = Math.trunc(${a.num});`;
        break;
      case 'double':
        accept = `if (kind === ${NUMBER} && Number.isFinite(${a.num})) v${k} = ${a.num};`;
        break;
      case 'int':
        accept = `if (kind === ${NUMBER} && Number.isInteger(${a.num}) && ${a.num} >= ${INT32_MIN} && ${a.num} <= ${INT32_MAX}) v${k} = ${a.num};`;
        break;
      default:
        accept = 'if (false) {}';
    }
    return `  {
    const kind = ${a.kind};
    if (kind === ${ABSENT} || kind === ${NULL}) ${absent}
    else ${accept}
    else {
      const out = checks[${k}](${a.value});
      if (isRejection(out)) return { rejection: out };
      v${k} = out;
    }
  }`;
  };
  const scanned = (k: number): Access => ({ kind: `kinds[${k}]`, str: `text.slice(starts[${k}], ends[${k}])`, num: `numbers[${k}]`, value: `scanner.value(text, ${k})` });
  const scannerPath = `if (!scanner.scan(text)) return slow(utf8(data));
${schema.map((f, k) => fieldBlock(f, k, scanned(k))).join('\n')}`;
  let body = scannerPath;
  if (template) {
    // The template's captures, turned into what the scanner would report for the same text.
    const captured = (f: SchemaField, k: number): string => {
      const g = template.groups[k]!;
      switch (f.type) {
        case 'string':
          return `s${k} = m[${g}]; k${k} = s${k} === undefined ? ${NULL} : ${STRING};`;
        case 'boolean':
          return `{ const t = m[${g}]; k${k} = t === 'true' ? ${TRUE} : t === 'false' ? ${FALSE} : ${NULL}; }`;
        case 'timestamp':
          return `s${k} = m[${g}];
    if (s${k} !== undefined) { x${k} = parseUtcIso(s${k}); k${k} = x${k} === x${k} ? ${ISO_MS} : ${STRING}; }
    else { const t = m[${g + 1}]; if (t === undefined) k${k} = ${NULL}; else { k${k} = ${NUMBER}; x${k} = jsonNumber(t); } }`;
        default:
          return `{ const t = m[${g}]; if (t === undefined) k${k} = ${NULL}; else { k${k} = ${NUMBER}; x${k} = jsonNumber(t); } }`;
      }
    };
    const fromCaptures = (k: number): Access => ({
      kind: `k${k}`,
      str: `s${k}`,
      num: `x${k}`,
      value: `(k${k} === ${STRING} || k${k} === ${ISO_MS} ? s${k} : k${k} === ${NUMBER} ? x${k} : k${k} === ${TRUE} ? true : k${k} === ${FALSE} ? false : null)`,
    });
    // A producer whose records never fit the template (other key order, extra fields) would pay a failed exec
    // per record: after MISSES_BEFORE_PAUSE misses in a row the template rests for PAUSE records, then is tried again.
    body = `let m = null;
  if (pause > 0) pause--;
  else {
    m = template.exec(text);
    if (m !== null) misses = 0;
    else if (++misses === ${MISSES_BEFORE_PAUSE}) { misses = 0; pause = ${PAUSE}; }
  }
  if (m !== null) {
    ${schema.map((_, k) => `let k${k} = ${ABSENT}, s${k}, x${k} = 0;`).join(' ')}
    ${schema.map(captured).join('\n    ')}
${schema.map((f, k) => fieldBlock(f, k, fromCaptures(k))).join('\n')}
  } else {
    ${scannerPath}
  }`;
  }
  return `'use strict';
const { scanner, kinds, starts, ends, numbers, checks, latin1, utf8, slow, missingOrNull, isRejection, template, parseUtcIso, jsonNumber } = ctx;
let misses = 0;
let pause = 0;
return function decodeRecord(data) {
  const text = latin1(data);
  if (text === null) return slow(utf8(data));
  ${schema.map((_, k) => `let v${k};`).join(' ')}
  ${body}
  return { row: { ${schema.map((f, k) => `${JSON.stringify(f.name)}: v${k}`).join(', ')} } };
};`;
}
