/**
 * A pipeline run on events in memory, for users' unit tests of their pipelines:
 * the handler's own engine (decode, validate, filter, late, partial aggregates),
 * with the view's merge applied, and no stream, lake or AWS.
 */
import type { Pipeline } from './pipeline';
import { finalizePartialRows } from './partial-aggregate';
import { compilePipeline, processBatch, type BatchCounts } from './process-batch';
import type { Row } from './schema';

export interface RunEventsOptions {
  /**
   * Arrival time at the stream, epoch ms: one for every event, or one per event.
   * An event is late when arrival − event time > allowedLateness. @default Date.now()
   */
  readonly arrivalTime?: number | ((event: unknown, index: number) => number);
  /** When the views are read, epoch ms: a window is `closed` once its end + allowedLateness ≤ now. @default Date.now() */
  readonly now?: number;
}

export interface PipelineRun {
  /** Where the events went: received = raw + filtered + quarantined + late. */
  readonly counts: BatchCounts;
  /** Rows of the raw table. */
  readonly raw: readonly Row[];
  /** Rows of the late table (arrival_time and lateness_ms added). */
  readonly late: readonly Row[];
  /** Quarantined records, each with its reason and field. */
  readonly quarantine: readonly Row[];
  /** What the (first) aggregate view returns for these events: final values per window and group, `closed` at the run's time. */
  readonly aggregates: readonly Row[];
  /** The same for every aggregate, by view name. */
  readonly views: Readonly<Record<string, readonly Row[]>>;
}

/** Runs events (objects, or strings sent as they are) through one batch of the pipeline. */
export function runEvents(pipeline: Pipeline, events: readonly unknown[], opts: RunEventsOptions = {}): PipelineRun {
  const now = Date.now();
  const arrival = opts.arrivalTime ?? now;
  const records = events.map((e, i) => ({
    data: Buffer.from(typeof e === 'string' ? e : JSON.stringify(e)).toString('base64'),
    arrivalTime: typeof arrival === 'function' ? arrival(e, i) : arrival,
    position: String(i),
    source: 'test',
  }));
  const out = processBatch(compilePipeline(pipeline), records);
  const all = (m: Map<string, Row[]> | undefined) => [...(m?.values() ?? [])].flat();
  const views = Object.fromEntries(pipeline.aggregates.map((a) => [a.view, finalizePartialRows(a, all(out.partials.get(a.partials)), { now: opts.now ?? now, allowedLatenessMs: pipeline.allowedLatenessMs })]));
  return {
    counts: out.counts,
    raw: all(out.raw),
    late: all(out.late),
    quarantine: all(out.quarantine),
    aggregates: pipeline.aggregates.length > 0 ? views[pipeline.aggregates[0]!.view]! : [],
    views,
  };
}
