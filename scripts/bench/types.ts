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
