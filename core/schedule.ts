/**
 * EventBridge schedule expressions (UTC) and the interval a scheduled run covers.
 *
 * Syntax as the EventBridge user guide documents it ("Cron expressions reference",
 * "Rate expressions"):
 *
 * - `rate(N unit)`: N a positive whole number; unit `minute|hour|day` when N = 1,
 *   `minutes|hours|days` otherwise.
 * - `cron(min hour day-of-month month day-of-week year)`: min 0-59, hour 0-23,
 *   day-of-month 1-31 (`, - * ? / L W`), month 1-12 or JAN-DEC, day-of-week 1-7
 *   or SUN-SAT with 1 = SUN (`, - * ? L #`), year 1970-2199. Exactly one of
 *   day-of-month and day-of-week is `?`. `#` allows one expression only.
 *
 * EventBridge Scheduler starts a rate schedule when it is created; Shardflow
 * anchors rate grids at the Unix epoch instead, so that a run's interval is a
 * function of the expression and a time alone (runs are then idempotent and
 * re-runnable from anywhere). A run at scheduled time T covers
 * [previous fire time, T), where T is first floored to a fire time.
 */
import { timestampLiteral } from './filter-compile';

/** A schedule expression that breaks EventBridge's syntax. The message names the field and the rule. */
export class ScheduleExpressionError extends Error {
  constructor(readonly expression: string, message: string) {
    super(`schedule ${JSON.stringify(expression)}: ${message}`);
    this.name = 'ScheduleExpressionError';
  }
}

/** A placeholder in scheduled SQL that the runner does not know, or a bad render input. */
export class QueryRenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryRenderError';
  }
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const MIN_YEAR = 1970;
const MAX_YEAR = 2199;

export interface RateSchedule {
  readonly kind: 'rate';
  readonly expression: string;
  /** Period, milliseconds. */
  readonly everyMs: number;
}

/** Day-of-month rule: a set of days, or L (last day), or nW / LW (nearest weekday). */
type DomRule =
  | { readonly kind: 'any' }
  | { readonly kind: 'days'; readonly days: ReadonlySet<number> }
  | { readonly kind: 'last' }
  | { readonly kind: 'weekday'; readonly day: number | 'L' };

/** Day-of-week rule (1 = SUN … 7 = SAT): a set, or nL (last such day of the month), or n#k (k-th such day). */
type DowRule =
  | { readonly kind: 'any' }
  | { readonly kind: 'days'; readonly days: ReadonlySet<number> }
  | { readonly kind: 'last'; readonly dow: number }
  | { readonly kind: 'nth'; readonly dow: number; readonly nth: number };

export interface CronSchedule {
  readonly kind: 'cron';
  readonly expression: string;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  readonly years: ReadonlySet<number>;
  readonly dom: DomRule;
  readonly dow: DowRule;
}

export type Schedule = RateSchedule | CronSchedule;

/** The time range one run covers: [start, end), epoch millis UTC. */
export interface RunInterval {
  readonly start: number;
  readonly end: number;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldDef {
  readonly name: string;
  readonly lo: number;
  readonly hi: number;
  readonly names?: readonly string[];
  readonly step: boolean;
}

const F_MIN: FieldDef = { name: 'Minutes', lo: 0, hi: 59, step: true };
const F_HOUR: FieldDef = { name: 'Hours', lo: 0, hi: 23, step: true };
const F_DOM: FieldDef = { name: 'Day-of-month', lo: 1, hi: 31, step: true };
const F_MONTH: FieldDef = { name: 'Month', lo: 1, hi: 12, names: MONTHS, step: true };
const F_DOW: FieldDef = { name: 'Day-of-week', lo: 1, hi: 7, names: DAYS, step: false };
const F_YEAR: FieldDef = { name: 'Year', lo: MIN_YEAR, hi: MAX_YEAR, step: true };

const cache = new Map<string, Schedule>();

/** Parses and validates an expression. Throws ScheduleExpressionError naming the field and the rule. */
export function parseSchedule(expression: string): Schedule {
  const text = typeof expression === 'string' ? expression.trim() : '';
  const hit = cache.get(text);
  if (hit) return hit;
  const s = parseUncached(text, String(expression));
  if (cache.size > 1000) cache.clear();
  cache.set(text, s);
  return s;
}

function parseUncached(text: string, original: string): Schedule {
  const fail = (msg: string): never => {
    throw new ScheduleExpressionError(original, msg);
  };
  const rate = /^rate\((.*)\)$/.exec(text);
  if (rate) {
    const m = /^\s*(\d+)\s+([a-z]+)\s*$/.exec(rate[1]!);
    if (!m) return fail(`rate() needs "<whole number> <unit>", such as rate(5 minutes) (given "${rate[1]}")`);
    const n = Number(m[1]);
    const unit = m[2]!;
    const base = unit.replace(/s$/, '');
    const unitMs = base === 'minute' ? MINUTE_MS : base === 'hour' ? HOUR_MS : base === 'day' ? DAY_MS : fail(`rate unit must be minute(s), hour(s) or day(s) (given "${unit}")`);
    if (!Number.isSafeInteger(n) || n < 1) fail(`rate value must be a whole number ≥ 1 (given ${m[1]})`);
    if (n === 1 && unit !== base) fail(`rate(1 ${unit}) must use the singular unit: rate(1 ${base})`);
    if (n > 1 && unit === base) fail(`rate(${n} ${unit}) must use the plural unit: rate(${n} ${base}s)`);
    return { kind: 'rate', expression: text, everyMs: n * unitMs };
  }
  const cron = /^cron\((.*)\)$/.exec(text);
  if (!cron) return fail(`must be rate(N unit) or cron(minutes hours day-of-month month day-of-week year)`);
  const parts = cron[1]!.trim().split(/\s+/);
  if (parts.length !== 6) fail(`cron() needs 6 fields (minutes hours day-of-month month day-of-week year), given ${parts.length}`);
  const [pMin, pHour, pDom, pMonth, pDow, pYear] = parts as [string, string, string, string, string, string];
  const domAny = pDom === '?';
  const dowAny = pDow === '?';
  if (domAny === dowAny) {
    fail(domAny
      ? 'Day-of-month and Day-of-week cannot both be ?: give one of them a value or *'
      : `one of Day-of-month and Day-of-week must be ? (given "${pDom}" and "${pDow}")`);
  }
  return {
    kind: 'cron',
    expression: text,
    minutes: parseSet(pMin, F_MIN, fail),
    hours: parseSet(pHour, F_HOUR, fail),
    months: parseSet(pMonth, F_MONTH, fail),
    years: parseSet(pYear, F_YEAR, fail),
    dom: domAny ? { kind: 'any' } : parseDom(pDom, fail),
    dow: dowAny ? { kind: 'any' } : parseDow(pDow, fail),
  };
}

type Fail = (msg: string) => never;

function parseValue(tok: string, f: FieldDef, fail: Fail): number {
  const upper = tok.toUpperCase();
  const named = f.names?.indexOf(upper) ?? -1;
  const v = named >= 0 ? named + 1 : /^\d+$/.test(tok) ? Number(tok) : fail(`${f.name}: "${tok}" is not a number${f.names ? ` or a name (${f.names[0]}-${f.names[f.names.length - 1]})` : ''}`);
  if (v < f.lo || v > f.hi) fail(`${f.name}: ${tok} is outside ${f.lo}-${f.hi}`);
  return v;
}

/** `*`, `a`, `a-b`, `a/s`, `*\/s`, `a-b/s`, and comma lists of those. */
function parseSet(field: string, f: FieldDef, fail: Fail): Set<number> {
  const out = new Set<number>();
  for (const item of field.split(',')) {
    if (item === '') fail(`${f.name}: empty list item in "${field}"`);
    if (item === '?') fail(`${f.name}: ? is allowed only in Day-of-month and Day-of-week`);
    const [range, stepText, extra] = item.split('/');
    if (extra !== undefined) fail(`${f.name}: "${item}" has more than one /`);
    let step = 1;
    if (stepText !== undefined) {
      if (!f.step) fail(`${f.name}: the / wildcard is not allowed in this field (given "${item}")`);
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1) fail(`${f.name}: step must be a whole number ≥ 1 (given "${item}")`);
      step = Number(stepText);
    }
    let lo: number;
    let hi: number;
    if (range === '*') {
      lo = f.lo;
      hi = f.hi;
    } else if (range!.includes('-')) {
      const [a, b, c] = range!.split('-');
      if (c !== undefined || a === '' || b === '') fail(`${f.name}: "${item}" is not a range a-b`);
      lo = parseValue(a!, f, fail);
      hi = parseValue(b!, f, fail);
      if (lo > hi) fail(`${f.name}: range ${range} goes backwards (${lo} > ${hi})`);
    } else {
      lo = parseValue(range!, f, fail);
      // "a/s" starts at a and runs to the end of the field, as in the guide's 1/10 example.
      hi = stepText !== undefined ? f.hi : lo;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

function parseDom(field: string, fail: Fail): DomRule {
  const up = field.toUpperCase();
  if (up === 'L') return { kind: 'last' };
  if (up === 'LW') return { kind: 'weekday', day: 'L' };
  const w = /^(\d+)W$/.exec(up);
  if (w) return { kind: 'weekday', day: parseValue(w[1]!, F_DOM, fail) };
  if (/[LW]/.test(up)) fail(`Day-of-month: L and W stand alone (L, LW or nW, such as 3W), not in lists or ranges (given "${field}")`);
  return { kind: 'days', days: parseSet(field, F_DOM, fail) };
}

function parseDow(field: string, fail: Fail): DowRule {
  const up = field.toUpperCase();
  if (up.includes('#')) {
    if (up.includes(',')) fail(`Day-of-week: with # only one expression is allowed (given "${field}")`);
    const m = /^([A-Z0-9]+)#(\d+)$/.exec(up);
    if (!m) fail(`Day-of-week: # needs day#n, such as 3#2 for the second Tuesday (given "${field}")`);
    const nth = Number(m![2]);
    if (nth < 1 || nth > 5) fail(`Day-of-week: the n of day#n must be 1-5 (given "${field}")`);
    return { kind: 'nth', dow: parseValue(m![1]!, F_DOW, fail), nth };
  }
  if (up === 'L') return { kind: 'days', days: new Set([7]) }; // L alone: the last day of the week, every SAT
  const l = /^([A-Z0-9]+)L$/.exec(up);
  if (l) return { kind: 'last', dow: parseValue(l[1]!, F_DOW, fail) };
  if (up.includes('L')) fail(`Day-of-week: L stands alone or after one day (L, 5L), not in lists or ranges (given "${field}")`);
  return { kind: 'days', days: parseSet(field, F_DOW, fail) };
}

// ---------------------------------------------------------------------------
// Fire times
// ---------------------------------------------------------------------------

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** 1 = SUN … 7 = SAT. */
function dayOfWeek(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
}

function nearestWeekday(year: number, month: number, day: number): number {
  const last = daysInMonth(year, month);
  const d = Math.min(day, last);
  const dow = dayOfWeek(year, month, d);
  // Saturday → Friday, Sunday → Monday, never crossing into another month.
  if (dow === 7) return d === 1 ? 3 : d - 1;
  if (dow === 1) return d === last ? d - 2 : d + 1;
  return d;
}

function dayMatches(c: CronSchedule, year: number, month: number, day: number): boolean {
  if (!c.years.has(year) || !c.months.has(month)) return false;
  const last = daysInMonth(year, month);
  if (day > last) return false;
  switch (c.dom.kind) {
    case 'days': if (!c.dom.days.has(day)) return false; break;
    case 'last': if (day !== last) return false; break;
    case 'weekday': if (day !== nearestWeekday(year, month, c.dom.day === 'L' ? last : c.dom.day)) return false; break;
    case 'any': break;
  }
  const dow = dayOfWeek(year, month, day);
  switch (c.dow.kind) {
    case 'days': return c.dow.days.has(dow);
    case 'last': return dow === c.dow.dow && day + 7 > last;
    case 'nth': return dow === c.dow.dow && Math.ceil(day / 7) === c.dow.nth;
    case 'any': return true;
  }
}

const sorted = (s: ReadonlySet<number>) => [...s].sort((a, b) => a - b);

/** Fire time candidates of one day, ascending. */
function timesOfDay(c: CronSchedule, dayStart: number): number[] {
  const out: number[] = [];
  for (const h of sorted(c.hours)) for (const m of sorted(c.minutes)) out.push(dayStart + h * HOUR_MS + m * MINUTE_MS);
  return out;
}

const END_OF_RANGE = Date.UTC(MAX_YEAR + 1, 0, 1);
const START_OF_RANGE = Date.UTC(MIN_YEAR, 0, 1);

function nextCron(c: CronSchedule, after: number): number | null {
  let day = Math.floor(after / DAY_MS) * DAY_MS;
  while (day < END_OF_RANGE) {
    const d = new Date(day);
    const y = d.getUTCFullYear();
    const mo = d.getUTCMonth() + 1;
    if (!c.years.has(y)) {
      day = Date.UTC(y + 1, 0, 1);
      continue;
    }
    if (!c.months.has(mo)) {
      day = Date.UTC(y, mo, 1);
      continue;
    }
    if (dayMatches(c, y, mo, d.getUTCDate())) {
      for (const t of timesOfDay(c, day)) if (t > after) return t;
    }
    day += DAY_MS;
  }
  return null;
}

function prevCron(c: CronSchedule, before: number): number | null {
  let day = Math.floor((before - 1) / DAY_MS) * DAY_MS;
  while (day >= START_OF_RANGE) {
    const d = new Date(day);
    const y = d.getUTCFullYear();
    const mo = d.getUTCMonth() + 1;
    if (!c.years.has(y)) {
      day = Date.UTC(y, 0, 1) - DAY_MS;
      continue;
    }
    if (!c.months.has(mo)) {
      day = Date.UTC(y, mo - 1, 1) - DAY_MS;
      continue;
    }
    if (dayMatches(c, y, mo, d.getUTCDate())) {
      const ts = timesOfDay(c, day);
      for (let i = ts.length - 1; i >= 0; i--) if (ts[i]! < before) return ts[i]!;
    }
    day -= DAY_MS;
  }
  return null;
}

const asSchedule = (s: string | Schedule): Schedule => (typeof s === 'string' ? parseSchedule(s) : s);

/** The next `n` fire times strictly after `after` (epoch ms, UTC); fewer when the schedule ends (year 2199). */
export function nextFireTimes(expr: string | Schedule, after: number, n: number): number[] {
  const s = asSchedule(expr);
  const out: number[] = [];
  let t = after;
  for (let i = 0; i < n; i++) {
    const next = s.kind === 'rate' ? Math.floor(t / s.everyMs) * s.everyMs + s.everyMs : nextCron(s, t);
    if (next === null) break;
    out.push(next);
    t = next;
  }
  return out;
}

/** The latest fire time strictly before `at`, or null if there is none (before 1970 for cron). */
export function previousFireTime(expr: string | Schedule, at: number): number | null {
  const s = asSchedule(expr);
  if (s.kind === 'rate') return Math.ceil(at / s.everyMs) * s.everyMs - s.everyMs;
  return prevCron(s, at);
}

/** The latest fire time at or before `at`. */
export function latestFireTime(expr: string | Schedule, at: number): number | null {
  return previousFireTime(expr, at + 1);
}

/**
 * The interval a run at `scheduledTime` covers: [previous fire time, fire time),
 * where the fire time is `scheduledTime` floored to the schedule (so a late or
 * manual run covers the last complete interval, and the same interval twice).
 */
export function runInterval(expr: string | Schedule, scheduledTime: number): RunInterval {
  const s = asSchedule(expr);
  const end = latestFireTime(s, scheduledTime);
  const start = end === null ? null : previousFireTime(s, end);
  if (end === null || start === null) {
    throw new QueryRenderError(`schedule ${s.expression} has no complete interval ending at or before ${new Date(scheduledTime).toISOString()}`);
  }
  return { start, end };
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

export const PLACEHOLDERS = ['window_start', 'window_end', 'dt', 'hour', 'dt_start', 'dt_end'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

const PLACEHOLDER_RE = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** yyyy-MM-dd of an instant, UTC. */
export function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The SQL literal each placeholder becomes for an interval. */
export function placeholderValues(interval: RunInterval): Record<Placeholder, string> {
  if (!(Number.isFinite(interval.start) && Number.isFinite(interval.end) && interval.start < interval.end)) {
    throw new QueryRenderError(`interval must have start < end (given ${interval.start} .. ${interval.end})`);
  }
  return {
    window_start: timestampLiteral(interval.start, 'window_start'),
    window_end: timestampLiteral(interval.end, 'window_end'),
    // Partition values of the interval start: dt is varchar, hour is an integer (Hive partition types).
    dt: `'${utcDate(interval.start)}'`,
    hour: String(new Date(interval.start).getUTCHours()),
    dt_start: `'${utcDate(interval.start)}'`,
    // The date of the last millisecond inside the interval, so `dt BETWEEN {{dt_start}} AND {{dt_end}}` is exact.
    dt_end: `'${utcDate(interval.end - 1)}'`,
  };
}

/** Names of the placeholders a SQL text uses, in order of first use. */
export function placeholdersIn(sql: string): string[] {
  return [...new Set([...sql.matchAll(PLACEHOLDER_RE)].map((m) => m[1]!))];
}

/**
 * Fills the placeholders for the interval of a run: {{window_start}} and
 * {{window_end}} as `TIMESTAMP 'yyyy-MM-dd HH:mm:ss.SSS'`, {{dt}} and {{hour}}
 * of the interval start ('yyyy-MM-dd' and an integer), {{dt_start}} and
 * {{dt_end}} as 'yyyy-MM-dd' (the first and last day the interval touches).
 * `scheduledTime` is checked to lie at or after the interval's end.
 */
export function renderQuery(sql: string, scheduledTime: number, interval: RunInterval): string {
  const values = placeholderValues(interval);
  if (!(scheduledTime >= interval.end)) {
    throw new QueryRenderError(`scheduled time ${new Date(scheduledTime).toISOString()} is before the end of the interval it covers (${new Date(interval.end).toISOString()})`);
  }
  const unknown = placeholdersIn(sql).filter((n) => !(PLACEHOLDERS as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new QueryRenderError(`unknown placeholder ${unknown.map((n) => `{{${n}}}`).join(', ')} (known: ${PLACEHOLDERS.map((n) => `{{${n}}}`).join(', ')})`);
  }
  return sql.replace(PLACEHOLDER_RE, (_m, name: string) => values[name as Placeholder]);
}
