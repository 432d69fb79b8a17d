/**
 * One batch through the engine: decode → validate → filter → late check →
 * raw rows + partial aggregates. Pure: the handler does the I/O.
 *
 * Every record lands in exactly one of: raw (and the partials), filtered
 * (dropped by design, counted), quarantined (with its reason), late.
 * So received = raw + filtered + quarantined + late, always.
 */
import { compileDecoder, compileRecordDecoder, type DecodeResult } from './codec';
import { compileDerive, ExprEvalError } from './expr-compile';
import { floorToMultiple } from './iso-time';
import { pipelineAggregators } from './partial-aggregate';
import { partitionOf, partitionPath } from './partition';
import type { Pipeline } from './pipeline';
import { columnTypesOf, compilePipelineFilter } from './pipeline-expr';
import type { Row } from './schema';

/** A record as both sources deliver it, reduced to what the engine needs. */
export interface SourceRecord {
  /** Record payload, base64 (Kinesis `data`, MSK `value`). */
  readonly data: string;
  /** Arrival time at the stream, epoch ms (Kinesis approximateArrivalTimestamp, Kafka timestamp). */
  readonly arrivalTime: number;
  /** Sequence number or offset. */
  readonly position: string;
  /** Shard id or topic-partition. */
  readonly source: string;
}

export interface BatchCounts {
  received: number;
  raw: number;
  filtered: number;
  quarantined: number;
  late: number;
  /** Partial rows written (per window and group). */
  partials: number;
}

/** Rows per table role, grouped by partition path (dt=…/hour=…). */
export interface BatchOutput {
  readonly raw: Map<string, Row[]>;
  readonly late: Map<string, Row[]>;
  readonly quarantine: Map<string, Row[]>;
  /** Per aggregate, by its partials table's name (Aggregate.partials): rows by partition path. */
  readonly partials: Map<string, Map<string, Row[]>>;
  readonly counts: BatchCounts;
}

/** A pipeline compiled once per container: the per-record work has no set-up cost. */
export interface CompiledPipeline {
  readonly pipeline: Pipeline;
  readonly decode: (json: string) => DecodeResult;
  /** `decode` of the base64 record data, with the scanner's fast path (core/codec.ts compileRecordDecoder). */
  readonly decodeRecord: (data: string) => DecodeResult;
  /** Sets the derived columns on a decoded row; the rejection when one cannot be evaluated (core/expr-compile.ts compileDerive). */
  readonly derive: (row: Row) => { readonly reason: string; readonly field: string } | null;
  /** TRUE-only; an expression filter throws ExprEvalError when it cannot be evaluated on the row. */
  readonly predicate: (row: Row) => boolean;
}

export function compilePipeline(pipeline: Pipeline): CompiledPipeline {
  return {
    pipeline,
    decode: compileDecoder(pipeline.schema),
    decodeRecord: compileRecordDecoder(pipeline.schema),
    derive: compileDerive(pipeline.derive ?? [], columnTypesOf(pipeline.schema)),
    predicate: compilePipelineFilter(pipeline) ?? (() => true),
  };
}

function push(map: Map<string, Row[]>, key: string, row: Row): void {
  const rows = map.get(key);
  if (rows) rows.push(row);
  else map.set(key, [row]);
}

/**
 * Partition path of an epoch-ms time, cached per hour: computing the ISO date
 * per record was the costliest step of the loop. The last hour is checked
 * first (most rows of a batch share it); late events spread over older hours,
 * which a map keeps.
 */
function partitionPathCache(): (ms: number) => string {
  let hourStart = NaN;
  let cached = '';
  const hours = new Map<number, string>();
  return (ms) => {
    const h = floorToMultiple(ms, 3_600_000);
    if (h !== hourStart) {
      hourStart = h;
      let path = hours.get(h);
      if (path === undefined) hours.set(h, (path = partitionPath(partitionOf(h))));
      cached = path;
    }
    return cached;
  };
}

export function processBatch(c: CompiledPipeline, records: readonly SourceRecord[]): BatchOutput {
  const p = c.pipeline;
  const out: BatchOutput = {
    raw: new Map(),
    late: new Map(),
    quarantine: new Map(),
    partials: new Map(),
    counts: { received: records.length, raw: 0, filtered: 0, quarantined: 0, late: 0, partials: 0 },
  };
  const aggregators = pipelineAggregators(p);
  const single = aggregators.length === 1 ? aggregators[0]! : null;
  const eventPath = partitionPathCache();
  // Late events belong to older hours than the batch's raw rows: with one cache for both, every
  // late event would evict the raw rows' hour and the next raw row would recompute it.
  const latePath = partitionPathCache();
  const arrivalPath = partitionPathCache();
  const lateness = p.allowedLatenessMs;
  let rawPath = '';
  let rawRows: Row[] = [];

  const quarantine = (r: SourceRecord, reason: string, field: string) => {
    out.counts.quarantined++;
    push(out.quarantine, arrivalPath(r.arrivalTime), { received_at: r.arrivalTime, source: r.source, position: r.position, reason, field, payload: r.data });
  };

  for (const r of records) {
    const decoded = c.decodeRecord(r.data);
    if (decoded.rejection) {
      quarantine(r, decoded.rejection.reason, decoded.rejection.field);
      continue;
    }
    const row = decoded.row;
    // Derived columns first: the filter may read them.
    const failed = c.derive(row);
    if (failed !== null) {
      quarantine(r, failed.reason, failed.field);
      continue;
    }
    let pass: boolean;
    try {
      pass = c.predicate(row);
    } catch (err) {
      if (!(err instanceof ExprEvalError)) throw err;
      quarantine(r, `filter: ${err.message}`, '');
      continue;
    }
    if (!pass) {
      out.counts.filtered++;
      continue;
    }
    const eventTime = row[p.eventTime] as number;
    const late = r.arrivalTime - eventTime;
    if (late > lateness) {
      out.counts.late++;
      // The row is this record's own object: extended in place, as a spread copy cost more than the late
      // events' whole decode.
      row.arrival_time = r.arrivalTime;
      row.lateness_ms = late;
      push(out.late, latePath(eventTime), row);
      continue;
    }
    out.counts.raw++;
    // Most rows of a batch share one partition: skip the map lookup for them.
    const path = eventPath(eventTime);
    if (path !== rawPath) {
      rawPath = path;
      rawRows = out.raw.get(path) ?? [];
      if (rawRows.length === 0) out.raw.set(path, rawRows);
    }
    rawRows.push(row);
    if (single) single.add(row, eventTime);
    else for (let i = 0; i < aggregators.length; i++) aggregators[i]!.add(row, eventTime);
  }

  p.aggregates.forEach((a, i) => {
    const aggregator = aggregators[i]!;
    const byPath = new Map<string, Row[]>();
    for (const row of aggregator.rows()) push(byPath, eventPath(row.window_start as number), row);
    out.partials.set(a.partials, byPath);
    out.counts.partials += aggregator.size;
    aggregator.release();
  });
  return out;
}
