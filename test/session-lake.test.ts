/**
 * Session windows end to end on the local endpoint (DuckDB): a session
 * pipeline's batches through the real stream-processor handler into s3rver,
 * out of order with bridging events last, then the session view through the
 * local Athena API equals the JS twin of the view, row for row and measure for
 * measure; a dt predicate on it selects sessions by their start without
 * pruning the partials they merge; and backfill from the raw table agrees with
 * it (`--compare`). test/trino-session.test.ts runs the same on Trino.
 */
import type { AthenaClient } from '@aws-sdk/client-athena';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareWithView, planBackfill, utcDate } from '../core';
import { runAthenaQuery } from '../functions/query-runner/athena-query';
import { DEFAULT_LAKE_BUCKET } from '../local/athena/server';
import { silentLogger } from '../functions/shared/logger';
import { createStreamProcessor } from '../functions/stream-processor/handler';
import { kinesisEvent, kinesisRecord } from './support/events';
import { athenaTime, GAP, visits, viewDifferences, writeSessionLake, type SessionLake } from './support/session-lake';
import { TestLake } from './support/test-lake';

let lake: TestLake;
let athena: AthenaClient;
let written: SessionLake;

beforeAll(async () => {
  lake = await TestLake.start('session-lake', DEFAULT_LAKE_BUCKET);
  written = await writeSessionLake(lake);
  athena = await lake.startAthena([visits]);
}, 120_000);

afterAll(async () => {
  await lake?.stop();
}, 60_000);

async function local(sql: string) {
  const r = await runAthenaQuery(athena, { sql, database: 'shardflow' });
  return { columns: r.columns.map((c) => c.name), rows: r.rows };
}

describe('the session view on the local endpoint', () => {
  it('equals the JS twin of the view for every session and measure', async () => {
    const answer = await local('SELECT * FROM visits_sessions_5m');
    expect(viewDifferences(answer, written.sessions)).toEqual([]);
    expect(written.sessions.length).toBeGreaterThan(150);
    // The batches must have split sessions, or the merge was not exercised: more partials than sessions.
    expect(written.partials.length).toBeGreaterThan(written.sessions.length * 1.3);
  });

  it('a dt predicate selects sessions by the day they start, each with its partials of later hours and days', async () => {
    // A session whose partials lie in other partitions than its start's: a read pruned to the start's partition would cut it short.
    const hourOf = (t: number) => `dt=${utcDate(t)}/hour=${String(new Date(t).getUTCHours()).padStart(2, '0')}`;
    const spread = written.sessions.filter((s) =>
      written.partials.some((x) => x.row.user_id === s.user_id && Number(x.row.window_start) >= Number(s.window_start) && Number(x.row.window_start) < Number(s.window_end) && x.path !== hourOf(Number(s.window_start))),
    );
    expect(spread.length).toBeGreaterThan(5);
    const day = utcDate(Number(spread[0]!.window_start));
    const want = written.sessions.filter((s) => utcDate(Number(s.window_start)) === day);
    const answer = await local(`SELECT * FROM visits_sessions_5m WHERE dt = '${day}'`);
    expect(viewDifferences(answer, want)).toEqual([]);
    expect(answer.rows.every((r) => r[answer.columns.indexOf('dt')] === day)).toBe(true);
    const hour = new Date(Number(spread[0]!.window_start)).getUTCHours();
    const inHour = await local(`SELECT * FROM visits_sessions_5m WHERE dt = '${day}' AND hour = ${hour}`);
    expect(viewDifferences(inHour, want.filter((s) => new Date(Number(s.window_start)).getUTCHours() === hour))).toEqual([]);
  });

  it('backfill from the raw table agrees with the view on the sessions of its range (--compare)', async () => {
    const range = { from: written.firstStart + 30 * 60_000, to: written.firstStart + 4 * 3_600_000 };
    const plan = planBackfill(visits, range, { exactDistinct: true });
    const backfill = await local(plan.sql);
    const view = await local(plan.viewSql);
    const cmp = compareWithView(visits, { columns: backfill.columns.map((name) => ({ name })), rows: backfill.rows }, { columns: view.columns.map((name) => ({ name })), rows: view.rows }, { batchDistinctError: 0 });
    expect(cmp.differences).toEqual([]);
    const want = written.sessions.filter((s) => Number(s.window_start) >= range.from && Number(s.window_start) < range.to && Number(s.window_end) <= range.to + GAP);
    expect(cmp.matched).toBe(want.length);
    expect(want.length).toBeGreaterThan(20);
  });

  it('closed: false for a session that an event on time can still change, true once its end + allowed lateness has passed', async () => {
    const now = Date.now();
    const handler = createStreamProcessor(visits, { s3: lake.s3, bucket: lake.bucket, logger: silentLogger });
    // Two sessions of one user: one ended 12 minutes ago (end + 10 min lateness passed), one still open.
    const ts = [now - 25 * 60_000, now - 22 * 60_000, now - 60_000];
    const res = await handler(kinesisEvent(ts.map((t, i) => kinesisRecord({ user_id: 'recent', v: 1, ts: t }, { seq: 1_000_000 + i, arrivalMs: t + 1_000 }))));
    expect(res.batchItemFailures).toEqual([]);
    const answer = await local("SELECT window_start, window_end, events, closed FROM visits_sessions_5m WHERE user_id = 'recent' ORDER BY window_start");
    expect(answer.rows.map((r) => [athenaTime(r[0]!) - now, athenaTime(r[1]!) - now, r[2], r[3]])).toEqual([
      [ts[0]! - now, ts[1]! + GAP - now, '2', 'true'],
      [ts[2]! - now, ts[2]! + GAP - now, '1', 'false'],
    ]);
  });
});
