import fs from 'node:fs/promises';
import path from 'node:path';

/** One row of bench/results.json: a measured rate against a baseline measured in the same run. */
export interface BenchResult {
  readonly name: string;
  readonly events_per_s: number;
  readonly baseline: string;
  readonly baseline_events_per_s: number;
  /** events_per_s / baseline_events_per_s */
  readonly ratio: number;
  /** Free-form context shown in BENCHMARKS.md (sizes, goals, units other than events/s). */
  readonly notes?: string;
}

/** What each benchmark suite returns: rows for results.json and a Markdown section for BENCHMARKS.md. */
export interface BenchSuiteOutput {
  readonly results: readonly BenchResult[];
  /** Markdown: a '## Title' heading, a table, and a sentence on how to read it. */
  readonly markdown: string;
}

export function result(name: string, eventsPerS: number, baseline: string, baselinePerS: number, notes?: string): BenchResult {
  return {
    name,
    events_per_s: rounded(eventsPerS),
    baseline,
    baseline_events_per_s: rounded(baselinePerS),
    ratio: Number((eventsPerS / baselinePerS).toFixed(3)),
    ...(notes ? { notes } : {}),
  };
}

/** Whole numbers for rates ≥ 100; two decimals below, so that slow things (queries/s) keep their digits. */
function rounded(x: number): number {
  return x >= 100 ? Math.round(x) : Number(x.toFixed(2));
}

/**
 * A new scratch folder for one bench run, under the repository's bench/tmp/ (git-ignored), not
 * os.tmpdir(): `dev` keeps its state in the project folder (.shardflow/), and a bench that writes
 * lake objects and emulator files should pay what `dev` pays. On the machines this project is
 * measured on, creating a file under /tmp costs about ten times what it costs elsewhere on the
 * same disk, which would swamp the per-object costs these suites compare.
 */
export async function benchScratchDir(prefix: string): Promise<string> {
  const root = path.resolve(import.meta.dirname, '..', '..', 'bench', 'tmp');
  await fs.mkdir(root, { recursive: true });
  return fs.mkdtemp(path.join(root, `${prefix}-`));
}
