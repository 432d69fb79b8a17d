/**
 * The record codec's fast path (core/json-scan.ts, compileRecordDecoder) must
 * be invisible: it never accepts text JSON.parse rejects, never gives a value
 * JSON.parse would not, and the decoder's rows and rejections equal the
 * reference path's (base64ToUtf8 + JSON.parse + the field checks) on every
 * record, valid, odd or broken. The generators lean on the places a
 * hand-written scanner gets wrong: number forms, escapes, non-ASCII, repeated
 * keys, whitespace, nesting, truncation, and base64 that is not canonical.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64ToUtf8, compileDecoder, compileRecordDecoder, type DecodeResult, type SchemaField } from '../core';
import { parseUtcIso } from '../core/iso-time';
import { schemaTemplate } from '../core/codec';
import { ISO_MS, RecordScanner } from '../core/json-scan';
import clickstream from '../pipelines/clickstream';

const SCHEMA: SchemaField[] = [
  { name: 's', type: 'string', required: true },
  { name: 'n', type: 'int', required: false },
  { name: 'big', type: 'bigint', required: false },
  { name: 'x', type: 'double', required: true },
  { name: 'ok', type: 'boolean', required: false },
  { name: 'ts', type: 'timestamp', required: true },
];
const NAMES = SCHEMA.map((f) => f.name);

// ----------------------------------------------------------------- generators

const JSON_WS = fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r'), maxLength: 2 });

/** Every JSON number form: sign, leading 0, fraction with leading/trailing zeros, exponent with sign, long digit runs. */
const numberText = fc.oneof(
  fc.stringMatching(/^-?(0|[1-9]\d{0,25})(\.\d{1,25})?([eE][+-]?\d{1,3})?$/),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
  fc.integer().map(String),
  fc.constantFrom(
    '-0', '0', '-0.0', '0e0', '-0e-5', '1e400', '-1e400', '1e-400', '2147483647', '2147483648', '-2147483648', '-2147483649',
    '9007199254740991', '9007199254740992', '9007199254740993', '1.7976931348623157e308', '1.7976931348623159e308', '5e-324', '2.5e-324',
    '0.1e-22', '1e22', '1e23', '123456789012345', '1234567890123456', '0.000000000000000000001', '9.999999999999999e22', '1E+2', '1e-0',
    '4.35', '0.1', '0.3', '100.00', '8.64e15', '8640000000000000', '1700000000123.5', '12345678901234567890', '1e00000000000000000001',
  ),
);

/** Number-like text that is not JSON: JSON.parse rejects all of these. */
const badNumberText = fc.constantFrom('01', '-01', '1.', '.5', '+1', '1e', '1e+', '--1', '-', '0x10', 'Infinity', 'NaN', '1.5.2', '00', '-.5', '1ee5', '١');

/** Characters that test a string scanner: quotes, backslash, controls, non-ASCII (2-, 3- and 4-byte UTF-8), lone surrogates. */
const trickyChar = fc.constantFrom('"', '\\', '/', '\n', '\t', '\u0000', '\u001f', '\u007f', 'é', 'ß', '€', '☕', '😀', '\ud800', '\u2028', 'A', ' ');
const textString = fc.string({ unit: fc.oneof({ weight: 6, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) }, { weight: 1, arbitrary: trickyChar }), maxLength: 20 });

/** ISO-8601 event times, good and bad, and digit strings for the bigint field. */
const specialString = fc.constantFrom(
  '2026-11-25T07:05:00Z', '2026-11-25T07:05:00.250Z', '2026-11-25 07:05:00.999Z', '2024-02-29T23:59:59.000Z', '2026-02-29T00:00:00Z',
  '2026-11-25T24:00:00Z', '2026-11-25T07:05Z', '2026-11-25T07:05:00.123456Z', '2026-01-01T01:00:00+01:00', '2026-01-01T01:00:00-0530',
  '2026-11-25', 'yesterday', '', '123', '-9223372036854775808', '9223372036854775807', '9223372036854775808', '00012', '-', '1e3',
);

/** Strings that start as an event time and go on: an in-place event-time reader must find where they really end. */
const eventTimePrefixed = fc
  .tuple(fc.constantFrom('2026-11-25T07:05:00Z', '2026-11-25T07:05:00.250Z', '2026-11-25 07:05:00Z'), textString)
  .map(([ts, rest]) => JSON.stringify(ts + rest));

/** A string value as JSON text: JSON.stringify's escaping, or a hand-written escape JSON.parse must decode. */
const stringText = fc.oneof(
  { weight: 4, arbitrary: fc.oneof(textString, specialString).map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: eventTimePrefixed },
  { weight: 1, arbitrary: fc.constantFrom('"\\u0041"', '"\\/"', '"a\\u00e9"', '"\\ud83d\\ude00"', '"\\uD800"', '"2026-11-25T07:05:00\\u005a"', '"\\x41"', '"\\u12"', '"\\U0041"', '"\\a"') },
  { weight: 1, arbitrary: textString.map((s) => `"${s}"`) }, // raw: controls, quotes and backslashes unescaped
);

/** Any value text: scalars, containers (for fields outside the schema, and wrongly typed ones inside). */
const valueText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: numberText },
  { weight: 4, arbitrary: stringText },
  { weight: 1, arbitrary: fc.constantFrom('true', 'false', 'null', 'tru', 'nul', 'True', 'NULL') },
  { weight: 1, arbitrary: badNumberText },
  { weight: 2, arbitrary: fc.tuple(fc.jsonValue({ maxDepth: 3 }), fc.boolean()).map(([v, indent]) => JSON.stringify(v, null, indent ? 1 : undefined)) },
  { weight: 1, arbitrary: fc.constantFrom('[]', '{}', '[1,]', '{"a":1,}', '[1 2]', '{"a" 1}', '{"a":}', '[[[[[[]]]]]]', '{"":{"":{"":[]}}}', '[' .repeat(70) + ']'.repeat(70)) },
);

/** Keys: the schema's names (often), other names, names that need escapes or are not ASCII, prototype names. */
const keyText = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...NAMES).map((k) => JSON.stringify(k)) },
  { weight: 2, arbitrary: fc.constantFrom('extra', 'S', 'ts ', 'nn', '__proto__', 'constructor', 'toString', '', 'x\u0000').map((k) => JSON.stringify(k)) },
  { weight: 1, arbitrary: fc.constantFrom('"\\u0073"', '"t\\u0073"', '"\\"s"', '"é"', '"s\\n"') },
  { weight: 1, arbitrary: textString.map((s) => JSON.stringify(s)) },
);

/** A record as JSON text with random key order, repeats, whitespace everywhere JSON allows it. */
const recordText = fc
  .tuple(
    fc.array(fc.tuple(keyText, valueText, JSON_WS, JSON_WS, JSON_WS, JSON_WS), { maxLength: 9 }),
    JSON_WS,
    JSON_WS,
  )
  .map(([members, lead, trail]) => `${lead}{${members.map(([k, v, a, b, c, d]) => `${a}${k}${b}:${c}${v}${d}`).join(',')}}${trail}`);

/** Records the fast path should take: each schema key at most once, ASCII, no escapes where the schema reads. */
const asciiString = fc.string({ unit: fc.constantFrom(...'abcXYZ019 -_:.+/'), maxLength: 30 }).map((s) => JSON.stringify(s));
const asciiJson = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)).filter((t) => /^[\x20-\x7e]*$/.test(t));
const cleanRecordText = fc
  .tuple(
    fc.shuffledSubarray(NAMES),
    fc.array(fc.oneof(asciiString, numberText, fc.constantFrom('true', 'false', 'null'), fc.constantFrom('"2026-11-25T07:05:00.250Z"', '"9223372036854775807"')), { minLength: NAMES.length, maxLength: NAMES.length }),
    fc.array(fc.tuple(fc.constantFrom('extra', 'meta', 'tags'), asciiJson), { maxLength: 3 }),
    JSON_WS,
  )
  .map(([keys, values, unknown, ws]) => {
    const members = [...keys.map((k, i) => `"${k}"${ws}:${ws}${values[i]}`), ...unknown.map(([k, v], i) => `"${k}${i}":${v}`)];
    return `${ws}{${ws}${members.join(`,${ws}`)}${ws}}${ws}`;
  });

/** Breaks text the way bad producers and truncated transports do. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom('"', '\\', ',', '}', '{', '[', ']', ':', ' ', '\f', '\u00a0', 'é', '\u0000', 'e', '-', '.', '0', '1', 'n', '\ufeff', ',"s":"x"', ',"x":1') }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
);

interface Mutation {
  readonly kind: 'truncate' | 'insert' | 'delete';
  readonly at: number;
  readonly text?: string;
}

function mutate(text: string, m: Mutation): string {
  const at = text.length === 0 ? 0 : m.at % (text.length + 1);
  if (m.kind === 'truncate') return text.slice(0, at);
  if (m.kind === 'delete') return text.slice(0, at) + text.slice(at + 1);
  return text.slice(0, at) + m.text + text.slice(at);
}

const anyText = fc.oneof(
  { weight: 3, arbitrary: recordText },
  { weight: 2, arbitrary: cleanRecordText },
  { weight: 2, arbitrary: fc.tuple(cleanRecordText, mutation).map(([t, m]) => mutate(t, m)) },
  { weight: 3, arbitrary: fc.tuple(recordText, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([t, ms]) => ms.reduce(mutate, t)) },
  { weight: 1, arbitrary: valueText }, // top level that is not an object
);

// ------------------------------------------------------------- the scanner

/** What the scanner must report for `text`, from JSON.parse itself. */
function reference(text: string): { ok: false } | { ok: true; values: unknown[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { ok: false };
  return { ok: true, values: NAMES.map((k) => (Object.hasOwn(parsed as object, k) ? (parsed as Record<string, unknown>)[k] : undefined)) };
}

describe('RecordScanner', () => {
  it.each([
    { reads: 'every field as JSON', eventTimes: [] },
    { reads: '"ts" as an event time', eventTimes: NAMES.map((n) => n === 'ts') },
  ])('accepts only JSON objects, and then gives exactly the values JSON.parse gives (random and mutated records; $reads)', ({ eventTimes }) => {
    const scanner = new RecordScanner(NAMES, eventTimes);
    let accepted = 0;
    fc.assert(
      fc.property(anyText, (text) => {
        if (!scanner.scan(text)) return;
        accepted++;
        const want = reference(text);
        expect(want.ok, `accepted text JSON.parse rejects or that is not an object: ${JSON.stringify(text)}`).toBe(true);
        if (!want.ok) return;
        NAMES.forEach((name, k) => {
          const v = scanner.value(text, k);
          expect(Object.is(v, want.values[k]), `field ${name} of ${JSON.stringify(text)}: ${String(v)} vs ${String(want.values[k])}`).toBe(true);
          // An event time read in place is the epoch ms the codec would have parsed from the string.
          if (scanner.kinds[k] === ISO_MS) expect(scanner.numbers[k]).toBe(parseUtcIso(v as string));
        });
      }),
      { numRuns: 20_000 },
    );
    // Not vacuous: a good share of the texts takes the fast path.
    expect(accepted).toBeGreaterThan(4_000); // ~6,200 of 20,000 in practice
  });

  it('reads every JSON number form to the double JSON.parse gives (sign of zero included)', () => {
    const scanner = new RecordScanner(['x']);
    fc.assert(
      fc.property(numberText, JSON_WS, (num, ws) => {
        const text = `{"x":${ws}${num}${ws}}`;
        expect(scanner.scan(text)).toBe(true);
        const v = scanner.value(text, 0);
        expect(Object.is(v, JSON.parse(text).x), `${num}: ${String(v)} vs ${JSON.parse(text).x}`).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it('refuses number-like text that is not JSON', () => {
    const scanner = new RecordScanner(['x', 'y']);
    fc.assert(
      fc.property(badNumberText, fc.constantFrom('x', 'y', 'other'), (num, key) => {
        expect(scanner.scan(`{"${key}":${num}}`)).toBe(false);
      }),
    );
  });

  it('takes the fast path for flat ASCII records without escapes, in any key order, with unknown and nested fields', () => {
    const scanner = new RecordScanner(NAMES);
    fc.assert(
      fc.property(cleanRecordText, (text) => {
        expect(scanner.scan(text), text).toBe(true);
      }),
      { numRuns: 5_000 },
    );
  });
});

// ------------------------------------------------------------- the decoder

function expectSameDecode(fast: DecodeResult, ref: DecodeResult, schema: readonly SchemaField[], what: string): void {
  if (ref.rejection) {
    expect(fast.row, what).toBeUndefined();
    expect(fast.rejection, what).toEqual(ref.rejection);
    return;
  }
  expect(fast.rejection, what).toBeUndefined();
  // A fast-path row holds the schema's fields only, a JSON.parse row any others too (writers read columns only).
  for (const f of schema) {
    expect(Object.hasOwn(fast.row!, f.name), `${what}: field ${f.name}`).toBe(true);
    expect(Object.is(fast.row![f.name], ref.row![f.name]), `${what}: field ${f.name}`).toBe(true);
  }
}

const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/** Base64 that is not canonical: whitespace, line breaks, missing padding, the URL alphabet, stray characters. */
const base64Mutation = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom(' ', '\n', '\r\n', '\t', '=', '==', '!', '.', 'A', '\u00e9') }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

describe.each([
  { name: 'all field types', schema: SCHEMA },
  { name: 'clickstream', schema: clickstream.schema },
])('compileRecordDecoder ($name schema)', ({ schema }) => {
  const fast = compileRecordDecoder(schema);
  const ref = compileDecoder(schema);
  const clickText = fc
    .record({
      event_id: fc.oneof(fc.string({ maxLength: 12 }), fc.integer()),
      user_id: fc.oneof(fc.constantFrom('u1', 'u2', 'ü'), fc.constant(null)),
      category: fc.constantFrom('books', 'games', 'music'),
      value: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant('12')),
      ts: fc.oneof(fc.integer({ min: 0, max: 2e12 }), fc.constantFrom('2026-11-25T07:05:00.250Z', '2026-11-25T07:05:00Z', 'bad')),
    }, { requiredKeys: [] })
    .map((o) => JSON.stringify(o));
  const texts = fc.oneof(anyText, clickText, fc.tuple(clickText, mutation).map(([t, m]) => mutate(t, m)));

  it('gives the reference rows and rejections on random, odd and broken records', () => {
    fc.assert(
      fc.property(texts, (text) => {
        const data = base64(text);
        expectSameDecode(fast(data), ref(base64ToUtf8(data)), schema, JSON.stringify(text));
      }),
      { numRuns: 10_000 },
    );
  });

  // The template's shape: every schema key once, in schema order, any JSON whitespace; values of every form,
  // most of them ones the template takes (plain ASCII strings, numbers, literals), some it must refuse.
  const typedValue = (f: SchemaField): fc.Arbitrary<string> => {
    switch (f.type) {
      case 'string': return fc.oneof(asciiString, fc.constant('null'));
      case 'boolean': return fc.constantFrom('true', 'false', 'null');
      case 'timestamp': return fc.oneof(specialString.map((v) => JSON.stringify(v)), numberText, fc.constant('null'));
      default: return fc.oneof(numberText, fc.constant('null'));
    }
  };
  const templateText = fc
    .tuple(
      fc.tuple(...schema.map((f) => fc.oneof({ weight: 12, arbitrary: typedValue(f) }, { weight: 1, arbitrary: stringText }, { weight: 1, arbitrary: valueText }))),
      fc.array(JSON_WS, { minLength: 4 * schema.length + 2, maxLength: 4 * schema.length + 2 }),
    )
    .map(([values, ws]) => `${ws[0]}{${schema.map((f, k) => `${ws[4 * k + 1]}"${f.name}"${ws[4 * k + 2]}:${ws[4 * k + 3]}${values[k]}${ws[4 * k + 4]}`).join(',')}}${ws[4 * schema.length + 1]}`);

  it('gives the reference rows and rejections on records of the template\'s shape, odd values and breakage included', () => {
    const template = schemaTemplate(schema)!;
    let matched = 0;
    let runs = 0;
    fc.assert(
      fc.property(fc.oneof({ weight: 4, arbitrary: templateText }, { weight: 1, arbitrary: fc.tuple(templateText, mutation).map(([t, m]) => mutate(t, m)) }), (text) => {
        runs++;
        if (template.regex.test(text)) matched++;
        const data = base64(text);
        expectSameDecode(fast(data), ref(base64ToUtf8(data)), schema, JSON.stringify(text));
      }),
      { numRuns: 10_000 },
    );
    // The template path itself was exercised, not only the scanner behind it.
    expect(matched / runs).toBeGreaterThan(0.3);
  });

  it('gives the reference result when the base64 is not canonical', () => {
    fc.assert(
      fc.property(texts, fc.array(base64Mutation, { minLength: 1, maxLength: 2 }), (text, ms) => {
        const data = ms.reduce(mutate, base64(text));
        expectSameDecode(fast(data), ref(base64ToUtf8(data)), schema, JSON.stringify(data));
      }),
      { numRuns: 3_000 },
    );
  });
});

describe('compileRecordDecoder', () => {
  it('decodes a record without the parsed object: schema fields only, checks applied, absent optionals null', () => {
    const r = compileRecordDecoder(SCHEMA)(base64('{"ts":"2026-11-25T07:05:00.250Z","x":-0,"s":"a","extra":{"deep":[1,{"k":"\\u00e9"}]},"big":"9223372036854775807"}'));
    expect(r.rejection).toBeUndefined();
    expect(r.row).toEqual({ s: 'a', n: null, big: 9223372036854775807n, x: -0, ok: null, ts: Date.UTC(2026, 10, 25, 7, 5, 0, 250) });
    expect(Object.is(r.row!.x, -0)).toBe(true);
  });

  it.each([
    ['{"s":"a","x":1,"ts":0,"s":"b"}', 'b'], // repeated key: the last wins, as in JSON.parse
    ['{"s":"caf\u00e9","x":1,"ts":0}', 'café'], // non-ASCII
    ['{"s":"a\\nb","x":1,"ts":0}', 'a\nb'], // escape
    ['{"\\u0073":"esc","x":1,"ts":0}', 'esc'], // escaped key
  ])('falls back to JSON.parse for %s', (text, s) => {
    expect(compileRecordDecoder(SCHEMA)(base64(text)).row?.s).toBe(s);
  });

  it.each([
    ['{"x":1,"ts":0}', 's', /required field "s" is missing/],
    ['{"s":null,"x":1,"ts":0}', 's', /required field "s" is null/],
    ['{"s":"a","x":"1","ts":0}', 'x', /field "x" must be a finite number, got a string/],
    ['{"s":"a","x":1,"ts":"2026-02-30T00:00:00Z"}', 'ts', /field "ts" must be an ISO-8601 date-time/],
    ['{"s":"a","x":1,"ts":0,"n":2147483648}', 'n', /field "n" must be a 32-bit integer/],
    ['{"s":"a","x":1e400,"ts":0}', 'x', /field "x" must be a finite number, got number Infinity/],
    ['{"s":"a","x":1,"ts":0', '', /record is not valid JSON/],
    ['[{"s":"a"}]', '', /record must be a JSON object, got an array/],
  ])('rejects %s naming field "%s", as the reference path does', (text, field, reason) => {
    const r = compileRecordDecoder(SCHEMA)(base64(text));
    expect(r.rejection?.field).toBe(field);
    expect(r.rejection?.reason).toMatch(reason);
    expect(r).toEqual(compileDecoder(SCHEMA)(text));
  });

  it('keeps the JSON.parse path for a schema field Object.prototype also has', () => {
    const schema: SchemaField[] = [{ name: 'constructor', type: 'string', required: false }];
    const data = base64('{}');
    expect(compileRecordDecoder(schema)(data)).toEqual(compileDecoder(schema)('{}'));
  });
});

// ------------------------------------------------------------- nested paths

describe('compileRecordDecoder with nested paths', () => {
  const schema: SchemaField[] = [
    { name: 'id', type: 'string', required: true },
    { name: 'customer_id', type: 'string', required: true, path: ['customer', 'id'] },
    { name: 'country', type: 'string', required: false, path: ['customer', 'address', 'country'] },
    { name: 'n', type: 'int', required: false, path: ['a.b', 'n'] },
    { name: 'ts', type: 'timestamp', required: true },
  ];
  const fast = compileRecordDecoder(schema);
  const checks = schema.map((f) => compileDecoder([{ name: f.name, type: f.type, required: f.required }]));

  /** An independent reference: JSON.parse, each path walked by hand, then the flat schema's checks. */
  function reference(text: string): { ok: true; row: Record<string, unknown> } | { ok: false; field: string } {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      return { ok: false, field: '' };
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return { ok: false, field: '' };
    // Field by field in schema order, as the decoder rejects the first field at fault.
    const row: Record<string, unknown> = {};
    for (const [i, f] of schema.entries()) {
      let v: unknown = obj;
      for (const k of f.path ?? [f.name]) {
        if (v === null || v === undefined) { v = undefined; break; }
        if (typeof v !== 'object' || Array.isArray(v)) return { ok: false, field: f.name };
        v = Object.hasOwn(v, k) ? (v as Record<string, unknown>)[k] : undefined;
      }
      const r = checks[i]!(JSON.stringify(v === undefined ? {} : { [f.name]: v }));
      if (r.rejection) return { ok: false, field: r.rejection.field };
      row[f.name] = r.row[f.name];
    }
    return { ok: true, row };
  }

  const scalar = fc.oneof(fc.string({ maxLength: 6 }), fc.integer({ min: -3, max: 3 }), fc.constant(null), fc.boolean(), fc.constant(1.5));
  const address = fc.oneof(fc.record({ country: fc.oneof(fc.constantFrom('DE', 'FR', 'é'), scalar) }, { requiredKeys: [] }), scalar, fc.constant([1]));
  const customer = fc.oneof(
    { weight: 5, arbitrary: fc.record({ id: fc.oneof(fc.constantFrom('c1', 'c2'), scalar), address, extra: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }) },
    { weight: 1, arbitrary: scalar },
  );
  const record = fc
    .record({
      id: fc.oneof(fc.constantFrom('o1', 'o2'), scalar),
      customer,
      'a.b': fc.oneof(fc.record({ n: fc.oneof(fc.integer(), scalar) }, { requiredKeys: [] }), scalar),
      ts: fc.oneof(fc.constantFrom('2026-11-25T07:05:00Z', 'bad'), fc.integer({ min: 0, max: 2e12 })),
    }, { requiredKeys: [] })
    .map((o) => JSON.stringify(o));
  const texts = fc.oneof({ weight: 4, arbitrary: record }, { weight: 1, arbitrary: fc.tuple(record, mutation).map(([t, m]) => mutate(t, m)) });

  it('gives the reference rows, and rejects exactly where the reference does, naming the same field', () => {
    let rows = 0;
    let nestedRejections = 0;
    fc.assert(
      fc.property(texts, (text) => {
        const got = fast(base64(text));
        const want = reference(text);
        if (want.ok) {
          expect(got.rejection, text).toBeUndefined();
          expect(got.row, text).toEqual(want.row);
          rows++;
        } else {
          expect(got.rejection?.field, text).toBe(want.field);
          if (want.field === 'customer_id' || want.field === 'country' || want.field === 'n') {
            nestedRejections++;
            // The reason names the path, so the producer can find the key.
            expect(got.rejection!.reason, text).toMatch(/\(path (customer\.id|customer\.address\.country|a\\\.b\.n)\)/);
          }
        }
      }),
      { numRuns: 5_000 },
    );
    expect(rows).toBeGreaterThan(50);
    expect(nestedRejections).toBeGreaterThan(200);
  });
});
