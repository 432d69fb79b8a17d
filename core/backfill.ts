/**
 * Batch backfill: the pipeline's windowed aggregate computed in one Athena
 * query over the raw table, for the windows that start in [from, to). It must
 * agree with the streaming aggregate view row for row: exactly for counts,
 * sums, mins and maxes (up to double rounding of sums), approximately for
 * distinct counts (the view's KMV sketch against Athena's HyperLogLog).
 *
 * The raw table holds exactly the rows the stream processor aggregated (valid,
 * passing the filter, not late), so the filter in the WHERE clause changes
 * nothing there; it keeps the SQL right for a raw table that holds more.
 * SQL generation only: no I/O.
 */
import type { Aggregate, Measure } from './aggregate';
import { quoteIdentifier, timestampLiteral } from './filter-compile';
import { measureKind } from './measures/index';
import { normTime, type BackfillSql, type Tolerance } from './measures/types';
import { derivedColumnSql, pipelineColumns, pipelineFilterSql } from './pipeline-expr';
import type { Pipeline } from './pipeline';
import type { FieldType } from './schema';
import { utcDate } from './schedule';
import { planSessionBackfill } from './session-backfill';

/** A backfill request that cannot be turned into SQL. Names the pipeline and the rule. */
export class BackfillError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackfillError';
  }
}

export interface BackfillRange {
  /** Inclusive, epoch millis UTC: windows starting at or after it. */
  readonly from: number;
  /** Exclusive, epoch millis UTC: windows starting before it. */
  readonly to: number;
}

export interface BackfillPlan {
  /** Athena SQL over the raw table; columns as the aggregate view's, ordered by window then group. */
  readonly sql: string;
  /** The same windows read from the streaming view. */
  readonly viewSql: string;
  /** First and last window start covered, epoch ms. */
  readonly firstWindow: number;
  readonly lastWindow: number;
  /** Event times read: [from, to), epoch ms. */
  readonly eventTimeFrom: number;
  readonly eventTimeTo: number;
}

export interface BackfillOptions {
  /** COUNT(DISTINCT x) instead of approx_distinct(x): exact, at the price of memory per group. @default false */
  readonly exactDistinct?: boolean;
  /** Which aggregate, by its view's name. @default the first */
  readonly view?: string;
}

const ceilTo = (t: number, step: number) => Math.ceil(t / step) * step;

/** The aggregate a backfill is of: the one whose view is `view`, else the first. */
export function backfillAggregate(p: Pipeline, view: string | undefined): Aggregate {
  if (p.aggregates.length === 0) throw new BackfillError(`Pipeline "${p.name}" has no aggregate to backfill`);
  if (view === undefined) return p.aggregates[0]!;
  const a = p.aggregates.find((x) => x.view === view);
  if (!a) throw new BackfillError(`Pipeline "${p.name}" has no aggregate view ${JSON.stringify(view)} (its views: ${p.aggregates.map((x) => x.view).join(', ')})`);
  return a;
}

/**
 * Plans the backfill of the windows that start in [from, to). Tumbling windows
 * are a bucketed GROUP BY; hopping windows UNNEST the size / every window
 * starts of each event; session windows are core/session-backfill.ts's (the
 * sessions that start in [from, to) and end by to + gap).
 */
export function planBackfill(p: Pipeline, range: BackfillRange, opts: BackfillOptions = {}): BackfillPlan {
  const a = backfillAggregate(p, opts.view);
  if (!(Number.isFinite(range.from) && Number.isFinite(range.to))) throw new BackfillError(`Pipeline "${p.name}": backfill range must be two times (given ${range.from} .. ${range.to})`);
  const w = a.window;
  if (w.kind === 'session') {
    if (!(range.to > range.from)) throw new BackfillError(`Pipeline "${p.name}": the backfill range is empty (${new Date(range.from).toISOString()} .. ${new Date(range.to).toISOString()})`);
    return planSessionBackfill(p, a, w, range, opts);
  }
  const step = w.kind === 'tumbling' ? w.sizeMs : w.everyMs;
  const firstWindow = ceilTo(range.from, step);
  const lastWindow = ceilTo(range.to, step) - step;
  if (lastWindow < firstWindow) {
    throw new BackfillError(`Pipeline "${p.name}": no window starts in [${new Date(range.from).toISOString()}, ${new Date(range.to).toISOString()}) (windows start every ${step / 1000} s)`);
  }
  const eventTimeFrom = firstWindow;
  const eventTimeTo = lastWindow + w.sizeMs;
  const et = quoteIdentifier(p.eventTime);
  // Partition pruning: constant bounds on dt (and on hour within one day), AND-ed at the top (docs/athena-sql.md).
  const dayFrom = utcDate(eventTimeFrom);
  const dayTo = utcDate(eventTimeTo - 1);
  const partitionBounds = (q: string) => [
    dayFrom === dayTo ? `${q}dt = '${dayFrom}'` : `${q}dt BETWEEN '${dayFrom}' AND '${dayTo}'`,
    ...(dayFrom === dayTo ? [`${q}hour BETWEEN ${new Date(eventTimeFrom).getUTCHours()} AND ${new Date(eventTimeTo - 1).getUTCHours()}`] : []),
  ];
  // Derived columns are computed from the schema's columns with the same expressions the handler ran
  // (core/expr-compile.ts exprToSql), in a subquery that keeps the partition bounds on the table itself.
  const derived = derivedColumnSql(p);
  const raw = `${p.database}.${p.tables.raw}`;
  const table = derived.size === 0
    ? raw
    : `(\n    SELECT ${[...p.schema.map((f) => quoteIdentifier(f.name)), ...[...derived].map(([n, sql]) => `${sql} AS ${quoteIdentifier(n)}`), 'dt', 'hour'].join(', ')}\n    FROM ${raw}\n    WHERE ${partitionBounds('').join(' AND ')}\n  )`;
  const filterSql = pipelineFilterSql(p);
  const where = [
    ...partitionBounds('r.'),
    `r.${et} >= ${timestampLiteral(eventTimeFrom, p.eventTime)}`,
    `r.${et} < ${timestampLiteral(eventTimeTo, p.eventTime)}`,
    ...(filterSql !== null ? [filterSql] : []),
  ];

  const groups = a.groupBy.map(quoteIdentifier);
  const kinds = a.measures.map((m) => measureKind(m.spec));
  const measureFields = [...new Set(a.measures.flatMap((m, i) => kinds[i]!.inputs(m.spec)))];
  const carried = [...new Set([...a.groupBy, ...measureFields])].map((f) => `r.${quoteIdentifier(f)}`);
  const sizeS = w.sizeMs / 1000;
  const stepS = step / 1000;
  // Window starts in whole seconds since the epoch; from_unixtime is UTC, and the CAST drops the zone Athena adds.
  const bucket = (offset: string) => `CAST(from_unixtime((floor(to_unixtime(r.${et}) / ${stepS})${offset}) * ${stepS}) AS timestamp)`;
  let inner: string;
  if (w.kind === 'tumbling') {
    inner = `SELECT ${bucket('')} AS window_start, ${carried.join(', ')}\n  FROM ${table} r\n  WHERE ${where.join('\n    AND ')}`;
  } else {
    const n = w.sizeMs / w.everyMs;
    inner =
      `SELECT * FROM (\n  SELECT ${bucket(' - h.k')} AS window_start, ${carried.join(', ')}\n  FROM ${table} r CROSS JOIN UNNEST(sequence(0, ${n - 1})) AS h (k)\n  WHERE ${where.join('\n    AND ')}\n  ) hopped\n` +
      `  WHERE window_start >= ${timestampLiteral(firstWindow, 'from')} AND window_start <= ${timestampLiteral(lastWindow, 'to')}`;
  }
  const keys = ['window_start', ...groups];
  const sqlOpts = { exactDistinct: opts.exactDistinct ?? false, quote: quoteIdentifier, schema: pipelineColumns(p) };
  const parts = a.measures.map((m, i) => {
    const b = kinds[i]!.backfillSql(m.name, m.spec, sqlOpts);
    return Array.isArray(b) ? { pre: [], items: b } : (b as BackfillSql);
  });
  const pre = parts.flatMap((b) => b.pre ?? []).map((x) => x.replaceAll('{partition}', keys.join(', ')));
  // Window-function columns (minBy's best `by` per window and group) over the events, before the GROUP BY.
  const events = pre.length > 0 ? `(\n  SELECT *, ${pre.join(', ')} FROM (\n  ${inner}\n  ) w\n) e` : `(\n  ${inner}\n) e`;
  const sql =
    `SELECT window_start, window_start + INTERVAL '${sizeS}' SECOND AS window_end${groups.map((g) => `, ${g}`).join('')}, ${parts.flatMap((b) => b.items).join(', ')}\n` +
    `FROM ${events}\nGROUP BY ${keys.join(', ')}\nORDER BY ${keys.join(', ')}`;

  // The view's rows lie in the partition of their window_start (core/lake-table.ts aggregateView):
  // the same kind of constant dt/hour bounds prune it to the windows' partitions.
  const viewDayFrom = utcDate(firstWindow);
  const viewDayTo = utcDate(lastWindow);
  const viewWhere = [
    viewDayFrom === viewDayTo ? `dt = '${viewDayFrom}'` : `dt BETWEEN '${viewDayFrom}' AND '${viewDayTo}'`,
    ...(viewDayFrom === viewDayTo ? [`hour BETWEEN ${new Date(firstWindow).getUTCHours()} AND ${new Date(lastWindow).getUTCHours()}`] : []),
    `window_start >= ${timestampLiteral(firstWindow, 'from')}`,
    `window_start <= ${timestampLiteral(lastWindow, 'to')}`,
  ];
  const viewSql =
    `SELECT window_start, window_end${groups.map((g) => `, ${g}`).join('')}, ${viewMeasureColumns(p, a).join(', ')}\n` +
    `FROM ${p.database}.${a.view}\n` +
    `WHERE ${viewWhere.join(' AND ')}\n` +
    `ORDER BY ${keys.join(', ')}`;
  return { sql, viewSql, firstWindow, lastWindow, eventTimeFrom, eventTimeTo };
}

// ---------------------------------------------------------------------------
// Comparing a backfill with the streaming view
// ---------------------------------------------------------------------------

export { KMV_RELATIVE_ERROR } from './measures/approx-distinct';
/** Athena's approx_distinct default standard error (Athena/Trino docs). */
export const ATHENA_HLL_RELATIVE_ERROR = 0.023;

export interface ResultTable {
  readonly columns: readonly { readonly name: string }[];
  readonly rows: readonly (readonly (string | null)[])[];
}

export interface AggregateDifference {
  /** window_start | group values. */
  readonly key: string;
  /** A measure name, or 'row' when one side lacks the row. */
  readonly column: string;
  readonly backfill: string | null;
  readonly streaming: string | null;
  readonly reason: string;
}

export interface CompareOptions {
  /** Which aggregate, by its view's name. @default the first */
  readonly view?: string;
  /** Relative standard error of the batch side's distinct count. @default ATHENA_HLL_RELATIVE_ERROR (0 with exactDistinct) */
  readonly batchDistinctError?: number;
  /** Allowed deviation in combined standard errors. @default 4 */
  readonly sigmas?: number;
  /** Relative tolerance of double sums and averages (summation order differs). @default 1e-9 */
  readonly doubleTolerance?: number;
}

export interface CompareResult {
  readonly rowsBackfill: number;
  readonly rowsStreaming: number;
  readonly matched: number;
  readonly differences: readonly AggregateDifference[];
}


/**
 * Compares backfill rows with view rows (both with the view's columns):
 * count, min, max exact; sum and avg within `doubleTolerance`; approx distinct
 * within `sigmas` combined standard errors of the two estimators (the KMV
 * estimate is exact below k distinct values).
 */
export function compareWithView(p: Pipeline, backfill: ResultTable, streaming: ResultTable, opts: CompareOptions = {}): CompareResult {
  const a = backfillAggregate(p, opts.view);
  const measureColumns = a.measures.flatMap((m) => measureKind(m.spec).viewColumns(m.name, m.spec, fieldTypeOf(p)).map((c) => ({ m, column: c.name })));
  const index = (t: ResultTable, side: string) => {
    const pos = new Map(t.columns.map((c, i) => [c.name, i]));
    for (const c of ['window_start', ...a.groupBy, ...measureColumns.map((x) => x.column)]) {
      if (!pos.has(c)) throw new BackfillError(`Pipeline "${p.name}": the ${side} result has no column ${c} (columns: ${t.columns.map((x) => x.name).join(', ')})`);
    }
    const rows = new Map<string, readonly (string | null)[]>();
    for (const r of t.rows) rows.set([normTime(r[pos.get('window_start')!]!), ...a.groupBy.map((g) => r[pos.get(g)!] ?? '∅')].join(' | '), r);
    return { pos, rows };
  };
  const b = index(backfill, 'backfill');
  const s = index(streaming, 'streaming');
  const sigmas = opts.sigmas ?? 4;
  const tol = opts.doubleTolerance ?? 1e-9;
  const batchErr = opts.batchDistinctError ?? ATHENA_HLL_RELATIVE_ERROR;
  const differences: AggregateDifference[] = [];
  let matched = 0;
  for (const [key, br] of b.rows) {
    const sr = s.rows.get(key);
    if (!sr) {
      differences.push({ key, column: 'row', backfill: 'present', streaming: null, reason: 'window and group only in the backfill' });
      continue;
    }
    let ok = true;
    // A session's end is its own (its last event + gap); a fixed window's follows from its start, and agrees.
    const [be, se] = [b.pos.get('window_end'), s.pos.get('window_end')];
    if (be !== undefined && se !== undefined && normTime(br[be] ?? null) !== normTime(sr[se] ?? null)) {
      ok = false;
      differences.push({ key, column: 'window_end', backfill: br[be] ?? null, streaming: sr[se] ?? null, reason: 'the window ends differ' });
    }
    for (const { m, column } of measureColumns) {
      const bv = br[b.pos.get(column)!] ?? null;
      const sv = sr[s.pos.get(column)!] ?? null;
      const reason = compareMeasureValue(m, column, bv, sv, { tol, sigmas, batchErr });
      if (reason) {
        ok = false;
        differences.push({ key, column, backfill: bv, streaming: sv, reason });
      }
    }
    if (ok) matched++;
  }
  for (const key of s.rows.keys()) {
    if (!b.rows.has(key)) differences.push({ key, column: 'row', backfill: null, streaming: 'present', reason: 'window and group only in the streaming view' });
  }
  return { rowsBackfill: b.rows.size, rowsStreaming: s.rows.size, matched, differences };
}

/** Whether two values of a measure's view column agree within its kind's tolerance (core/measures/); the reason when not. */
export function compareMeasureValue(m: Measure, column: string, bv: string | null, sv: string | null, o: Tolerance): string | null {
  if (bv === null || sv === null) return bv === sv ? null : 'NULL on one side only';
  return measureKind(m.spec).compare(column, bv, sv, m.spec, o);
}

function fieldTypeOf(p: Pipeline): (n: string) => FieldType {
  const columns = pipelineColumns(p);
  return (n) => columns.find((f) => f.name === n)!.type;
}

/** The view's measure columns of an aggregate (a percentile measure has one per quantile). */
export function viewMeasureColumns(p: Pipeline, a: Aggregate): string[] {
  return a.measures.flatMap((m) => measureKind(m.spec).viewColumns(m.name, m.spec, fieldTypeOf(p)).map((c) => c.name));
}
