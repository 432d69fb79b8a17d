/**
 * What Lambda does with one batch, for both stream sources: invoke the
 * function, read its answer, retry, bisect, give up to the on-failure
 * destination. Sources differ only in how they build the event and where a
 * settled record is committed, which they pass in as hooks.
 *
 * Lambda semantics followed here (Lambda developer guide, "Using Lambda with
 * Kinesis Data Streams" › error handling and "Reporting batch item failures"):
 * - success: every record of the batch is settled;
 * - `batchItemFailures`: the records before the lowest reported one are
 *   settled; processing resumes from that record (a retry);
 * - the response counts as a complete success when it is null/undefined, an
 *   empty object, or has a null/empty `batchItemFailures`; as a complete failure
 *   when an itemIdentifier is missing, empty, or names no record of the batch;
 * - a thrown error (or time-out) fails the whole batch. With bisectBatchOnError
 *   the batch is split in two and each half retried; "splitting a batch does
 *   not count towards the retry quota";
 * - maxRetryAttempts (-1 = until the records expire) and maxRecordAgeMs
 *   (-1 = no limit): records past either go to the on-failure destination and
 *   the mapping moves on.
 */
import { randomUUID } from 'node:crypto';
import type { ProcessingOptions } from '../../core/pipeline';
import type { FilterSpec } from '../../core/event-pattern';
import type { MappingMetrics } from './metrics';
import type { FailureCondition, FailureResponseContext, OnFailureDestination } from './on-failure-destination';

/** Any Lambda-shaped stream handler: the real one is createStreamProcessor's. */
export type StreamHandler<E> = (event: E) => Promise<unknown>;

/** Props both mapping emulators take: the handler, Lambda's settings, and where failures and metrics go. */
export interface EventSourceMappingCommonProps<E> {
  /** Any `(event) => Promise<{ batchItemFailures }>`; the real one is createStreamProcessor(...). */
  readonly handler: StreamHandler<E>;
  /** Lambda's mapping settings (same names as ProcessingOptions). */
  readonly options?: EventSourceMappingOptions;
  /** Where given-up batches go. Without one they are dropped, as Lambda does. */
  readonly onFailure?: OnFailureDestination;
  /** Lambda FilterCriteria.Filters; records matching none are skipped before invocation. @default none */
  readonly filters?: readonly FilterSpec[];
  /** Called with fresh counters after each read and each settled batch. */
  readonly onMetrics?: (metrics: MappingMetrics) => void;
  /** The mapping's UUID (on-failure keys; the checkpoint file or consumer group). @default a stable UUID from the source and function name */
  readonly uuid?: string;
  /** Function name used in ARNs. @default 'shardflow-stream-processor' */
  readonly functionName?: string;
  /** stop() stops waiting for in-flight batches after this, in ms; the rest is read again at the next start. @default 60000 */
  readonly stopTimeoutMs?: number;
}

export interface EventSourceMappingOptions extends Partial<Omit<ProcessingOptions, 'lambdaFilterCriteria'>> {
  /**
   * The function's time-out, in ms: an invocation still running after it counts
   * as a function error (Lambda: "Task timed out"); the local call is not cancelled. @default 60000
   */
  readonly functionTimeoutMs?: number;
  /** First retry delay, in ms, doubled per retry of the same records. @default 200 */
  readonly retryBaseDelayMs?: number;
  /** Longest retry delay, in ms. @default 10000 */
  readonly retryMaxDelayMs?: number;
  /**
   * Not a Lambda setting: for a batching window that is only a dev cap on a longer deployed
   * one (local/runtime.ts LOCAL_MAX_BATCHING_WINDOW_MS), a window holding at least
   * EARLY_WINDOW_END_MIN_RECORDS records (or a full batchSize) ends as soon as the source has
   * gone quiet (Kinesis: the shard read to its tip, nothing new for QUIET_MS; Kafka: the
   * partition fetched to its high watermark, no new record for QUIET_MS), instead of
   * waiting out the window for records that are not coming. Smaller batches still wait, so a
   * low event rate makes no more objects than the window alone would. @default false
   */
  readonly endWindowWhenQuiet?: boolean;
}

export interface ResolvedMappingOptions {
  readonly batchSize: number;
  readonly batchingWindowMs: number;
  readonly parallelizationFactor: number;
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  readonly maxRetryAttempts: number;
  readonly maxRecordAgeMs: number;
  readonly bisectBatchOnError: boolean;
  readonly functionTimeoutMs: number;
  readonly retryBaseDelayMs: number;
  readonly retryMaxDelayMs: number;
  readonly endWindowWhenQuiet: boolean;
}

/** EventSourceMappingOptions.endWindowWhenQuiet: a window with fewer records runs its full length. */
export const EARLY_WINDOW_END_MIN_RECORDS = 100;

/** Mapping defaults: the pipeline's (core DEFAULT_PROCESSING) where it has one. */
const DEFAULTS = {
  batchSize: 1000,
  batchingWindowMs: 1_000,
  parallelizationFactor: 1,
  startingPosition: 'TRIM_HORIZON',
  maxRetryAttempts: 3,
  maxRecordAgeMs: 86_400_000,
  bisectBatchOnError: true,
  functionTimeoutMs: 60_000,
  retryBaseDelayMs: 200,
  retryMaxDelayMs: 10_000,
  endWindowWhenQuiet: false,
} as const satisfies ResolvedMappingOptions;

export class MappingConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MappingConfigError';
  }
}

/**
 * Applies defaults and checks ranges (Lambda CreateEventSourceMapping limits,
 * except maxRecordAgeMs: Lambda's minimum is 60 s; locally any value ≥ 0 is
 * accepted so that tests need not wait a minute).
 */
export function resolveMappingOptions(where: string, o: EventSourceMappingOptions = {}): ResolvedMappingOptions {
  const r: ResolvedMappingOptions = {
    batchSize: o.batchSize ?? DEFAULTS.batchSize,
    batchingWindowMs: o.batchingWindowMs ?? DEFAULTS.batchingWindowMs,
    parallelizationFactor: o.parallelizationFactor ?? DEFAULTS.parallelizationFactor,
    startingPosition: o.startingPosition ?? DEFAULTS.startingPosition,
    maxRetryAttempts: o.maxRetryAttempts ?? DEFAULTS.maxRetryAttempts,
    maxRecordAgeMs: o.maxRecordAgeMs ?? DEFAULTS.maxRecordAgeMs,
    bisectBatchOnError: o.bisectBatchOnError ?? DEFAULTS.bisectBatchOnError,
    functionTimeoutMs: o.functionTimeoutMs ?? DEFAULTS.functionTimeoutMs,
    retryBaseDelayMs: o.retryBaseDelayMs ?? DEFAULTS.retryBaseDelayMs,
    retryMaxDelayMs: o.retryMaxDelayMs ?? DEFAULTS.retryMaxDelayMs,
    endWindowWhenQuiet: o.endWindowWhenQuiet ?? DEFAULTS.endWindowWhenQuiet,
  };
  const int = (name: keyof ResolvedMappingOptions, v: number, min: number, max: number, extra = ''): void => {
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new MappingConfigError(`${where}: ${name} must be an integer between ${min} and ${max} inclusive${extra} (given ${v})`);
    }
  };
  int('batchSize', r.batchSize, 1, 10_000);
  int('batchingWindowMs', r.batchingWindowMs, 0, 300_000);
  int('parallelizationFactor', r.parallelizationFactor, 1, 10);
  if (r.maxRetryAttempts !== -1) int('maxRetryAttempts', r.maxRetryAttempts, 0, 10_000, ', or -1 for no limit');
  if (r.maxRecordAgeMs !== -1) int('maxRecordAgeMs', r.maxRecordAgeMs, 0, 604_800_000, ', or -1 for no limit');
  int('functionTimeoutMs', r.functionTimeoutMs, 1, 900_000);
  int('retryBaseDelayMs', r.retryBaseDelayMs, 0, 600_000);
  int('retryMaxDelayMs', r.retryMaxDelayMs, 0, 600_000);
  if (r.startingPosition !== 'TRIM_HORIZON' && r.startingPosition !== 'LATEST') {
    throw new MappingConfigError(`${where}: startingPosition must be TRIM_HORIZON or LATEST (given ${JSON.stringify(r.startingPosition)})`);
  }
  return r;
}

export type InvokeOutcome =
  | { readonly kind: 'success' }
  | { readonly kind: 'partial'; readonly fromIndex: number; readonly response: FailureResponseContext }
  | { readonly kind: 'error'; readonly message: string; readonly response: FailureResponseContext };

const UNHANDLED: FailureResponseContext = { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' };
const REPORTED: FailureResponseContext = { statusCode: 200, executedVersion: '$LATEST' };

/** Calls the handler with a time-out and reads its answer as Lambda does. `ids`: the itemIdentifier of each record. */
export async function invokeHandler<E>(handler: StreamHandler<E>, event: E, ids: readonly string[], timeoutMs: number): Promise<InvokeOutcome> {
  let timer: NodeJS.Timeout | undefined;
  let response: unknown;
  try {
    response = await Promise.race([
      handler(event),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Task timed out after ${timeoutMs} ms (functionTimeoutMs)`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    return { kind: 'error', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err), response: UNHANDLED };
  } finally {
    clearTimeout(timer);
  }
  return readBatchResponse(response, ids);
}

/** Lambda's reading of a `{ batchItemFailures }` answer. */
export function readBatchResponse(response: unknown, ids: readonly string[]): InvokeOutcome {
  if (response === null || response === undefined) return { kind: 'success' };
  if (typeof response !== 'object' || Array.isArray(response)) {
    return { kind: 'error', message: `malformed response: expected an object with batchItemFailures (given ${typeof response})`, response: REPORTED };
  }
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === null || failures === undefined) return { kind: 'success' };
  if (!Array.isArray(failures)) {
    return { kind: 'error', message: 'malformed response: batchItemFailures is not an array', response: REPORTED };
  }
  if (failures.length === 0) return { kind: 'success' };
  const index = new Map(ids.map((id, i) => [id, i]));
  let lowest = Number.POSITIVE_INFINITY;
  for (const f of failures as unknown[]) {
    const id = (f as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    const at = typeof id === 'string' && id !== '' ? index.get(id) : undefined;
    if (at === undefined) {
      return { kind: 'error', message: `malformed response: itemIdentifier ${JSON.stringify(id)} names no record of the batch`, response: REPORTED };
    }
    lowest = Math.min(lowest, at);
  }
  return { kind: 'partial', fromIndex: lowest, response: REPORTED };
}

/** The mapping is stopping and its stop time-out has passed: unsettled records stay for the next start. */
export class MappingStoppedError extends Error {
  constructor() {
    super('event source mapping stopped before the batch was settled');
    this.name = 'MappingStoppedError';
  }
}

export interface BatchHooks<R> {
  readonly options: ResolvedMappingOptions;
  /** Arrival time of a record, epoch ms (Kinesis approximate arrival, Kafka timestamp). */
  arrivalMs(record: R): number;
  invoke(records: R[]): Promise<InvokeOutcome>;
  /** Sends records to the on-failure destination (if any). Must not settle them: `settle` follows. */
  discard(records: R[], info: DiscardInfo): Promise<void>;
  /** Records whose fate is decided; the source commits them. */
  settle(records: R[]): Promise<void>;
  /** Counters for the status view. */
  count(event: 'invocation' | 'failure' | 'retry' | 'discarded', n: number, detail?: string): void;
  /** Waits, unless the mapping is being abandoned; then throws MappingStoppedError. */
  sleep(ms: number): Promise<void>;
  /** True once the mapping gave up waiting for in-flight work. */
  abandoned(): boolean;
}

export interface DiscardInfo {
  readonly condition: FailureCondition;
  readonly approximateInvokeCount: number;
  readonly response: FailureResponseContext | null;
  readonly requestId: string;
}

interface AttemptState {
  retries: number;
  invokes: number;
  response: FailureResponseContext | null;
}

/** Runs one batch to settlement (success, or discarded after retries/age), as described at the top of this file. */
export async function processBatch<R>(records: R[], hooks: BatchHooks<R>, state: AttemptState = { retries: 0, invokes: 0, response: null }): Promise<void> {
  const o = hooks.options;
  let batch = records;
  for (;;) {
    if (hooks.abandoned()) throw new MappingStoppedError();
    if (o.maxRecordAgeMs >= 0) {
      const now = Date.now();
      const expired = batch.filter((r) => now - hooks.arrivalMs(r) > o.maxRecordAgeMs);
      if (expired.length > 0) {
        await discard(expired, 'RecordAgeExceeded', hooks, state);
        batch = batch.filter((r) => !expired.includes(r));
      }
    }
    if (batch.length === 0) return;

    const outcome = await hooks.invoke(batch);
    state.invokes += 1;
    hooks.count('invocation', batch.length);
    if (outcome.kind === 'success') {
      await hooks.settle(batch);
      return;
    }
    hooks.count('failure', batch.length, outcome.kind === 'error' ? outcome.message : `batchItemFailures from record ${outcome.fromIndex + 1} of ${batch.length}`);
    state.response = outcome.response;
    if (outcome.kind === 'partial') {
      if (outcome.fromIndex > 0) await hooks.settle(batch.slice(0, outcome.fromIndex));
      batch = batch.slice(outcome.fromIndex);
    } else if (o.bisectBatchOnError && batch.length > 1) {
      // Splitting does not use a retry: each half starts with the retries used so far.
      const half = Math.ceil(batch.length / 2);
      await processBatch(batch.slice(0, half), hooks, { ...state });
      await processBatch(batch.slice(half), hooks, { ...state });
      return;
    }
    state.retries += 1;
    if (o.maxRetryAttempts >= 0 && state.retries > o.maxRetryAttempts) {
      await discard(batch, 'RetryAttemptsExhausted', hooks, state);
      return;
    }
    hooks.count('retry', batch.length);
    await hooks.sleep(Math.min(o.retryBaseDelayMs * 2 ** (state.retries - 1), o.retryMaxDelayMs));
  }
}

async function discard<R>(records: R[], condition: FailureCondition, hooks: BatchHooks<R>, state: AttemptState): Promise<void> {
  await hooks.discard(records, { condition, approximateInvokeCount: state.invokes, response: state.invokes > 0 ? state.response : null, requestId: randomUUID() });
  hooks.count('discarded', records.length, condition);
  await hooks.settle(records);
}

/** Lambda's payload limit for a synchronous invocation: 6 MB (Lambda quotas). */
export const MAX_INVOKE_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** A promise that a waiter can await with a time-out, resolved by `notify()`. */
export class Signal {
  private waiters: (() => void)[] = [];

  notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves on the next notify() or after `ms`. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((f) => f !== done);
        resolve();
      }, Math.max(0, ms));
      this.waiters.push(done);
    });
  }
}

/** UUID-shaped stable id from a name (Lambda gives each mapping a UUID; locally it must survive restarts). */
export function stableMappingUuid(hex32: string): string {
  const h = hex32.padEnd(32, '0').slice(0, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function isoMillis(epochMs: number): string {
  return new Date(epochMs).toISOString();
}
