/**
 * Session windows (docs/architecture.md "Session windows"): per group, a
 * session is a run of events each less than `gap` after the one before; a
 * pause of `gap` or more starts the next session. Each event stands for the
 * half-open interval [t, t + gap), and a session is a connected stretch of
 * their union: it starts at its first event and ends (exclusive) at its last
 * event + gap, as a Flink session window does.
 *
 * Partials stay stateless: each batch cuts its own events of each group into
 * partial sessions, and the view merges the partial sessions of all batches
 * whose intervals overlap (gaps and islands). A partial session's interval is
 * the union of its events' intervals, so the islands of the partials are the
 * sessions of all events in one pass, whatever the batches, their order or
 * their split — a late event that falls between two partial sessions of other
 * batches bridges them in the merge.
 *
 * The one rule, in both the JS and the SQL: a partial session [s, e) joins the
 * session before it (ordered by start) when s < that session's end, i.e. two
 * events exactly `gap` apart are two sessions. (Flink's TimeWindow.intersects
 * compares inclusively and would merge them; half-open intervals keep a
 * session's window_end exclusive, as every other window's is here.)
 */
import { timestampLiteral } from './filter-compile';

/** Longest gap a session window may have. A session's partials are read without partition bounds, and backfill reads one gap on each side of its range. */
export const MAX_SESSION_GAP_MS = 86_400_000;

/** Names the view's SQL uses for its intermediate columns; a partial column may not use them. */
export const SESSION_RESERVED_COLUMNS = ['_opens', '_island', '_part_start', '_part_end'] as const;

/** One session of the events of a sorted run: indexes [first, last] into it, and its interval. */
export interface SessionCut {
  readonly first: number;
  readonly last: number;
  /** First event time, epoch ms. */
  readonly start: number;
  /** Last event time + gap, epoch ms, exclusive. */
  readonly end: number;
}

/**
 * Cuts one group's event times, sorted ascending, into sessions: a new one
 * starts where an event is `gapMs` or more after the one before.
 */
export function cutSessions(sortedTimes: ArrayLike<number>, gapMs: number): SessionCut[] {
  const out: SessionCut[] = [];
  const n = sortedTimes.length;
  let first = 0;
  for (let i = 1; i <= n; i++) {
    if (i === n || sortedTimes[i]! - sortedTimes[i - 1]! >= gapMs) {
      out.push({ first, last: i - 1, start: sortedTimes[first]!, end: sortedTimes[i - 1]! + gapMs });
      first = i;
    }
  }
  return out;
}

/** One group's events of a batch, in arrival order: times and rows side by side. */
interface GroupEvents<R> {
  readonly times: number[];
  readonly rows: R[];
}

/**
 * A batch's events per group, held until the batch ends and then cut into its
 * partial sessions: sessions need a group's events in time order, and a batch
 * delivers them in arrival order.
 */
export class SessionBuffer<R> {
  private readonly groups = new Map<string, GroupEvents<R>>();

  constructor(private readonly gapMs: number) {}

  add(groupKey: string, row: R, eventTime: number): void {
    let g = this.groups.get(groupKey);
    if (!g) this.groups.set(groupKey, (g = { times: [], rows: [] }));
    g.times.push(eventTime);
    g.rows.push(row);
  }

  /**
   * Calls `emit` once per partial session: its cut, and its group's rows in
   * time order (ties in arrival order), of which rows[cut.first..cut.last] are its own.
   */
  forEachSession(emit: (groupKey: string, cut: SessionCut, rows: readonly R[]) => void): void {
    for (const [key, g] of this.groups) {
      const n = g.times.length;
      // Mostly in order already (a shard's records arrive roughly by event time): sort only when needed.
      let sorted = true;
      for (let i = 1; i < n && sorted; i++) sorted = g.times[i - 1]! <= g.times[i]!;
      let times = g.times;
      let rows = g.rows;
      if (!sorted) {
        const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => g.times[a]! - g.times[b]! || a - b);
        times = order.map((i) => g.times[i]!);
        rows = order.map((i) => g.rows[i]!);
      }
      for (const c of cutSessions(times, this.gapMs)) emit(key, c, rows);
    }
  }
}

/** A (partial) session of one group: its interval and what it carries (measures' partial values). */
export interface SessionPart<T> {
  /** The group's key: equal keys, same group. */
  readonly group: string;
  /** Epoch ms, inclusive. */
  readonly start: number;
  /** Epoch ms, exclusive; greater than start. */
  readonly end: number;
  readonly value: T;
}

/**
 * Merges partial sessions into sessions: per group, ordered by start, a part
 * whose start is before the running end joins the session, otherwise it opens
 * the next one. The JS twin of `sessionMergeSql`. `merge` combines two values
 * (it must be associative and commutative, as every measure's merge is).
 * Sessions come out per group in order of start, groups in order of first appearance.
 */
export function mergeSessions<T>(parts: Iterable<SessionPart<T>>, merge: (a: T, b: T) => T): SessionPart<T>[] {
  const byGroup = new Map<string, SessionPart<T>[]>();
  for (const p of parts) {
    let list = byGroup.get(p.group);
    if (!list) byGroup.set(p.group, (list = []));
    list.push(p);
  }
  const out: SessionPart<T>[] = [];
  for (const list of byGroup.values()) {
    list.sort((a, b) => a.start - b.start || a.end - b.end);
    let cur = list[0]!;
    for (let i = 1; i < list.length; i++) {
      const p = list[i]!;
      if (p.start < cur.end) {
        cur = { group: cur.group, start: cur.start, end: Math.max(cur.end, p.end), value: merge(cur.value, p.value) };
      } else {
        out.push(cur);
        cur = p;
      }
    }
    out.push(cur);
  }
  return out;
}

/** The partial sessions a view merges. Identifiers as SQL text, quoted where they need it. */
export interface SessionSourceSqlInput {
  /** The relation holding the partial sessions, e.g. `shardflow.orders_partials`. */
  readonly from: string;
  /** Group-by columns. */
  readonly groupBy: readonly string[];
  /** The partial columns of the measures, besides window_start and window_end. */
  readonly partialColumns: readonly string[];
}

/**
 * Gaps and islands over partial sessions, in Athena's SQL (and so, through the
 * local endpoint's translation, DuckDB's): a FROM item with every partial row,
 * its window_start and window_end replaced by its session's, and dt and hour
 * of the session's start (UTC; the partition of its first partial). A part
 * opens a session unless its start is before the greatest end of the parts
 * before it (by start, within its group); a running sum of the openings
 * numbers the sessions. Grouped by window and groups (and dt, hour, which
 * follow from window_start), as every aggregate view groups its partials,
 * the rows of one session merge into one.
 */
export function sessionSourceSql(s: SessionSourceSqlInput): string {
  const [opens, island, partStart, partEnd] = SESSION_RESERVED_COLUMNS.map((c) => `"${c}"`);
  const byGroup = s.groupBy.length > 0 ? `PARTITION BY ${s.groupBy.join(', ')} ` : '';
  const over = `${byGroup}ORDER BY window_start, window_end`;
  const kept = [...s.groupBy, ...s.partialColumns];
  const opened =
    `SELECT ${[...kept, 'window_start', 'window_end'].join(', ')},
` +
    `          CASE WHEN window_start < max(window_end) OVER (${over} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) THEN 0 ELSE 1 END AS ${opens}
` +
    `        FROM ${s.from}`;
  const numbered =
    `SELECT ${[...kept, `window_start AS ${partStart}`, `window_end AS ${partEnd}`].join(', ')}, sum(${opens}) OVER (${over} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS ${island}
` +
    `      FROM (
        ${opened}
      ) opened`;
  const session = `OVER (PARTITION BY ${[...s.groupBy, island].join(', ')})`;
  const start = `min(${partStart}) ${session}`;
  return (
    `(
  SELECT ${[...kept, `${start} AS window_start`, `max(${partEnd}) ${session} AS window_end`].join(', ')},
` +
    `    date_format(${start}, '%Y-%m-%d') AS dt, CAST(hour(${start}) AS integer) AS hour
` +
    `  FROM (
      ${numbered}
  ) numbered
) sessions`
  );
}

/** What `sessionMergeSql` is built from: the partial sessions, and the measures' merge. */
export interface SessionMergeSqlInput extends SessionSourceSqlInput {
  /** Per measure, its merge over the partials of one session, as an aggregate: `SUM(events) AS events`. */
  readonly merge: readonly string[];
  /** The output columns after the window and groups, over the merged columns: `events`, `s / NULLIF(c, 0) AS mean`. */
  readonly finalize: readonly string[];
}

/**
 * Sessions with their measures merged: `sessionSourceSql` grouped by window
 * and groups, the shape of every aggregate view (core/lake-table.ts
 * aggregateView, which builds the session view from sessionSourceSql itself).
 * Columns: window_start, window_end, the groups, `finalize`, dt, hour.
 */
export function sessionMergeSql(s: SessionMergeSqlInput): string {
  const keys = ['window_start', 'window_end', ...s.groupBy, 'dt', 'hour'];
  return (
    `SELECT ${['window_start', 'window_end', ...s.groupBy, ...s.finalize, 'dt', 'hour'].join(', ')}
` +
    `FROM (
  SELECT ${[...keys, ...s.merge].join(', ')}
  FROM ${sessionSourceSql(s)}
  GROUP BY ${keys.join(', ')}
) merged`
  );
}

/** What the backfill's session SQL is built from. Identifiers as SQL text, quoted where they need it. */
export interface SessionBackfillSqlInput {
  /** The raw table, qualified; read as `r`. */
  readonly from: string;
  /** The event-time column (a timestamp). */
  readonly eventTime: string;
  readonly groupBy: readonly string[];
  /** The other columns the measures read. */
  readonly carried: readonly string[];
  /** Further conditions on `r` (partition bounds, the pipeline's filter). */
  readonly where: readonly string[];
  /** The measures' select items over one session's events (`COUNT(*) AS events`), the view columns they make, in order. */
  readonly items: readonly string[];
  readonly columns: readonly string[];
  /** Window-function columns over the events the items read, before the GROUP BY; `{partition}` stands for the session's columns. */
  readonly pre?: readonly string[];
  readonly gapMs: number;
  /** Sessions that start in [from, to), epoch ms UTC. */
  readonly range: { readonly from: number; readonly to: number };
}

/**
 * Sessions straight from raw events, in Athena's SQL, for backfill: an event
 * opens a session unless it is less than gap after the event before it (lag,
 * per group, by time), a running sum numbers the sessions, and each session's
 * measures are aggregates over its events. A formulation of its own, not the
 * view's merge of intervals, so that comparing the two checks one with the other.
 *
 * Sessions are not bounded in length, so a range of event times cannot hold
 * every session that starts in it. The result is the sessions that start in
 * [from, to) and end by to + gap (their last event at or before `to`), read
 * from the events of [from − gap, to + gap): the margin before `from` shows
 * whether an event just before makes a session start earlier, the one after
 * `to` whether it goes on. Such a session is then exactly the view's.
 * Columns: window_start, window_end, the groups, the measures.
 */
export function sessionBackfillSql(s: SessionBackfillSqlInput): string {
  const [opens, island] = SESSION_RESERVED_COLUMNS.map((c) => `"${c}"`);
  const et = s.eventTime;
  const gapS = s.gapMs / 1000;
  const over = `${s.groupBy.length > 0 ? `PARTITION BY ${s.groupBy.join(', ')} ` : ''}ORDER BY ${et}`;
  const cols = [...new Set([...s.groupBy, et, ...s.carried])];
  const lit = (ms: number) => timestampLiteral(ms, 'backfill range');
  const { from, to } = s.range;
  const where = [`r.${et} >= ${lit(from - s.gapMs)}`, `r.${et} < ${lit(to + s.gapMs)}`, ...s.where];
  const opened =
    `SELECT ${cols.map((c) => `r.${c}`).join(', ')},\n` +
    `        CASE WHEN r.${et} < lag(r.${et}) OVER (${over}) + INTERVAL '${gapS}' SECOND THEN 0 ELSE 1 END AS ${opens}\n` +
    `      FROM ${s.from} r\n      WHERE ${where.join('\n        AND ')}`;
  const numbered = `SELECT ${cols.join(', ')}, sum(${opens}) OVER (${over} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS ${island}\n    FROM (\n      ${opened}\n    ) opened`;
  const partition = [...s.groupBy, island].join(', ');
  const pre = (s.pre ?? []).map((x) => x.replaceAll('{partition}', partition));
  const events = pre.length > 0 ? `(\n    SELECT *, ${pre.join(', ')} FROM (\n    ${numbered}\n    ) numbered\n  ) events` : `(\n    ${numbered}\n  ) events`;
  const sessions =
    `SELECT ${[...s.groupBy, `min(${et}) AS window_start`, `max(${et}) + INTERVAL '${gapS}' SECOND AS window_end`, ...s.items].join(', ')}\n` +
    `  FROM ${events}\n` +
    `  GROUP BY ${partition}`;
  return (
    `SELECT ${['window_start', 'window_end', ...s.groupBy, ...s.columns].join(', ')}\nFROM (\n  ${sessions}\n) sessions\n` +
    `WHERE window_start >= ${lit(from)} AND window_start < ${lit(to)} AND window_end <= ${lit(to + s.gapMs)}\n` +
    `ORDER BY ${['window_start', ...s.groupBy].join(', ')}`
  );
}
