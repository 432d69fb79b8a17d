/**
 * Session windows through the handler's engine (core/process-batch.ts): a
 * pipeline with `window: session({ gap })` and every measure kind, its events
 * split into batches in any order, merges (finalizePartialRows, the JS twin of
 * the view) to the same sessions as one batch of all events, and, for count,
 * sum, min and max, to the brute-force one pass of test/support/session-streams.ts.
 * Plus validation at load, the definition's round trip, and the view's shape.
 */
import { describe, expect, it } from 'vitest';
import { aggregateView, count, definePipeline, partialsTable, pipelineFromJson, PipelineDefinitionError, session, tumbling, type PipelineInput } from '../core';
import { finalizePartialRows } from '../core/partial-aggregate';
import { compilePipeline, processBatch } from '../core/process-batch';
import { runEvents } from '../core/run-events';
import type { Row } from '../core/schema';
import { GAP, sourceRecords as records, visits, visitsAgg as agg, visitsInput as input } from './support/session-lake';
import { onePassSessions, sessionStream, type SessionEvent } from './support/session-streams';

const MIN = 60_000;
const compiled = compilePipeline(visits);

function partialsOf(batch: readonly SessionEvent[]): Row[] {
  const out = processBatch(compiled, records(batch));
  expect(out.counts.raw).toBe(batch.length);
  return [...(out.partials.get(agg.partials)?.values() ?? [])].flat();
}

const byStart = (rows: readonly Row[]) => [...rows].sort((a, b) => String(a.user_id).localeCompare(String(b.user_id)) || Number(a.window_start) - Number(b.window_start));

describe('session windows through the engine', () => {
  it('batches in any order and split merge to the sessions of one batch of all events, with every measure kind (property)', () => {
    let sessions = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const s = sessionStream(seed * 101, GAP);
      const oneBatch = byStart(finalizePartialRows(agg, partialsOf(s.events)));
      const batches = [...s.batches].reverse().flatMap(partialsOf);
      expect(byStart(finalizePartialRows(agg, batches)), `seed ${seed}`).toEqual(oneBatch);
      // count, sum, min, max against the brute-force one pass.
      const ref = onePassSessions(s.events, GAP);
      expect(oneBatch.map((r) => [r.user_id, r.window_start, r.window_end, r.events, r.vals, r.total, r.lo, r.hi])).toEqual(
        byStart(ref.map((x) => ({ user_id: x.key, window_start: x.start, window_end: x.end, events: x.events, vals: x.values, total: x.sum, lo: x.min, hi: x.max }))).map((r) => Object.values(r)),
      );
      sessions += ref.length;
    }
    expect(sessions).toBeGreaterThan(700);
  });

  it('writes one partial row per partial session, in the partition of its first event', () => {
    const t = Date.UTC(2026, 2, 2, 9, 58);
    const batch: SessionEvent[] = [
      { id: 0, key: 'a', t: t + 3 * MIN, v: 1 }, // arrives first, belongs to the session that starts at 09:58
      { id: 1, key: 'a', t, v: 2 },
      { id: 2, key: 'a', t: t + 8 * MIN + 1, v: 3 }, // 5 min + 1 ms after 10:01: a session of its own
      { id: 3, key: 'b', t: t + MIN, v: null },
    ];
    const out = processBatch(compiled, records(batch));
    const parts = out.partials.get(agg.partials)!;
    const rows = [...parts.entries()].flatMap(([path, rs]) => rs.map((r) => [path, r.user_id, Number(r.window_start) - t, Number(r.window_end) - t, r.events]));
    expect(rows.sort()).toEqual([
      ['dt=2026-03-02/hour=09', 'a', 0, 3 * MIN + GAP, 2],
      ['dt=2026-03-02/hour=09', 'b', MIN, MIN + GAP, 1],
      ['dt=2026-03-02/hour=10', 'a', 8 * MIN + 1, 8 * MIN + 1 + GAP, 1],
    ]);
    expect(out.counts.partials).toBe(3);
  });

  it('a late event in a later batch bridges two sessions of an earlier one', () => {
    const t = Date.UTC(2026, 2, 2, 9, 0);
    const first = partialsOf([
      { id: 0, key: 'a', t, v: 1 },
      { id: 1, key: 'a', t: t + 2 * GAP - 2, v: 2 },
    ]);
    expect(finalizePartialRows(agg, first)).toHaveLength(2);
    const bridge = partialsOf([{ id: 2, key: 'a', t: t + GAP - 1, v: 4 }]);
    const merged = finalizePartialRows(agg, [...bridge, ...first]);
    expect(merged.map((r) => [Number(r.window_start) - t, Number(r.window_end) - t, r.events, r.total, r.first_v, r.last_v])).toEqual([[0, 3 * GAP - 2, 3, 7, 1, 2]]);
  });

  it('runEvents gives the view\'s sessions, closed once their end + allowed lateness has passed', () => {
    const t = Date.UTC(2026, 2, 2, 9, 0);
    const events = [
      { user_id: 'a', v: 1, ts: t },
      { user_id: 'a', v: 2, ts: t + MIN },
      { user_id: 'a', v: 3, ts: t + 20 * MIN },
    ];
    // Allowed lateness is 10 minutes: the first session ends at t + 6 min, so it is closed from t + 16 min.
    const at = (now: number) => runEvents(visits, events, { arrivalTime: (e) => (e as { ts: number }).ts, now }).views.visits_sessions_5m!;
    expect(at(t + 16 * MIN - 1).map((r) => [Number(r.window_start) - t, r.events, r.closed])).toEqual([[0, 2, false], [20 * MIN, 1, false]]);
    expect(at(t + 16 * MIN).map((r) => [Number(r.window_start) - t, r.events, r.closed])).toEqual([[0, 2, true], [20 * MIN, 1, false]]);
  });
});

describe('session window definitions', () => {
  const withWindow = (window: unknown, groupBy: string[] = ['user_id']) =>
    definePipeline({ ...input, aggregate: { ...input.aggregate!, groupBy, window: window as never } });

  it.each([
    [session({ gap: 0 }), 'aggregate.window.gap: must be greater than zero (given 0 ms)'],
    [session({ gap: '1500ms' }), 'aggregate.window.gap: must be a whole number of seconds (given 1500 ms)'],
    [session({ gap: '25 hours' }), 'aggregate.window.gap: must be at most 1 day (given 90000 s)'],
    [session({ gap: 'soon' }), 'aggregate.window.gap: must be milliseconds or a string like'],
    [{ kind: 'session' }, 'aggregate.window.gap: must be milliseconds or a string like'],
    [{ kind: 'sliding', size: '1 minute' }, 'aggregate.window: must be tumbling(size), hopping({ size, every }) or session({ gap })'],
  ])('refuses %j, naming pipeline, path and rule', (window, message) => {
    expect(() => withWindow(window)).toThrow(PipelineDefinitionError);
    expect(() => withWindow(window)).toThrow(`Pipeline "visits": ${message}`);
  });

  it('accepts a gap of 1 s and of 1 day, and keeps it in ms', () => {
    expect(withWindow(session({ gap: '1s' })).aggregates[0]!.window).toEqual({ kind: 'session', gapMs: 1_000 });
    expect(withWindow(session({ gap: '1 day' })).aggregates[0]!.window).toEqual({ kind: 'session', gapMs: 86_400_000 });
  });

  it('refuses group-by fields and measures named like the session view\'s own columns', () => {
    const p = { ...input, schema: { ...input.schema, _island: 'string' } } as PipelineInput;
    expect(() => definePipeline({ ...p, aggregate: { ...p.aggregate!, groupBy: ['_island'] } })).toThrow('Pipeline "visits": aggregate.groupBy: "_island" is reserved by session windows (_opens, _island, _part_start, _part_end)');
    expect(() => definePipeline({ ...input, aggregate: { ...input.aggregate!, measures: { _opens: count() } } })).toThrow('Pipeline "visits": aggregate.measures._opens: "_opens" collides with');
    // Fixed windows have no such columns.
    expect(definePipeline({ ...p, aggregate: { ...p.aggregate!, groupBy: ['_island'], window: tumbling('1 minute') } }).aggregates[0]!.groupBy).toEqual(['_island']);
  });

  it('round-trips through JSON', () => {
    expect(pipelineFromJson(JSON.stringify(visits))).toEqual(visits);
  });

  it('has the usual partials columns, and a view that does not keep its partitions', () => {
    expect(partialsTable(visits, agg).columns.slice(0, 4).map((c) => c.name)).toEqual(['window_start', 'window_end', 'user_id', 'events']);
    const v = aggregateView(visits, agg);
    expect(v.keepsPartitions).toBe(false);
    expect(v.columns.map((c) => c.name)).toEqual([
      'window_start', 'window_end', 'user_id', 'events', 'vals', 'total', 'cents', 'lo', 'hi', 'mean', 'big', 'first_v', 'last_v', 'pct_p50', 'pct_p90', 'distinct_v', 'closed', 'dt', 'hour',
    ]);
    expect(v.sql).toContain('FROM shardflow.visits_partials');
  });
});
