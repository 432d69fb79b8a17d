/**
 * Query history of the local Athena endpoint: one JSON file per execution and
 * one set per result under `dataDir`, so that a restarted endpoint still answers
 * GetQueryExecution and GetQueryResults for old ids, as Athena does for 45 days.
 *
 * A result is written by the query worker (ResultWriter) as pages of
 * RESULT_PAGE_ROWS rows plus a small header file, so that the endpoint's event
 * loop only ever parses the page a GetQueryResults call needs, never a whole
 * result of up to maxResultBytes. A result of one page is the header file
 * alone, its rows inline; the worker also hands a small one to the endpoint
 * with its summary (QueryStore.keep), so GetQueryResults reads no file for it.
 * When the endpoint stores result objects itself (a watched lake), the worker
 * writes nothing for a small result: the endpoint writes its header file
 * (QueryStore.commitSmall) before the query succeeds.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { toCsv, type ColumnInfo } from './result-format';

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

type Row = readonly (string | null)[];

/** `results/<id>.json`: what a result holds; its rows are in `results/<id>/<page>.json`, or inline (`rows`) when they fit one page. */
export interface ResultHeader {
  readonly columns: readonly ColumnInfo[];
  readonly headerRow: boolean;
  readonly rowCount: number;
  readonly pageRows: number;
}

/** A header as the store hands it out: `inline` when the rows are in the header file (one page, no page file). */
export interface KnownResult extends ResultHeader {
  readonly inline: boolean;
}

/** Rows per page file: ten GetQueryResults pages, a few hundred KB to parse. */
export const RESULT_PAGE_ROWS = 10_000;

const headerFile = (dataDir: string, id: string): string => path.join(dataDir, 'results', `${id}.json`);

/** A header file's text: the header, with the rows when the result is one page. */
const headerText = (header: ResultHeader, rows: readonly Row[] | undefined): string => JSON.stringify(rows ? { ...header, rows } : header);

/** writeWhole with synchronous calls, for a small file that must be whole before the caller goes on. */
function writeWholeSync(file: string, text: string): void {
  try {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  } catch (err) {
    rmSync(`${file}.tmp`, { force: true });
    throw err;
  }
}

async function writeWhole(file: string, text: string): Promise<void> {
  await fs.writeFile(`${file}.tmp`, text);
  await fs.rename(`${file}.tmp`, file);
}

/** Result text held in memory before the rest goes to a file (the result object is uploaded from it). */
const CSV_MEMORY_CHARS = 4 * 1024 * 1024;
/** A result this small (its object's text, in characters) also goes to the endpoint with the query's summary. */
const HANDED_RESULT_CHARS = 256 * 1024;

/** A whole one-page result: its header and its rows. */
export interface SmallResult {
  readonly header: ResultHeader;
  readonly rows: readonly Row[];
}

/**
 * A result written as it is read (engine.ts ResultSink): pages of RESULT_PAGE_ROWS rows as
 * they fill, and the result object's text (CSV, or tab-separated lines for SHOW/DESCRIBE) in
 * memory up to a few MiB, then in a file beside the pages. So a result of up to the row and
 * byte caps never sits in memory whole. commit() writes the header: the result is whole.
 */
export class ResultWriter {
  private columns: readonly ColumnInfo[] = [];
  private headerRow = true;
  private page: Row[] = [];
  private pages = 0;
  private rowCount = 0;
  private text: string[] = [];
  private textChars = 0;
  private spill: fs.FileHandle | undefined;
  private spilled = false;
  private dirMade = false;
  private readonly dir: string;

  constructor(private readonly dataDir: string, private readonly id: string) {
    this.dir = path.join(dataDir, 'results', id);
  }

  async start(columns: readonly ColumnInfo[], headerRow: boolean): Promise<void> {
    this.columns = columns;
    this.headerRow = headerRow;
    if (headerRow) this.append(toCsv(columns.map((c) => c.Name), []));
  }

  async rows(rows: readonly Row[]): Promise<void> {
    for (const r of rows) {
      this.page.push(r);
      if (this.page.length === RESULT_PAGE_ROWS) await this.flushPage();
    }
    this.rowCount += rows.length;
    this.append(this.headerRow ? toCsv(null, rows) : rows.map((r) => `${r.join('\t')}\n`).join(''));
    if (this.textChars > CSV_MEMORY_CHARS) await this.flushText();
  }

  /** The result object's bytes: a Buffer, or a file to stream with its length. */
  async body(): Promise<{ readonly bytes: Buffer } | { readonly file: string; readonly length: number }> {
    if (!this.spill) return { bytes: Buffer.from(this.text.join(''), 'utf8') };
    await this.flushText();
    const { size } = await this.spill.stat();
    await this.spill.close();
    this.spill = undefined;
    return { file: this.spillFile, length: size };
  }

  /**
   * The result whole, when it is one page of at most HANDED_RESULT_CHARS of text: what the
   * endpoint keeps in memory for GetQueryResults (call after the last rows()).
   */
  small(): SmallResult | undefined {
    if (this.pages > 0 || this.spilled || this.textChars > HANDED_RESULT_CHARS) return undefined;
    return { header: { columns: this.columns, headerRow: this.headerRow, rowCount: this.rowCount, pageRows: RESULT_PAGE_ROWS }, rows: this.page };
  }

  /** Writes the last page and the header (with the rows inline when there is one page); the result is then whole. */
  async commit(): Promise<void> {
    const inline = this.pages === 0;
    if (!inline && this.page.length > 0) await this.flushPage();
    await writeWhole(headerFile(this.dataDir, this.id), headerText({ columns: this.columns, headerRow: this.headerRow, rowCount: this.rowCount, pageRows: RESULT_PAGE_ROWS }, inline ? this.page : undefined));
    await this.discardText();
  }

  /** Removes what was written (a failed query), the header included. */
  async abort(): Promise<void> {
    await this.discardText();
    await fs.rm(path.join(this.dataDir, 'results', `${this.id}.json`), { force: true });
    if (this.dirMade) await fs.rm(this.dir, { recursive: true, force: true });
  }

  private async ensureDir(): Promise<void> {
    if (this.dirMade) return;
    await fs.mkdir(this.dir, { recursive: true });
    this.dirMade = true;
  }

  private get spillFile(): string {
    return path.join(this.dir, 'result.part');
  }

  private append(t: string): void {
    this.text.push(t);
    this.textChars += t.length;
  }

  private async flushText(): Promise<void> {
    if (!this.spill) {
      await this.ensureDir();
      this.spill = await fs.open(this.spillFile, 'w', 0o600);
      this.spilled = true;
    }
    await this.spill.write(this.text.join(''));
    this.text = [];
    this.textChars = 0;
  }

  private async discardText(): Promise<void> {
    this.text = [];
    await this.spill?.close().catch(() => undefined);
    this.spill = undefined;
    if (this.spilled) await fs.rm(this.spillFile, { force: true });
  }

  private async flushPage(): Promise<void> {
    await this.ensureDir();
    await writeWhole(path.join(this.dir, `${this.pages++}.json`), JSON.stringify(this.page));
    this.page = [];
  }
}

/** Writes a result as pages, the header last (a header on disk means the result is whole). */
export async function writeResult(dataDir: string, id: string, result: StoredResult): Promise<void> {
  const dir = path.join(dataDir, 'results', id);
  await fs.mkdir(dir, { recursive: true });
  for (let page = 0; page * RESULT_PAGE_ROWS < result.rows.length; page++) {
    await writeWhole(path.join(dir, `${page}.json`), JSON.stringify(result.rows.slice(page * RESULT_PAGE_ROWS, (page + 1) * RESULT_PAGE_ROWS)));
  }
  const header: ResultHeader = { columns: result.columns, headerRow: result.headerRow, rowCount: result.rows.length, pageRows: RESULT_PAGE_ROWS };
  await writeWhole(headerFile(dataDir, id), headerText(header, undefined));
}

export class QueryStore {
  private readonly records = new Map<string, QueryRecord>();
  private readonly byToken = new Map<string, string>();
  private readonly headers = new Map<string, KnownResult>();
  private readonly pages = new Map<string, Row[]>();
  private readonly saving = new Map<string, Promise<void>>();
  /** Per record, the save that has not started writing yet, and the record it will write. */
  private readonly waiting = new Map<string, { readonly done: Promise<void>; rec: QueryRecord }>();

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

  /**
   * Writes a record whole (write to a temp file, then rename, so a crash never leaves half a
   * file). Saves of one record run one after the other, each writing the record as it is then,
   * so a caller need not wait for one save before the next. A save asked for while another of the
   * same record has not started writing is that one: it will write the record as it is then.
   * (A query that starts at once is saved QUEUED and RUNNING in the same turn: one write.)
   */
  save(rec: QueryRecord): Promise<void> {
    const pending = this.waiting.get(rec.id);
    if (pending) {
      pending.rec = rec;
      return pending.done;
    }
    const prev = this.saving.get(rec.id);
    const entry: { done: Promise<void>; rec: QueryRecord } = { done: Promise.resolve(), rec };
    const next = (prev ? prev.catch(() => undefined) : Promise.resolve()).then(async () => {
      this.waiting.delete(rec.id);
      const file = path.join(this.dir, 'queries', `${rec.id}.json`);
      await fs.writeFile(`${file}.tmp`, JSON.stringify(entry.rec));
      await fs.rename(`${file}.tmp`, file);
    });
    entry.done = next;
    this.waiting.set(rec.id, entry);
    this.saving.set(rec.id, next);
    const forget = (): void => {
      if (this.saving.get(rec.id) === next) this.saving.delete(rec.id);
    };
    next.then(forget, forget);
    return next;
  }

  /** The header of a result, or undefined when there is none. */
  async resultHeader(id: string): Promise<KnownResult | undefined> {
    const cached = this.headers.get(id);
    if (cached) return cached;
    let h: ResultHeader & { rows?: Row[] };
    try {
      h = JSON.parse(await fs.readFile(path.join(this.dir, 'results', `${id}.json`), 'utf8')) as ResultHeader & { rows?: Row[] };
    } catch {
      return undefined;
    }
    // A one-page result holds its rows inline (and so did every result written before paging).
    const header: KnownResult = h.rows
      ? { columns: h.columns, headerRow: h.headerRow, rowCount: h.rows.length, pageRows: Math.max(1, h.rows.length), inline: true }
      : { columns: h.columns, headerRow: h.headerRow, rowCount: h.rowCount, pageRows: h.pageRows, inline: false };
    if (h.rows) this.remember(`${id}/0`, h.rows);
    this.rememberHeader(id, header);
    return header;
  }

  /**
   * Writes a small result's header file (its rows inline, as ResultWriter.commit does) and keeps
   * it: the result of a query whose worker wrote nothing for it. Synchronous, like the result
   * object's write: a small file, and the query succeeds once both are whole.
   */
  commitSmall(id: string, result: SmallResult): void {
    writeWholeSync(headerFile(this.dir, id), headerText(result.header, result.rows));
    this.keep(id, result);
  }

  /** A small result the query worker handed over with its summary (ResultWriter.small), kept for GetQueryResults. */
  keep(id: string, result: SmallResult): void {
    const pageRows = Math.max(1, result.rows.length);
    this.rememberHeader(id, { ...result.header, pageRows, inline: true });
    this.remember(`${id}/0`, [...result.rows]);
  }

  private rememberHeader(id: string, header: KnownResult): void {
    this.headers.set(id, header);
    while (this.headers.size > 256) this.headers.delete(this.headers.keys().next().value!);
  }

  /** Data rows [from, to) of a result (header row not counted), read page by page. */
  async resultRows(id: string, header: KnownResult, from: number, to: number): Promise<Row[]> {
    const out: Row[] = [];
    const end = Math.min(to, header.rowCount);
    if (end <= from) return out;
    for (let page = Math.floor(from / header.pageRows); page * header.pageRows < end; page++) {
      const rows = await this.page(id, page, header.inline);
      const base = page * header.pageRows;
      for (let i = Math.max(from, base); i < Math.min(end, base + rows.length); i++) out.push(rows[i - base]!);
    }
    return out;
  }

  /**
   * A page of rows, from memory while recent. A one-page result's rows live in its header file
   * (there is no page file), and are read from there again once later results pushed them out.
   */
  private async page(id: string, page: number, inline: boolean): Promise<Row[]> {
    const key = `${id}/${page}`;
    const cached = this.pages.get(key);
    if (cached) {
      this.remember(key, cached);
      return cached;
    }
    const rows = inline
      ? (JSON.parse(await fs.readFile(headerFile(this.dir, id), 'utf8')) as { rows: Row[] }).rows
      : (JSON.parse(await fs.readFile(path.join(this.dir, 'results', id, `${page}.json`), 'utf8')) as Row[]);
    this.remember(key, rows);
    return rows;
  }

  /** Keeps the last few pages in memory: enough for clients paging through a few results at once, bounded for long sessions. */
  private remember(key: string, rows: Row[]): void {
    this.pages.delete(key);
    this.pages.set(key, rows);
    while (this.pages.size > 32) this.pages.delete(this.pages.keys().next().value!);
  }
}
