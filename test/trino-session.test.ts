/**
 * Session windows on the real engine: the session merge's SQL
 * (core/session.ts sessionMergeSql) on Trino 476, over hand-built partial
 * sessions from random streams split into batches, equals one pass over all
 * events — as test/session-sql.test.ts checks on DuckDB through the local
 * translation, with the same streams.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionMergeSql } from '../core/session';
import { DEFAULT_LAKE_BUCKET } from '../local/athena/server';
import type { RunningTrino } from '../local/trino/server';
import { onePassSessions, overPartials, partialSessions, sessionStream, SQL_MEASURES, totalsOfRows } from './support/session-streams';
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
