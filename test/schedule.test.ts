/**
 * EventBridge schedule expressions: parsing (with the rules the EventBridge
 * guide states), fire times including the cron edge cases (L, W, #, leap days,
 * month ends, year bounds), run intervals, and rendering of scheduled SQL.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  count,
  definePipeline,
  kinesisSource,
  latestFireTime,
  nextFireTimes,
  parseSchedule,
  previousFireTime,
  renderQuery,
  runInterval,
  tumbling,
  type PipelineInput,
} from '../core';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const at = (s: string) => Date.parse(s);
const next = (expr: string, after: string, n = 1) => nextFireTimes(expr, at(after), n).map(iso);

describe('parseSchedule', () => {
  it.each([
    ['rate(1 minute)', 60_000],
    ['rate(5 minutes)', 300_000],
    ['rate(1 hour)', 3_600_000],
    ['rate(2 days)', 172_800_000],
    ['  rate( 12  hours )  ', 43_200_000],
  ])('%s is a rate of %i ms', (expr, ms) => {
    expect(parseSchedule(expr)).toMatchObject({ kind: 'rate', everyMs: ms });
  });

  it.each([
    ['rate(1 minutes)', /singular unit: rate\(1 minute\)/],
    ['rate(5 minute)', /plural unit: rate\(5 minutes\)/],
    ['rate(0 hours)', /whole number ≥ 1 \(given 0\)/],
    ['rate(1 week)', /minute\(s\), hour\(s\) or day\(s\) \(given "week"\)/],
    ['rate(1.5 hours)', /needs "<whole number> <unit>"/],
    ['every hour', /must be rate\(N unit\) or cron/],
    ['cron(0 * * * ?)', /6 fields .* given 5/],
    ['cron(0 * * * * *)', /one of Day-of-month and Day-of-week must be \? \(given "\*" and "\*"\)/],
    ['cron(0 * ? * ? *)', /cannot both be \?/],
    ['cron(60 * * * ? *)', /Minutes: 60 is outside 0-59/],
    ['cron(0 24 * * ? *)', /Hours: 24 is outside 0-23/],
    ['cron(0 0 32 * ? *)', /Day-of-month: 32 is outside 1-31/],
    ['cron(0 0 * 13 ? *)', /Month: 13 is outside 1-12/],
    ['cron(0 0 ? * 8 *)', /Day-of-week: 8 is outside 1-7/],
    ['cron(0 0 * * ? 1969)', /Year: 1969 is outside 1970-2199/],
    ['cron(0 0 ? * MON/2 *)', /Day-of-week: the \/ wildcard is not allowed/],
    ['cron(0 0 ? * 3#1,6#3 *)', /with # only one expression/],
    ['cron(0 0 ? * 3#6 *)', /n of day#n must be 1-5/],
    ['cron(0 0 1-5W * ? *)', /L and W stand alone/],
    ['cron(0 0 ? * MON,L *)', /L stands alone or after one day/],
    ['cron(10-5 * * * ? *)', /range 10-5 goes backwards/],
    ['cron(0 0 ? * SAT-SUN *)', /range SAT-SUN goes backwards \(7 > 1\)/],
    ['cron(0/0 * * * ? *)', /step must be a whole number ≥ 1/],
    ['cron(0 0 * FOO ? *)', /Month: "FOO" is not a number or a name \(JAN-DEC\)/],
    ['cron(? 0 * * ? *)', /Minutes: \? is allowed only in Day-of-month and Day-of-week/],
  ])('rejects %s', (expr, message) => {
    expect(() => parseSchedule(expr)).toThrow(message);
  });

  it('definePipeline rejects an invalid schedule naming the query and the rule', () => {
    const input: PipelineInput = {
      name: 'orders',
      source: kinesisSource({ stream: 'orders' }),
      schema: { id: 'string', ts: 'timestamp' },
      eventTime: 'ts',
      aggregate: { groupBy: [], window: tumbling('1 minute'), measures: { n: count() }, view: 'orders_1m' },
      scheduledQueries: [{ name: 'hourly', schedule: 'cron(0 * * * * *)', sql: 'SELECT 1' }],
    };
    expect(() => definePipeline(input)).toThrow(/Pipeline "orders": scheduledQueries\[0\]\.schedule: .*one of Day-of-month and Day-of-week must be \?/);
    expect(() => definePipeline({ ...input, scheduledQueries: [{ name: 'hourly', schedule: 'rate(1 hour)', sql: 'SELECT {{window_begin}}' }] }))
      .toThrow(/scheduledQueries\[0\]\.sql: unknown placeholder \{\{window_begin\}\}/);
    expect(definePipeline({ ...input, scheduledQueries: [{ name: 'hourly', schedule: 'cron(0 * * * ? *)', sql: 'SELECT {{ window_start }}' }] }).scheduledQueries).toHaveLength(1);
  });
});

describe('fire times', () => {
  it('rate schedules fire on the epoch-aligned grid, strictly after the given time', () => {
    expect(next('rate(15 minutes)', '2026-03-01T10:07:30Z', 3)).toEqual(['2026-03-01T10:15:00.000Z', '2026-03-01T10:30:00.000Z', '2026-03-01T10:45:00.000Z']);
    expect(next('rate(1 hour)', '2026-03-01T10:00:00Z')).toEqual(['2026-03-01T11:00:00.000Z']);
    expect(iso(previousFireTime('rate(1 hour)', at('2026-03-01T10:00:00Z')))).toBe('2026-03-01T09:00:00.000Z');
    expect(iso(latestFireTime('rate(1 hour)', at('2026-03-01T10:00:00Z')))).toBe('2026-03-01T10:00:00.000Z');
  });

  it.each([
    ['cron(0 10 * * ? *)', '2026-03-01T10:00:00Z', ['2026-03-02T10:00:00.000Z', '2026-03-03T10:00:00.000Z']],
    ['cron(15 12 * * ? *)', '2026-03-01T00:00:00Z', ['2026-03-01T12:15:00.000Z', '2026-03-02T12:15:00.000Z']],
    ['cron(1/10 * * * ? *)', '2026-03-01T00:00:00Z', ['2026-03-01T00:01:00.000Z', '2026-03-01T00:11:00.000Z']],
    ['cron(0/15 * * * ? *)', '2026-03-01T00:50:00Z', ['2026-03-01T01:00:00.000Z', '2026-03-01T01:15:00.000Z']],
    ['cron(0 18 ? * MON-FRI *)', '2026-01-02T19:00:00Z', ['2026-01-05T18:00:00.000Z', '2026-01-06T18:00:00.000Z']], // Fri evening → Mon
    ['cron(0 8 1 * ? *)', '2026-01-15T00:00:00Z', ['2026-02-01T08:00:00.000Z', '2026-03-01T08:00:00.000Z']],
    ['cron(0 0 31 * ? *)', '2026-01-31T00:00:00Z', ['2026-03-31T00:00:00.000Z', '2026-05-31T00:00:00.000Z']], // months without a 31st are skipped
    ['cron(0 0 29 2 ? *)', '2026-01-01T00:00:00Z', ['2028-02-29T00:00:00.000Z', '2032-02-29T00:00:00.000Z']], // leap days only
    ['cron(0 0 L * ? *)', '2027-01-31T00:00:00Z', ['2027-02-28T00:00:00.000Z', '2027-03-31T00:00:00.000Z']],
    ['cron(0 0 L 2 ? *)', '2027-03-01T00:00:00Z', ['2028-02-29T00:00:00.000Z']],
    ['cron(0 9 1W * ? *)', '2026-07-31T00:00:00Z', ['2026-08-03T09:00:00.000Z']], // Aug 1 is a Saturday: Monday the 3rd, not Friday July 31
    ['cron(0 9 15W * ? *)', '2026-08-01T00:00:00Z', ['2026-08-14T09:00:00.000Z']], // Saturday the 15th → Friday
    ['cron(0 9 15W * ? *)', '2026-02-01T00:00:00Z', ['2026-02-16T09:00:00.000Z']], // Sunday the 15th → Monday
    ['cron(0 9 31W * ? *)', '2026-05-01T00:00:00Z', ['2026-05-29T09:00:00.000Z']], // Sunday the 31st, last day → Friday
    ['cron(0 9 LW * ? *)', '2026-01-01T00:00:00Z', ['2026-01-30T09:00:00.000Z', '2026-02-27T09:00:00.000Z']],
    ['cron(0 12 ? * 6L *)', '2026-01-01T00:00:00Z', ['2026-01-30T12:00:00.000Z', '2026-02-27T12:00:00.000Z']], // last Friday
    ['cron(0 12 ? * L *)', '2026-01-01T00:00:00Z', ['2026-01-03T12:00:00.000Z', '2026-01-10T12:00:00.000Z']], // L alone: every Saturday
    ['cron(0 12 ? * 3#2 *)', '2026-01-01T00:00:00Z', ['2026-01-13T12:00:00.000Z', '2026-02-10T12:00:00.000Z']], // second Tuesday
    ['cron(0 0 ? * MON#5 *)', '2026-01-01T00:00:00Z', ['2026-03-30T00:00:00.000Z']], // first month with five Mondays
    ['cron(0 0 1 JAN,jul ? *)', '2026-02-01T00:00:00Z', ['2026-07-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z']],
    ['cron(30 23 31 12 ? 2030-2031)', '2026-01-01T00:00:00Z', ['2030-12-31T23:30:00.000Z', '2031-12-31T23:30:00.000Z']],
  ])('%s after %s', (expr, after, want) => {
    expect(next(expr, after, want.length)).toEqual(want);
  });

  it('stops at the end of the schedule (its last year)', () => {
    expect(next('cron(0 0 1 1 ? 2030)', '2030-01-01T00:00:00Z', 2)).toEqual([]);
    expect(next('cron(0 0 1 1 ? 2199)', '2198-06-01T00:00:00Z', 2)).toEqual(['2199-01-01T00:00:00.000Z']);
    expect(previousFireTime('cron(0 0 1 1 ? 2030)', at('2030-01-01T00:00:00Z'))).toBeNull();
  });

  it('previous fire time crosses month and year ends', () => {
    expect(iso(previousFireTime('cron(0 0 L * ? *)', at('2026-03-15T00:00:00Z')))).toBe('2026-02-28T00:00:00.000Z');
    expect(iso(previousFireTime('cron(0 12 ? * 3#2 *)', at('2026-01-13T12:00:00Z')))).toBe('2025-12-09T12:00:00.000Z');
    expect(iso(previousFireTime('cron(0 0 29 2 ? *)', at('2028-01-01T00:00:00Z')))).toBe('2024-02-29T00:00:00.000Z');
  });

  it('next and previous agree: the fire time before next(t) is latest(t), for any t', () => {
    const exprs = ['rate(7 minutes)', 'cron(0 * * * ? *)', 'cron(5/20 1-3,22 * * ? *)', 'cron(0 0 L * ? *)', 'cron(0 9 15W * ? *)', 'cron(0 12 ? * 2#3 *)', 'cron(0 12 ? * 6L *)', 'cron(45 6 ? * SUN,SAT *)'];
    fc.assert(
      fc.property(fc.constantFrom(...exprs), fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2100, 0, 1) }), (expr, t) => {
        const [n1, n2] = nextFireTimes(expr, t, 2);
        expect(n1).toBeGreaterThan(t);
        expect(previousFireTime(expr, n1!)).toBe(latestFireTime(expr, t));
        expect(previousFireTime(expr, n2!)).toBe(n1);
        expect(n1! % 60_000).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});

describe('runInterval and renderQuery', () => {
  it('a run covers [previous fire time, fire time), the scheduled time floored to the schedule', () => {
    expect(runInterval('cron(0 * * * ? *)', at('2026-03-01T10:00:00Z'))).toEqual({ start: at('2026-03-01T09:00:00Z'), end: at('2026-03-01T10:00:00Z') });
    // A late (or manual) run at 10:42 covers the same last complete hour.
    expect(runInterval('cron(0 * * * ? *)', at('2026-03-01T10:42:10Z'))).toEqual({ start: at('2026-03-01T09:00:00Z'), end: at('2026-03-01T10:00:00Z') });
    expect(runInterval('cron(0 8 ? * MON *)', at('2026-03-02T08:00:00Z'))).toEqual({ start: at('2026-02-23T08:00:00Z'), end: at('2026-03-02T08:00:00Z') });
  });

  it('fills every placeholder with Athena literals of the interval', () => {
    const i = runInterval('cron(0 0 * * ? *)', at('2026-03-01T00:00:00Z'));
    const sql = renderQuery(
      'SELECT * FROM t WHERE dt = {{dt}} AND hour = {{ hour }} AND dt BETWEEN {{dt_start}} AND {{dt_end}} AND ts >= {{window_start}} AND ts < {{window_end}}',
      at('2026-03-01T00:00:00Z'),
      i,
    );
    // dt_end is the day of the interval's last millisecond: a daily run touches one day only.
    expect(sql).toBe(
      "SELECT * FROM t WHERE dt = '2026-02-28' AND hour = 0 AND dt BETWEEN '2026-02-28' AND '2026-02-28' AND ts >= TIMESTAMP '2026-02-28 00:00:00.000' AND ts < TIMESTAMP '2026-03-01 00:00:00.000'",
    );
    const h = renderQuery('{{dt}} {{hour}} {{dt_start}} {{dt_end}}', at('2026-03-01T00:00:00Z'), runInterval('rate(1 hour)', at('2026-03-01T00:00:00Z')));
    expect(h).toBe("'2026-02-28' 23 '2026-02-28' '2026-02-28'");
    const twoDays = renderQuery('{{dt_start}} {{dt_end}}', at('2026-03-01T06:00:00Z'), runInterval('rate(2 days)', at('2026-03-01T06:00:00Z')));
    expect(twoDays).toBe("'2026-02-26' '2026-02-27'");
  });

  it('names an unknown placeholder, and refuses a scheduled time before the interval ends', () => {
    const i = runInterval('rate(1 hour)', at('2026-03-01T10:00:00Z'));
    expect(() => renderQuery('SELECT {{window_start}}, {{tenant}}', at('2026-03-01T10:00:00Z'), i)).toThrow(/unknown placeholder \{\{tenant\}\} \(known: \{\{window_start\}\}/);
    expect(() => renderQuery('SELECT 1', at('2026-03-01T09:30:00Z'), i)).toThrow(/scheduled time 2026-03-01T09:30:00.000Z is before the end of the interval/);
  });
});
