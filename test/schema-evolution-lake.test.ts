/**
 * Schema evolution end to end: a pipeline writes with one definition, is
 * changed (an optional field added, int widened to bigint) and writes again;
 * both generations read together on the local endpoint and on Trino 476 with
 * the Glue tables `cdk synth` declares for the new definition. An unsafe change
 * then stops the runtime at start, naming the field. Last, the optional field
 * is removed, the hour is compacted with that definition, and the field added
 * back: its values are read again, on both engines.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count, definePipeline, kinesisSource, sum, tumbling, type FieldSpec, type Pipeline } from '../core';
import { compactPipeline, sealDelayMs } from '../functions/compactor/compaction';
import { DEFAULT_LAKE_BUCKET } from '../local/athena';
import { localAthenaClient, localKinesisClient, localS3Client } from '../local/aws-clients';
import { sendToKinesis, toOutgoing } from '../local/producers';
import { runAthenaQuery } from '../local/query';
import { startLocalRuntime, type LocalRuntime } from '../local/runtime';
import { readSchemaRecord } from '../local/schema-records';
import { freePort } from '../local/services/service';
import type { RunningTrino } from '../local/trino/server';
import { differences, loadSynthesizedGlue, startTestTrino, synthesizedGlue, trinoAnswer, type Answer } from './support/trino';

function evo(schema: Record<string, FieldSpec>): Pipeline {
  return definePipeline({
    name: 'evo',
    source: kinesisSource({ stream: 'evo-events' }),
    schema,
    eventTime: 'ts',
    aggregate: { groupBy: [], window: tumbling('1 hour'), measures: { orders: count(), total: sum('qty') }, view: 'evo_1h' },
  });
}
const V1 = evo({ id: 'string', qty: 'int', ts: 'timestamp' });
const V2 = evo({ id: 'string', qty: 'bigint', note: { type: 'string', required: false }, ts: 'timestamp' });
const V3 = evo({ id: 'string', qty: 'bigint', note: { type: 'int', required: false }, ts: 'timestamp' });
/** V2 without its optional field: a safe removal (docs/schema-evolution.md). */
const V4 = evo({ id: 'string', qty: 'bigint', ts: 'timestamp' });

let dataDir: string;
let rt: LocalRuntime | undefined;
let trino: RunningTrino | undefined;

/** The same ports for every start: Trino, started once, keeps reading the S3 emulator of whichever runtime runs. */
let ports: { kinesis: number; s3: number; athena: number } | undefined;

async function start(p: Pipeline): Promise<LocalRuntime> {
  ports ??= { kinesis: await freePort(), s3: await freePort(), athena: await freePort() };
  return startLocalRuntime({ pipelines: [p], dataDir, ports });
}

async function write(r: LocalRuntime, p: Pipeline, events: Record<string, unknown>[]): Promise<void> {
  const before = r.status()[0]!.counts;
  const kinesis = localKinesisClient(r.info.endpoints.kinesis!);
  try {
    const sent = await sendToKinesis(kinesis, 'evo-events', events.map((e, i) => toOutgoing(p, e, i)));
    expect(sent.failed).toBe(0);
  } finally {
    kinesis.destroy();
  }
  const deadline = Date.now() + 60_000;
  // raw and partials objects of this batch: at least two more objects
  while ((r.status()[0]!.counts.raw < before.raw + events.length || r.status()[0]!.counts.objects < before.objects + 2) && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 200));
  }
  expect(r.status()[0]!.counts.raw).toBe(before.raw + events.length);
}

async function local(r: LocalRuntime, sql: string): Promise<Answer> {
  const athena = localAthenaClient(r.info.endpoints.athena);
  try {
    const a = await runAthenaQuery(athena, { sql });
    return { columns: a.columns.map((c) => c.name), rows: a.rows };
  } finally {
    athena.destroy();
  }
}

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-evolution-'));
}, 60_000);

afterAll(async () => {
  await trino?.stop();
  await rt?.stop();
  await fs.rm(dataDir, { recursive: true, force: true });
}, 120_000);

const TS = new Date().toISOString();
/** Every query bounds dt and hour: with partition projection, Trino otherwise lists every partition since partitionsFrom (README, Batch). */
const PART = `dt = '${TS.slice(0, 10)}' AND hour = ${Number(TS.slice(11, 13))}`;
const ROWS = `SELECT id, qty, note FROM evo_events WHERE ${PART} ORDER BY id`;
const VIEW = `SELECT orders, total FROM evo_1h WHERE ${PART}`;
const FILES = `SELECT count(*), sum(qty), count(note) FROM evo_events_files WHERE ${PART}`;
const BIG = 2 ** 40;

describe('schema evolution of a running lake', () => {
  it('reads objects of both generations together, locally and on Trino, after an optional field and int → bigint', async () => {
    const ts = TS;
    rt = await start(V1);
    await write(rt, V1, [1, 2, 3].map((q) => ({ id: `a${q}`, qty: q, ts })));
    await rt.stop();
    rt = undefined;

    rt = await start(V2);
    await write(rt, V2, [{ id: 'b1', qty: BIG, note: 'wide', ts }, { id: 'b2', qty: 5, ts }]);
    const s3 = localS3Client(rt.info.endpoints.s3);
    const record = await readSchemaRecord(s3, DEFAULT_LAKE_BUCKET, 'evo');
    s3.destroy();
    expect(record).toMatchObject({ generation: 2, tables: { evo_events: { qty: 'bigint', note: 'string' } } });

    const rows = await local(rt, ROWS);
    expect(rows.rows).toEqual([['a1', '1', null], ['a2', '2', null], ['a3', '3', null], ['b1', String(BIG), 'wide'], ['b2', '5', null]]);
    const view = await local(rt, VIEW);
    expect(view.rows).toEqual([['5', String(1 + 2 + 3 + BIG + 5)]]);

    trino = await startTestTrino({ tmp: dataDir, s3Endpoint: rt.info.endpoints.s3 });
    await loadSynthesizedGlue(trino, synthesizedGlue([V2], DEFAULT_LAKE_BUCKET));
    for (const sql of [ROWS, VIEW, FILES]) {
      const [t, l] = [await trinoAnswer(trino, sql), await local(rt, sql)];
      expect(differences(t, l, true), sql).toEqual([]);
      expect(t.rows.length, sql).toBeGreaterThan(0);
    }
  }, 600_000);

  it('refuses to start with a change the objects cannot follow, naming the field, and leaves the record as it was', async () => {
    await rt?.stop();
    rt = undefined;
    await expect(start(V3)).rejects.toThrow(/Pipeline "evo": schema evolution: .*schema\.note: changed from string to int, but objects written before hold it as string/s);
    rt = await start(V2);
    const s3 = localS3Client(rt.info.endpoints.s3);
    expect((await readSchemaRecord(s3, DEFAULT_LAKE_BUCKET, 'evo'))?.generation).toBe(2);
    s3.destroy();
  }, 120_000);

  it('compacts objects of three generations into one that keeps a removed optional field, whose values read again once it is added back', async () => {
    await rt?.stop();
    rt = await start(V4);
    await write(rt, V4, [{ id: 'c1', qty: 7, ts: TS }]);
    const s3 = localS3Client(rt.info.endpoints.s3);
    try {
      // Compacted with the definition that no longer has `note`, as the compactor of a deployed V4 would.
      const pass = await compactPipeline(s3, DEFAULT_LAKE_BUCKET, V4, { now: () => Date.now() + sealDelayMs(V4) + 2 * 3_600_000 });
      expect(pass.compacted.map((m) => m.table).sort()).toEqual(['evo_events', 'evo_partials']);
    } finally {
      s3.destroy();
    }
    await rt.stop();

    rt = await start(V2);
    const s3b = localS3Client(rt.info.endpoints.s3);
    expect((await readSchemaRecord(s3b, DEFAULT_LAKE_BUCKET, 'evo'))?.generation).toBe(4);
    s3b.destroy();
    const rows = await local(rt, ROWS);
    expect(rows.rows).toEqual([['a1', '1', null], ['a2', '2', null], ['a3', '3', null], ['b1', String(BIG), 'wide'], ['b2', '5', null], ['c1', '7', null]]);
    // Every row is read from the compacted object now (its storage table has the sources' rows once, with `_from`).
    const files = await local(rt, `SELECT count(*), count(DISTINCT "$path") FROM evo_events WHERE ${PART}`);
    expect(files.rows).toEqual([['6', '1']]);
    const view = await local(rt, VIEW);
    expect(view.rows).toEqual([['6', String(1 + 2 + 3 + BIG + 5 + 7)]]);
    expect(trino, 'Trino was started by the first test').toBeDefined();
    for (const sql of [ROWS, VIEW]) {
      const [t, l] = [await trinoAnswer(trino!, sql), await local(rt, sql)];
      expect(differences(t, l, true), sql).toEqual([]);
    }
  }, 300_000);
});
