/**
 * Files as input for `shardflow send --file`: NDJSON (one event per line, sent
 * as is) and CSV (a header row; values typed by the pipeline's schema; a dotted
 * header such as `customer.country` fills the nested object that a field with
 * `path: 'customer.country'` reads), a file, a folder or a glob.
 *
 * Where errors go:
 * - a value that does not parse as its field's type (`abc` for a double) is
 *   still sent, as the text it was, and the pipeline quarantines the row with
 *   its own reason (the rule for every record: received = raw + filtered +
 *   quarantined + late). The summary counts such rows per file and names the
 *   first by file:line.
 * - a CSV that is not well-formed (a row with more or fewer cells than the
 *   header, an unclosed or stray quote, a duplicate header) cannot be split
 *   into values at all: which cell belongs to which field is unknown. That is
 *   the client's error, reported with file:line, and nothing is sent from any
 *   file (so a fixed run sends every file once, with no duplicates).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { glob, isDynamicPattern } from 'tinyglobby';
import { fieldPath, formatFieldPath, parseFieldPath, type FieldType, type Pipeline, type SchemaField } from '../core';
import { toOutgoing, type OutgoingRecord } from './producers';

export type InputFormat = 'ndjson' | 'csv';

export interface InputFile {
  /** A path, or '-' for stdin. */
  readonly path: string;
  readonly format: InputFormat;
}

/** A file that cannot be sent as given: names the file and line. */
export class InputFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputFileError';
  }
}

const EXTENSIONS: Readonly<Record<string, InputFormat>> = { '.csv': 'csv', '.ndjson': 'ndjson', '.jsonl': 'ndjson', '.json': 'ndjson' };

/** The format of a file by its extension, or null when the extension is none of .csv, .ndjson, .jsonl, .json. */
export function formatOfPath(file: string): InputFormat | null {
  return EXTENSIONS[path.extname(file).toLowerCase()] ?? null;
}

/**
 * The files that `--file` names, each once, in order: a file as given (by extension, NDJSON
 * when it has none of ours), every .csv/.ndjson/.jsonl/.json file in a folder (not its
 * subfolders; sorted), every file a glob matches (sorted; `**` crosses folders). A folder or
 * glob that gives no file, or a path that does not exist, is an error.
 */
export async function resolveInputFiles(specs: readonly string[], format?: InputFormat): Promise<InputFile[]> {
  const out: InputFile[] = [];
  const seen = new Set<string>();
  const add = async (file: string, fmt: InputFormat) => {
    const real = await fs.realpath(file);
    if (seen.has(real)) return;
    seen.add(real);
    out.push({ path: file, format: format ?? fmt });
  };
  for (const spec of specs) {
    if (spec === '-') {
      if (seen.has('-')) continue;
      seen.add('-');
      out.push({ path: '-', format: format ?? 'ndjson' });
      continue;
    }
    const st = await fs.stat(spec).catch(() => null);
    if (st?.isDirectory()) {
      const names = (await fs.readdir(spec, { withFileTypes: true })).filter((d) => d.isFile() && formatOfPath(d.name)).map((d) => d.name).sort();
      if (names.length === 0) throw new InputFileError(`--file ${spec}: the folder has no .csv, .ndjson, .jsonl or .json file`);
      for (const n of names) await add(path.join(spec, n), formatOfPath(n)!);
    } else if (st) {
      await add(spec, formatOfPath(spec) ?? 'ndjson');
    } else if (isDynamicPattern(spec)) {
      // Matches are named as the pattern was: tinyglobby gives paths relative to the working folder
      // (`../x/a.csv` for `/tmp/x/*.csv` when run in /tmp/repo) unless asked for absolute ones.
      const files = (await glob(spec, { onlyFiles: true, expandDirectories: false, absolute: path.isAbsolute(spec) })).sort();
      if (files.length === 0) throw new InputFileError(`--file ${spec}: the pattern matches no file`);
      for (const f of files) await add(f, formatOfPath(f) ?? 'ndjson');
    } else {
      throw new InputFileError(`--file ${spec}: no such file or folder`);
    }
  }
  return out;
}

/** One file's records, ready to send, and what the summary says about it. */
export interface FileRecords {
  readonly file: string;
  readonly format: InputFormat;
  readonly records: OutgoingRecord[];
  /** Rows with a value that does not parse as its field's type: sent anyway, for the pipeline to quarantine. */
  readonly untyped: number;
  /** The first of them: `file:line: column "x" (int): "abc"`. */
  readonly firstUntyped: string | null;
  /** Warnings about the header (columns no field reads, required fields no column gives). */
  readonly warnings: readonly string[];
}

async function readInput(file: string): Promise<Buffer> {
  if (file !== '-') return fs.readFile(file);
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function readInputFile(pipeline: Pipeline, input: InputFile): Promise<FileRecords> {
  const bytes = await readInput(input.path);
  const name = input.path === '-' ? 'stdin' : input.path;
  return input.format === 'csv' ? csvRecords(pipeline, name, bytes) : ndjsonRecords(pipeline, name, bytes);
}

/** NDJSON: every non-blank line is sent as it is; a malformed line is the pipeline's to quarantine, not ours to drop. */
export function ndjsonRecords(pipeline: Pipeline, file: string, bytes: Buffer): FileRecords {
  const records: OutgoingRecord[] = [];
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') continue;
    const i = records.length;
    let key = `k${i}`;
    try {
      key = toOutgoing(pipeline, JSON.parse(line) as Record<string, unknown>, i).partitionKey;
    } catch {
      // not JSON: still sent, with a synthetic key
    }
    records.push({ data: line, partitionKey: key });
  }
  return { file, format: 'ndjson', records, untyped: 0, firstUntyped: null, warnings: [] };
}

/** The header that fills a field: its path as users write it (core/schema.ts formatFieldPath, `\.` for a dot in a key). */
function fieldPathText(f: SchemaField): string {
  return formatFieldPath(fieldPath(f));
}

interface CsvColumn {
  readonly header: string;
  /** Keys from the event's root to this value. */
  readonly path: readonly string[];
  /** The field it fills, or null: then the value is sent as text (the pipeline ignores unknown keys). */
  readonly type: FieldType | null;
}

/**
 * Which field each header names: a field whose path is spelled like the header, else the field
 * so named (a lake table exported as CSV has the schema keys as headers), else no field: then a
 * dotted header still nests (`a.b` → `{ a: { b } }`).
 */
export function csvColumns(pipeline: Pipeline, header: readonly string[], file: string): { columns: CsvColumn[]; warnings: string[] } {
  const byPath = new Map(pipeline.schema.map((f) => [fieldPathText(f), f]));
  const byName = new Map(pipeline.schema.map((f) => [f.name, f]));
  const seen = new Set<string>();
  const used = new Set<SchemaField>();
  const columns: CsvColumn[] = [];
  const unknown: string[] = [];
  for (const [k, h] of header.entries()) {
    if (h === '') throw new InputFileError(`${file}:1: column ${k + 1} of the header has no name`);
    if (seen.has(h)) throw new InputFileError(`${file}:1: the header names column ${JSON.stringify(h)} twice`);
    seen.add(h);
    const f = byPath.get(h) ?? byName.get(h);
    if (f && used.has(f)) throw new InputFileError(`${file}:1: columns ${JSON.stringify(h)} and ${JSON.stringify(columns.find((c) => c.path.join('.') === fieldPath(f).join('.'))!.header)} both fill field "${f.name}"`);
    if (f) used.add(f);
    else unknown.push(h);
    const parsed = parseFieldPath(h);
    columns.push({ header: h, path: f ? fieldPath(f) : 'keys' in parsed ? parsed.keys : h.split('.'), type: f ? f.type : null });
  }
  // A value and an object at one path (`customer` and `customer.country`) cannot both be sent.
  for (const a of columns) {
    for (const b of columns) {
      if (a !== b && b.path.length > a.path.length && a.path.every((s, i) => b.path[i] === s)) {
        throw new InputFileError(`${file}:1: column ${JSON.stringify(a.header)} is a value where column ${JSON.stringify(b.header)} needs an object`);
      }
    }
  }
  const warnings: string[] = [];
  if (unknown.length) warnings.push(`${file}: column(s) ${unknown.map((u) => JSON.stringify(u)).join(', ')} fill no schema field of ${pipeline.name}; sent as text, which the pipeline ignores`);
  const missing = pipeline.schema.filter((f) => f.required && !used.has(f)).map((f) => f.name);
  if (missing.length) warnings.push(`${file}: no column for required field(s) ${missing.join(', ')}: the pipeline will quarantine every row`);
  return { columns, warnings };
}

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * A CSV cell as its field's JSON value, or `undefined` when it does not parse as that type
 * (then the text itself is sent, and the pipeline's check names the field and the value).
 * Same forms as a JSON event: int within INT32; bigint digits (past 2^53 as a digit string,
 * which the schema's bigint takes exactly); double in decimal or exponent notation; boolean
 * true/false in any case; timestamp as ISO-8601 text or epoch-millisecond digits.
 */
export function typedCell(type: FieldType, text: string): unknown {
  switch (type) {
    case 'string':
      return text;
    case 'int': {
      if (!INTEGER.test(text)) return undefined;
      const n = Number(text);
      return n >= INT32_MIN && n <= INT32_MAX ? n : undefined;
    }
    case 'bigint': {
      if (!INTEGER.test(text)) return undefined;
      const n = Number(text);
      return Number.isSafeInteger(n) ? n : text.replace(/^\+/, '');
    }
    case 'double':
      return DECIMAL.test(text) ? Number(text) : undefined;
    case 'boolean': {
      const t = text.toLowerCase();
      return t === 'true' ? true : t === 'false' ? false : undefined;
    }
    case 'timestamp':
      if (INTEGER.test(text)) {
        const n = Number(text);
        return Number.isSafeInteger(n) ? n : undefined;
      }
      return text;
  }
}

function lineStarts(bytes: Buffer): number[] {
  const starts = [0];
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) starts.push(i + 1);
  return starts;
}

/** 1-based line of a byte offset. */
function lineAt(starts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

const CSV_OPTIONS = { bom: true, skip_empty_lines: true } as const;

/**
 * The line record `index` (0 = the header) starts on. Only for messages: it parses the file
 * again up to there, because csv-parse's own line count is off after a quoted line break, and
 * asking it for every record's offset (`on_record`) halved its rate.
 */
function recordLine(bytes: Buffer, index: number): number {
  let end = 0;
  if (index > 0) {
    try {
      parseCsv(bytes, { ...CSV_OPTIONS, to: index, on_record: (r: string[], ctx: { bytes: number }) => ((end = ctx.bytes), r) });
    } catch {
      // the error is past `index` records: `end` has what came before it
    }
  }
  return lineAt(lineStarts(bytes), end + leadingBreaks(bytes, end));
}

/**
 * CSV (RFC 4180: quoted cells with commas, quotes doubled, line breaks inside quotes; CRLF or
 * LF; a UTF-8 byte order mark skipped; blank lines skipped) → one JSON event per row.
 * An empty cell, quoted or not, sends no key: null for the pipeline (as Spark's CSV reader
 * reads an empty cell by default), so a CSV cannot give a string field an empty string.
 */
export function csvRecords(pipeline: Pipeline, file: string, bytes: Buffer): FileRecords {
  let parsed: string[][];
  try {
    parsed = parseCsv(bytes, CSV_OPTIONS) as string[][];
  } catch (err) {
    const e = err as Error & { code?: string; records?: number };
    const line = recordLine(bytes, typeof e.records === 'number' ? e.records : 0);
    throw new InputFileError(`${file}:${line}: not valid CSV (${e.code ?? 'error'}): ${e.message.replace(/ (on|at) line \d+/, '')}; nothing was sent`);
  }
  if (parsed.length === 0) throw new InputFileError(`${file}: empty: a CSV file needs a header row`);
  const { columns, warnings } = csvColumns(pipeline, parsed[0]!, file);
  const records: OutgoingRecord[] = [];
  let untyped = 0;
  let firstUntyped: string | null = null;
  for (let r = 1; r < parsed.length; r++) {
    const cells = parsed[r]!;
    // No prototype: a header such as `__proto__.x` is then a key like any other.
    const event = Object.create(null) as Record<string, unknown>;
    let bad: string | null = null;
    for (let c = 0; c < columns.length; c++) {
      const col = columns[c]!;
      const text = cells[c]!;
      if (text === '') continue;
      let value: unknown = text;
      if (col.type) {
        const typed = typedCell(col.type, text);
        if (typed === undefined) bad ??= `column ${JSON.stringify(col.header)} (${col.type}): ${JSON.stringify(text)}`;
        else value = typed;
      }
      setPath(event, col.path, value);
    }
    if (bad) {
      untyped++;
      firstUntyped ??= `${file}:${recordLine(bytes, r)}: ${bad}`;
    }
    records.push(toOutgoing(pipeline, event, records.length));
  }
  return { file, format: 'csv', records, untyped, firstUntyped, warnings };
}

/** Blank lines csv-parse skipped before a record start: the record's line is past them. */
function leadingBreaks(bytes: Buffer, at: number): number {
  let k = 0;
  while (at + k < bytes.length && (bytes[at + k] === 10 || bytes[at + k] === 13)) k++;
  return k;
}

function setPath(event: Record<string, unknown>, keys: readonly string[], value: unknown): void {
  let o = event;
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i]!;
    let next = o[k] as Record<string, unknown> | undefined;
    if (next === undefined) o[k] = next = Object.create(null) as Record<string, unknown>;
    o = next;
  }
  o[keys[keys.length - 1]!] = value;
}
