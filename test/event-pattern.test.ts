import { describe, expect, it } from 'vitest';
import {
  compileFilterCriteria,
  decodeRecordPayload,
  FilterPatternError,
  matchesFilterCriteria,
  NonJsonPayload,
} from '../core/event-pattern';

const kinesis = (data: unknown) => ({ data });
const kafka = (value: unknown) => ({ value });
const onData = (rules: Record<string, unknown>) => [{ pattern: JSON.stringify({ data: rules }) }];

describe('matchesFilterCriteria: one matcher at a time', () => {
  it.each([
    // [rule list, record data, expected]
    [['a'], { f: 'a' }, true],
    [['a'], { f: 'A' }, false],
    [['a', 'b'], { f: 'b' }, true],
    [[5], { f: 5 }, true],
    [[5], { f: '5' }, false],
    [[true], { f: true }, true],
    [[true], { f: 1 }, false],
    [[null], { f: null }, true],
    [[null], {}, false],
    [[{ prefix: 'ab' }], { f: 'abc' }, true],
    [[{ prefix: 'ab' }], { f: 'Abc' }, false],
    [[{ prefix: 'ab' }], { f: null }, false],
    [[{ suffix: 'bc' }], { f: 'abc' }, true],
    [[{ 'equals-ignore-case': 'ABC' }], { f: 'abc' }, true],
    [[{ 'anything-but': ['a'] }], { f: 'b' }, true],
    [[{ 'anything-but': ['a'] }], { f: 'a' }, false],
    // AWS matches a present null with anything-but; a missing field never matches it.
    [[{ 'anything-but': ['a'] }], { f: null }, true],
    [[{ 'anything-but': ['a'] }], {}, false],
    [[{ 'anything-but': 'a' }], { f: 'a' }, false],
    [[{ 'anything-but': { prefix: 'a' } }], { f: 'ba' }, true],
    [[{ 'anything-but': { prefix: 'a' } }], { f: 'ab' }, false],
    [[{ numeric: ['>', 0, '<=', 5] }], { f: 5 }, true],
    [[{ numeric: ['>', 0, '<=', 5] }], { f: 0 }, false],
    [[{ numeric: ['>', 0] }], { f: '7' }, false],
    [[{ numeric: ['>', 0] }], { f: null }, false],
    [[{ numeric: ['=', 3.5] }], { f: 3.5 }, true],
    // Beyond event-ruler's numeric range (±5.0e9) a number never matches numerically.
    [[{ numeric: ['>', 0] }], { f: 6e9 }, false],
    [[{ exists: true }], { f: 'x' }, true],
    [[{ exists: true }], { f: null }, true],
    [[{ exists: true }], {}, false],
    [[{ exists: false }], {}, true],
    [[{ exists: false }], { f: null }, false],
    // exists looks at leaves only: an object-valued field counts as absent.
    [[{ exists: false }], { f: { g: 1 } }, true],
    [[{ exists: true }], { f: { g: 1 } }, false],
    // An array matches when any element does.
    [['b'], { f: ['a', 'b'] }, true],
    [[{ exists: false }], { f: [] }, true],
    // Rules in one list are ORed.
    [[null, { exists: false }], {}, true],
    [[null, { exists: false }], { f: 'x' }, false],
  ])('%j on %j → %s', (rules, data, expected) => {
    expect(matchesFilterCriteria(onData({ f: rules }), kinesis(data))).toBe(expected);
  });
});

describe('matchesFilterCriteria: combining', () => {
  it('ANDs the fields of one pattern and ORs the filters', () => {
    // Prepare
    const filters = [
      { pattern: JSON.stringify({ data: { a: ['x'], b: [{ numeric: ['>', 1] }] } }) },
      { pattern: JSON.stringify({ data: { c: [true] } }) },
    ];
    // Act / Assess
    expect(matchesFilterCriteria(filters, kinesis({ a: 'x', b: 2 }))).toBe(true);
    expect(matchesFilterCriteria(filters, kinesis({ a: 'x', b: 1 }))).toBe(false);
    expect(matchesFilterCriteria(filters, kinesis({ a: 'y', b: 1, c: true }))).toBe(true);
  });

  it('matches nested objects along the path', () => {
    const filters = onData({ order: { type: ['buy'] } });
    expect(matchesFilterCriteria(filters, kinesis({ order: { type: 'buy' } }))).toBe(true);
    expect(matchesFilterCriteria(filters, kinesis({ order: 'buy' }))).toBe(false);
  });

  it('lets every record through when there are no filters, as Lambda does without FilterCriteria', () => {
    expect(matchesFilterCriteria([], kinesis(new NonJsonPayload('x')))).toBe(true);
    expect(compileFilterCriteria([])(kafka(undefined))).toBe(true);
  });

  it('uses value for Kafka records and data for Kinesis records', () => {
    const valueFilter = [{ pattern: JSON.stringify({ value: { f: ['a'] } }) }];
    expect(matchesFilterCriteria(valueFilter, kafka({ f: 'a' }))).toBe(true);
    expect(matchesFilterCriteria(valueFilter, kinesis({ f: 'a' }))).toBe(false);
  });

  it('gives the same answers compiled once as through the cached entry point', () => {
    const filters = onData({ f: [{ numeric: ['>=', 10] }] });
    const compiled = compileFilterCriteria(filters);
    for (const f of [9, 10, 11, null, 'x']) {
      expect(compiled(kinesis({ f }))).toBe(matchesFilterCriteria(filters, kinesis({ f })));
    }
  });
});

describe('records that are not valid JSON', () => {
  it('decodes JSON payloads and keeps other text as NonJsonPayload', () => {
    expect(decodeRecordPayload('{"a":1}')).toEqual({ a: 1 });
    expect(decodeRecordPayload('"s"')).toBe('s');
    const bad = decodeRecordPayload('INFO started');
    expect(bad).toBeInstanceOf(NonJsonPayload);
    expect((bad as NonJsonPayload).text).toBe('INFO started');
  });

  it('Kinesis: a filter on data never matches non-JSON data (Lambda drops the record)', () => {
    const data = new NonJsonPayload('INFO started');
    expect(matchesFilterCriteria([{ pattern: '{"data":[{"prefix":"INFO"}]}' }], kinesis(data))).toBe(false);
    expect(matchesFilterCriteria([{ pattern: '{"data":{"level":[{"exists":false}]}}' }], kinesis(data))).toBe(false);
  });

  it('Kafka: a plain-string value matches rules on value itself, never rules on fields inside it', () => {
    const value = new NonJsonPayload('error');
    expect(matchesFilterCriteria([{ pattern: '{"value":[{"anything-but":["error"]}]}' }], kafka(value))).toBe(false);
    expect(matchesFilterCriteria([{ pattern: '{"value":[{"anything-but":["error"]}]}' }], kafka(new NonJsonPayload('warn')))).toBe(true);
    expect(matchesFilterCriteria([{ pattern: '{"value":{"level":[{"exists":false}]}}' }], kafka(value))).toBe(false);
  });
});

describe('invalid patterns', () => {
  it.each([
    ['not json', /not valid JSON/],
    ['[]', /must be a JSON object/],
    ['{"data":{"f":"a"}}', /"data\.f" must be an array of rules or an object/],
    ['{"data":{"f":[]}}', /"data\.f" has an empty rule list/],
    ['{"data":{"f":[{"numeric":[">",6e9]}]}}', /"data\.f": numeric values must lie within -5\.0e9\.\.5\.0e9/],
    ['{"data":{"f":[{"numeric":["!",1]}]}}', /"data\.f": numeric has unknown operator "!"/],
    ['{"data":{"f":[{"wildcard":"a*"}]}}', /"data\.f": wildcard is not a supported match type/],
    ['{"data":{"f":[{"exists":"yes"}]}}', /"data\.f": exists takes true or false/],
    ['{"data":{"f":[{"anything-but":["a",1]}]}}', /anything-but takes only strings or only numbers/],
    ['{"data":{"f":[{"prefix":"a","suffix":"b"}]}}', /exactly one key/],
  ])('rejects %s', (pattern, message) => {
    expect(() => matchesFilterCriteria([{ pattern }], kinesis({}))).toThrow(message);
    expect(() => compileFilterCriteria([{ pattern }])).toThrow(FilterPatternError);
  });
});
