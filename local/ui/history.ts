/**
 * The last minutes of the runtime's counters, sampled once a second, for the
 * UI's live charts. Every number comes from `LocalRuntime.status()`; the only
 * arithmetic here is the per-second rate between two samples.
 */
import type { PipelineStatus } from '../runtime';

export interface Sample {
  /** Epoch millis of the sample. */
  readonly t: number;
  /** Records read from the source, all shards/partitions. */
  readonly eventsIn: number;
  /** (eventsIn − previous eventsIn) per second; null for the first sample. */
  readonly eventsPerSec: number | null;
  /** Largest MillisBehindLatest over the shards (Kinesis iterator age); null when unknown. */
  readonly lagMs: number | null;
  /** Largest offset lag over the partitions (Kafka); null when unknown. */
  readonly lagRecords: number | null;
  readonly received: number;
  readonly raw: number;
  readonly filtered: number;
  readonly quarantined: number;
  readonly late: number;
  readonly objects: number;
  readonly batches: number;
  readonly failures: number;
  readonly retries: number;
  readonly discarded: number;
}

export interface HistoryOptions {
  /** @default 1000 */
  readonly intervalMs?: number;
  /** How far back the charts go. @default 600000 (10 minutes) */
  readonly keepMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

const maxOrNull = (xs: readonly (number | null)[]): number | null => {
  const known = xs.filter((x): x is number => x !== null);
  return known.length ? Math.max(...known) : null;
};

export function sampleOf(s: PipelineStatus, t: number, prev: Sample | undefined): Sample {
  const parts = s.mapping?.partitions ?? [];
  const sum = (k: 'eventsIn' | 'failures' | 'retries' | 'discarded') => parts.reduce((n, p) => n + p[k], 0);
  const eventsIn = sum('eventsIn');
  const dt = prev ? (t - prev.t) / 1000 : 0;
  return {
    t,
    eventsIn,
    eventsPerSec: prev && dt > 0 ? Math.max(0, (eventsIn - prev.eventsIn) / dt) : null,
    lagMs: maxOrNull(parts.map((p) => p.millisBehindLatest)),
    lagRecords: maxOrNull(parts.map((p) => p.recordsBehindLatest)),
    received: s.counts.received,
    raw: s.counts.raw,
    filtered: s.counts.filtered,
    quarantined: s.counts.quarantined,
    late: s.counts.late,
    objects: s.counts.objects,
    batches: s.counts.batches,
    failures: sum('failures'),
    retries: sum('retries'),
    discarded: sum('discarded'),
  };
}

export class StatusHistory {
  private readonly samples = new Map<string, Sample[]>();
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(
    private readonly status: () => readonly PipelineStatus[],
    private readonly opts: HistoryOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.opts.intervalMs ?? 1_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  sample(): void {
    const t = this.now();
    const keep = this.opts.keepMs ?? 600_000;
    for (const s of this.status()) {
      const list = this.samples.get(s.pipeline) ?? [];
      list.push(sampleOf(s, t, list.at(-1)));
      while (list.length > 0 && list[0]!.t < t - keep) list.shift();
      this.samples.set(s.pipeline, list);
    }
  }

  of(pipeline: string): readonly Sample[] {
    return this.samples.get(pipeline) ?? [];
  }
}
