/**
 * The batch commands of `shardflow`: run-query and runs (scheduled queries),
 * backfill (the batch twin of a pipeline's streaming aggregate). They talk to
 * the running `dev` (or any Athena/S3 endpoints) through the AWS SDK.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { Pipeline } from '../core';
import { DEFAULT_LAKE_BUCKET } from '../local/athena';
import { localAthenaClient, localS3Client } from '../local/aws-clients';
import { findPipeline, loadPipelines } from '../local/pipeline-loader';
import { listQueryRuns, runScheduledQuery, type QueryRunRecord } from '../local/scheduler';
import { formatRows } from './table-format';

export interface BatchCommandContext {
  endpoints(): Promise<{ athena: string; s3: string }>;
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
    .option('--at <time>', 'scheduled time, ISO-8601 UTC or now', parseTime('--at'), undefined)
    .option('--bucket <bucket>', 'lake bucket', DEFAULT_LAKE_BUCKET)
    .action(async (pipelineName: string, name: string, o: { at?: number; bucket: string }) => {
      const pipeline = await pipelineNamed(ctx, pipelineName);
      const ep = await ctx.endpoints();
      const athena = localAthenaClient(ep.athena);
      const s3 = localS3Client(ep.s3);
      try {
        const r = await runScheduledQuery(pipeline, name, o.at ?? Date.now(), { athena, s3, bucket: o.bucket });
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
    .option('--bucket <bucket>', 'lake bucket', DEFAULT_LAKE_BUCKET)
    .action(async (pipelineName: string, name: string | undefined, o: { bucket: string }) => {
      const pipeline = await pipelineNamed(ctx, pipelineName);
      const ep = await ctx.endpoints();
      const s3 = localS3Client(ep.s3);
      try {
        const runs = await listQueryRuns(s3, o.bucket, pipeline.name, name);
        if (runs.length === 0) console.error(`no runs recorded for ${pipeline.name}${name ? `/${name}` : ''}`);
        else printRuns(runs);
      } finally {
        s3.destroy();
      }
    });
}
