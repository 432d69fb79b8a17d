/**
 * Backfill of a session-window aggregate (core/backfill.ts planBackfill hands
 * session windows here): the sessions that start in [from, to) and end by
 * to + gap, computed from the raw events of [from − gap, to + gap) by
 * core/session.ts sessionBackfillSql, and the same sessions read from the
 * view (docs/architecture.md "Session windows"). SQL generation only.
 */
import type { Aggregate } from './aggregate';
import type { BackfillOptions, BackfillPlan, BackfillRange } from './backfill';
import { quoteIdentifier, timestampLiteral } from './filter-compile';
import { measureKind } from './measures/index';
import type { BackfillSql } from './measures/types';
import type { Pipeline } from './pipeline';
import { derivedColumnSql, pipelineColumns, pipelineFilterSql } from './pipeline-expr';
import type { FieldType } from './schema';
import { utcDate } from './schedule';
import { sessionBackfillSql } from './session';
import type { SessionWindow } from './window';

/** Constant dt (and, within one day, hour) bounds on `alias` for the event times [from, to): what lets Athena prune (docs/athena-sql.md). */
function partitionBounds(alias: string, from: number, to: number): string[] {
  const dayFrom = utcDate(from);
  const dayTo = utcDate(to - 1);
  if (dayFrom !== dayTo) return [`${alias}dt BETWEEN '${dayFrom}' AND '${dayTo}'`];
  return [`${alias}dt = '${dayFrom}'`, `${alias}hour BETWEEN ${new Date(from).getUTCHours()} AND ${new Date(to - 1).getUTCHours()}`];
}

export function planSessionBackfill(p: Pipeline, a: Aggregate, w: SessionWindow, range: BackfillRange, opts: BackfillOptions): BackfillPlan {
  const groups = a.groupBy.map(quoteIdentifier);
  const kinds = a.measures.map((m) => measureKind(m.spec));
  const columnsOf = pipelineColumns(p);
  const fieldType = (n: string): FieldType => columnsOf.find((f) => f.name === n)!.type;
  const inputs = a.measures.flatMap((m, i) => kinds[i]!.inputs(m.spec));
  const carried = [...new Set([...a.groupBy, ...inputs])].filter((f) => f !== p.eventTime).map(quoteIdentifier);
  const sqlOpts = { exactDistinct: opts.exactDistinct ?? false, quote: quoteIdentifier, schema: columnsOf };
  const parts = a.measures.map((m, i) => {
    const b = kinds[i]!.backfillSql(m.name, m.spec, sqlOpts);
    return Array.isArray(b) ? { pre: [], items: b } : (b as BackfillSql);
  });
  const columns = a.measures.flatMap((m, i) => kinds[i]!.viewColumns(m.name, m.spec, fieldType).map((c) => c.name));
  const eventTimeFrom = range.from - w.gapMs;
  const eventTimeTo = range.to + w.gapMs;
  // Derived columns computed from the schema's, partition bounds on the table itself: as planBackfill does.
  const derived = derivedColumnSql(p);
  const raw = `${p.database}.${p.tables.raw}`;
  const from = derived.size === 0
    ? raw
    : `(\n    SELECT ${[...p.schema.map((f) => quoteIdentifier(f.name)), ...[...derived].map(([n, x]) => `${x} AS ${quoteIdentifier(n)}`), 'dt', 'hour'].join(', ')}\n    FROM ${raw}\n    WHERE ${partitionBounds('', eventTimeFrom, eventTimeTo).join(' AND ')}\n  )`;
  const filterSql = pipelineFilterSql(p);
  const sql = sessionBackfillSql({
    from,
    eventTime: quoteIdentifier(p.eventTime),
    groupBy: groups,
    carried,
    where: [...partitionBounds('r.', eventTimeFrom, eventTimeTo), ...(filterSql !== null ? [filterSql] : [])],
    items: parts.flatMap((b) => b.items),
    pre: parts.flatMap((b) => b.pre ?? []),
    columns,
    gapMs: w.gapMs,
    range,
  });
  // The view's dt/hour are its sessions' starts' (they prune nothing: core/window-kinds.ts); bounding them still says which sessions.
  const lit = (ms: number) => timestampLiteral(ms, 'backfill range');
  const viewSql =
    `SELECT ${['window_start', 'window_end', ...groups, ...columns].join(', ')}\n` +
    `FROM ${p.database}.${a.view}\n` +
    `WHERE ${[...partitionBounds('', range.from, range.to), `window_start >= ${lit(range.from)}`, `window_start < ${lit(range.to)}`, `window_end <= ${lit(range.to + w.gapMs)}`].join(' AND ')}\n` +
    `ORDER BY ${['window_start', ...groups].join(', ')}`;
  return { sql, viewSql, firstWindow: range.from, lastWindow: range.to - 1, eventTimeFrom, eventTimeTo };
}
