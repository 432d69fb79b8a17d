/**
 * Scheduled queries against real services: s3rver holds a small lake written by
 * the stream-processor handler (three hours of events), the local Athena
 * endpoint runs the rendered SQL. A run writes its CSV under the run-time
 * partition and a run record; a re-run of the interval returns the same
 * execution; a failed query is recorded FAILED with Athena's reason; a
 * transient failure is retried as a new execution; the local scheduler catches
 * up missed runs (bounded) and fires on time.
 */
import path from 'node:path';
import type { AthenaClient, GetQueryExecutionCommandOutput } from '@aws-sdk/client-athena';
import { DeleteObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count, definePipeline, kinesisSource, sum, tumbling } from '../core';
import { runAthenaQuery, startQuery, waitForQuery } from '../functions/query-runner/athena-query';
import { recordStateMachineRun, runScheduledQuery, listQueryRuns, runRecordKey, type QueryRunRecord } from '../functions/query-runner/run-scheduled-query';
import { silentLogger } from '../functions/shared/logger';
import { createStreamProcessor } from '../functions/stream-processor/handler';
import { localAthenaClient } from '../local/aws-clients';
import { startScheduler } from '../local/scheduler';
import clickstream from '../pipelines/clickstream';
import iot from '../pipelines/iot';
import { kinesisEvent, kinesisRecord } from './support/events';
import { TestLake } from './support/test-lake';

const BUCKET = 'sq-lake';
const HOURLY_PARTIALS = `SELECT category, SUM(total_value) AS total_value, SUM(events) AS events
FROM sq_partials
WHERE dt = {{dt}} AND hour = {{hour}} AND window_start >= {{window_start}} AND window_start < {{window_end}}
GROUP BY category ORDER BY category`;
const HOURLY_VIEW = `SELECT category, SUM(total_value) AS total_value, SUM(events) AS events
FROM sq_by_category_1m
WHERE window_start >= {{window_start}} AND window_start < {{window_end}}
GROUP BY category ORDER BY category`;

const pipeline = definePipeline({
  name: 'sq',
  source: kinesisSource({ stream: 'sq-events' }),
  schema: { event_id: 'string', category: 'string', value: 'double', ts: 'timestamp' },
  eventTime: 'ts',
  aggregate: { groupBy: ['category'], window: tumbling('1 minute'), measures: { events: count(), total_value: sum('value') }, view: 'sq_by_category_1m' },
  scheduledQueries: [
    { name: 'hourly_totals', schedule: 'cron(0 * * * ? *)', sql: HOURLY_PARTIALS },
    { name: 'hourly_view', schedule: 'cron(0 * * * ? *)', sql: HOURLY_VIEW },
    { name: 'broken', schedule: 'rate(1 hour)', sql: 'SELECT no_such_column FROM sq_events WHERE dt = {{dt}}' },
  ],
});

const at = (s: string) => Date.parse(s);
const H8 = at('2026-03-01T08:00:00Z');
/** 3 hours × 600 events: event i at H8 + i × 18 s, category a/b/c, value i mod 50. */
const EVENTS = Array.from({ length: 1_800 }, (_, i) => ({ event_id: `e${i}`, category: 'abc'[i % 3]!, value: i % 50, ts: H8 + i * 18_000 }));

function expectedHour(start: number) {
  const out = new Map<string, { total: number; events: number }>();
  for (const e of EVENTS.filter((x) => x.ts >= start && x.ts < start + 3_600_000)) {
    const g = out.get(e.category) ?? { total: 0, events: 0 };
    g.total += e.value;
    g.events += 1;
    out.set(e.category, g);
  }
  return [...out.entries()].sort().map(([c, g]) => [c, g.total, g.events]);
}

let lake: TestLake;
let tmp: string;
let s3: S3Client;
let athena: AthenaClient;

beforeAll(async () => {
  lake = await TestLake.start('sq', BUCKET);
  ({ tmp, s3 } = lake);
  const handler = createStreamProcessor(pipeline, { s3, bucket: BUCKET, logger: silentLogger });
  const res = await handler(kinesisEvent(EVENTS.map((e, i) => kinesisRecord(e, { seq: i, arrivalMs: e.ts + 1_000 }))));
  expect(res.batchItemFailures).toEqual([]);
  athena = await lake.startAthena([pipeline, clickstream, iot]);
}, 120_000);

afterAll(async () => {
  await lake?.stop();
});

async function readCsv(uri: string): Promise<string[][]> {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri)!;
  const obj = await s3.send(new GetObjectCommand({ Bucket: m[1], Key: m[2] }));
  const text = await obj.Body!.transformToString();
  return text.trim().split('\n').map((line) => line.split(',').map((v) => v.replace(/^"|"$/g, '')));
}

async function readRecord(query: string, intervalStart: number): Promise<QueryRunRecord> {
  const obj = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: runRecordKey('sq', query, intervalStart) }));
  return JSON.parse(await obj.Body!.transformToString()) as QueryRunRecord;
}

const opts = () => ({ athena, s3, bucket: BUCKET, retryBaseMs: 10 });

describe('runScheduledQuery on the local Athena endpoint', () => {
  it('writes the CSV of exactly its interval under the run-time partition, and a run record', async () => {
    // Act: the 10:00 run covers 09:00-10:00.
    const r = await runScheduledQuery(pipeline, 'hourly_totals', at('2026-03-01T10:00:00Z'), opts());

    // Assess
    expect(r.status).toBe('SUCCEEDED');
    expect([r.intervalStart, r.intervalEnd]).toEqual(['2026-03-01T09:00:00.000Z', '2026-03-01T10:00:00.000Z']);
    expect(r.outputLocation).toBe(`s3://${BUCKET}/query-results/sq/hourly_totals/dt=2026-03-01/hour=09/${r.queryExecutionId}.csv`);
    expect(r.sql).toContain("dt = '2026-03-01' AND hour = 9 AND window_start >= TIMESTAMP '2026-03-01 09:00:00.000'");
    const [header, ...rows] = await readCsv(r.outputLocation);
    expect(header).toEqual(['category', 'total_value', 'events']);
    expect(rows.map(([c, t, n]) => [c, Number(t), Number(n)])).toEqual(expectedHour(at('2026-03-01T09:00:00Z')));
    expect(r.dataScannedBytes).toBeGreaterThan(0);
    expect(await readRecord('hourly_totals', at('2026-03-01T09:00:00Z'))).toEqual(r);
  });

  it('prunes to the run hour: the same answer as the view, from fewer bytes', async () => {
    const pruned = await runScheduledQuery(pipeline, 'hourly_totals', at('2026-03-01T11:00:00Z'), opts());
    const view = await runScheduledQuery(pipeline, 'hourly_view', at('2026-03-01T11:00:00Z'), opts());
    expect(await readCsv(pruned.outputLocation)).toEqual(await readCsv(view.outputLocation));
    // Three hourly partitions in the lake; the pruned run reads one of them. Locally the view's
    // window_start range reaches its partials' partitions too (docs/athena-sql.md), so it reads
    // the same hour; on Athena only the dt/hour bounds prune.
    const everything = await runAthenaQuery(athena, { sql: 'SELECT count(*) AS n FROM sq_partials', database: pipeline.database }, { pollInitialMs: 10, pollMaxMs: 50 });
    expect(pruned.dataScannedBytes * 2).toBeLessThan(everything.dataScannedBytes);
    expect(view.dataScannedBytes).toBe(pruned.dataScannedBytes);
  });

  it('a re-run of the same interval (a later --at inside the next hour) returns the same execution', async () => {
    const first = await readRecord('hourly_totals', at('2026-03-01T09:00:00Z'));
    const again = await runScheduledQuery(pipeline, 'hourly_totals', at('2026-03-01T10:42:10Z'), opts());
    expect(again.queryExecutionId).toBe(first.queryExecutionId);
    expect(again.outputLocation).toBe(first.outputLocation);
    const runs = await listQueryRuns(s3, BUCKET, 'sq', 'hourly_totals');
    expect(runs.map((x) => x.intervalStart)).toEqual(['2026-03-01T09:00:00.000Z', '2026-03-01T10:00:00.000Z']);
  });

  it('a failed query is recorded FAILED with Athena\'s reason, and a user error is not retried', async () => {
    const r = await runScheduledQuery(pipeline, 'broken', at('2026-03-01T10:00:00Z'), opts());
    expect(r.status).toBe('FAILED');
    expect(r.attempts).toBe(1);
    expect(r.error).toMatch(/^FAILED: COLUMN_NOT_FOUND: .*no_such_column/);
    expect(r.finishedAt).not.toBeNull();
    expect(await readRecord('broken', at('2026-03-01T09:00:00Z'))).toMatchObject({ status: 'FAILED', error: r.error, queryExecutionId: r.queryExecutionId });
  });

  it('retries a transient (system) failure as a new execution', async () => {
    // Prepare: a client that reports the first finished execution as a retryable system failure.
    const flaky = localAthenaClient(lake.athenaEndpoint);
    let failedId: string | null = null;
    flaky.middlewareStack.add(
      (next, ctx) => async (args) => {
        const out = await next(args);
        if (ctx.commandName === 'GetQueryExecutionCommand') {
          const qe = (out.output as GetQueryExecutionCommandOutput).QueryExecution!;
          if (failedId === null && qe.Status?.State === 'SUCCEEDED') failedId = qe.QueryExecutionId!;
          if (qe.QueryExecutionId === failedId) qe.Status = { State: 'FAILED', StateChangeReason: 'GENERIC_INTERNAL_ERROR: injected: worker lost', AthenaError: { ErrorCategory: 1, ErrorType: 401, Retryable: true } };
        }
        return out;
      },
      { step: 'initialize', name: 'injectSystemFailure' },
    );

    // Act
    const r = await runScheduledQuery(pipeline, 'hourly_totals', at('2026-03-01T09:00:00Z'), { ...opts(), athena: flaky });
    flaky.destroy();

    // Assess
    expect(r.status).toBe('SUCCEEDED');
    expect(r.attempts).toBe(2);
    expect(failedId).not.toBeNull();
    expect(r.queryExecutionId).not.toBe(failedId);
    const [, ...rows] = await readCsv(r.outputLocation);
    expect(rows.map(([c, t, n]) => [c, Number(t), Number(n)])).toEqual(expectedHour(H8));
  });
});

describe('recordStateMachineRun (the RecordRun step of the AWS state machine)', () => {
  /** What the state machine does before RecordRun: render, then Athena StartQueryExecution.sync. */
  async function athenaSync(sql: string): Promise<string> {
    const id = await startQuery(athena, { sql, database: 'shardflow', workgroup: 'primary' });
    await waitForQuery(athena, id, { timeoutMs: 60_000 }).catch(() => undefined);
    return id;
  }

  it('records a run the state machine made as runScheduledQuery records its own: status, bytes, time, output', async () => {
    const direct = await runScheduledQuery(pipeline, 'hourly_view', at('2026-03-01T09:00:00Z'), opts());
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: runRecordKey('sq', 'hourly_view', at('2026-03-01T08:00:00Z')) }));
    const id = await athenaSync(direct.sql);

    const r = await recordStateMachineRun(pipeline, { query: 'hourly_view', scheduledTime: '2026-03-01T09:00:00Z', athena: { queryExecutionId: id }, execution: 'arn:aws:states:eu-west-1:1:execution:sm:run-1' }, { athena, s3, bucket: BUCKET });

    expect(r).toMatchObject({ status: 'SUCCEEDED', query: 'hourly_view', queryExecutionId: id, intervalStart: '2026-03-01T08:00:00.000Z', intervalEnd: '2026-03-01T09:00:00.000Z', error: null, execution: 'arn:aws:states:eu-west-1:1:execution:sm:run-1' });
    expect(r.dataScannedBytes).toBe(direct.dataScannedBytes);
    expect(r.sql).toBe(direct.sql);
    expect(await readCsv(r.outputLocation)).toEqual(await readCsv(direct.outputLocation));
    expect(await readRecord('hourly_view', at('2026-03-01T08:00:00Z'))).toEqual(r);
  });

  it('records a failure the Catch hands over, with Athena\'s reason found through the Cause', async () => {
    const id = await athenaSync('SELECT no_such_column FROM sq_events');
    const cause = JSON.stringify({ QueryExecution: { QueryExecutionId: id, Status: { State: 'FAILED' } } });
    const r = await recordStateMachineRun(pipeline, { query: 'broken', scheduledTime: '2026-03-01T12:00:00Z', error: { Error: 'States.TaskFailed', Cause: cause } }, { athena, s3, bucket: BUCKET });
    expect(r).toMatchObject({ status: 'FAILED', queryExecutionId: id, intervalStart: '2026-03-01T11:00:00.000Z' });
    expect(r.error).toMatch(/^States\.TaskFailed: COLUMN_NOT_FOUND: .*no_such_column/);
    expect((await listQueryRuns(s3, BUCKET, 'sq', 'broken')).map((x) => [x.intervalStart, x.status])).toContainEqual(['2026-03-01T11:00:00.000Z', 'FAILED']);
  });

  it('refuses a query the pipeline does not have', async () => {
    await expect(recordStateMachineRun(pipeline, { query: 'nope', scheduledTime: '2026-03-01T12:00:00Z' }, { athena, s3, bucket: BUCKET })).rejects.toThrow(/pipeline "sq" has no scheduled query "nope"/);
  });
});

describe('the example pipelines\' scheduled queries', () => {
  it.each([
    ['clickstream', clickstream, 'top_categories_hourly', ['category', 'total_value', 'events', 'max_value']],
    ['iot', iot, 'daily_temperature_extremes', ['site', 'min_temperature', 'max_temperature', 'readings']],
  ] as const)('%s: its query runs on the local endpoint', async (_name, p, name, columns) => {
    const r = await runScheduledQuery(p, name, Date.now(), opts());
    expect([r.status, r.error]).toEqual(['SUCCEEDED', null]);
    expect((await readCsv(r.outputLocation))[0]).toEqual(columns);
  });
});

describe('local scheduler', () => {
  it('catches up the most recent missed runs (bounded), then fires at the next fire time', async () => {
    // Prepare: records end at 11:00 (the runs above); the clock reads 13:59:59.5.
    const only = { ...pipeline, scheduledQueries: [pipeline.scheduledQueries[0]!] };
    const realStart = Date.now();
    const clock = () => at('2026-03-01T13:59:59.500Z') + (Date.now() - realStart);
    const seen: QueryRunRecord[] = [];
    let resolveTwo: () => void;
    const two = new Promise<void>((r) => (resolveTwo = r));

    // Act
    const scheduler = await startScheduler({
      pipelines: [only], athena, s3, bucket: BUCKET, dataDir: path.join(tmp, 'scheduler'), maxCatchUp: 1, now: clock, retryBaseMs: 10,
      onRun: (r) => {
        seen.push(r);
        if (seen.length === 2) resolveTwo();
      },
    });
    await scheduler.caughtUp;
    const afterCatchUp = seen.length;
    await Promise.race([two, new Promise((r) => setTimeout(r, 20_000))]);
    await scheduler.stop();

    // Assess: missed fire times 12:00 and 13:00; maxCatchUp 1 keeps 13:00; then 14:00 fires live.
    expect(afterCatchUp).toBe(1);
    expect(seen.map((r) => [r.intervalStart, r.status])).toEqual([
      ['2026-03-01T12:00:00.000Z', 'SUCCEEDED'],
      ['2026-03-01T13:00:00.000Z', 'SUCCEEDED'],
    ]);
    const runs = await listQueryRuns(s3, BUCKET, 'sq', 'hourly_totals');
    expect(runs.map((x) => x.intervalStart)).toEqual(['2026-03-01T08:00:00.000Z', '2026-03-01T09:00:00.000Z', '2026-03-01T10:00:00.000Z', '2026-03-01T12:00:00.000Z', '2026-03-01T13:00:00.000Z']);
  }, 60_000);
});
