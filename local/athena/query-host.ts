/**
 * The endpoint's side of the query worker (query-worker.ts): one long-lived
 * child process per endpoint, forked at start, that runs every query. The
 * HTTP server only sends `run`/`cancel` and stores what comes back.
 *
 * A query still running `graceMs` after its time limit (the worker's own
 * interrupt did not stop it, e.g. stuck in native code) is ended by killing
 * the worker; the other queries in it fail with a retryable internal error and
 * the next query starts a new worker. A worker that dies is replaced the same way.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { childEntry } from '../services/child-entry';
import { QueryCancelled } from './engine';
import type { LakeChange } from './lake-index';
import type { FromWorker, QueryDone, ToWorker, WorkerInit } from './query-worker';
import { AthenaQueryError } from './sql-translate';

/** How long past its time limit a query may keep running before the worker is killed. */
const DEFAULT_GRACE_MS = 5_000;

interface Pending {
  readonly resolve: (o: QueryDone) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
  readonly child: ChildProcess;
}

export class QueryHost {
  private child: ChildProcess | undefined;
  private ready: Promise<ChildProcess> | undefined;
  private readonly pending = new Map<string, Pending>();
  private stopped = false;

  constructor(
    private readonly init: Omit<WorkerInit, 'type'>,
    private readonly graceMs = DEFAULT_GRACE_MS,
  ) {}

  /**
   * Starts the worker in the background: loading it (tsx, DuckDB, the S3
   * client) takes a second or more, which overlaps whatever its owner does next.
   * A worker that fails to start fails the queries that wait for it, with the reason.
   */
  start(): void {
    this.worker().catch(() => undefined);
  }

  /** Resolves once a worker is ready (tests, benchmarks). */
  async started(): Promise<void> {
    await this.worker();
  }

  /** Process id of the current worker (tests). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Objects of the lake stored or removed (WorkerInit.watchedLake), sent on the channel the
   * queries take, so a query sent after them is planned with them. Without a worker there is
   * nothing to tell: the next worker lists the lake afresh.
   */
  notify(changes: readonly LakeChange[]): void {
    const child = this.child;
    if (!child || !child.connected || changes.length === 0) return;
    child.send({ type: 'changes', changes } satisfies ToWorker);
  }

  /** Runs a query in the worker, which also writes its result object and result pages. */
  run(id: string, query: string, opts: { database: string; parameters?: readonly string[]; output: { bucket: string; prefix: string }; signal?: AbortSignal }): Promise<QueryDone> {
    return new Promise<QueryDone>((resolve, reject) => {
      void this.worker().then(
        (child) => {
          const hardLimit = this.init.engine.limits.timeoutMs + this.graceMs;
          const timer = setTimeout(() => {
            const p = this.pending.get(id);
            if (!p) return;
            this.pending.delete(id);
            p.reject(new AthenaQueryError('EXCEEDED_TIME_LIMIT', `Query exceeded the local Athena endpoint's maximum execution time of ${(this.init.engine.limits.timeoutMs / 1000).toFixed(2)}s (queryTimeoutMs) and was stopped with its worker process`));
            this.kill(child);
          }, hardLimit);
          this.pending.set(id, { resolve, reject, timer, child });
          child.send({ type: 'run', id, query, database: opts.database, parameters: opts.parameters, output: opts.output } satisfies ToWorker);
          // After `run`: the worker ignores a cancel for a query it has not been given.
          const onAbort = (): void => {
            if (!this.pending.has(id)) return;
            child.send({ type: 'cancel', id } satisfies ToWorker);
            // A query that does not stop within the grace period is stopped with its worker.
            setTimeout(() => {
              if (this.pending.get(id)?.child === child) this.kill(child);
            }, this.graceMs).unref();
          };
          if (opts.signal?.aborted) onAbort();
          else opts.signal?.addEventListener('abort', onAbort, { once: true });
        },
        reject,
      );
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
    this.kill(child);
    await exited;
  }

  private worker(): Promise<ChildProcess> {
    if (this.stopped) return Promise.reject(new AthenaQueryError('GENERIC_INTERNAL_ERROR', 'the local Athena endpoint is stopping', undefined, 1));
    this.ready ??= new Promise<ChildProcess>((resolve, reject) => {
      const { entry, execArgv } = childEntry(import.meta.url, 'query-worker');
      const child = fork(entry, [], {
        execArgv,
        // Enough libuv threads that lake downloads are not queued behind running DuckDB calls.
        env: { ...process.env, SHARDFLOW_ATHENA_WORKER: '1', UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '16' },
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      this.child = child;
      let isReady = false;
      child.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          isReady = true;
          resolve(child);
          return;
        }
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        clearTimeout(p.timer);
        if (m.type === 'done') {
          const { type: _type, id: _id, ...done } = m;
          p.resolve(done);
        } else if (m.type === 'cancelled') p.reject(new QueryCancelled());
        else p.reject(new AthenaQueryError(m.error.code, m.error.detail, m.error.at, m.error.category));
      });
      child.once('exit', (code, signal) => {
        if (this.child === child) {
          this.child = undefined;
          this.ready = undefined;
        }
        const why = signal ? `signal ${signal}` : `exit code ${code}`;
        if (!isReady) reject(new AthenaQueryError('GENERIC_INTERNAL_ERROR', `the local Athena query worker did not start (${why})`, undefined, 1));
        for (const [id, p] of this.pending) {
          if (p.child !== child) continue;
          this.pending.delete(id);
          clearTimeout(p.timer);
          p.reject(new AthenaQueryError('INTERNAL_ERROR_QUERY_ENGINE', `the local Athena query worker stopped (${why}) while the query ran; run it again`, undefined, 1));
        }
      });
      child.once('error', (err) => {
        if (!isReady) reject(new AthenaQueryError('GENERIC_INTERNAL_ERROR', `the local Athena query worker did not start: ${err.message}`, undefined, 1));
      });
      child.send({ type: 'init', ...this.init } satisfies ToWorker);
    });
    return this.ready;
  }

  private kill(child: ChildProcess): void {
    if (this.child === child) {
      this.child = undefined;
      this.ready = undefined;
    }
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
