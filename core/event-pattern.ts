/**
 * A pure evaluator of Lambda event filtering patterns (`FilterCriteria.Filters[].Pattern`),
 * for the local Kinesis and Kafka event source mapping emulators.
 *
 * Semantics follow Lambda's filter rule syntax (the EventBridge/event-ruler engine):
 * - keys in a pattern are ANDed; the matchers in one rule list are ORed;
 *   a record passes when ANY filter matches; no filters at all → every record passes.
 * - a field missing from the record matches only `{ "exists": false }`; a field
 *   that holds JSON null matches `null`, `{ "exists": true }` and `anything-but`.
 * - `exists` looks at leaf values only; an object-valued field counts as absent.
 * - `numeric` matches JSON numbers only, within -5.0e9..5.0e9 (event-ruler README).
 * - when the record holds an array, the rule matches if any element matches.
 *   (event-ruler's array-consistency across two fields is not modelled.)
 *
 * Records whose payload is not valid JSON (Lambda's documented behaviour):
 * - Kinesis (`data`): Lambda can filter on `data` only when it is valid JSON, so
 *   a filter that references `data` never matches: the record is dropped.
 * - Kafka/MSK (`value`): a plain-string message is matched as a string by rule
 *   lists applied to `value` itself (`{ "value": [ { "prefix": "INFO" } ] }`);
 *   a filter on a field inside `value` never matches it.
 * The emulator passes `decodeRecordPayload(text)`: parsed JSON, or a NonJsonPayload.
 */

/** A record payload that is not valid JSON, kept as text (Kafka matches it as a plain string). */
export class NonJsonPayload {
  constructor(readonly text: string) {}
}

/** Parsed JSON of a record's payload, or a NonJsonPayload when the text is not valid JSON. */
export function decodeRecordPayload(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return new NonJsonPayload(text);
  }
}

/** What a filter sees of a record: the decoded payload under Lambda's key for the source. */
export type FilterableRecord = { readonly data: unknown } | { readonly value: unknown };

export interface FilterSpec {
  readonly pattern: string;
}

/** A pattern Lambda would reject when the event source mapping is created. */
export class FilterPatternError extends Error {
  constructor(pattern: string, problem: string) {
    super(`Invalid filter pattern ${pattern.length > 200 ? `${pattern.slice(0, 200)}…` : pattern}: ${problem}`);
    this.name = 'FilterPatternError';
  }
}

type Leaf = string | number | boolean | null;
type ValueMatcher = (v: Leaf) => boolean;

interface FieldRule {
  readonly path: readonly string[];
  readonly matchers: readonly ValueMatcher[];
  readonly existsTrue: boolean;
  readonly existsFalse: boolean;
}

type CompiledPattern = readonly FieldRule[];

/** event-ruler README: numeric matching is limited to -5.0e9..+5.0e9. */
const NUMERIC_LIMIT = 5.0e9;

/** Compiles filters once; the returned function tests one record. */
export function compileFilterCriteria(filters: readonly FilterSpec[]): (record: FilterableRecord) => boolean {
  if (filters.length === 0) return () => true;
  const patterns = filters.map((f) => compilePattern(f.pattern));
  return (record) => {
    for (const p of patterns) if (matchesPattern(p, record)) return true;
    return false;
  };
}

const cache = new Map<string, CompiledPattern>();
/** Enough for every mapping of a local run; the cache is cleared beyond it. */
const CACHE_LIMIT = 1000;

/** True when the record passes the filters (ANY filter matches, or there are none), as Lambda decides. */
export function matchesFilterCriteria(filters: readonly FilterSpec[], record: FilterableRecord): boolean {
  if (filters.length === 0) return true;
  for (const f of filters) {
    let p = cache.get(f.pattern);
    if (!p) {
      p = compilePattern(f.pattern);
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(f.pattern, p);
    }
    if (matchesPattern(p, record)) return true;
  }
  return false;
}

export function compilePattern(pattern: string): CompiledPattern {
  let parsed: unknown;
  try {
    parsed = JSON.parse(pattern);
  } catch (err) {
    throw new FilterPatternError(pattern, `not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(parsed)) throw new FilterPatternError(pattern, 'must be a JSON object');
  const rules: FieldRule[] = [];
  collectRules(parsed, [], pattern, rules);
  return rules;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function collectRules(node: Record<string, unknown>, path: string[], pattern: string, out: FieldRule[]): void {
  for (const [key, value] of Object.entries(node)) {
    const here = [...path, key];
    if (Array.isArray(value)) out.push(compileRuleList(value, here, pattern));
    else if (isObject(value)) collectRules(value, here, pattern, out);
    else throw new FilterPatternError(pattern, `"${here.join('.')}" must be an array of rules or an object (given ${JSON.stringify(value)})`);
  }
}

function compileRuleList(list: readonly unknown[], path: readonly string[], pattern: string): FieldRule {
  const where = path.join('.');
  if (list.length === 0) throw new FilterPatternError(pattern, `"${where}" has an empty rule list`);
  const matchers: ValueMatcher[] = [];
  let existsTrue = false;
  let existsFalse = false;
  for (const rule of list) {
    if (rule === null || typeof rule === 'string' || typeof rule === 'boolean') {
      matchers.push((v) => v === rule);
    } else if (typeof rule === 'number') {
      matchers.push((v) => typeof v === 'number' && v === rule);
    } else if (isObject(rule)) {
      const keys = Object.keys(rule);
      if (keys.length !== 1) throw new FilterPatternError(pattern, `"${where}": a match expression has exactly one key (given ${JSON.stringify(rule)})`);
      const op = keys[0]!;
      const arg = rule[op];
      if (op === 'exists') {
        if (typeof arg !== 'boolean') throw new FilterPatternError(pattern, `"${where}": exists takes true or false (given ${JSON.stringify(arg)})`);
        if (arg) existsTrue = true;
        else existsFalse = true;
      } else {
        matchers.push(compileMatcher(op, arg, where, pattern));
      }
    } else {
      throw new FilterPatternError(pattern, `"${where}": unsupported rule ${JSON.stringify(rule)}`);
    }
  }
  return { path, matchers, existsTrue, existsFalse };
}

function compileMatcher(op: string, arg: unknown, where: string, pattern: string): ValueMatcher {
  const bad = (what: string): never => { throw new FilterPatternError(pattern, `"${where}": ${op} ${what} (given ${JSON.stringify(arg)})`); };
  switch (op) {
    case 'prefix': {
      if (typeof arg !== 'string') return bad('takes a string');
      const p = arg;
      return (v) => typeof v === 'string' && v.startsWith(p);
    }
    case 'suffix': {
      if (typeof arg !== 'string') return bad('takes a string');
      const s = arg;
      return (v) => typeof v === 'string' && v.endsWith(s);
    }
    case 'equals-ignore-case': {
      if (typeof arg !== 'string') return bad('takes a string');
      const s = arg.toLowerCase();
      return (v) => typeof v === 'string' && v.toLowerCase() === s;
    }
    case 'anything-but': {
      if (isObject(arg)) {
        const p = arg.prefix;
        if (Object.keys(arg).length !== 1 || typeof p !== 'string') return bad('takes a value, a list of values or { "prefix": string }');
        return (v) => !(typeof v === 'string' && v.startsWith(p));
      }
      const values: readonly unknown[] = Array.isArray(arg) ? arg : [arg];
      if (values.length === 0) return bad('needs at least one value');
      const allStrings = values.every((x) => typeof x === 'string');
      const allNumbers = values.every((x) => typeof x === 'number');
      if (!allStrings && !allNumbers) return bad('takes only strings or only numbers');
      // A present null is "anything but" the listed values (as on AWS); a missing field never reaches a matcher.
      const excluded = new Set<unknown>(values);
      return (v) => !excluded.has(v);
    }
    case 'numeric': {
      const test = compileNumeric(arg, bad);
      return (v) => typeof v === 'number' && v >= -NUMERIC_LIMIT && v <= NUMERIC_LIMIT && test(v);
    }
    default:
      return bad('is not a supported match type');
  }
}

function compileNumeric(arg: unknown, bad: (what: string) => never): (v: number) => boolean {
  if (!Array.isArray(arg) || (arg.length !== 2 && arg.length !== 4)) return bad('takes [op, number] or [op, number, op, number]');
  const tests: ((v: number) => boolean)[] = [];
  for (let i = 0; i < arg.length; i += 2) {
    const op: unknown = arg[i];
    const n: unknown = arg[i + 1];
    if (typeof n !== 'number' || !Number.isFinite(n)) return bad('needs numbers after each operator');
    if (n < -NUMERIC_LIMIT || n > NUMERIC_LIMIT) return bad(`values must lie within -5.0e9..5.0e9`);
    switch (op) {
      case '=': if (arg.length !== 2) return bad('"=" stands alone'); tests.push((v) => v === n); break;
      case '>': tests.push((v) => v > n); break;
      case '>=': tests.push((v) => v >= n); break;
      case '<': tests.push((v) => v < n); break;
      case '<=': tests.push((v) => v <= n); break;
      default: return bad(`has unknown operator ${JSON.stringify(op)}`);
    }
  }
  if (tests.length === 1) return tests[0]!;
  const [a, b] = tests as [(v: number) => boolean, (v: number) => boolean];
  return (v) => a(v) && b(v);
}

/** Result of walking a record along a rule's path. */
const NO_MATCH = Symbol('no match');

function matchesPattern(rules: CompiledPattern, record: FilterableRecord): boolean {
  for (const r of rules) if (!matchesRule(r, record)) return false;
  return true;
}

function matchesRule(rule: FieldRule, record: FilterableRecord): boolean {
  const kafka = 'value' in record;
  let present = false;
  let matched = false;
  const visit = (node: unknown, depth: number): typeof NO_MATCH | void => {
    if (node === undefined) return;
    if (Array.isArray(node)) {
      for (const el of node) if (visit(el, depth) === NO_MATCH) return NO_MATCH;
      return;
    }
    if (node instanceof NonJsonPayload) {
      // Kafka: a plain-string message is a string leaf of `value` itself; anything deeper, or Kinesis data, never matches.
      if (!kafka || depth !== rule.path.length) return NO_MATCH;
      node = node.text;
    }
    if (depth === rule.path.length) {
      if (isObject(node)) return; // not a leaf: counts as absent
      present = true;
      if (!matched) for (const m of rule.matchers) if (m(node as Leaf)) { matched = true; break; }
      return;
    }
    if (isObject(node)) return visit(node[rule.path[depth]!], depth + 1);
  };
  if (visit(record, 0) === NO_MATCH) return false;
  return matched || (present ? rule.existsTrue : rule.existsFalse);
}
