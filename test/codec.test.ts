import { describe, expect, it } from 'vitest';
import { compileDecoder, type SchemaField } from '../core';
import { parseUtcIso } from '../core/iso-time';
import { mulberry32 } from '../core/prng';

const schema: SchemaField[] = [
  { name: 'id', type: 'string', required: true },
  { name: 'n', type: 'int', required: true },
  { name: 'big', type: 'bigint', required: false },
  { name: 'x', type: 'double', required: false },
  { name: 'ok', type: 'boolean', required: false },
  { name: 'ts', type: 'timestamp', required: true },
];
const decode = compileDecoder(schema);

describe('compileDecoder', () => {
  it('decodes a valid record into a typed row (timestamps to epoch ms, absent optionals to null)', () => {
    // Prepare
    const json = JSON.stringify({ id: 'a', n: 7, x: 1.5, ts: '2026-11-25T07:05:00.250Z', extra: 'ignored' });
    // Act
    const r = decode(json);
    // Assess
    expect(r.rejection).toBeUndefined();
    // Fields outside the schema stay on the row (it is the parsed object, reused); writers read only the columns.
    expect(r.row).toEqual({ id: 'a', n: 7, big: null, x: 1.5, ok: null, ts: Date.UTC(2026, 10, 25, 7, 5, 0, 250), extra: 'ignored' });
  });

  it.each([
    ['2026-11-25T07:05:00Z', Date.UTC(2026, 10, 25, 7, 5, 0)],
    ['2026-11-25T07:05:00.999Z', Date.UTC(2026, 10, 25, 7, 5, 0, 999)],
    ['2024-02-29T23:59:59.000Z', Date.UTC(2024, 1, 29, 23, 59, 59)],
    ['2026-11-25T07:05Z', Date.UTC(2026, 10, 25, 7, 5)],
    ['2026-11-25T07:05:00.123456Z', Date.UTC(2026, 10, 25, 7, 5, 0, 123)],
  ])('parses event time %s', (ts, ms) => {
    expect(decode(JSON.stringify({ id: 'a', n: 1, ts })).row?.ts).toBe(ms);
  });

  it.each(['2026-02-29T00:00:00Z', '2026-13-01T00:00:00Z', '2026-11-25T24:00:00Z', '2026-11-25T07:60:00Z', '2026-11-31T00:00:00.000Z'])('rejects the impossible date-time %s', (ts) => {
    expect(decode(JSON.stringify({ id: 'a', n: 1, ts })).rejection?.field).toBe('ts');
  });

  it('accepts epoch millis and offsets for timestamps, and digit strings for bigint', () => {
    expect(decode(JSON.stringify({ id: 'a', n: 1, ts: 1_700_000_000_123 })).row?.ts).toBe(1_700_000_000_123);
    expect(decode(JSON.stringify({ id: 'a', n: 1, ts: '2026-01-01T01:00:00+01:00' })).row?.ts).toBe(Date.UTC(2026, 0, 1));
    expect(decode(JSON.stringify({ id: 'a', n: 1, ts: 0, big: '9223372036854775807' })).row?.big).toBe(9223372036854775807n);
  });

  it.each([
    ['{not json', '', /record is not valid JSON/],
    ['[1,2]', '', /record must be a JSON object, got an array/],
    ['"text"', '', /record must be a JSON object, got a string/],
    [JSON.stringify({ n: 1, ts: 0 }), 'id', /required field "id" is missing/],
    [JSON.stringify({ id: null, n: 1, ts: 0 }), 'id', /required field "id" is null/],
    [JSON.stringify({ id: 5, n: 1, ts: 0 }), 'id', /field "id" must be a string, got number 5/],
    [JSON.stringify({ id: 'a', n: 1.5, ts: 0 }), 'n', /field "n" must be a 32-bit integer/],
    [JSON.stringify({ id: 'a', n: 2 ** 31, ts: 0 }), 'n', /field "n" must be a 32-bit integer/],
    [JSON.stringify({ id: 'a', n: 1, ts: 0, x: '1.5' }), 'x', /field "x" must be a finite number, got a string/],
    [JSON.stringify({ id: 'a', n: 1, ts: 0, ok: 'yes' }), 'ok', /field "ok" must be true or false/],
    [JSON.stringify({ id: 'a', n: 1, ts: 'yesterday' }), 'ts', /field "ts" must be an ISO-8601 date-time/],
    [JSON.stringify({ id: 'a', n: 1, ts: '2026-11-25' }), 'ts', /field "ts" must be an ISO-8601 date-time/],
    [JSON.stringify({ id: 'a', n: 1, ts: 0, big: 2 ** 60 }), 'big', /field "big" must be an integer/],
  ])('rejects %s naming field "%s"', (json, fieldName, reason) => {
    const r = decode(json);
    expect(r.row).toBeUndefined();
    expect(r.rejection?.field).toBe(fieldName);
    expect(r.rejection?.reason).toMatch(reason);
  });
});

describe('parseUtcIso (the event-time fast path)', () => {
  it('gives what Date.parse gives over years 0000-9999, with and without milliseconds', () => {
    const rand = mulberry32(7);
    const min = Date.parse('0000-01-01T00:00:00.000Z');
    const max = Date.parse('9999-12-31T23:59:59.999Z');
    const edges = ['0000-01-01T00:00:00Z', '0050-03-01T00:00:00.000Z', '0099-12-31T23:59:59Z', '1600-02-29T12:00:00Z', '1969-12-31T23:59:59.999Z', '1970-01-01T00:00:00Z', '2000-02-29T00:00:00.000Z', '9999-12-31T23:59:59.999Z'];
    const texts = [...edges];
    for (let i = 0; i < 20_000; i++) {
      const iso = new Date(min + Math.floor(rand() * (max - min))).toISOString();
      texts.push(i % 2 === 0 ? iso : iso.slice(0, 19) + 'Z');
    }
    for (const t of texts) expect(parseUtcIso(t), t).toBe(Date.parse(t));
  });

  it('never gives a time Date.parse would not give, for one character changed anywhere', () => {
    const rand = mulberry32(11);
    const chars = '0123456789-:.TZ /a\u0660';
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const base = new Date(Date.UTC(2026, 0, 1) + Math.floor(rand() * 4e10)).toISOString();
      const at = Math.floor(rand() * base.length);
      const t = base.slice(0, at) + chars[Math.floor(rand() * chars.length)]! + base.slice(at + 1);
      const got = parseUtcIso(t);
      if (Number.isNaN(got)) continue;
      accepted++;
      expect(got, t).toBe(Date.parse(t));
    }
    expect(accepted).toBeGreaterThan(5_000); // digits changed into digits mostly stay valid dates
  });
});
