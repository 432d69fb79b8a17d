/**
 * `definePipeline`: the one definition that drives the handler, the CDK stacks,
 * the local runtime and the batch queries. It returns a plain, validated,
 * serialisable object; a bad definition throws a PipelineDefinitionError that
 * names the pipeline, the field and the rule broken.
 */
import { parseDuration, type Duration } from './duration';
import { PipelineDefinitionError } from './errors';
import type { DerivedColumn } from './expr-compile';
import { isExprNode, type Expr, type ExprLike, type ExprNode } from './expr';
import type { FilterExpr } from './filter';
import { filterToSql, compilePredicate } from './filter-compile';
import { aggregateToInput, checkAggregates, type Aggregate, type AggregateInput } from './aggregate';
import { checkDerive, checkExprFilter, columnTypesOf, pipelineColumns, pipelineFilterCriteria } from './pipeline-expr';
import { parseSchedule, placeholdersIn, PLACEHOLDERS } from './schedule';
import { FIELD_TYPES, parseFieldPath, type FieldSpec, type FieldType, type SchemaField } from './schema';

export interface KinesisSourceSpec {
  readonly kind: 'kinesis';
  /** Stream name, 1-128 chars of [a-zA-Z0-9_.-]. */
  readonly stream: string;
  /** Provisioned shard count (1-500 here), or 'on-demand'. */
  readonly shards: number | 'on-demand';
}

export interface KafkaSourceSpec {
  readonly kind: 'kafka';
  /** Topic name, 1-249 chars of [a-zA-Z0-9._-]. */
  readonly topic: string;
  /** Partition count, 1-1000. */
  readonly partitions: number;
}

export type SourceSpec = KinesisSourceSpec | KafkaSourceSpec;

export function kinesisSource(opts: { stream: string; shards?: number | 'on-demand' }): KinesisSourceSpec {
  return { kind: 'kinesis', stream: opts.stream, shards: opts.shards ?? 1 };
}

export function kafkaSource(opts: { topic: string; partitions?: number }): KafkaSourceSpec {
  return { kind: 'kafka', topic: opts.topic, partitions: opts.partitions ?? 1 };
}

export type { AggregateInput, Aggregate, Measure } from './aggregate';

/** Event source mapping options. Same meaning as Lambda's; defaults in DEFAULT_PROCESSING. */
export interface ProcessingInput {
  /** Records per invocation, 1-10000. @default 10000 */
  readonly batchSize?: number;
  /**
   * Wait to fill a batch, 0-300 s. @default '60s': every batch costs about five S3 requests
   * (docs/deploy.md "Cost"), so at 10 events/s a 1 s window costs ~14× what Firehose charges
   * for the same events; 60 s keeps every rate under Firehose's price and adds at most 60 s
   * before events reach the lake (Firehose's own default buffer is 300 s).
   */
  readonly batchingWindow?: Duration;
  /** Concurrent batches per shard, 1-10 (Kinesis only). @default 1 */
  readonly parallelizationFactor?: number;
  /** @default 'TRIM_HORIZON' */
  readonly startingPosition?: 'TRIM_HORIZON' | 'LATEST';
  /** Retries of a failed batch before it goes to the on-failure destination, 0-10000. @default 3 */
  readonly maxRetryAttempts?: number;
  /** Records older than this go to the on-failure destination, 60 s - 7 days. @default '1 day' */
  readonly maxRecordAge?: Duration;
  /** Split a failing batch in two and retry each half. @default true */
  readonly bisectBatchOnError?: boolean;
  /**
   * Also apply the filter as Lambda FilterCriteria, so filtered records never
   * invoke the function. Off by default: Lambda drops records that are not
   * valid JSON or do not match before the handler sees them, so they could not
   * be quarantined or counted. @default false
   */
  readonly lambdaFilterCriteria?: boolean;
}

export interface ProcessingOptions {
  readonly batchSize: number;
  readonly batchingWindowMs: number;
  readonly parallelizationFactor: number;
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  readonly maxRetryAttempts: number;
  readonly maxRecordAgeMs: number;
  readonly bisectBatchOnError: boolean;
  readonly lambdaFilterCriteria: boolean;
}

export interface ScheduledQueryInput {
  /** Unique within the pipeline, [a-z][a-z0-9_]*. */
  readonly name: string;
  /** EventBridge expression: 'rate(1 hour)' or 'cron(0 * * * ? *)' (UTC). */
  readonly schedule: string;
  /**
   * Athena (Trino) SQL. May use {{window_start}}, {{window_end}} (timestamps),
   * {{dt}}, {{hour}}, {{dt_start}}, {{dt_end}} computed from the scheduled time.
   */
  readonly sql: string;
  /** Lake table that collects the results, partitioned by run time. */
  readonly outputTable?: string;
  readonly description?: string;
}

export interface PipelineInput {
  /** [a-z][a-z0-9_-]{0,47}: used in resource names. */
  readonly name: string;
  readonly description?: string;
  readonly source: SourceSpec;
  /**
   * Field name → type. Field names: [a-z_][a-z0-9_]*; the name is the lake column, read from the event's
   * top-level key of that name or from `path` (`{ type: 'string', path: 'customer.country' }`).
   */
  readonly schema: Readonly<Record<string, FieldSpec>>;
  /** The timestamp field that carries event time. */
  readonly eventTime: string;
  /**
   * Computed columns, in order (each may read the schema and the ones before it): evaluated per event after
   * decoding, written to the raw and late tables, usable in filter, groupBy and measures. An event whose
   * expression fails (overflow, division by zero, a failed cast) is quarantined, the reason naming the column.
   */
  readonly derive?: Readonly<Record<string, ExprLike>>;
  /**
   * Events that do not match are dropped by design (counted as filtered): a filter-language expression
   * (`field('x').gt(1)`) or a boolean expression (`col('x').mul(2).gt(col('y'))`), over schema and derived columns.
   */
  readonly filter?: FilterExpr | Expr | ExprNode;
  /** An event is late when arrival − event time > allowedLateness; it goes to the late table. @default '10 minutes' */
  readonly allowedLateness?: Duration;
  /** One aggregate: shorthand for `aggregates: [aggregate]`. */
  readonly aggregate?: AggregateInput;
  /** Several aggregates, each with its own partials table and view; one batch writes them all. */
  readonly aggregates?: readonly AggregateInput[];
  /** Lake table names; defaults derive from the pipeline name. */
  readonly tables?: { readonly raw?: string; readonly partials?: string; readonly late?: string; readonly quarantine?: string };
  /** Glue database. @default 'shardflow' */
  readonly database?: string;
  readonly processing?: ProcessingInput;
  readonly scheduledQueries?: readonly ScheduledQueryInput[];
}

export interface ScheduledQuery {
  readonly name: string;
  readonly schedule: string;
  readonly sql: string;
  readonly outputTable: string | null;
  readonly description: string;
}

export interface TableNames {
  readonly raw: string;
  readonly partials: string;
  readonly late: string;
  readonly quarantine: string;
}

/** A validated pipeline: plain data, JSON round-trips (`pipelineFromJson`). */
export interface Pipeline {
  readonly version: 1;
  readonly name: string;
  readonly description: string;
  readonly source: SourceSpec;
  readonly database: string;
  readonly schema: readonly SchemaField[];
  readonly eventTime: string;
  /** Derived columns in declaration order (core/pipeline-expr.ts). */
  readonly derive: readonly DerivedColumn[];
  readonly filter: FilterExpr | ExprNode | null;
  readonly allowedLatenessMs: number;
  /** Every aggregate, in definition order (`aggregate: {…}` gives one). */
  readonly aggregates: readonly Aggregate[];
  readonly tables: TableNames;
  readonly processing: ProcessingOptions;
  readonly scheduledQueries: readonly ScheduledQuery[];
}

export const DEFAULT_PROCESSING: ProcessingOptions = {
  batchSize: 10_000,
  batchingWindowMs: 60_000,
  parallelizationFactor: 1,
  startingPosition: 'TRIM_HORIZON',
  maxRetryAttempts: 3,
  maxRecordAgeMs: 86_400_000, // 1 day = the default Kinesis retention
  bisectBatchOnError: true,
  lambdaFilterCriteria: false,
};

const PIPELINE_NAME = /^[a-z][a-z0-9_-]{0,47}$/;
const IDENT = /^[a-z_][a-z0-9_]{0,127}$/;
const STREAM_NAME = /^[a-zA-Z0-9_.-]{1,128}$/;
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
/** Columns every lake table reserves for partitions. */
export const PARTITION_COLUMNS = ['dt', 'hour'] as const;

/** Validates a definition and returns the plain Pipeline object. Throws PipelineDefinitionError. */
export function definePipeline(input: PipelineInput): Pipeline {
  const name = typeof input?.name === 'string' ? input.name : String(input?.name);
  const fail = (path: string, rule: string): never => {
    throw new PipelineDefinitionError(name, path, rule);
  };
  if (!PIPELINE_NAME.test(name)) fail('name', `must match ${PIPELINE_NAME} (given ${JSON.stringify(input?.name)})`);

  const source = checkSource(input.source, fail);
  const schema = checkSchema(input.schema, fail);
  const byName = new Map(schema.map((f) => [f.name, f]));

  const et = byName.get(input.eventTime);
  if (!et) fail('eventTime', `names field ${JSON.stringify(input.eventTime)}, which is not in the schema (fields: ${[...byName.keys()].join(', ')})`);
  else if (et.type !== 'timestamp') fail(`eventTime`, `field "${et.name}" must have type timestamp (given ${et.type})`);
  else if (!et.required) fail('eventTime', `field "${et.name}" must be required: every event needs an event time`);

  const derive = checkDerive(input.derive, schema, fail);
  // Filters, groupBy and measures resolve derived columns like schema fields.
  const columns = pipelineColumns({ schema, derive, filter: null });
  const columnsByName = new Map(columns.map((f) => [f.name, f]));

  let filter: FilterExpr | ExprNode | null = null;
  if (input.filter !== undefined && input.filter !== null) {
    if (isExprNode(input.filter)) {
      filter = checkExprFilter(input.filter, columnTypesOf(columns), fail);
    } else {
      filter = input.filter as FilterExpr;
      checkFilter(filter, 'filter', columnsByName, fail);
      // Compile both targets now: a value that only fails to compile must fail at load, not in the handler.
      try {
        compilePredicate(filter, columns);
        filterToSql(filter, columns);
      } catch (err) {
        fail('filter', (err as Error).message);
      }
    }
  }

  const lateness = parseDuration(input.allowedLateness ?? '10 minutes');
  const allowedLatenessMs = 'ms' in lateness ? lateness.ms : fail('allowedLateness', lateness.error);

  const database = input.database ?? 'shardflow';
  if (!IDENT.test(database)) fail('database', `must match ${IDENT} (given ${JSON.stringify(database)})`);

  const base = name.replace(/-/g, '_');
  const tables: TableNames = {
    raw: input.tables?.raw ?? `${base}_events`,
    partials: input.tables?.partials ?? `${base}_partials`,
    late: input.tables?.late ?? `${base}_late`,
    quarantine: input.tables?.quarantine ?? `${base}_quarantine`,
  };
  for (const [role, t] of Object.entries(tables)) {
    if (!IDENT.test(t)) fail(`tables.${role}`, `must match ${IDENT} (given ${JSON.stringify(t)})`);
  }
  if (new Set(Object.values(tables)).size !== 4) fail('tables', `raw, partials, late and quarantine need four different names (given ${JSON.stringify(tables)})`);

  // The first aggregate's partials table is tables.partials; tables.partials is taken by no other table.
  // groupBy and measures name schema and derived columns alike.
  const aggregates = checkAggregates(input, columnsByName, columns, tables.partials, [tables.raw, tables.late, tables.quarantine], fail);

  const processing = checkProcessing(input.processing ?? {}, source, fail);
  if (processing.lambdaFilterCriteria && filter !== null) {
    const criteria = pipelineFilterCriteria({ schema, derive, filter }, source.kind);
    if (!criteria.expressible) fail('processing.lambdaFilterCriteria', `the filter cannot be expressed as Lambda FilterCriteria: ${criteria.reason}`);
  }
  const scheduledQueries = checkScheduledQueries(input.scheduledQueries ?? [], fail);

  return {
    version: 1,
    name,
    description: input.description ?? '',
    source,
    database,
    schema,
    eventTime: input.eventTime,
    derive,
    filter,
    allowedLatenessMs,
    aggregates,
    tables,
    processing,
    scheduledQueries,
  };
}

/** Re-validates a serialised Pipeline (for example from the environment of a Lambda function). */
export function pipelineFromJson(json: string): Pipeline {
  const p = JSON.parse(json) as Pipeline;
  if (p?.version !== 1) throw new PipelineDefinitionError(String(p?.name), 'version', `unsupported serialised pipeline version ${JSON.stringify(p?.version)} (expected 1)`);
  return definePipeline(toInput(p));
}

/** The input that reproduces a validated pipeline. */
export function toInput(p: Pipeline): PipelineInput {
  const ms = (n: number) => n;
  return {
    name: p.name,
    description: p.description,
    source: p.source,
    schema: Object.fromEntries(p.schema.map((f) => [f.name, { type: f.type, required: f.required, ...(f.path ? { path: f.path } : {}) }])),
    eventTime: p.eventTime,
    ...(p.derive && p.derive.length > 0 ? { derive: Object.fromEntries(p.derive.map((d) => [d.name, d.expr])) } : {}),
    ...(p.filter ? { filter: p.filter } : {}),
    allowedLateness: ms(p.allowedLatenessMs),
    ...(p.aggregates.length > 0 ? { aggregates: p.aggregates.map(aggregateToInput) } : {}),
    tables: p.tables,
    database: p.database,
    processing: {
      batchSize: p.processing.batchSize,
      batchingWindow: p.processing.batchingWindowMs,
      parallelizationFactor: p.processing.parallelizationFactor,
      startingPosition: p.processing.startingPosition,
      maxRetryAttempts: p.processing.maxRetryAttempts,
      maxRecordAge: p.processing.maxRecordAgeMs,
      bisectBatchOnError: p.processing.bisectBatchOnError,
      lambdaFilterCriteria: p.processing.lambdaFilterCriteria,
    },
    scheduledQueries: p.scheduledQueries.map((q) => ({ ...q, outputTable: q.outputTable ?? undefined })),
  };
}

type Fail = (path: string, rule: string) => never;

function checkSource(s: SourceSpec | undefined, fail: Fail): SourceSpec {
  if (!s || typeof s !== 'object') return fail('source', 'is required: kinesisSource({ stream, shards }) or kafkaSource({ topic, partitions })');
  if (s.kind === 'kinesis') {
    if (!STREAM_NAME.test(s.stream)) fail('source.stream', `must match ${STREAM_NAME} (given ${JSON.stringify(s.stream)})`);
    if (s.shards !== 'on-demand' && !(Number.isInteger(s.shards) && s.shards >= 1 && s.shards <= 500)) {
      fail('source.shards', `must be 'on-demand' or a whole number between 1 and 500 inclusive (given ${JSON.stringify(s.shards)})`);
    }
    return { kind: 'kinesis', stream: s.stream, shards: s.shards };
  }
  if (s.kind === 'kafka') {
    if (!TOPIC_NAME.test(s.topic)) fail('source.topic', `must match ${TOPIC_NAME} (given ${JSON.stringify(s.topic)})`);
    if (!(Number.isInteger(s.partitions) && s.partitions >= 1 && s.partitions <= 1000)) {
      fail('source.partitions', `must be a whole number between 1 and 1000 inclusive (given ${JSON.stringify(s.partitions)})`);
    }
    return { kind: 'kafka', topic: s.topic, partitions: s.partitions };
  }
  return fail('source.kind', `must be 'kinesis' or 'kafka' (given ${JSON.stringify((s as { kind?: unknown }).kind)})`);
}

function checkSchema(schema: Readonly<Record<string, FieldSpec>> | undefined, fail: Fail): SchemaField[] {
  if (!schema || typeof schema !== 'object' || Object.keys(schema).length === 0) return fail('schema', 'needs at least one field');
  const out: SchemaField[] = [];
  for (const [name, spec] of Object.entries(schema)) {
    if (!IDENT.test(name)) fail(`schema.${name}`, `field names must match ${IDENT}`);
    if ((PARTITION_COLUMNS as readonly string[]).includes(name)) fail(`schema.${name}`, `"${name}" is reserved for the lake's partition columns (dt, hour)`);
    const type: unknown = typeof spec === 'string' ? spec : spec?.type;
    if (!FIELD_TYPES.includes(type as FieldType)) fail(`schema.${name}`, `type must be one of ${FIELD_TYPES.join(', ')} (given ${JSON.stringify(type)})`);
    const required = typeof spec === 'string' ? true : spec.required ?? true;
    if (typeof spec !== 'string' && spec.path !== undefined) {
      const parsed = parseFieldPath(spec.path);
      if ('error' in parsed) fail(`schema.${name}.path`, parsed.error);
      const keys = (parsed as { keys: readonly string[] }).keys;
      // A one-key path naming the field itself is no path.
      if (keys.length === 1 && keys[0] === name) out.push({ name, type: type as FieldType, required });
      else out.push({ name, type: type as FieldType, required, path: keys });
      continue;
    }
    out.push({ name, type: type as FieldType, required });
  }
  // A value cannot be both a scalar and an object on the way to another field.
  for (const f of out) {
    const keys = f.path ?? [f.name];
    for (const g of out) {
      const other = g.path ?? [g.name];
      if (g !== f && other.length > keys.length && keys.every((k, i) => other[i] === k)) {
        fail(`schema.${g.name}.path`, `goes through ${JSON.stringify(keys.join('.'))}, which field "${f.name}" reads as a ${f.type}`);
      }
    }
  }
  return out;
}

function checkFilter(e: FilterExpr, path: string, fields: Map<string, SchemaField>, fail: Fail): void {
  if (!e || typeof e !== 'object') fail(path, `must be a filter expression (given ${JSON.stringify(e)})`);
  switch (e.op) {
    case 'and':
    case 'or':
      if (!Array.isArray(e.args) || e.args.length === 0) fail(path, `${e.op}() needs at least one expression`);
      e.args.forEach((a, i) => checkFilter(a, `${path}.${e.op}[${i}]`, fields, fail));
      return;
    case 'not':
      checkFilter(e.arg, `${path}.not`, fields, fail);
      return;
    default: {
      const f = fields.get(e.field);
      if (!f) return fail(path, `field ${JSON.stringify(e.field)} is not in the schema (fields: ${[...fields.keys()].join(', ')})`);
      const checkValue = (v: unknown, where: string) => {
        const ok =
          f.type === 'string' ? typeof v === 'string'
          : f.type === 'boolean' ? typeof v === 'boolean'
          : f.type === 'timestamp' ? (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && !Number.isNaN(Date.parse(v)))
          : f.type === 'int' || f.type === 'bigint' ? typeof v === 'number' && Number.isInteger(v)
          : typeof v === 'number' && Number.isFinite(v);
        if (!ok) fail(path, `${where} ${JSON.stringify(v)} does not match the type of field "${f.name}" (${f.type})`);
      };
      switch (e.op) {
        case 'eq': case 'ne': case 'gt': case 'gte': case 'lt': case 'lte':
          checkValue(e.value, `${e.op} value`);
          if (f.type === 'boolean' && e.op !== 'eq' && e.op !== 'ne') fail(path, `${e.op} is not defined on boolean field "${f.name}"`);
          return;
        case 'in':
          if (!Array.isArray(e.values) || e.values.length === 0) fail(path, `in() needs at least one value for field "${f.name}"`);
          e.values.forEach((v, i) => checkValue(v, `in value [${i}]`));
          return;
        case 'prefix':
          if (f.type !== 'string') fail(path, `startsWith needs a string field; "${f.name}" is ${f.type}`);
          if (typeof e.prefix !== 'string' || e.prefix.length === 0) fail(path, `startsWith needs a non-empty string prefix for field "${f.name}"`);
          return;
        case 'exists':
        case 'isNull':
          return;
        default:
          return fail(path, `unknown filter operator ${JSON.stringify((e as { op?: unknown }).op)}`);
      }
    }
  }
}

function checkProcessing(p: ProcessingInput, source: SourceSpec, fail: Fail): ProcessingOptions {
  const d = DEFAULT_PROCESSING;
  const int = (v: number | undefined, def: number, lo: number, hi: number, path: string): number => {
    if (v === undefined) return def;
    if (!Number.isInteger(v) || v < lo || v > hi) fail(`processing.${path}`, `must be a whole number between ${lo} and ${hi} inclusive (given ${v})`);
    return v;
  };
  const dur = (v: Duration | undefined, def: number, lo: number, hi: number, path: string): number => {
    if (v === undefined) return def;
    const r = parseDuration(v);
    if (!('ms' in r)) return fail(`processing.${path}`, r.error);
    if (r.ms < lo || r.ms > hi) fail(`processing.${path}`, `must be between ${lo / 1000} s and ${hi / 1000} s inclusive (given ${r.ms / 1000} s)`);
    return r.ms;
  };
  const parallelizationFactor = int(p.parallelizationFactor, d.parallelizationFactor, 1, 10, 'parallelizationFactor');
  if (source.kind === 'kafka' && parallelizationFactor !== 1) fail('processing.parallelizationFactor', `applies to Kinesis sources only (given ${parallelizationFactor} for a Kafka source)`);
  if (p.startingPosition !== undefined && !['TRIM_HORIZON', 'LATEST'].includes(p.startingPosition)) {
    fail('processing.startingPosition', `must be 'TRIM_HORIZON' or 'LATEST' (given ${JSON.stringify(p.startingPosition)})`);
  }
  return {
    batchSize: int(p.batchSize, d.batchSize, 1, 10_000, 'batchSize'),
    batchingWindowMs: dur(p.batchingWindow, d.batchingWindowMs, 0, 300_000, 'batchingWindow'),
    parallelizationFactor,
    startingPosition: p.startingPosition ?? d.startingPosition,
    maxRetryAttempts: int(p.maxRetryAttempts, d.maxRetryAttempts, 0, 10_000, 'maxRetryAttempts'),
    maxRecordAgeMs: dur(p.maxRecordAge, d.maxRecordAgeMs, 60_000, 604_800_000, 'maxRecordAge'),
    bisectBatchOnError: p.bisectBatchOnError ?? d.bisectBatchOnError,
    lambdaFilterCriteria: p.lambdaFilterCriteria ?? d.lambdaFilterCriteria,
  };
}

function checkScheduledQueries(qs: readonly ScheduledQueryInput[], fail: Fail): ScheduledQuery[] {
  const seen = new Set<string>();
  return qs.map((q, i) => {
    const path = `scheduledQueries[${i}]`;
    if (!/^[a-z][a-z0-9_]{0,63}$/.test(q.name ?? '')) fail(`${path}.name`, `must match /^[a-z][a-z0-9_]{0,63}$/ (given ${JSON.stringify(q.name)})`);
    if (seen.has(q.name)) fail(`${path}.name`, `"${q.name}" is used twice`);
    seen.add(q.name);
    try {
      parseSchedule(q.schedule);
    } catch (err) {
      fail(`${path}.schedule`, `must be an EventBridge expression such as 'rate(1 hour)' or 'cron(0 * * * ? *)': ${(err as Error).message}`);
    }
    if (typeof q.sql !== 'string' || q.sql.trim() === '') fail(`${path}.sql`, 'must be a non-empty SQL string');
    const unknown = placeholdersIn(q.sql).filter((n) => !(PLACEHOLDERS as readonly string[]).includes(n));
    if (unknown.length > 0) fail(`${path}.sql`, `unknown placeholder {{${unknown[0]}}} (known: ${PLACEHOLDERS.map((n) => `{{${n}}}`).join(', ')})`);
    if (q.outputTable !== undefined && !IDENT.test(q.outputTable)) fail(`${path}.outputTable`, `must match ${IDENT} (given ${JSON.stringify(q.outputTable)})`);
    return { name: q.name, schedule: q.schedule.trim(), sql: q.sql, outputTable: q.outputTable ?? null, description: q.description ?? '' };
  });
}
