import { DuckDBInstance, timestampValue, type DuckDBConnection } from '@duckdb/node-api';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, field, not, or, type FilterExpr, type Scalar } from '../core/filter';
import {
  compileFilterCriteria,
  compilePredicate,
  FilterCompileError,
  filterToCriteria,
  filterToSql,
} from '../core/filter-compile';
import type { FieldType, FieldValue, Row, SchemaField } from '../core/schema';

const schema: readonly SchemaField[] = [
  { name: 'name', type: 'string', required: true },
  { name: 'tag', type: 'string', required: false },
  { name: 'n', type: 'int', required: true },
  { name: 'm', type: 'int', required: false },
  { name: 'x', type: 'double', required: false },
  { name: 'flag', type: 'boolean', required: false },
  { name: 'ts', type: 'timestamp', required: true },
  { name: 'seen', type: 'timestamp', required: false },
  { name: 'big', type: 'bigint', required: false },
];

const T0 = Date.UTC(2024, 0, 1); // 2024-01-01T00:00:00.000Z

const baseRow: Row = { name: 'abc', tag: null, n: 5, m: null, x: null, flag: null, ts: T0, seen: null, big: null };
const row = (over: Partial<Row>): Row => ({ ...baseRow, ...over }) as Row;

describe('compilePredicate', () => {
  it.each<[string, FilterExpr, Partial<Row>, boolean]>([
    ['eq string', field('name').eq('abc'), {}, true],
    ['eq string, other value', field('name').eq('abd'), {}, false],
    ['eq on NULL is UNKNOWN', field('tag').eq('a'), {}, false],
    ['NOT eq on NULL stays UNKNOWN', not(field('tag').eq('a')), {}, false],
    ['ne', field('tag').ne('a'), { tag: 'b' }, true],
    ['ne on NULL is UNKNOWN', field('tag').ne('a'), {}, false],
    ['NOT ne on NULL stays UNKNOWN', not(field('tag').ne('a')), {}, false],
    ['gt equal to literal', field('n').gt(5), {}, false],
    ['gte equal to literal', field('n').gte(5), {}, true],
    ['lt negative', field('n').lt(0), { n: -1 }, true],
    ['lte', field('n').lte(4), {}, false],
    ['gt on NULL', field('m').gt(0), {}, false],
    ['NOT gt on NULL', not(field('m').gt(0)), {}, false],
    ['NOT gt on a value', not(field('m').gt(0)), { m: 0 }, true],
    ['in', field('n').in([1, 5]), {}, true],
    ['in, absent', field('n').in([1, 2]), {}, false],
    ['in on NULL is UNKNOWN', field('m').in([1]), {}, false],
    ['NOT in on NULL stays UNKNOWN', not(field('m').in([1])), {}, false],
    ['exists', field('tag').exists(), { tag: '' }, true],
    ['exists on NULL', field('tag').exists(), {}, false],
    ['NOT exists on NULL', not(field('tag').exists()), {}, true],
    ['isNull', field('tag').isNull(), {}, true],
    ['isNull on a missing key', field('tag').isNull(), { tag: undefined as unknown as null }, true],
    ['NOT isNull', not(field('tag').isNull()), { tag: 'a' }, true],
    ['prefix', field('name').startsWith('ab'), {}, true],
    ['prefix is case-sensitive', field('name').startsWith('AB'), {}, false],
    ['prefix on NULL', field('tag').startsWith('a'), {}, false],
    ['NOT prefix on NULL', not(field('tag').startsWith('a')), {}, false],
    ['boolean eq', field('flag').eq(true), { flag: true }, true],
    ['boolean ne', field('flag').ne(true), { flag: false }, true],
    ['boolean ne on NULL', field('flag').ne(true), {}, false],
    ['double', field('x').gt(10.5), { x: 10.50001 }, true],
    // Three-valued AND / OR.
    ['UNKNOWN OR TRUE = TRUE', or(field('tag').eq('x'), field('n').gt(0)), {}, true],
    ['UNKNOWN AND TRUE = UNKNOWN', and(field('tag').eq('x'), field('n').gt(0)), {}, false],
    ['NOT (UNKNOWN AND TRUE) = UNKNOWN', not(and(field('tag').eq('x'), field('n').gt(0))), {}, false],
    ['NOT (UNKNOWN AND FALSE) = TRUE', not(and(field('tag').eq('x'), field('n').lt(0))), {}, true],
    ['NOT (UNKNOWN OR FALSE) = UNKNOWN', not(or(field('tag').eq('x'), field('n').lt(0))), {}, false],
    ['three-way OR', or(field('n').eq(1), field('n').eq(2), field('n').eq(5)), {}, true],
    ['three-way AND', and(field('n').gt(1), field('n').lt(9), field('name').eq('abc')), {}, true],
    // Timestamps: ISO text or epoch millis, normalised at compile time.
    ['timestamp ISO', field('ts').eq('2024-01-01T00:00:00.000Z'), {}, true],
    ['timestamp ISO with offset', field('ts').eq('2024-01-01T01:00:00+01:00'), {}, true],
    ['timestamp ISO without zone is UTC', field('ts').eq('2024-01-01T00:00:00'), {}, true],
    ['timestamp millis', field('ts').lt(T0 + 1), {}, true],
    ['timestamp in', field('seen').in(['2024-01-01T00:00:00Z']), { seen: T0 }, true],
    // bigint rows may hold numbers or BigInts.
    ['bigint eq, BigInt row', field('big').eq(7), { big: 7n }, true],
    ['bigint eq, number row', field('big').eq(7), { big: 7 }, true],
    ['bigint gt beyond 2^53', field('big').gt(2 ** 53), { big: 2n ** 53n + 1n }, true],
    ['bigint in, BigInt row', field('big').in([1, 7]), { big: 7n }, true],
    ['bigint ne, BigInt row', field('big').ne(7), { big: 7n }, false],
    // Strings order by code point, as SQL does: U+1F600 sorts after U+FFFF (JS `<` says before).
    ['string order by code point', field('name').gt('\uffff'), { name: '😀' }, true],
  ])('%s', (_label, expr, over, expected) => {
    expect(compilePredicate(expr, schema)(row(over))).toBe(expected);
  });

  it('names the field that is not in the schema', () => {
    expect(() => compilePredicate(field('nope').eq(1), schema)).toThrow(/field "nope", which is not in the schema/);
    expect(() => compilePredicate(field('nope').eq(1), schema)).toThrow(FilterCompileError);
  });

  it('names a timestamp value that is not a time', () => {
    expect(() => compilePredicate(field('ts').gt('yesterday'), schema)).toThrow(/timestamp value "yesterday" for field "ts"/);
    expect(() => compilePredicate(field('ts').gt(1.5), schema)).toThrow(/for field "ts" must be whole epoch milliseconds/);
  });
});

describe('filterToSql', () => {
  it.each<[FilterExpr, string]>([
    [field('name').eq("o'k"), `("name" = 'o''k')`],
    [field('n').ne(-3), `("n" <> -3)`],
    [field('x').gt(10.5), `("x" > 10.5e0)`],
    [field('x').lte(1e300), `("x" <= 1e+300)`],
    [field('ts').gte('2024-01-01T00:00:00Z'), `("ts" >= TIMESTAMP '2024-01-01 00:00:00.000')`],
    [field('ts').lt(T0 + 1), `("ts" < TIMESTAMP '2024-01-01 00:00:00.001')`],
    [field('name').startsWith("50%_o'"), `starts_with("name", '50%_o''')`],
    [field('tag').exists(), `("tag" IS NOT NULL)`],
    [field('tag').isNull(), `("tag" IS NULL)`],
    [field('flag').in([true]), `("flag" IN (TRUE))`],
    [field('big').eq(2 ** 60), `("big" = 1152921504606846976)`],
    [not(or(field('n').eq(1), field('m').eq(2))), `(NOT (("n" = 1) OR ("m" = 2)))`],
  ])('%j → %s', (expr, sql) => {
    expect(filterToSql(expr, schema)).toBe(sql);
  });

  it('rejects a timestamp a SQL literal cannot hold, naming the field', () => {
    expect(() => filterToSql(field('ts').gt(Date.UTC(10000, 0, 1)), schema)).toThrow(/field "ts" is outside the years 0001-9999/);
  });
});

describe('filterToCriteria', () => {
  const patterns = (expr: FilterExpr, source: 'kinesis' | 'kafka' = 'kinesis') => {
    const r = filterToCriteria(expr, schema, source);
    if (!r.expressible) throw new Error(`expected expressible, got: ${r.reason}`);
    return r.filters.map((f) => JSON.parse(f.pattern) as unknown);
  };

  it.each<[string, FilterExpr, unknown[]]>([
    ['eq string', field('name').eq('a'), [{ data: { name: ['a'] } }]],
    ['in string', field('tag').in(['a', 'b']), [{ data: { tag: ['a', 'b'] } }]],
    ['prefix', field('tag').startsWith('ab'), [{ data: { tag: [{ prefix: 'ab' }] } }]],
    ['ne on a required string', field('name').ne('a'), [{ data: { name: [{ 'anything-but': ['a'] }] } }]],
    ['int range merges into one numeric rule', and(field('n').gt(0), field('n').lte(5)), [{ data: { n: [{ numeric: ['>=', 1, '<=', 5] }] } }]],
    ['int eq', field('m').eq(3), [{ data: { m: [{ numeric: ['=', 3] }] } }]],
    ['int ne is two ranges, which exclude null', field('m').ne(3), [{ data: { m: [{ numeric: ['<=', 2] }, { numeric: ['>=', 4] }] } }]],
    ['boolean ne', field('flag').ne(true), [{ data: { flag: [false] } }]],
    ['top-level OR becomes filters', or(field('name').eq('a'), field('n').gt(5)), [{ data: { name: ['a'] } }, { data: { n: [{ numeric: ['>=', 6] }] } }]],
    ['isNull on an optional field: JSON null or missing', field('tag').isNull(), [{ data: { tag: [null] } }, { data: { tag: [{ exists: false }] } }]],
    ['NOT over AND, by De Morgan', not(and(field('name').eq('a'), field('n').gt(5))), [{ data: { name: [{ 'anything-but': ['a'] }] } }, { data: { n: [{ numeric: ['<=', 5] }] } }]],
    ['exists on an optional boolean', field('flag').exists(), [{ data: { flag: [true, false] } }]],
    ['eq and startsWith on one field fold at compile time', and(field('tag').in(['ab', 'b']), field('tag').startsWith('a')), [{ data: { tag: ['ab'] } }]],
    ['a timestamp may be tested for null', field('seen').isNull(), [{ data: { seen: [null] } }, { data: { seen: [{ exists: false }] } }]],
    ['never TRUE matches nothing', and(field('n').gt(5), field('n').lt(3)), [{ data: { name: [{ exists: false }] } }]],
  ])('%s', (_label, expr, expected) => {
    expect(patterns(expr)).toEqual(expected);
  });

  it('matches Kafka records under value', () => {
    expect(patterns(field('name').eq('a'), 'kafka')).toEqual([{ value: { name: ['a'] } }]);
  });

  it('needs no filter when every valid row passes', () => {
    expect(filterToCriteria(field('name').exists(), schema, 'kinesis')).toEqual({ expressible: true, filters: [] });
  });

  it.each<[string, FilterExpr, RegExp]>([
    ['ne on an optional string', field('tag').ne('a'), /ne\(\) on optional string field "tag".*anything-but also matches JSON null/],
    ['NOT in on an optional string', not(field('tag').in(['a'])), /NOT in\(\) on optional string field "tag"/],
    ['NOT startsWith', not(field('name').startsWith('a')), /NOT startsWith\("a"\) on string field "name"/],
    ['string range', field('name').gt('a'), /gt\(\) on string field "name": Lambda filters have no string range/],
    ['double comparison', field('x').gt(1.5), /gt\(\) on double field "x": Lambda numeric matching covers only/],
    ['bigint comparison', field('big').eq(1), /eq\(\) on bigint field "big".*2\^53/],
    ['timestamp comparison', field('ts').gt(T0), /gt\(\) on timestamp field "ts".*ISO-8601 text/],
    ['IS NOT NULL on an optional string', field('tag').exists(), /IS NOT NULL on optional string field "tag".*exists.*also matches JSON null/],
    ['ne with startsWith on one field', and(field('name').startsWith('a'), field('name').ne('ab')), /ne\(\) together with startsWith on string field "name"/],
    ['too many filters', or(field('n').eq(1), field('n').eq(2), field('name').eq('a'), field('name').eq('b'), field('flag').eq(true), field('tag').eq('c')), /needs 6 Lambda filters.*more than the 5 allowed/],
  ])('is not expressible: %s', (_label, expr, reason) => {
    const r = filterToCriteria(expr, schema, 'kinesis');
    expect(r.expressible).toBe(false);
    expect(r.expressible ? '' : r.reason).toMatch(reason);
  });

  it('allows more filters with a quota increase', () => {
    const expr = or(...[1, 2, 3, 4, 5, 6].map((v) => field('name').eq(`v${v}`)).map((e, i) => (i % 2 ? e : and(e, field('n').gt(i)))));
    expect(filterToCriteria(expr, schema, 'kinesis').expressible).toBe(false);
    expect(filterToCriteria(expr, schema, 'kinesis', { maxFilters: 10 }).expressible).toBe(true);
  });

  it('rejects a pattern longer than Lambda allows (4096 characters)', () => {
    const many = Array.from({ length: 400 }, (_, i) => `value-number-${i}`);
    const r = filterToCriteria(field('name').in(many), schema, 'kinesis');
    expect(r.expressible ? '' : r.reason).toMatch(/characters long, more than Lambda's 4096/);
  });
});

// ---------------------------------------------------------------------------
// Properties: the three targets agree.
// ---------------------------------------------------------------------------

const STRINGS = ['', 'a', 'ab', 'abc', 'b', 'B', "o'k", '50%', '_x', 'é', '😀', '\uffff', 'a\\b'];
const INTS = [0, 1, -1, 5, -5, 100, 2147483647, -2147483648];
const DOUBLES = [0, 0.5, -2.5, 10.5, 1e300, -1e-300, 5e-324, 123456.789];
const TIMES = [0, -1000, T0, T0 + 1, T0 - 1, T0 + 3_600_000, Date.UTC(9999, 11, 31, 23, 59, 59, 999)];
const BIGS = [0, 1, -1, 2 ** 53, -(2 ** 53)];

const pick = <T,>(pool: readonly T[], other: fc.Arbitrary<T>) => fc.oneof({ arbitrary: fc.constantFrom(...pool), weight: 3 }, { arbitrary: other, weight: 1 });
const stringArb = pick(STRINGS, fc.string({ maxLength: 4, unit: fc.constantFrom('a', 'b', "'", '%', '😀', 'é') }));
const intArb = pick(INTS, fc.integer({ min: -10, max: 10 }));
const doubleArb = pick(DOUBLES, fc.double({ noNaN: true, noDefaultInfinity: true }));
const timeArb = pick(TIMES, fc.integer({ min: T0 - 10, max: T0 + 10 }));
const bigLiteralArb = pick(BIGS, fc.integer({ min: -10, max: 10 }));
const bigRowArb: fc.Arbitrary<number | bigint> = fc.oneof(bigLiteralArb, bigLiteralArb.map((n) => BigInt(n)), fc.constantFrom(2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n));

function literalArb(type: FieldType): fc.Arbitrary<Scalar> {
  switch (type) {
    case 'string': return stringArb;
    case 'int': return intArb;
    case 'double': return doubleArb;
    case 'boolean': return fc.boolean();
    case 'bigint': return bigLiteralArb;
    case 'timestamp':
      // Filter values come as epoch millis, ISO text with a zone, or ISO text without one (read as UTC).
      return fc.oneof(timeArb, timeArb.map((ms) => new Date(ms).toISOString()), timeArb.map((ms) => new Date(ms).toISOString().slice(0, -1)));
  }
}

function valueArb(type: FieldType): fc.Arbitrary<FieldValue> {
  switch (type) {
    case 'bigint': return bigRowArb;
    case 'timestamp': return timeArb;
    default: return literalArb(type) as fc.Arbitrary<FieldValue>;
  }
}

const atomArb: fc.Arbitrary<FilterExpr> = fc.constantFrom(...schema).chain((f): fc.Arbitrary<FilterExpr> => {
  const ref = field(f.name);
  const lit = literalArb(f.type);
  const ops: fc.Arbitrary<FilterExpr>[] = [
    fc.constant(ref.exists()),
    fc.constant(ref.isNull()),
    lit.map((v) => ref.eq(v)),
    lit.map((v) => ref.ne(v)),
    fc.array(lit, { minLength: 1, maxLength: 3 }).map((vs) => ref.in(vs)),
  ];
  if (f.type !== 'boolean') ops.push(...(['gt', 'gte', 'lt', 'lte'] as const).map((op) => lit.map((v) => ref[op](v))));
  if (f.type === 'string') ops.push(stringArb.filter((p) => p.length > 0).map((p) => ref.startsWith(p)));
  return fc.oneof(...ops);
});

const exprArb: fc.Arbitrary<FilterExpr> = fc.letrec<{ expr: FilterExpr }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { arbitrary: atomArb, weight: 4 },
    { arbitrary: fc.array(tie('expr'), { minLength: 1, maxLength: 3 }).map((args) => and(...args)), weight: 1 },
    { arbitrary: fc.array(tie('expr'), { minLength: 1, maxLength: 3 }).map((args) => or(...args)), weight: 1 },
    { arbitrary: tie('expr').map((e) => not(e)), weight: 1 },
  ),
})).expr;

const rowArb: fc.Arbitrary<Row> = fc.record(
  Object.fromEntries(schema.map((f) => [f.name, f.required ? valueArb(f.type) : fc.option(valueArb(f.type), { nil: null, freq: 3 })])),
) as fc.Arbitrary<Row>;

const ROWS: Row[] = [
  ...fc.sample(rowArb, { numRuns: 600, seed: 20240101 }),
  // Every optional field NULL, and every pool value at least once in each column.
  ...Array.from({ length: 16 }, (_, i): Row => ({
    name: STRINGS[i % STRINGS.length]!, tag: i % 2 ? STRINGS[(i * 5) % STRINGS.length]! : null,
    n: INTS[i % INTS.length]!, m: i % 3 ? INTS[(i * 3) % INTS.length]! : null,
    x: i % 2 ? DOUBLES[i % DOUBLES.length]! : null, flag: i % 3 === 0 ? null : i % 2 === 0,
    ts: TIMES[i % TIMES.length]!, seen: i % 2 ? null : TIMES[(i * 3) % TIMES.length]!,
    big: i % 4 === 0 ? null : i % 2 ? BigInt(BIGS[i % BIGS.length]!) : BIGS[i % BIGS.length]!,
  })),
];

/** The record JSON a producer might send for a row: absent optionals missing or null, timestamps as ISO or millis. */
function recordJson(r: Row, variant: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of schema) {
    const v = r[f.name];
    if (v === null || v === undefined) {
      if (variant % 2 === 0) out[f.name] = null;
    } else if (f.type === 'timestamp') {
      out[f.name] = variant % 3 === 0 ? v : new Date(v as number).toISOString();
    } else {
      out[f.name] = typeof v === 'bigint' ? Number(v) : v;
    }
  }
  return JSON.parse(JSON.stringify(out)) as Record<string, unknown>;
}

describe('the three targets agree (property)', () => {
  let instance: DuckDBInstance;
  let db: DuckDBConnection;

  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    db = await instance.connect();
    const sqlType: Record<FieldType, string> = { string: 'VARCHAR', int: 'INTEGER', bigint: 'BIGINT', double: 'DOUBLE', boolean: 'BOOLEAN', timestamp: 'TIMESTAMP' };
    await db.run(`CREATE TABLE t (id INTEGER, ${schema.map((f) => `"${f.name}" ${sqlType[f.type]}`).join(', ')})`);
    const appender = await db.createAppender('t');
    ROWS.forEach((r, id) => {
      appender.appendInteger(id);
      for (const f of schema) {
        const v = r[f.name];
        if (v === null || v === undefined) appender.appendNull();
        else if (f.type === 'string') appender.appendVarchar(v as string);
        else if (f.type === 'int') appender.appendInteger(v as number);
        else if (f.type === 'bigint') appender.appendBigInt(BigInt(v as number | bigint));
        else if (f.type === 'double') appender.appendDouble(v as number);
        else if (f.type === 'boolean') appender.appendBoolean(v as boolean);
        else appender.appendTimestamp(timestampValue(BigInt(v as number) * 1000n));
      }
      appender.endRow();
    });
    appender.closeSync();
  });

  afterAll(() => {
    db?.closeSync();
    instance?.closeSync();
  });

  it('loads every row into DuckDB', async () => {
    const r = await db.runAndReadAll('SELECT count(*)::INTEGER FROM t');
    expect(r.getRows()[0]![0]).toBe(ROWS.length);
  });

  it('compilePredicate passes exactly the rows DuckDB selects with filterToSql', async () => {
    let nonTrivial = 0;
    await fc.assert(
      fc.asyncProperty(exprArb, async (expr) => {
        const predicate = compilePredicate(expr, schema);
        const expected = ROWS.flatMap((r, id) => (predicate(r) ? [id] : []));
        const result = await db.runAndReadAll(`SELECT id FROM t WHERE ${filterToSql(expr, schema)} ORDER BY id`);
        const actual = result.getRows().map((x) => x[0]);
        expect(actual).toEqual(expected);
        if (expected.length > 0 && expected.length < ROWS.length) nonTrivial++;
      }),
      { numRuns: 400, seed: 7 },
    );
    // The generated filters must split the rows, or agreement would prove little.
    expect(nonTrivial).toBeGreaterThan(150);
  });

  it('where filterToCriteria is expressible, Lambda matching agrees with compilePredicate', () => {
    const records = ROWS.map((r, id) => recordJson(r, id));
    const bySource = {
      kinesis: records.map((data) => ({ data })),
      kafka: records.map((value) => ({ value })),
    };
    let expressible = 0;
    let nonTrivial = 0;
    fc.assert(
      fc.property(exprArb, fc.constantFrom<'kinesis' | 'kafka'>('kinesis', 'kafka'), (expr, source) => {
        const criteria = filterToCriteria(expr, schema, source, { maxFilters: 10 });
        if (!criteria.expressible) {
          expect(criteria.reason.length).toBeGreaterThan(0);
          return;
        }
        expressible++;
        const predicate = compilePredicate(expr, schema);
        const matches = compileFilterCriteria(criteria.filters);
        const want = ROWS.flatMap((r, id) => (predicate(r) ? [id] : []));
        const got = bySource[source].flatMap((rec, id) => (matches(rec) ? [id] : []));
        expect(got, JSON.stringify(criteria.filters)).toEqual(want);
        if (want.length > 0 && want.length < ROWS.length) nonTrivial++;
      }),
      { numRuns: 1500, seed: 11 },
    );
    expect(expressible).toBeGreaterThan(300);
    expect(nonTrivial).toBeGreaterThan(150);
  });
});
