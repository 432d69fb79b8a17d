/**
 * The local stand-in for EventBridge Scheduler: fires each scheduled query of
 * each pipeline at its fire times (UTC) through the same runner the Lambda
 * uses, and at start catches up runs missed while it was down — since the
 * last run record in the lake, or since the scheduler first saw the query —
 * at most the `maxCatchUp` most recent per query.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AthenaClient } from '@aws-sdk/client-athena';
import type { S3Client } from '@aws-sdk/client-s3';
import { latestFireTime, nextFireTimes, parseSchedule, previousFireTime, type Pipeline } from '../core';
import { listQueryRuns, runScheduledQuery, type QueryRunRecord } from '../functions/query-runner/run-scheduled-query';
import type { Logger } from '../functions/shared/logger';
import { silentLogger } from '../functions/shared/logger';

// The runner, for the CLI (cli/ imports local/, not functions/).
export { listQueryRuns, runScheduledQuery, type QueryRunRecord } from '../functions/query-runner/run-scheduled-query';

export interface SchedulerOptions {
  readonly pipelines: readonly Pipeline[];
  readonly athena: AthenaClient;
  readonly s3: S3Client;
  /** Lake bucket: results and run records. */
  readonly bucket: string;
  /** Holds `scheduler.json` (when each query was first seen). */
  readonly dataDir: string;
  /** Missed runs caught up per query at start, 0-1000. @default 24 */
  readonly maxCatchUp?: number;
  /** @default 'primary' */
  readonly workgroup?: string;
  /** @default Date.now (tests move time) */
  readonly now?: () => number;
  /** Longest sleep between clock checks, milliseconds: bounds drift after a laptop sleeps. @default 30000 */
  readonly maxSleepMs?: number;
  /** Whole-query retry base, milliseconds. @default 2000 */
  readonly retryBaseMs?: number;
  readonly logger?: Logger;
  /** Called after every run (tests, status). */
  readonly onRun?: (r: QueryRunRecord) => void;
}

export interface LocalScheduler {
  /** Resolves when the catch-up runs queued at start are done. */
  readonly caughtUp: Promise<void>;
  stop(): Promise<void>;
}

interface SchedulerState {
  /** `<pipeline>/<query>` → ISO time the scheduler first saw the query. */
  firstSeen: Record<string, string>;
}

async function readState(file: string): Promise<SchedulerState> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as SchedulerState;
  } catch {
    return { firstSeen: {} };
  }
}

export async function startScheduler(opts: SchedulerOptions): Promise<LocalScheduler> {
  const now = opts.now ?? Date.now;
  const log = opts.logger ?? silentLogger;
  const maxCatchUp = opts.maxCatchUp ?? 24;
  if (!Number.isInteger(maxCatchUp) || maxCatchUp < 0 || maxCatchUp > 1000) throw new Error(`maxCatchUp must be a whole number between 0 and 1000 inclusive (given ${maxCatchUp})`);
  await fs.mkdir(opts.dataDir, { recursive: true });
  const stateFile = path.join(opts.dataDir, 'scheduler.json');
  const state = await readState(stateFile);

  const jobs = opts.pipelines.flatMap((p) => p.scheduledQueries.map((q) => ({ pipeline: p, query: q, key: `${p.name}/${q.name}`, schedule: parseSchedule(q.schedule), next: 0, chain: Promise.resolve() })));
  const t0 = now();
  for (const j of jobs) state.firstSeen[j.key] ??= new Date(t0).toISOString();
  await fs.writeFile(stateFile, JSON.stringify(state, null, 2));

  let stopped = false;
  const run = (j: (typeof jobs)[number], at: number): Promise<void> => {
    // One run at a time per query, in fire-time order.
    j.chain = j.chain.then(async () => {
      if (stopped) return;
      try {
        const r = await runScheduledQuery(j.pipeline, j.query.name, at, {
          athena: opts.athena,
          s3: opts.s3,
          bucket: opts.bucket,
          ...(opts.workgroup ? { workgroup: opts.workgroup } : {}),
          ...(opts.retryBaseMs !== undefined ? { retryBaseMs: opts.retryBaseMs } : {}),
          now,
        });
        log[r.status === 'SUCCEEDED' ? 'info' : 'error']('scheduled query run', { pipeline: r.pipeline, query: r.query, status: r.status, intervalStart: r.intervalStart, error: r.error });
        opts.onRun?.(r);
      } catch (err) {
        log.error('scheduled query could not run', { pipeline: j.pipeline.name, query: j.query.name, scheduledTime: new Date(at).toISOString(), error: err });
      }
    });
    return j.chain;
  };

  // Catch up: every fire time after the last recorded interval end (or first sight) up to now, bounded.
  const catchUps: Promise<void>[] = [];
  for (const j of jobs) {
    const runs = await listQueryRuns(opts.s3, opts.bucket, j.pipeline.name, j.query.name).catch(() => [] as QueryRunRecord[]);
    const lastEnd = runs.length ? Math.max(...runs.map((r) => Date.parse(r.intervalEnd))) : Date.parse(state.firstSeen[j.key]!);
    const latest = latestFireTime(j.schedule, t0);
    const missed: number[] = [];
    if (latest !== null && latest > lastEnd) {
      // Walk back from the latest fire time: the newest runs matter most when the bound cuts.
      let t: number | null = latest;
      while (t !== null && t > lastEnd && missed.length < maxCatchUp) {
        missed.unshift(t);
        t = previousFireTime(j.schedule, t);
      }
    }
    if (missed.length) log.info('catching up missed runs', { pipeline: j.pipeline.name, query: j.query.name, runs: missed.length });
    for (const t of missed) catchUps.push(run(j, t));
    j.next = nextFireTimes(j.schedule, t0, 1)[0] ?? Infinity;
  }

  let timer: NodeJS.Timeout | null = null;
  const tick = () => {
    if (stopped) return;
    const t = now();
    for (const j of jobs) {
      if (j.next <= t) {
        // A fire time passed while we slept too long: run the newest only; catch-up covers the rest at the next start.
        const due = latestFireTime(j.schedule, t)!;
        void run(j, due);
        j.next = nextFireTimes(j.schedule, t, 1)[0] ?? Infinity;
      }
    }
    const soonest = Math.min(...jobs.map((j) => j.next));
    const wait = Math.max(0, Math.min(opts.maxSleepMs ?? 30_000, soonest - now()));
    timer = setTimeout(tick, wait);
    timer.unref();
  };
  if (jobs.length > 0) tick();

  return {
    caughtUp: Promise.all(catchUps).then(() => undefined),
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await Promise.all(jobs.map((j) => j.chain));
    },
  };
}
