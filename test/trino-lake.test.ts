/**
 * The lake on the real engine. One Trino 476 (Athena engine v3 is Trino) reads
 * the lake the stream processor writes to s3rver, through exactly the Glue
 * databases, tables and views `cdk synth` declares for both example pipelines
 * (loaded field for field into Trino's file metastore), and every answer is
 * compared row for row with the local Athena endpoint (DuckDB): every table and
 * view, every scheduled query as rendered, the backfill SQL, the current views
 * before and after compaction. Then pruning: one scheduled run reads the same
 * bytes and splits whether the lake holds one day or three.
 */
import { GetQueryResultsCommand, StartQueryExecutionCommand, type AthenaClient } from '@aws-sdk/client-athena';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareWithView, planBackfill, renderQuery, runInterval, type Pipeline } from '../core';
import { mulberry32 } from '../core/prng';
import { compactPartition, RETIRE_AFTER_MS } from '../functions/compactor/compaction';
import path from 'node:path';
import { QueryFailedError, runAthenaQuery, waitForQuery } from '../functions/query-runner/athena-query';
import { silentLogger } from '../functions/shared/logger';
import { createStreamProcessor } from '../functions/stream-processor/handler';
import { DEFAULT_LAKE_BUCKET, startAthenaEndpoint } from '../local/athena/server';
import { localAthenaClient } from '../local/aws-clients';
import { freePort } from '../local/services/service';
import { TrinoQueryError } from '../local/trino/client';
import { writeGlueTable } from '../local/trino/glue-metastore';
import type { RunningTrino } from '../local/trino/server';
import clickstream from '../pipelines/clickstream';
import iot from '../pipelines/iot';
import { kinesisEvent, kinesisRecord, mskEvent, mskRecord } from './support/events';
import { TestLake } from './support/test-lake';
import { differences, loadSynthesizedGlue, startTestTrino, synthesizedGlue, trinoAnswer, type Answer, type SynthesizedGlue } from './support/trino';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** The day every comparison reads; D0 and D2 are added for the pruning test. */
const D1 = Date.UTC(2026, 2, 2);
const HOURS = [9, 10, 11];
const BATCHES_PER_HOUR = 4;
const PER_BATCH = 150;
const dayOf = (t: number) => new Date(t).toISOString().slice(0, 10);

let lake: TestLake;
let trino: RunningTrino;
let athena: AthenaClient;
let glue: SynthesizedGlue;
const seq = { kinesis: 0, kafka: 0 };

/** One day of both pipelines through the real stream-processor handler: valid, filtered, late and malformed records. */
async function writeDay(day: number, seed: number): Promise<void> {
  const rand = mulberry32(seed);
  const clicks = createStreamProcessor(clickstream, { s3: lake.s3, bucket: lake.bucket, logger: silentLogger });
  const readings = createStreamProcessor(iot, { s3: lake.s3, bucket: lake.bucket, logger: silentLogger });
  for (const h of HOURS) {
    for (let b = 0; b < BATCHES_PER_HOUR; b++) {
      const kin = [];
      const msk = [];
      for (let i = 0; i < PER_BATCH; i++) {
        const ts = day + h * HOUR + Math.floor(rand() * HOUR);
        // 1 in 40 arrives 20 minutes after its event time (past the 10-minute lateness): the late table.
        const arrival = ts + (rand() < 0.025 ? 20 * 60_000 : 1_000 + Math.floor(rand() * 5_000));
        const n = seq.kinesis++;
        if (rand() < 0.01) kin.push(kinesisRecord(`{"event_id": "cut-${n}`, { seq: n, arrivalMs: arrival, raw: true }));
        else {
          const ev = { event_id: `e${n}`, user_id: `u${Math.floor(rand() * 400)}`, category: ['books', 'games', 'music', 'toys'][Math.floor(rand() * 4)], value: Math.round(rand() * 6000) / 100, ts };
          kin.push(kinesisRecord(ev, { seq: n, arrivalMs: arrival }));
        }
        const off = seq.kafka++;
        const temperature = rand() < 0.1 ? null : Math.round((rand() * 35 - 5) * 10) / 10;
        const reading = rand() < 0.01 ? 'temp=21.5' : { device_id: `dev-${Math.floor(rand() * 30)}`, site: ['north', 'south', 'east'][Math.floor(rand() * 3)], temperature, humidity: Math.round(rand() * 1000) / 10, ts };
        msk.push(mskRecord(reading, { topic: 'iot-readings', partition: off % 3, offset: Math.floor(off / 3), timestampMs: arrival, raw: typeof reading === 'string' }));
      }
      expect((await clicks(kinesisEvent(kin))).batchItemFailures).toEqual([]);
      expect((await readings(mskEvent(msk))).batchItemFailures).toEqual([]);
    }
  }
}

async function localAnswer(sql: string): Promise<Answer & { dataScannedBytes: number }> {
  const r = await runAthenaQuery(athena, { sql });
  return { columns: r.columns.map((c) => c.name), rows: r.rows, dataScannedBytes: r.dataScannedBytes };
}

/** The same SQL on both engines; fails with the differences. */
async function expectSameAnswer(sql: string, ordered = false): Promise<Answer> {
  const [t, l] = [await trinoAnswer(trino, sql), await localAnswer(sql)];
  expect(differences(t, l, ordered), sql).toEqual([]);
  return t;
}

beforeAll(async () => {
  lake = await TestLake.start('trino', DEFAULT_LAKE_BUCKET);
  glue = synthesizedGlue([clickstream, iot], lake.bucket);
  trino = await startTestTrino({ tmp: lake.tmp, s3Endpoint: lake.s3Endpoint });
  await loadSynthesizedGlue(trino, glue);
  await writeDay(D1, 1);
  athena = await lake.startAthena([clickstream, iot]);
}, 300_000);

afterAll(async () => {
  await trino?.stop();
  await lake?.stop();
}, 60_000);

describe('Glue catalog on Trino', () => {
  it('synthesizes 16 Glue entries for the two examples, 8 of them views', () => {
    expect(glue.databases).toEqual(['shardflow']);
    expect(glue.tables).toHaveLength(16);
    expect(glue.tables.filter((t) => t.tableInput.TableType === 'VIRTUAL_VIEW')).toHaveLength(8);
  });

  it('every table and view of both pipelines reads the same rows on Trino as on the local endpoint', async () => {
    const report: Record<string, string[]> = {};
    for (const t of glue.tables) {
      // Bounded to the hours written (quarantine: by arrival, up to 20 min later): without a dt bound,
      // projection makes Trino list every partition since 2024-01-01.
      const sql = `SELECT * FROM shardflow.${t.tableInput.Name} WHERE dt = '${dayOf(D1)}' AND hour BETWEEN 9 AND 12`;
      const [a, b] = [await trinoAnswer(trino, sql), await localAnswer(sql)];
      const diff = differences(a, b);
      if (a.rows.length === 0) diff.push('no rows: the comparison would prove nothing');
      if (diff.length > 0) report[t.tableInput.Name] = diff;
    }
    expect(report).toEqual({});
  }, 300_000);

  it('reads the views as CDK stores them because they have a Glue Owner; the same view without one is refused', async () => {
    const view = glue.tables.find((t) => t.tableInput.Name === 'clickstream_by_category_1m')!;
    expect(view.tableInput.Owner).toBe('hadoop');
    const { Owner: _owner, ...ownerless } = view.tableInput;
    await writeGlueTable(trino.metastoreDir, { databaseName: 'shardflow', tableInput: { ...ownerless, Name: 'ownerless_view' } });
    const err = await trinoAnswer(trino, 'SELECT count(*) FROM shardflow.ownerless_view').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrinoQueryError);
    expect((err as TrinoQueryError).errorName).toBe('INVALID_VIEW');
    expect((err as TrinoQueryError).message).toMatch(/Run-as identity must be set for a run-as definer view/);
  });
});

/** A scheduled query rendered for the run that covers the hour/day of D1 that has data. */
function rendered(p: Pipeline, scheduledTime: number): string {
  const q = p.scheduledQueries[0]!;
  return renderQuery(q.sql, scheduledTime, runInterval(q.schedule, scheduledTime));
}
const clickRun = D1 + 11 * HOUR; // covers 10:00-11:00
const iotRun = D1 + DAY; // covers the day D1

describe('SQL Shardflow ships, on both engines', () => {
  it('every scheduled query as rendered', async () => {
    for (const [p, t] of [[clickstream, clickRun], [iot, iotRun]] as const) {
      const answer = await expectSameAnswer(rendered(p, t), true);
      expect(answer.rows.length, p.name).toBeGreaterThan(0);
    }
  }, 300_000);

  it.each([['clickstream', clickstream], ['iot', iot]] as const)('the backfill SQL of %s agrees with the local endpoint, and on Trino with the streaming view', async (_name, p) => {
    const range = { from: D1 + 9 * HOUR, to: D1 + 12 * HOUR };
    const exact = planBackfill(p, range, { exactDistinct: true });
    const exactAnswer = await expectSameAnswer(exact.sql, true);
    expect(exactAnswer.rows.length).toBeGreaterThan(10);
    const view = await expectSameAnswer(exact.viewSql, true);
    // The default (approx_distinct) plan on Trino, against Trino's own view: the --compare default holds.
    const approx = planBackfill(p, range);
    const backfill = await trinoAnswer(trino, approx.sql);
    const cmp = compareWithView(p, { columns: backfill.columns.map((name) => ({ name })), rows: backfill.rows }, { columns: view.columns.map((name) => ({ name })), rows: view.rows });
    expect(cmp.differences).toEqual([]);
    expect(cmp.matched).toBe(view.rows.length);
  }, 300_000);
});

describe('the local Athena API on the Trino engine (dev --athena-engine trino)', () => {
  it('answers queries as Trino does, binds ExecutionParameters, reports Trino errors the Athena way, and keeps SHOW on the catalog', async () => {
    const endpoint = await startAthenaEndpoint({
      port: await freePort(),
      s3: { endpoint: lake.s3Endpoint, bucket: lake.bucket },
      pipelines: [clickstream, iot],
      dataDir: path.join(lake.tmp, 'athena-trino'),
      trino: { endpoint: trino.endpoint },
    });
    const client = localAthenaClient(endpoint.endpoint);
    try {
      const sql = rendered(clickstream, clickRun);
      const onTrino = await runAthenaQuery(client, { sql });
      const onDuckdb = await runAthenaQuery(athena, { sql });
      expect(onTrino.columns).toEqual(onDuckdb.columns);
      expect(differences({ columns: onTrino.columns.map((c) => c.name), rows: onTrino.rows }, { columns: onDuckdb.columns.map((c) => c.name), rows: onDuckdb.rows }, true)).toEqual([]);
      expect(onTrino.rows.length).toBeGreaterThan(0);
      expect(onTrino.dataScannedBytes).toBeGreaterThan(0);

      const { QueryExecutionId } = await client.send(
        new StartQueryExecutionCommand({ QueryString: 'SELECT count(*) FROM clickstream_events WHERE dt = ? AND hour = ?', QueryExecutionContext: { Database: 'shardflow' }, ExecutionParameters: [`'${dayOf(D1)}'`, '10'] }),
      );
      await waitForQuery(client, QueryExecutionId!);
      const bound = await client.send(new GetQueryResultsCommand({ QueryExecutionId }));
      const plain = await runAthenaQuery(client, { sql: `SELECT count(*) FROM clickstream_events WHERE dt = '${dayOf(D1)}' AND hour = 10` });
      expect(bound.ResultSet!.Rows![1]!.Data![0]!.VarCharValue).toBe(plain.rows[0]![0]);
      expect(Number(plain.rows[0]![0])).toBeGreaterThan(0);

      const failed = await runAthenaQuery(client, { sql: 'SELECT * FROM no_such_table' }).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(QueryFailedError);
      expect((failed as QueryFailedError).reason).toMatch(/^TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog\.shardflow\.no_such_table' does not exist/);

      const tables = await runAthenaQuery(client, { sql: 'SHOW TABLES' });
      expect(tables.rows.map((r) => r[0])).toContain('clickstream_by_category_1m');
    } finally {
      client.destroy();
      await endpoint.stop();
    }
  });
});

describe('compaction on Trino', () => {
  const dt = dayOf(D1);
  const LATER = () => D1 + 3 * DAY;
  const RETIRE = () => LATER() + RETIRE_AFTER_MS + 1;
  const reads = [
    `SELECT * FROM clickstream_events WHERE dt = '${dt}' AND hour = 9`,
    `SELECT * FROM clickstream_partials WHERE dt = '${dt}' AND hour = 9`,
    `SELECT * FROM clickstream_by_category_1m WHERE dt = '${dt}' AND hour = 9`,
  ];
  const stored = `SELECT count(*) FROM clickstream_events_files WHERE dt = '${dt}' AND hour = 9`;

  it('the current views answer the same before, while and after an hour is compacted, on both engines', async () => {
    const before = [];
    for (const sql of reads) before.push(await expectSameAnswer(sql));
    const storedBefore = Number((await trinoAnswer(trino, stored)).rows[0]![0]);
    expect(storedBefore).toBeGreaterThan(0);

    for (const role of ['raw', 'partials'] as const) {
      const r = await compactPartition({ s3: lake.s3, bucket: lake.bucket, pipeline: clickstream, role, partition: { dt, hour: '09' }, now: LATER });
      expect(r.manifest?.state).toBe('published');
    }
    // Published: compacted object and sources side by side; the storage table holds both, the views count once.
    expect(Number((await trinoAnswer(trino, stored)).rows[0]![0])).toBe(2 * storedBefore);
    for (const [i, sql] of reads.entries()) expect(differences(await expectSameAnswer(sql), before[i]!)).toEqual([]);

    for (const role of ['raw', 'partials'] as const) {
      const r = await compactPartition({ s3: lake.s3, bucket: lake.bucket, pipeline: clickstream, role, partition: { dt, hour: '09' }, now: RETIRE });
      expect(r.manifest?.state).toBe('done');
    }
    expect(Number((await trinoAnswer(trino, stored)).rows[0]![0])).toBe(storedBefore);
    for (const [i, sql] of reads.entries()) expect(differences(await expectSameAnswer(sql), before[i]!)).toEqual([]);
  }, 300_000);
});

describe('queries that prune', () => {
  it('one scheduled run, and a backfill over its interval, read the same bytes and splits whether the lake holds one day or three', async () => {
    const hourly = rendered(clickstream, clickRun);
    // Exact distinct counts: DuckDB's approx_distinct is another HyperLogLog than Trino's.
    const backfill = planBackfill(clickstream, { from: D1 + 10 * HOUR, to: D1 + 11 * HOUR }, { exactDistinct: true });
    // The same hour without the dt/hour bounds: what the example ran before. Locally its window_start
    // range still reaches the partials' partitions (LakeView.partitionTime); on Trino it cannot.
    const windowOnly = hourly.replace(/dt = '[^']+' AND hour = \d+ AND /, '');
    expect(windowOnly).not.toBe(hourly);
    // And the view behind a subquery, where no predicate reaches a table: it reads every day.
    const unbounded = windowOnly.replace(/FROM (\w+\.)?clickstream_by_category_1m/, 'FROM (SELECT * FROM $1clickstream_by_category_1m) v');
    expect(unbounded).not.toBe(windowOnly);
    const measure = async () => {
      const out: Record<string, number> = {};
      for (const [name, sql] of Object.entries({ hourly, backfill: backfill.sql, backfillView: backfill.viewSql })) {
        const t = await trinoAnswer(trino, sql);
        const l = await localAnswer(sql);
        expect(differences(t, l, true), name).toEqual([]);
        out[`${name}.trinoBytes`] = t.physicalInputBytes;
        out[`${name}.trinoSplits`] = t.totalSplits;
        out[`${name}.localBytes`] = l.dataScannedBytes;
      }
      out['windowOnly.localBytes'] = (await localAnswer(windowOnly)).dataScannedBytes;
      out['unbounded.localBytes'] = (await localAnswer(unbounded)).dataScannedBytes;
      return out;
    };
    const oneDay = await measure();
    for (const v of Object.values(oneDay)) expect(v).toBeGreaterThan(0);

    await writeDay(D1 - DAY, 2);
    await writeDay(D1 + DAY, 3);
    const threeDays = await measure();

    const { 'unbounded.localBytes': u1, ...bounded1 } = oneDay;
    const { 'unbounded.localBytes': u3, ...bounded3 } = threeDays;
    expect(bounded3).toEqual(bounded1);
    // The measurement sees the lake grow when a query does not bound dt/hour.
    expect(u3).toBeGreaterThan(2 * u1!);
  }, 300_000);
});
