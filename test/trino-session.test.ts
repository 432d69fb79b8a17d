/**
 * Session windows on the real engine: the session merge's SQL
 * (core/session.ts sessionMergeSql) on Trino 476, over hand-built partial
 * sessions from random streams split into batches, equals one pass over all
 * events — as test/session-sql.test.ts checks on DuckDB through the local
 * translation, with the same streams.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../core/prng';
import { sessionBackfillSql, sessionMergeSql } from '../core/session';
import { DEFAULT_LAKE_BUCKET } from '../local/athena/server';
import type { RunningTrino } from '../local/trino/server';
import { onePassSessions, overEvents, overPartials, partialSessions, RAW_MEASURES, sessionStream, SQL_MEASURES, totalsOfRows } from './support/session-streams';
import { TestLake } from './support/test-lake';
import { startTestTrino, trinoAnswer } from './support/trino';

const MIN = 60_000;

let lake: TestLake;
let trino: RunningTrino;

beforeAll(async () => {
  lake = await TestLake.start('trino-session', DEFAULT_LAKE_BUCKET);
  trino = await startTestTrino({ tmp: lake.tmp, s3Endpoint: lake.s3Endpoint });
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
