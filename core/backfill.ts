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
import { KMV_K } from './kmv-sketch';
import { quoteIdentifier, timestampLiteral } from './filter-compile';
import { derivedColumnSql, pipelineFilterSql } from './pipeline-expr';
import type { Measure, Pipeline } from './pipeline';
import { utcDate } from './schedule';

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
}

const ceilTo = (t: number, step: number) => Math.ceil(t / step) * step;

function measureSql(m: Measure, exactDistinct: boolean): string {
  const s = m.spec;
  const col = 'field' in s && s.field !== undefined ? quoteIdentifier(s.field) : '*';
  switch (s.fn) {
    case 'count': return `COUNT(${col}) AS ${m.name}`;
    case 'sum': return `SUM(${col}) AS ${m.name}`;
    case 'min': return `MIN(${col}) AS ${m.name}`;
    case 'max': return `MAX(${col}) AS ${m.name}`;
    case 'avg': return `AVG(CAST(${col} AS double)) AS ${m.name}`;
    // Athena's approx_distinct: HyperLogLog, 2.3 % standard error by default (Athena/Trino docs).
    case 'approxDistinct': return exactDistinct ? `COUNT(DISTINCT ${col}) AS ${m.name}` : `approx_distinct(${col}) AS ${m.name}`;
  }
}

/**
 * Plans the backfill of the windows that start in [from, to). Tumbling windows
 * are a bucketed GROUP BY; hopping windows UNNEST the size / every window
 * starts of each event.
 */
export function planBackfill(p: Pipeline, range: BackfillRange, opts: BackfillOptions = {}): BackfillPlan {
  const a = p.aggregate;
  if (!a) throw new BackfillError(`Pipeline "${p.name}" has no aggregate to backfill`);
  if (!(Number.isFinite(range.from) && Number.isFinite(range.to))) throw new BackfillError(`Pipeline "${p.name}": backfill range must be two times (given ${range.from} .. ${range.to})`);
  const w = a.window;
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
  const measureFields = [...new Set(a.measures.flatMap((m) => ('field' in m.spec && m.spec.field !== undefined ? [m.spec.field] : [])))];
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
  const sql =
    `SELECT window_start, window_start + INTERVAL '${sizeS}' SECOND AS window_end${groups.map((g) => `, ${g}`).join('')}, ${a.measures.map((m) => measureSql(m, opts.exactDistinct ?? false)).join(', ')}\n` +
    `FROM (\n  ${inner}\n) e\nGROUP BY ${keys.join(', ')}\nORDER BY ${keys.join(', ')}`;

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
    `SELECT window_start, window_end${groups.map((g) => `, ${g}`).join('')}, ${a.measures.map((m) => m.name).join(', ')}\n` +
    `FROM ${p.database}.${a.view}\n` +
    `WHERE ${viewWhere.join(' AND ')}\n` +
    `ORDER BY ${keys.join(', ')}`;
  return { sql, viewSql, firstWindow, lastWindow, eventTimeFrom, eventTimeTo };
}

// ---------------------------------------------------------------------------
// Comparing a backfill with the streaming view
// ---------------------------------------------------------------------------

/** Relative standard error of the view's KMV estimate above k distinct values: 1/√(k−2) (≈ 3.1 % at k = 1024). */
export const KMV_RELATIVE_ERROR = 1 / Math.sqrt(KMV_K - 2);
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

/** Athena prints `timestamp with time zone` with a zone suffix; both sides key on the UTC wall time. */
const normTime = (v: string | null) => (v ?? '').replace(/ UTC$/, '');

/**
 * Compares backfill rows with view rows (both with the view's columns):
 * count, min, max exact; sum and avg within `doubleTolerance`; approx distinct
 * within `sigmas` combined standard errors of the two estimators (the KMV
 * estimate is exact below k distinct values).
 */
export function compareWithView(p: Pipeline, backfill: ResultTable, streaming: ResultTable, opts: CompareOptions = {}): CompareResult {
  const a = p.aggregate;
  if (!a) throw new BackfillError(`Pipeline "${p.name}" has no aggregate to compare`);
  const index = (t: ResultTable, side: string) => {
    const pos = new Map(t.columns.map((c, i) => [c.name, i]));
    for (const c of ['window_start', ...a.groupBy, ...a.measures.map((m) => m.name)]) {
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
    for (const m of a.measures) {
      const bv = br[b.pos.get(m.name)!] ?? null;
      const sv = sr[s.pos.get(m.name)!] ?? null;
      const reason = compareValue(m, bv, sv, { tol, sigmas, batchErr });
      if (reason) {
        ok = false;
        differences.push({ key, column: m.name, backfill: bv, streaming: sv, reason });
      }
    }
    if (ok) matched++;
  }
  for (const key of s.rows.keys()) {
    if (!b.rows.has(key)) differences.push({ key, column: 'row', backfill: null, streaming: 'present', reason: 'window and group only in the streaming view' });
  }
  return { rowsBackfill: b.rows.size, rowsStreaming: s.rows.size, matched, differences };
}

function compareValue(m: Measure, bv: string | null, sv: string | null, o: { tol: number; sigmas: number; batchErr: number }): string | null {
  if (bv === null || sv === null) return bv === sv ? null : 'NULL on one side only';
  const x = Number(bv);
  const y = Number(sv);
  switch (m.spec.fn) {
    case 'count':
      return x === y ? null : `counts differ by ${x - y}`;
    case 'min':
    case 'max':
      // Timestamps compare as text; numbers as numbers (1.0 and 1 are equal).
      return (Number.isNaN(x) ? normTime(bv) === normTime(sv) : x === y) ? null : `${m.spec.fn} differs`;
    case 'sum':
    case 'avg':
      return Math.abs(x - y) <= o.tol * Math.max(1, Math.abs(x), Math.abs(y)) ? null : `differs by ${x - y} (relative ${((x - y) / Math.max(Math.abs(y), 1e-300)).toExponential(2)})`;
    case 'approxDistinct': {
      const kmvErr = y < KMV_K ? 0 : KMV_RELATIVE_ERROR;
      const sigma = Math.sqrt(kmvErr ** 2 + o.batchErr ** 2);
      const allowed = o.sigmas * sigma * Math.max(x, y);
      return Math.abs(x - y) <= allowed ? null : `distinct estimates differ by ${x - y}, more than ${o.sigmas} × ${(sigma * 100).toFixed(1)} % combined standard error`;
    }
  }
}
