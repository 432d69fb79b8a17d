/**
 * The batch commands of `shardflow`: run-query and runs (scheduled queries),
 * compact, backfill (the batch twin of a pipeline's streaming aggregate). They
 * talk to the `--target` (the running `dev`, LocalStack, or the deployed stacks)
 * through the AWS SDK, with the same code in each case.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { ATHENA_HLL_RELATIVE_ERROR, compareWithView, planBackfill, type Pipeline } from '../core';
import { compactPipeline, RETIRE_AFTER_MS } from '../functions/compactor/compaction';
import { findPipeline, loadPipelines } from '../local/pipeline-loader';
import { listQueryRuns, runScheduledQuery, type QueryRunRecord } from '../local/scheduler';
import { runAthenaQuery, QueryFailedError } from '../local/query';
import type { Target } from '../local/targets';
import { formatRows, type OutputFormat } from './table-format';

export interface BatchCommandContext {
  target(): Promise<Target>;
  pipelinesDir(): string;
}

/** ISO-8601 (a time without a zone is UTC) or `now`. */
export function parseTime(name: string) {
  return (v: string): number => {
    if (v === 'now') return Date.now();
    const iso = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/.test(v) ? `${v.replace(' ', 'T')}${v.length === 10 ? 'T00:00:00' : ''}Z` : v;
    const t = Date.parse(iso);
    if (!Number.isFinite(t)) throw new InvalidArgumentError(`${name} must be an ISO-8601 time such as 2026-11-25T07:00:00Z, or now (given ${JSON.stringify(v)})`);
    return t;
  };
}

async function pipelineNamed(ctx: BatchCommandContext, name: string): Promise<Pipeline> {
  return findPipeline(await loadPipelines(ctx.pipelinesDir()), name);
}

function printRuns(runs: readonly QueryRunRecord[]): void {
  const cols = ['query', 'interval_start', 'interval_end', 'status', 'attempts', 'scanned_bytes', 'engine_ms', 'query_execution_id', 'output / error'].map((name) => ({ name, type: 'varchar' }));
  const rows = runs.map((r) => [r.query, r.intervalStart, r.intervalEnd, r.status, String(r.attempts), String(r.dataScannedBytes), String(r.engineExecutionMs), r.queryExecutionId ?? '', r.status === 'FAILED' ? (r.error ?? '') : r.outputLocation]);
  console.log(formatRows(cols, rows, 'table'));
}

export function registerBatchCommands(program: Command, ctx: BatchCommandContext): void {
  program
    .command('run-query <pipeline> <name>')
    .description('run a scheduled query for the interval that ends at or before --at (re-running an interval returns the same execution)')
    .option('--at <time>', 'scheduled time, ISO-8601 UTC or now (default: now)', parseTime('--at'))
    .option('--bucket <bucket>', 'lake bucket (default: the target\'s)')
    .action(async (pipelineName: string, name: string, o: { at?: number; bucket?: string }) => {
      const pipeline = await pipelineNamed(ctx, pipelineName);
      const t = await ctx.target();
      const athena = t.athena();
      const s3 = t.s3();
      try {
        const r = await runScheduledQuery(pipeline, name, o.at ?? Date.now(), { athena, s3, bucket: o.bucket ?? t.lakeBucket(pipeline), workgroup: t.workgroup(pipeline) });
        printRuns([r]);
        if (r.status === 'FAILED') process.exitCode = 1;
      } finally {
        athena.destroy();
        s3.destroy();
      }
    });

  program
    .command('runs <pipeline> [name]')
    .description('list the run records of a pipeline\'s scheduled queries, oldest interval first')
    .option('--bucket <bucket>', 'lake bucket (default: the target\'s)')
    .action(async (pipelineName: string, name: string | undefined, o: { bucket?: string }) => {
      const pipeline = await pipelineNamed(ctx, pipelineName);
      const t = await ctx.target();
      const s3 = t.s3();
      try {
        const runs = await listQueryRuns(s3, o.bucket ?? t.lakeBucket(pipeline), pipeline.name, name);
        if (runs.length === 0) console.error(`no runs recorded for ${pipeline.name}${name ? `/${name}` : ''}`);
        else printRuns(runs);
      } finally {
        s3.destroy();
      }
    });

  program
    .command('compact <pipeline>')
    .description('rewrite each sealed partition of the pipeline\'s Parquet tables into one object (carrying on with unfinished compactions first; superseded objects are deleted by a pass an hour after publish)')
    .action(async (pipelineName: string) => {
      const pipeline = await pipelineNamed(ctx, pipelineName);
      const t = await ctx.target();
      const s3 = t.s3();
      try {
        const pass = await compactPipeline(s3, t.lakeBucket(pipeline), pipeline);
        for (const m of [...pass.recovered, ...pass.compacted]) {
          const what = m.state === 'done' ? 'sources retired' : `published; the sources are hidden now and deleted by a pass after ${new Date(Date.parse(m.publishedAt!) + RETIRE_AFTER_MS).toISOString()}`;
          console.log(`${m.table} dt=${m.partition.dt}/hour=${m.partition.hour}: ${m.sources.length} objects → 1 (${what})`);
        }
        console.error(`${pass.compacted.length} partition(s) compacted, ${pass.recovered.length} carried on, ${pass.skipped} left as they are (not sealed yet, already one object, or sources waiting to be retired)`);
      } finally {
        s3.destroy();
      }
    });

  program
    .command('backfill <pipeline>')
    .description('compute the pipeline\'s windowed aggregate in one batch query over the raw table, for the windows that start in [--from, --to)')
    .requiredOption('--from <time>', 'first window start, ISO-8601 UTC (inclusive)', parseTime('--from'))
    .requiredOption('--to <time>', 'last window start bound, ISO-8601 UTC (exclusive)', parseTime('--to'))
    .option('--view <view>', 'which aggregate, by its view (default: the first)')
    .option('--compare', 'also read the streaming view over the same windows and print the differences')
    .option('--exact-distinct', 'COUNT(DISTINCT) instead of approx_distinct')
    .option('--distinct-error <fraction>', `relative standard error of the batch distinct count for --compare (Athena: ${ATHENA_HLL_RELATIVE_ERROR}; the local endpoint's DuckDB HyperLogLog: 0.13)`, Number)
    .option('--format <format>', 'table | csv | json', 'table')
    .option('--show-sql', 'print the SQL before running it')
    .action(async (pipelineName: string, o: { from: number; to: number; view?: string; compare?: boolean; exactDistinct?: boolean; distinctError?: number; format: OutputFormat; showSql?: boolean }) => {
      const pipeline = await pipelineNamed(ctx, pipelineName);
      const plan = planBackfill(pipeline, { from: o.from, to: o.to }, { exactDistinct: o.exactDistinct ?? false, ...(o.view ? { view: o.view } : {}) });
      if (o.showSql) console.error(`${plan.sql}\n`);
      const t = await ctx.target();
      const athena = t.athena();
      try {
        const batch = await runAthenaQuery(athena, { sql: plan.sql, database: pipeline.database, workgroup: t.workgroup(pipeline) });
        if (!o.compare) {
          console.log(formatRows(batch.columns, batch.rows, o.format));
          console.error(`${batch.rows.length} row(s), windows ${new Date(plan.firstWindow).toISOString()} … ${new Date(plan.lastWindow).toISOString()}; scanned ${batch.dataScannedBytes} bytes in ${batch.engineExecutionMs} ms`);
          return;
        }
        const view = await runAthenaQuery(athena, { sql: plan.viewSql, database: pipeline.database, workgroup: t.workgroup(pipeline) });
        const cmp = compareWithView(pipeline, batch, view, { ...(o.view ? { view: o.view } : {}), batchDistinctError: o.exactDistinct ? 0 : (o.distinctError ?? ATHENA_HLL_RELATIVE_ERROR) });
        console.log(`backfill ${cmp.rowsBackfill} row(s), streaming view ${cmp.rowsStreaming} row(s): ${cmp.matched} agree, ${cmp.differences.length} difference(s)`);
        if (cmp.differences.length > 0) {
          const cols = ['window | group', 'column', 'backfill', 'streaming', 'why'].map((name) => ({ name, type: 'varchar' }));
          console.log(formatRows(cols, cmp.differences.map((d) => [d.key, d.column, d.backfill, d.streaming, d.reason]), o.format));
          process.exitCode = 1;
        }
      } catch (err) {
        if (err instanceof QueryFailedError) throw new Error(`backfill of ${pipeline.name} failed: ${err.reason}`);
        throw err;
      } finally {
        athena.destroy();
      }
    });
}
