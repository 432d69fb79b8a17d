/**
 * Every measure kind's JS partial + JS merge against its SQL merge in the
 * aggregate view, on DuckDB (the local Athena endpoint) and on Trino 476 (the
 * Glue catalog `cdk synth` declares): random rows, split into random batches
 * written in random order by the real stream-processor handler, two aggregates
 * per pipeline (a partials table and a view each). Values agree within each
 * kind's tolerance (core/measures/, `compare`). The backfill of each aggregate
 * from the raw table agrees with its view on both engines, and the percentiles
 * are within α of the exact ones.
 */
import type { AthenaClient } from '@aws-sdk/client-athena';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  aggregateRows,
  compareWithView,
  finalizePartialRows,
  measureKind,
  PERCENTILE_RELATIVE_ERROR,
  percentileColumn,
  percentileRank,
  planBackfill,
  type Aggregate,
  type Row,
} from '../core';
import { pipelineColumns } from '../core/pipeline-expr';
import { mulberry32 } from '../core/prng';
import { compactPipeline } from '../functions/compactor/compaction';
import { runAthenaQuery } from '../functions/query-runner/athena-query';
import { silentLogger } from '../functions/shared/logger';
import { createStreamProcessor } from '../functions/stream-processor/handler';
import { DEFAULT_LAKE_BUCKET } from '../local/athena/server';
import type { RunningTrino } from '../local/trino/server';
import { kinesisEvent, kinesisRecord } from './support/events';
import { asEvent, measureRows, measuresPipeline as p } from './support/measures-pipeline';
import { TestLake } from './support/test-lake';
import { differences, loadSynthesizedGlue, startTestTrino, synthesizedGlue, trinoAnswer, type Answer } from './support/trino';

const DAY = 86_400_000;
const TODAY = Math.floor(Date.now() / DAY) * DAY;
/** Four random cases, one day each (09:00-09:04 UTC); the last is today, whose windows are not closed yet (lateness 1 day). */
const CASES = [Date.UTC(2026, 2, 2), Date.UTC(2026, 2, 3), Date.UTC(2026, 2, 4), TODAY].map((d, j) => ({ day: d + 9 * 3_600_000, seed: 101 + j }));
const dayOf = (t: number) => new Date(t).toISOString().slice(0, 10);
const TOLERANCE = { tol: 1e-9, sigmas: 4, batchErr: 0 };

let lake: TestLake;
let trino: RunningTrino;
let athena: AthenaClient;
const written = new Map<number, Row[]>();

/** One case: its rows split at random points into batches, sent in a random order through the handler. */
async function writeCase(t0: number, seed: number): Promise<void> {
  const rand = mulberry32(seed);
  const rows = measureRows(rand, t0, 300 + Math.floor(rand() * 300));
  written.set(t0, rows);
  const cuts = [...new Set([0, ...Array.from({ length: 2 + Math.floor(rand() * 5) }, () => Math.floor(rand() * rows.length)), rows.length])].sort((a, b) => a - b);
  const batches = cuts.slice(1).map((end, j) => rows.slice(cuts[j], end).map((r, i) => ({ r, seq: seed * 100_000 + cuts[j]! + i })));
  batches.sort(() => rand() - 0.5);
  const handler = createStreamProcessor(p, { s3: lake.s3, bucket: lake.bucket, logger: silentLogger });
  for (const b of batches) {
    if (b.length === 0) continue;
    const event = kinesisEvent(b.map(({ r, seq }) => kinesisRecord(asEvent(r), { seq, arrivalMs: (r.ts as number) + 1_000 })));
    expect((await handler(event)).batchItemFailures).toEqual([]);
  }
}

async function localAnswer(sql: string): Promise<Answer> {
  const r = await runAthenaQuery(athena, { sql });
  return { columns: r.columns.map((c) => c.name), rows: r.rows };
}

/** Athena's text of a JS view value of a column of this type. */
function athenaText(v: unknown, type: string): string | null {
  if (v === null || v === undefined) return null;
  if (type === 'timestamp') return new Date(v as number).toISOString().replace('T', ' ').replace('Z', '');
  return String(v);
}

/** JS (one pass over the case's rows) against an engine's view rows: every measure column within its kind's tolerance. */
function disagreements(a: Aggregate, js: Row[], sql: Answer, now: number): string[] {
  const type = (n: string) => pipelineColumns(p).find((f) => f.name === n)!.type;
  const pos = new Map(sql.columns.map((c, j) => [c, j]));
  const key = (start: string | null, groups: (string | null)[]) => JSON.stringify([start, ...groups]);
  const rows = new Map(sql.rows.map((r) => [key(r[pos.get('window_start')!]!, a.groupBy.map((g) => r[pos.get(g)!] ?? null)), r]));
  const out: string[] = [];
  if (rows.size !== js.length) out.push(`${js.length} windows × groups in JS, ${rows.size} in SQL`);
  for (const w of js) {
    const k = key(athenaText(w.window_start, 'timestamp'), a.groupBy.map((g) => athenaText(w[g], type(g))));
    const r = rows.get(k);
    if (!r) {
      out.push(`${k}: not in the view`);
      continue;
    }
    const closed = now >= (w.window_end as number) + p.allowedLatenessMs;
    if (r[pos.get('closed')!] !== String(closed)) out.push(`${k} closed: ${r[pos.get('closed')!]}, expected ${closed}`);
    for (const m of a.measures) {
      const kind = measureKind(m.spec);
      for (const c of kind.viewColumns(m.name, m.spec, type)) {
        const x = athenaText(w[c.name], c.type);
        const y = r[pos.get(c.name)!] ?? null;
        const why = x === null || y === null ? (x === y ? null : 'NULL on one side only') : kind.compare(c.name, y, x, m.spec, TOLERANCE);
        if (why) out.push(`${k} ${c.name}: JS ${x}, SQL ${y}: ${why}`);
      }
    }
  }
  return out;
}

beforeAll(async () => {
  lake = await TestLake.start('measures', DEFAULT_LAKE_BUCKET);
  const glue = synthesizedGlue([p], lake.bucket);
  trino = await startTestTrino({ tmp: lake.tmp, s3Endpoint: lake.s3Endpoint });
  await loadSynthesizedGlue(trino, glue);
  for (const c of CASES) await writeCase(c.day, c.seed);
  athena = await lake.startAthena([p]);
}, 300_000);

afterAll(async () => {
  await trino?.stop();
  await lake?.stop();
}, 60_000);

const engines = [
  ['DuckDB (local endpoint)', (sql: string) => localAnswer(sql)],
  ['Trino', (sql: string) => trinoAnswer(trino, sql)],
] as const;

describe.each(engines)('measures on %s', (_engine, answer) => {
  it.each(p.aggregates.map((a) => [a.view, a] as const))('%s: the view equals the JS merge for every kind, in every random case', async (_v, a) => {
    const report: Record<string, string[]> = {};
    // One query over every case's day: Trino plans the view once.
    const before = Date.now();
    const all = await answer(`SELECT * FROM shardflow.${a.view} WHERE dt IN (${CASES.map((c) => `'${dayOf(c.day)}'`).join(', ')})`);
    const dt = all.columns.indexOf('dt');
    for (const c of CASES) {
      const js = finalizePartialRows(a, aggregateRows(p, written.get(c.day)!, a));
      const sql = { columns: all.columns, rows: all.rows.filter((r) => r[dt] === dayOf(c.day)) };
      const diff = disagreements(a, js, sql, before);
      if (sql.rows.length === 0) diff.push('no rows: the comparison would prove nothing');
      if (diff.length > 0) report[dayOf(c.day)] = diff.slice(0, 10);
    }
    expect(report).toEqual({});
  }, 300_000);

  it.each(p.aggregates.map((a) => [a.view, a] as const))('%s: the backfill from the raw table agrees with the view', async (_v, a) => {
    for (const c of CASES) {
      const plan = planBackfill(p, { from: c.day, to: c.day + 4 * 60_000 }, { view: a.view });
      const [b, s] = [await answer(plan.sql), await answer(plan.viewSql)];
      const table = (x: Answer) => ({ columns: x.columns.map((name) => ({ name })), rows: x.rows });
      const r = compareWithView(p, table(b), table(s), { view: a.view, ...(_engine === 'Trino' ? {} : { batchDistinctError: 0 }) });
      expect(r.differences, `${dayOf(c.day)}\n${plan.sql}`).toEqual([]);
      expect(r.matched).toBeGreaterThan(0);
    }
  }, 300_000);

  it('the view\'s percentiles are within α = 1 % of the exact nearest-rank percentiles', async () => {
    const a = p.aggregates[0]!;
    const m = a.measures.find((x) => x.name === 'x_pct')!;
    const qs = (m.spec as { readonly quantiles: readonly number[] }).quantiles;
    let checked = 0;
    const sql = await answer(`SELECT dt, window_start, k, ${qs.map((q) => percentileColumn('x_pct', q)).join(', ')} FROM shardflow.${a.view} WHERE dt IN (${CASES.map((c) => `'${dayOf(c.day)}'`).join(', ')})`);
    for (const c of CASES) {
      for (const row of sql.rows.filter((x) => x[0] === dayOf(c.day))) {
        const r = row.slice(1);
        const xs = written.get(c.day)!
          .filter((e) => athenaText(Math.floor((e.ts as number) / 60_000) * 60_000, 'timestamp') === r[0] && (e.k ?? null) === r[1] && e.x !== null)
          .map((e) => e.x as number)
          .sort((u, v) => u - v);
        qs.forEach((q, j) => {
          const got = r[2 + j];
          if (xs.length === 0) return expect(got).toBeNull();
          const exact = xs[percentileRank(q, xs.length) - 1]!;
          expect(Math.abs(Number(got) - exact), `${r[0]} ${r[1]} q=${q}`).toBeLessThanOrEqual(PERCENTILE_RELATIVE_ERROR * (1 + 1e-9) * Math.abs(exact));
          checked++;
        });
      }
    }
    expect(checked).toBeGreaterThan(100);
  }, 300_000);
});

describe('compaction of several partials tables', () => {
  it('compacts every aggregate\'s partials table and no view answer changes, on either engine', async () => {
    const days = CASES.filter((c) => c.day !== TODAY + 9 * 3_600_000);
    const snapshot = async () => {
      const out: Answer[] = [];
      for (const a of p.aggregates) {
        const sql = `SELECT * FROM shardflow.${a.view} WHERE dt IN (${days.map((c) => `'${dayOf(c.day)}'`).join(', ')}) ORDER BY dt, 1, 2, 3`;
        out.push(await localAnswer(sql), await trinoAnswer(trino, sql));
      }
      return out;
    };
    const before = await snapshot();
    const pass = await compactPipeline(lake.s3, lake.bucket, p, { now: () => Date.UTC(2027, 0, 1) });
    const tables = new Set(pass.compacted.map((m) => m.table));
    expect([...tables].filter((t) => t.endsWith('_partials')).sort()).toEqual(p.aggregates.map((a) => a.partials).sort());
    const after = await snapshot();
    // Within 1e-9 relative: double sums add the partials in another order once compacted.
    expect(before.map((b, j) => differences(b, after[j]!, true))).toEqual(before.map(() => []));
    expect(before.every((b) => b.rows.length > 0)).toBe(true);
  }, 300_000);
});
