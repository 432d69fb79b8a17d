/**
 * The session merge's SQL (core/session.ts sessionMergeSql) on DuckDB, through
 * the local Athena endpoint's translation, over hand-built partial sessions:
 * its sessions equal one pass over all events (test/support/session-streams.ts).
 * test/trino-session.test.ts runs the same SQL on Trino.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../core/prng';
import { sessionBackfillSql, sessionMergeSql } from '../core/session';
import { translateSql } from '../local/athena/sql-translate';
import { onePassSessions, overEvents, overPartials, partialSessions, RAW_MEASURES, sessionStream, SQL_MEASURES, totalsOfRows } from './support/session-streams';

const MIN = 60_000;
const view = sessionMergeSql({ from: 'partials', groupBy: ['user_id'], ...SQL_MEASURES });

let instance: DuckDBInstance;
let db: DuckDBConnection;

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  db = await instance.connect();
  // The sandbox's session defaults (local/athena/sandbox.ts).
  await db.run("SET TimeZone = 'UTC'");
  await db.run('SET integer_division = true');
});

afterAll(() => {
  db?.closeSync();
  instance?.closeSync();
});

async function onDuckDb(athenaSql: string) {
  const r = await db.runAndReadAll(translateSql(athenaSql).sql);
  return totalsOfRows(r.getRowsJS() as unknown[][]);
}

describe('session merge SQL on DuckDB (local endpoint translation)', () => {
  it('merges a bridged pair, keeps a pause of exactly gap apart, and groups null keys together', async () => {
    const g = 30 * MIN;
    const t = Date.UTC(2026, 2, 2, 23, 50);
    const part = (key: string | null, start: number, end: number, events: number) => ({ key, start, end, events, values: events, sum: events, min: 1, max: 1 });
    const rows = await onDuckDb(
      overPartials(
        [
          part('a', t, t + g, 1),
          part('a', t + 2 * g - 2, t + 3 * g - 2, 1), // 2·gap − 2 after the first: two sessions…
          part('a', t + g - 1, t + 2 * g - 1, 1), // …until this late one, gap − 1 after the first and before the second, bridges them
          part('b', t, t + g, 2),
          part('b', t + g, t + 2 * g, 3), // exactly at the end: a session of its own
          part(null, t, t + g, 1),
          part(null, t + 10, t + g + 10, 1),
        ],
        view,
      ),
    );
    expect(rows.map((r) => [r.key, r.start - t, r.end - t, r.events])).toEqual([
      [null, 0, g + 10, 2],
      ['a', 0, 3 * g - 2, 3],
      ['b', 0, g, 2],
      ['b', g, 2 * g, 3],
    ]);
    // dt and hour of the session's start: 23:50 on 2026-03-02, though it runs into the next day.
    expect(rows.map((r) => [r.dt, r.hour])).toEqual([['2026-03-02', 23], ['2026-03-02', 23], ['2026-03-02', 23], ['2026-03-03', 0]]);
  });

  it.each([5 * MIN, 30 * MIN])('gap %i ms: equals one pass over all events, for random streams split into batches (property)', async (gapMs) => {
    let sessions = 0;
    let bridges = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const s = sessionStream(seed * 31 + gapMs, gapMs);
      const parts = s.batches.flatMap((b) => partialSessions(b, gapMs));
      const want = onePassSessions(s.events, gapMs);
      const got = await onDuckDb(overPartials(parts, view));
      expect(got.map(({ dt: _dt, hour: _hour, ...x }) => x), `seed ${seed}`).toEqual(want);
      for (const r of got) expect([r.dt, r.hour]).toEqual([new Date(r.start).toISOString().slice(0, 10), new Date(r.start).getUTCHours()]);
      sessions += want.length;
      bridges += s.bridges;
    }
    expect(sessions).toBeGreaterThan(400);
    expect(bridges).toBeGreaterThan(80);
  });

  it('without group-by columns: one sequence of sessions', async () => {
    const gapMs = 5 * MIN;
    const s = sessionStream(4242, gapMs);
    const events = s.events.map((e) => ({ ...e, key: null }));
    const parts = s.batches.flatMap((b) => partialSessions(b.map((e) => ({ ...e, key: null })), gapMs));
    const global = sessionMergeSql({ from: 'partials', groupBy: [], ...SQL_MEASURES });
    // The query still selects user_id (all null) beside the view's columns.
    const sql = overPartials(parts, global).replace('SELECT user_id,', 'SELECT CAST(NULL AS varchar) AS user_id,');
    const got = await onDuckDb(sql);
    expect(got.map(({ dt: _dt, hour: _hour, ...x }) => x)).toEqual(onePassSessions(events, gapMs));
    expect(got.length).toBeGreaterThan(5);
  });
});

describe('count_if through the local translation', () => {
  it('counts 0, not NULL, when every condition is NULL (as Trino does; countIf backfills with it), with FILTER and OVER too', async () => {
    const sql = `SELECT count_if(x > 1), count_if(x > 1) FILTER (WHERE y = 1), max(c) FROM (
      SELECT x, y, count_if(x > 1) OVER (PARTITION BY y) AS c FROM (VALUES (CAST(NULL AS double), 1), (CAST(NULL AS double), 2)) t (x, y)) w`;
    const r = await db.runAndReadAll(translateSql(sql).sql);
    expect(r.getRowsJS()).toEqual([[0n, 0n, 0n]]);
  });
});

describe('session backfill SQL on DuckDB (local endpoint translation)', () => {
  it('gives the sessions that start in [from, to) and end by to + gap, as one pass over all events does (property)', async () => {
    const gapMs = 5 * MIN;
    let sessions = 0;
    let cut = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const s = sessionStream(seed * 17, gapMs);
      const ts = s.events.map((e) => e.t);
      const lo = Math.min(...ts);
      const span = Math.max(...ts) - lo;
      const rand = mulberry32(seed);
      const range = { from: lo + Math.floor(rand() * span * 0.4), to: lo + Math.floor(span * (0.5 + rand() * 0.5)) };
      const sql = sessionBackfillSql({ from: 'raw', eventTime: 'ts', groupBy: ['user_id'], carried: ['v'], where: [], ...RAW_MEASURES, gapMs, range });
      const all = onePassSessions(s.events, gapMs);
      const want = all.filter((x) => x.start >= range.from && x.start < range.to && x.end <= range.to + gapMs);
      const got = await onDuckDb(overEvents(s.events, sql));
      expect(got.map(({ dt: _dt, hour: _hour, ...x }) => x), `seed ${seed}`).toEqual(want);
      sessions += want.length;
      // Sessions that start in range but run past to + gap: left out, and some streams must have them.
      cut += all.filter((x) => x.start >= range.from && x.start < range.to && x.end > range.to + gapMs).length;
    }
    expect(sessions).toBeGreaterThan(200);
    expect(cut).toBeGreaterThan(10);
  });
});
