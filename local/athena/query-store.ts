/**
 * Query history of the local Athena endpoint: one JSON file per execution and
 * one per result under `dataDir`, so that a restarted endpoint still answers
 * GetQueryExecution and GetQueryResults for old ids, as Athena does for 45 days.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ColumnInfo } from './result-format';

export type QueryState = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

export interface AthenaErrorInfo {
  /** 1 system, 2 user, 3 other (Athena error catalog). */
  readonly ErrorCategory: number;
  /** 1000 = user error (Athena error catalog, "Error type reference"). */
  readonly ErrorType: number;
  readonly Retryable: boolean;
  readonly ErrorMessage: string;
}

export interface QueryRecord {
  readonly id: string;
  readonly query: string;
  readonly database: string;
  readonly workGroup: string;
  /** s3://bucket/prefix/<id>.csv (or .txt for SHOW/DESCRIBE). */
  outputLocation: string;
  readonly clientRequestToken?: string;
  readonly parameters?: readonly string[];
  state: QueryState;
  stateChangeReason?: string;
  athenaError?: AthenaErrorInfo;
  statementType: 'DML' | 'UTILITY' | 'DDL';
  substatementType?: string;
  /** Epoch milliseconds. */
  readonly submittedAt: number;
  startedAt?: number;
  completedAt?: number;
  /** Bytes of lake objects read. */
  dataScannedBytes: number;
  /** RUNNING → terminal, milliseconds. */
  engineMs?: number;
}

export interface StoredResult {
  readonly columns: readonly ColumnInfo[];
  readonly headerRow: boolean;
  readonly rows: readonly (readonly (string | null)[])[];
}

export class QueryStore {
  private readonly records = new Map<string, QueryRecord>();
  private readonly byToken = new Map<string, string>();
  private readonly results = new Map<string, StoredResult>();

  private constructor(private readonly dir: string) {}

  /** Loads the history; executions that were QUEUED or RUNNING when the last process stopped are marked FAILED. */
  static async open(dataDir: string): Promise<QueryStore> {
    const store = new QueryStore(dataDir);
    await fs.mkdir(path.join(dataDir, 'queries'), { recursive: true });
    await fs.mkdir(path.join(dataDir, 'results'), { recursive: true });
    for (const f of await fs.readdir(path.join(dataDir, 'queries'))) {
      if (!f.endsWith('.json')) continue;
      const rec = JSON.parse(await fs.readFile(path.join(dataDir, 'queries', f), 'utf8')) as QueryRecord;
      store.records.set(rec.id, rec);
      if (rec.clientRequestToken) store.byToken.set(rec.clientRequestToken, rec.id);
      if (rec.state === 'QUEUED' || rec.state === 'RUNNING') {
        rec.state = 'FAILED';
        rec.stateChangeReason = 'INTERNAL_ERROR_QUERY_ENGINE: the local Athena endpoint stopped while the query ran; run it again';
        rec.athenaError = { ErrorCategory: 1, ErrorType: 100, Retryable: true, ErrorMessage: rec.stateChangeReason };
        rec.completedAt ??= Date.now();
        await store.save(rec);
      }
    }
    return store;
  }

  get(id: string): QueryRecord | undefined {
    return this.records.get(id);
  }

  byClientToken(token: string): QueryRecord | undefined {
    const id = this.byToken.get(token);
    return id ? this.records.get(id) : undefined;
  }

  /** Newest first. */
  list(workGroup: string): QueryRecord[] {
    return [...this.records.values()].filter((r) => r.workGroup === workGroup).sort((a, b) => b.submittedAt - a.submittedAt || (a.id < b.id ? 1 : -1));
  }

  async add(rec: QueryRecord): Promise<void> {
    this.records.set(rec.id, rec);
    if (rec.clientRequestToken) this.byToken.set(rec.clientRequestToken, rec.id);
    await this.save(rec);
  }

  /** Writes a record whole (write to a temp file, then rename, so a crash never leaves half a file). */
  async save(rec: QueryRecord): Promise<void> {
    const file = path.join(this.dir, 'queries', `${rec.id}.json`);
    await fs.writeFile(`${file}.tmp`, JSON.stringify(rec));
    await fs.rename(`${file}.tmp`, file);
  }

  /** Keeps the last few results in memory; older ones are read back from disk. */
  private remember(id: string, result: StoredResult): void {
    this.results.delete(id);
    this.results.set(id, result);
    // 16 results: enough for a client paging through a few queries at once, bounded memory for long sessions.
    while (this.results.size > 16) this.results.delete(this.results.keys().next().value!);
  }

  async saveResult(id: string, result: StoredResult): Promise<void> {
    this.remember(id, result);
    const file = path.join(this.dir, 'results', `${id}.json`);
    await fs.writeFile(`${file}.tmp`, JSON.stringify(result));
    await fs.rename(`${file}.tmp`, file);
  }

  async result(id: string): Promise<StoredResult | undefined> {
    const cached = this.results.get(id);
    if (cached) return cached;
    try {
      const r = JSON.parse(await fs.readFile(path.join(this.dir, 'results', `${id}.json`), 'utf8')) as StoredResult;
      this.remember(id, r);
      return r;
    } catch {
      return undefined;
    }
  }
}
