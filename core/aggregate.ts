/**
 * Aggregates of a pipeline: `aggregate: {…}` (one) or `aggregates: [{…}, …]`,
 * validated into `Pipeline.aggregates`. Each aggregate has its own partials
 * table and view; one batch writes the partials of all of them
 * (docs/architecture.md "Partial aggregates").
 */
import { parseDuration, type Duration } from './duration';
import { isMeasureFn, measureKind, MEASURES, type MeasureSpec } from './measures/index';
import type { MeasureField } from './measures/types';
import type { SchemaField } from './schema';
import { MAX_SESSION_GAP_MS, SESSION_RESERVED_COLUMNS } from './session';
import { windowToSpec, type Window, type WindowSpec } from './window';

export interface AggregateInput {
  /** Group-by fields (schema fields); may be empty for a global aggregate per window. */
  readonly groupBy: readonly string[];
  readonly window: WindowSpec;
  /** Output column name → measure. */
  readonly measures: Readonly<Record<string, MeasureSpec>>;
  /** Name of the final aggregate view (merge of the partials). */
  readonly view: string;
  /**
   * Name of its partials table. @default the pipeline's `tables.partials`
   * (`<pipeline>_partials`) for the first aggregate, `<view>_partials` for the others.
   */
  readonly partials?: string;
}

export interface Measure {
  readonly name: string;
  readonly spec: MeasureSpec;
}

export interface Aggregate {
  readonly groupBy: readonly string[];
  readonly window: Window;
  readonly measures: readonly Measure[];
  readonly view: string;
  /** Its partials table. */
  readonly partials: string;
}

type Fail = (path: string, rule: string) => never;

const IDENT = /^[a-z_][a-z0-9_]{0,127}$/;

/**
 * Validates `aggregate` / `aggregates`. `fields` are the columns an aggregate
 * may group by and measure (the schema, and derived columns where the
 * definition has them). `taken` are the pipeline's other table names: views
 * and partials tables must differ from them and from each other.
 */
export function checkAggregates(
  input: { readonly aggregate?: AggregateInput; readonly aggregates?: readonly AggregateInput[] },
  fields: ReadonlyMap<string, MeasureField>,
  schema: readonly SchemaField[],
  firstPartials: string,
  taken: readonly string[],
  fail: Fail,
): Aggregate[] {
  if (input.aggregate !== undefined && input.aggregates !== undefined) fail('aggregates', 'give either aggregate (one) or aggregates (a list), not both');
  const list: { a: AggregateInput; path: string }[] = input.aggregates !== undefined
    ? (Array.isArray(input.aggregates) ? input.aggregates : fail('aggregates', 'must be an array of aggregates')).map((a, i) => ({ a, path: `aggregates[${i}]` }))
    : input.aggregate !== undefined ? [{ a: input.aggregate, path: 'aggregate' }] : [];
  const names = new Map<string, string>(taken.map((t) => [t, 'a table of this pipeline']));
  const claim = (name: string, path: string) => {
    const prev = names.get(name);
    if (prev !== undefined) fail(path, `"${name}" is already ${prev}`);
    names.set(name, `used by ${path}`);
  };
  return list.map(({ a, path }, i) => {
    const agg = checkAggregate(a, path, fields, schema, fail, i === 0 ? firstPartials : `${a?.view}_partials`);
    claim(agg.view, `${path}.view`);
    claim(agg.partials, `${path}.partials`);
    return agg;
  });
}

function checkAggregate(a: AggregateInput, at: string, fields: ReadonlyMap<string, MeasureField>, schema: readonly SchemaField[], fail: Fail, defaultPartials: string): Aggregate {
  if (!a || typeof a !== 'object') return fail(at, 'must be an object { groupBy, window, measures, view }');
  if (!Array.isArray(a.groupBy)) fail(`${at}.groupBy`, 'must be an array of field names');
  for (const g of a.groupBy) {
    const f = fields.get(g);
    if (!f) fail(`${at}.groupBy`, `field ${JSON.stringify(g)} is not in the schema (fields: ${[...fields.keys()].join(', ')})`);
    else if (f.type === 'double') fail(`${at}.groupBy`, `field "${g}" is a double; grouping by floating point values is not supported`);
  }
  if (new Set(a.groupBy).size !== a.groupBy.length) fail(`${at}.groupBy`, `lists a field twice (given ${JSON.stringify(a.groupBy)})`);

  const window = checkWindow(a.window, `${at}.window`, fail);
  // The session view's intermediate columns (core/session.ts) sit beside the groups and partial columns.
  const sessionColumns: readonly string[] = window.kind === 'session' ? SESSION_RESERVED_COLUMNS : [];
  for (const g of a.groupBy) if (sessionColumns.includes(g)) fail(`${at}.groupBy`, `"${g}" is reserved by session windows (${sessionColumns.join(', ')})`);

  const measures: Measure[] = [];
  const reserved = new Set(['window_start', 'window_end', 'dt', 'hour', 'closed', ...sessionColumns, ...a.groupBy]);
  const partialColumns = new Map<string, string>();
  const viewColumns = new Map<string, string>();
  for (const [mname, spec] of Object.entries(a.measures ?? {})) {
    const path = `${at}.measures.${mname}`;
    if (!IDENT.test(mname)) fail(path, `measure names must match ${IDENT}`);
    if (reserved.has(mname)) fail(path, `"${mname}" collides with a window, partition, closed or group-by column`);
    if (!spec || typeof spec !== 'object' || !isMeasureFn(spec.fn)) {
      fail(path, `unknown measure ${JSON.stringify((spec as { fn?: unknown } | undefined)?.fn)} (known: ${Object.keys(MEASURES).join(', ')})`);
    }
    const kind = measureKind(spec);
    kind.validate(spec, { path, fields, fail, schema });
    // Partial and view columns of different measures must not collide (avg's `<name>_sum`, percentiles' `<name>_p50` …).
    const type = (n: string) => fields.get(n)!.type;
    for (const [cols, taken] of [[kind.partialColumns(mname, spec, type), partialColumns], [kind.viewColumns(mname, spec, type), viewColumns]] as const) {
      for (const c of cols) {
        const owner = taken.get(c.name) ?? (reserved.has(c.name) ? 'a window, partition, closed or group-by column' : undefined);
        if (owner !== undefined) fail(path, `its column "${c.name}" collides with ${owner}`);
        taken.set(c.name, `a column of measure ${mname}`);
      }
    }
    measures.push({ name: mname, spec: kind.normalize ? kind.normalize(spec) : spec });
  }
  if (measures.length === 0) fail(`${at}.measures`, 'needs at least one measure');
  if (!IDENT.test(a.view ?? '')) fail(`${at}.view`, `must match ${IDENT} (given ${JSON.stringify(a.view)})`);
  const partials = a.partials ?? defaultPartials;
  if (!IDENT.test(partials)) fail(`${at}.partials`, `must match ${IDENT} (given ${JSON.stringify(partials)})`);
  return { groupBy: [...a.groupBy], window, measures, view: a.view, partials };
}

function checkWindow(w: WindowSpec, at: string, fail: Fail): Window {
  if (w?.kind === 'session') return checkSessionWindow(w, at, fail);
  let window: Window;
  const size = parseDuration((w as { size?: Duration } | undefined)?.size as Duration);
  if (!('ms' in size) || size.ms <= 0) return fail(`${at}.size`, 'ms' in size ? 'must be greater than zero' : size.error);
  if (size.ms % 1000 !== 0) fail(`${at}.size`, `must be a whole number of seconds (given ${size.ms} ms)`);
  if (w.kind === 'tumbling') {
    window = { kind: 'tumbling', sizeMs: size.ms };
  } else if (w.kind === 'hopping') {
    const every = parseDuration(w.every);
    if (!('ms' in every) || every.ms <= 0) return fail(`${at}.every`, 'ms' in every ? 'must be greater than zero' : every.error);
    if (size.ms % every.ms !== 0) fail(`${at}.every`, `must divide the window size (size ${size.ms} ms, every ${every.ms} ms)`);
    if (size.ms / every.ms > 60) fail(`${at}.every`, `a hopping window may overlap at most 60 others (size / every = ${size.ms / every.ms})`);
    window = { kind: 'hopping', sizeMs: size.ms, everyMs: every.ms };
  } else {
    return fail(at, `must be tumbling(size), hopping({ size, every }) or session({ gap }) (given ${JSON.stringify(w)})`);
  }
  // Partitions are hourly, so a window must not straddle days in a way that its start hour misleads: keep it ≤ 1 day.
  if (size.ms > 86_400_000) fail(`${at}.size`, `must be at most 1 day (given ${size.ms} ms)`);
  return window;
}

/**
 * A session window's gap (core/session.ts): whole seconds, like every window
 * size (the SQL writes it as INTERVAL '…' SECOND); at most MAX_SESSION_GAP_MS.
 */
function checkSessionWindow(w: Extract<WindowSpec, { kind: 'session' }>, at: string, fail: Fail): Window {
  const gap = parseDuration(w.gap);
  if (!('ms' in gap)) return fail(`${at}.gap`, gap.error);
  if (gap.ms <= 0) fail(`${at}.gap`, `must be greater than zero (given ${gap.ms} ms)`);
  if (gap.ms % 1000 !== 0) fail(`${at}.gap`, `must be a whole number of seconds (given ${gap.ms} ms)`);
  if (gap.ms > MAX_SESSION_GAP_MS) fail(`${at}.gap`, `must be at most 1 day (given ${gap.ms / 1000} s): a longer pause is not a session`);
  return { kind: 'session', gapMs: gap.ms };
}

/** The input that reproduces a validated aggregate. */
export function aggregateToInput(a: Aggregate): AggregateInput {
  return {
    groupBy: a.groupBy,
    window: windowToSpec(a.window),
    measures: Object.fromEntries(a.measures.map((m) => [m.name, m.spec])),
    view: a.view,
    partials: a.partials,
  };
}
