/**
 * Session windows on the real engine, Trino 476: the session merge's SQL
 * (core/session.ts) over hand-built partial sessions from random streams split
 * into batches, and the backfill's SQL over raw events, equal one pass over
 * all events — as test/session-sql.test.ts checks on DuckDB through the local
 * translation, with the same streams. Then end to end: a session pipeline's
 * batches through the real handler into s3rver, and its view, a dt predicate
 * on it and its backfill through the Glue catalog `cdk synth` declares, on
 * Trino and on the local endpoint, against the JS twin of the view
 * (test/session-lake.test.ts is the local half alone).
 */
import type { AthenaClient } from '@aws-sdk/client-athena';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareWithView, planBackfill, utcDate } from '../core';
import { mulberry32 } from '../core/prng';
import { runAthenaQuery } from '../functions/query-runner/athena-query';
import { sessionBackfillSql, sessionMergeSql } from '../core/session';
import { DEFAULT_LAKE_BUCKET } from '../local/athena/server';
import type { RunningTrino } from '../local/trino/server';
import { onePassSessions, overEvents, overPartials, partialSessions, RAW_MEASURES, sessionStream, SQL_MEASURES, totalsOfRows } from './support/session-streams';
import { GAP, visits, viewDifferences, writeSessionLake, type SessionLake } from './support/session-lake';
import { TestLake } from './support/test-lake';
import { differences, loadSynthesizedGlue, startTestTrino, synthesizedGlue, trinoAnswer } from './support/trino';

const MIN = 60_000;

let lake: TestLake;
let trino: RunningTrino;
let athena: AthenaClient;
let written: SessionLake;

beforeAll(async () => {
  lake = await TestLake.start('trino-session', DEFAULT_LAKE_BUCKET);
  const glue = synthesizedGlue([visits], lake.bucket);
  // A session view reads every partition of its partials (docs/architecture.md "Session windows"), and projection
  // lists each day since partitionsFrom: the test's range is its data's days, so that a query lists 10 days, not 1,000.
  const tables = glue.tables.map((t) =>
    t.tableInput.Parameters?.['projection.dt.range'] ? { ...t, tableInput: { ...t.tableInput, Parameters: { ...t.tableInput.Parameters, 'projection.dt.range': '2026-02-27,2026-03-08' } } } : t,
  );
  expect(tables.filter((t) => t.tableInput.Parameters?.['projection.dt.range'] === '2026-02-27,2026-03-08').length).toBeGreaterThan(2);
  trino = await startTestTrino({ tmp: lake.tmp, s3Endpoint: lake.s3Endpoint });
  await loadSynthesizedGlue(trino, { ...glue, tables });
  written = await writeSessionLake(lake);
  athena = await lake.startAthena([visits]);
}, 300_000);

afterAll(async () => {
  await trino?.stop();
  await lake?.stop();
}, 60_000);

describe('session merge SQL on Trino', () => {
  it.each([5 * MIN, 30 * MIN])('gap %i ms: equals one pass over all events, for random streams split into batches (property)', async (gapMs) => {
    const view = sessionMergeSql({ from: 'partials', groupBy: ['user_id'], ...SQL_MEASURES });
    let sessions = 0;
    let bridges = 0;
    for (let seed = 1; seed <= 15; seed++) {
      const s = sessionStream(seed * 31 + gapMs, gapMs);
      const parts = s.batches.flatMap((b) => partialSessions(b, gapMs));
      const got = totalsOfRows((await trinoAnswer(trino, overPartials(parts, view))).rows);
      expect(got.map(({ dt: _dt, hour: _hour, ...x }) => x), `seed ${seed}`).toEqual(onePassSessions(s.events, gapMs));
      for (const r of got) expect([r.dt, r.hour]).toEqual([new Date(r.start).toISOString().slice(0, 10), new Date(r.start).getUTCHours()]);
      sessions += got.length;
      bridges += s.bridges;
    }
    expect(sessions).toBeGreaterThan(150);
    expect(bridges).toBeGreaterThan(30);
  }, 300_000);
});

describe('session backfill SQL on Trino', () => {
  it('gives the sessions that start in [from, to) and end by to + gap, as one pass over all events does (property)', async () => {
    const gapMs = 5 * MIN;
    let sessions = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const s = sessionStream(seed * 17, gapMs);
      const ts = s.events.map((e) => e.t);
      const lo = Math.min(...ts);
      const span = Math.max(...ts) - lo;
      const rand = mulberry32(seed);
      const range = { from: lo + Math.floor(rand() * span * 0.4), to: lo + Math.floor(span * (0.5 + rand() * 0.5)) };
      const sql = sessionBackfillSql({ from: 'raw', eventTime: 'ts', groupBy: ['user_id'], carried: ['v'], where: [], ...RAW_MEASURES, gapMs, range });
      const want = onePassSessions(s.events, gapMs).filter((x) => x.start >= range.from && x.start < range.to && x.end <= range.to + gapMs);
      const got = totalsOfRows((await trinoAnswer(trino, overEvents(s.events, sql))).rows);
      expect(got.map(({ dt: _dt, hour: _hour, ...x }) => x), `seed ${seed}`).toEqual(want);
      sessions += want.length;
    }
    expect(sessions).toBeGreaterThan(60);
  }, 300_000);
});

async function local(sql: string) {
  const r = await runAthenaQuery(athena, { sql, database: 'shardflow' });
  return { columns: r.columns.map((c) => c.name), rows: r.rows };
}

describe('a session pipeline end to end on Trino and locally', () => {
  it('the session view equals the JS twin of the view on both engines', async () => {
    const sql = 'SELECT * FROM visits_sessions_5m';
    const [t, l] = [await trinoAnswer(trino, sql), await local(sql)];
    expect(viewDifferences(t, written.sessions)).toEqual([]);
    expect(differences(t, l)).toEqual([]);
    expect(written.sessions.length).toBeGreaterThan(150);
  }, 300_000);

  it('a dt and hour predicate selects sessions by their start on both engines', async () => {
    const s = written.sessions.find((x) => new Date(Number(x.window_start)).getUTCHours() === 23 && Number(x.window_end) - Number(x.window_start) > 30 * MIN) ?? written.sessions[0]!;
    const day = utcDate(Number(s.window_start));
    const sql = `SELECT * FROM visits_sessions_5m WHERE dt = '${day}' AND hour = 23`;
    const [t, l] = [await trinoAnswer(trino, sql), await local(sql)];
    expect(viewDifferences(t, written.sessions.filter((x) => utcDate(Number(x.window_start)) === day && new Date(Number(x.window_start)).getUTCHours() === 23))).toEqual([]);
    expect(differences(t, l)).toEqual([]);
    expect(t.rows.length).toBeGreaterThan(0);
  }, 300_000);

  it('backfill from the raw table: the same rows on both engines, and --compare against the view passes on Trino', async () => {
    const range = { from: written.firstStart + 30 * MIN, to: written.firstStart + 4 * 3_600_000 };
    const exact = planBackfill(visits, range, { exactDistinct: true });
    const [t, l] = [await trinoAnswer(trino, exact.sql), await local(exact.sql)];
    expect(differences(t, l, true)).toEqual([]);
    const view = await trinoAnswer(trino, exact.viewSql);
    expect(differences(view, await local(exact.viewSql), true)).toEqual([]);
    const approx = await trinoAnswer(trino, planBackfill(visits, range).sql);
    const cmp = compareWithView(visits, { columns: approx.columns.map((name) => ({ name })), rows: approx.rows }, { columns: view.columns.map((name) => ({ name })), rows: view.rows });
    expect(cmp.differences).toEqual([]);
    expect(cmp.matched).toBe(written.sessions.filter((x) => Number(x.window_start) >= range.from && Number(x.window_start) < range.to && Number(x.window_end) <= range.to + GAP).length);
    expect(cmp.matched).toBeGreaterThan(20);
  }, 300_000);

  it('count_if counts 0 when every condition is NULL, on Trino as through the local translation', async () => {
    const sql = 'SELECT count_if(x > 1) FROM (VALUES (CAST(NULL AS double))) t (x)';
    expect((await trinoAnswer(trino, sql)).rows).toEqual([['0']]);
    expect((await local(sql)).rows).toEqual([['0']]);
  });
});
