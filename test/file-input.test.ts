/**
 * `send --file` input: CSV typed by the schema (nested paths from dotted
 * headers), NDJSON as is, folders and globs, and where each kind of bad input
 * goes (a value of the wrong type: sent, for the pipeline to quarantine; a
 * malformed CSV: refused with file:line, nothing sent).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilePipeline, processBatch, type Pipeline } from '../core';
import { csvRecords, InputFileError, ndjsonRecords, readInputFile, resolveInputFiles, typedCell } from '../local/file-input';
import clickstream from '../pipelines/clickstream';

/** clickstream plus nested optional fields, as a validated schema `path` gives them (core/schema.ts on the expr branch: the keys). */
const nested: Pipeline = {
  ...clickstream,
  schema: [
    ...clickstream.schema,
    { name: 'country', type: 'string', required: false, path: ['customer', 'country'] },
    { name: 'weird', type: 'int', required: false, path: ['a.b', 'c\\d'] },
  ],
};

const events = (bytes: string, p: Pipeline = clickstream) => csvRecords(p, 'in.csv', Buffer.from(bytes)).records.map((r) => JSON.parse(r.data) as unknown);

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-file-input-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('CSV input', () => {
  it('types each cell by its schema field and reads RFC 4180 quoting, CRLF and a byte order mark', () => {
    const text = '\uFEFFevent_id,user_id,category,value,ts\r\n' + 'e1,u1,"books, used",42.5,2026-11-25T10:00:00Z\r\n' + 'e2,u2,"say ""hi""\r\nthere",1e2,1764064800000\r\n';
    expect(events(text)).toEqual([
      { event_id: 'e1', user_id: 'u1', category: 'books, used', value: 42.5, ts: '2026-11-25T10:00:00Z' },
      { event_id: 'e2', user_id: 'u2', category: 'say "hi"\r\nthere', value: 100, ts: 1764064800000 },
    ]);
  });

  it('keys each record by the partition key field, as generated events are', () => {
    const r = csvRecords(clickstream, 'in.csv', Buffer.from('event_id,user_id\ne1,u7\ne2,\n'));
    expect(r.records.map((x) => x.partitionKey)).toEqual(['u7', 'k1']);
  });

  it('fills nested objects from dotted headers, by the field path or by the field name', () => {
    expect(events('event_id,customer.country,customer.id\ne1,DE,c7\n', nested)).toEqual([{ event_id: 'e1', customer: { country: 'DE', id: 'c7' } }]);
    expect(events('event_id,country\ne1,FR\n', nested)).toEqual([{ event_id: 'e1', customer: { country: 'FR' } }]);
    // a key with a dot or a backslash is written as in a definition's path: \. and \\
    expect(events('a\\.b.c\\\\d,x\\.y.z\n7,8\n', nested)).toEqual([{ 'a.b': { 'c\\d': 7 }, 'x.y': { z: '8' } }]);
  });

  it('sends no key for an empty cell, quoted or not', () => {
    expect(events('event_id,user_id,value\ne1,,\ne2,"",""\n')).toEqual([{ event_id: 'e1' }, { event_id: 'e2' }]);
  });

  it.each([
    ['int', '12', 12],
    ['int', '-2147483648', -(2 ** 31)],
    ['int', '2147483648', undefined],
    ['int', '1.5', undefined],
    ['bigint', '9007199254740993', '9007199254740993'],
    ['bigint', '+42', 42],
    ['bigint', '4x', undefined],
    ['double', '-.5e-3', -0.0005],
    ['double', 'NaN', undefined],
    ['double', '1,5', undefined],
    ['boolean', 'TRUE', true],
    ['boolean', 'false', false],
    ['boolean', 'yes', undefined],
    ['timestamp', '1764064800000', 1764064800000],
    ['timestamp', '2026-11-25 10:00', '2026-11-25 10:00'],
    ['string', ' as is ', ' as is '],
  ] as const)('types %s %j as %j (undefined: not of the type)', (type, text, want) => {
    expect(typedCell(type, text)).toEqual(want);
  });

  it('sends a row whose value is not its type as text, and the pipeline quarantines it with a reason naming the field', () => {
    const ts = new Date(Date.UTC(2026, 10, 25, 10)).toISOString();
    const r = csvRecords(clickstream, 'in.csv', Buffer.from(`event_id,user_id,category,value,ts\ne1,u1,books,42,${ts}\n\ne2,u1,books,lots,${ts}\n`));
    expect(r.records).toHaveLength(2);
    expect(r.untyped).toBe(1);
    expect(r.firstUntyped).toBe('in.csv:4: column "value" (double): "lots"');
    const out = processBatch(compilePipeline(clickstream), r.records.map((x, i) => ({ data: Buffer.from(x.data).toString('base64'), arrivalTime: Date.parse(ts), position: String(i), source: 's' })));
    expect(out.counts).toMatchObject({ received: 2, raw: 1, quarantined: 1 });
    expect([...out.quarantine.values()].flat()[0]!.reason).toMatch(/value/);
  });

  it.each([
    ['a,b\n1,2\n3\n', 'in.csv:3: not valid CSV (CSV_RECORD_INCONSISTENT_FIELDS_LENGTH)'],
    ['a,b\n1,2\n"x"y,2\n', 'in.csv:3: not valid CSV (CSV_INVALID_CLOSING_QUOTE)'],
    ['a,b\n1,2\n"3\n4,5\n', 'in.csv:3: not valid CSV (CSV_QUOTE_NOT_CLOSED)'],
    ['a,b\r\n"1\r\n2",2\r\n3\r\n', 'in.csv:4: not valid CSV (CSV_RECORD_INCONSISTENT_FIELDS_LENGTH)'],
    ['a,a\n1,2\n', 'in.csv:1: the header names column "a" twice'],
    ['customer,customer.country\n1,2\n', 'in.csv:1: column "customer" is a value where column "customer.country" needs an object'],
    ['', 'in.csv: empty: a CSV file needs a header row'],
  ])('refuses malformed CSV %j with file:line', (text, message) => {
    expect(() => csvRecords(nested, 'in.csv', Buffer.from(text))).toThrow(InputFileError);
    expect(() => csvRecords(nested, 'in.csv', Buffer.from(text))).toThrow(message);
  });

  it('warns of columns no field reads and of required fields no column gives', () => {
    const r = csvRecords(clickstream, 'in.csv', Buffer.from('event_id,valeu\ne1,3\n'));
    expect(r.warnings).toEqual([
      'in.csv: column(s) "valeu" fill no schema field of clickstream; sent as text, which the pipeline ignores',
      'in.csv: no column for required field(s) user_id, category, value, ts: the pipeline will quarantine every row',
    ]);
  });

  it('keeps a header named __proto__ a plain key', () => {
    expect(csvRecords(clickstream, 'in.csv', Buffer.from('__proto__.x,event_id\n1,e\n')).records[0]!.data).toBe('{"__proto__":{"x":"1"},"event_id":"e"}');
  });
});

describe('NDJSON input', () => {
  it('sends every non-blank line as it is, malformed ones included', () => {
    const r = ndjsonRecords(clickstream, 'in.ndjson', Buffer.from('\uFEFF{"event_id":"a","user_id":"u1"}\r\n\n{"event_id": \n'));
    expect(r.records).toEqual([
      { data: '{"event_id":"a","user_id":"u1"}', partitionKey: 'u1' },
      { data: '{"event_id": ', partitionKey: 'k1' },
    ]);
  });
});

describe('--file as a folder or glob', () => {
  it('gives each file once, sorted, with its format by extension', async () => {
    await fs.mkdir(path.join(dir, 'in/sub'), { recursive: true });
    for (const f of ['b.csv', 'a.ndjson', 'c.jsonl', 'notes.txt', 'sub/d.csv']) await fs.writeFile(path.join(dir, 'in', f), 'event_id\ne1\n');
    const folder = await resolveInputFiles([path.join(dir, 'in')]);
    expect(folder.map((f) => [path.relative(dir, f.path), f.format])).toEqual([['in/a.ndjson', 'ndjson'], ['in/b.csv', 'csv'], ['in/c.jsonl', 'ndjson']]);
    // a glob overlapping a file named on its own: still once each
    const glob = await resolveInputFiles([path.join(dir, 'in/b.csv'), path.join(dir, 'in/**/*.csv')]);
    expect(glob.map((f) => path.relative(dir, f.path))).toEqual(['in/b.csv', 'in/sub/d.csv']);
    expect((await resolveInputFiles([path.join(dir, 'in/notes.txt')], 'csv'))[0]!.format).toBe('csv');
    const read = await readInputFile(clickstream, glob[1]!);
    expect(read.records.map((r) => r.data)).toEqual(['{"event_id":"e1"}']);
  });

  it.each([
    [['nope.csv'], /--file nope\.csv: no such file or folder/],
    [['*.nothing-here'], /--file \*\.nothing-here: the pattern matches no file/],
  ])('refuses %j, naming it', async (specs, message) => {
    await expect(resolveInputFiles(specs)).rejects.toThrow(message);
  });

  it('refuses a folder with no input file', async () => {
    await fs.mkdir(path.join(dir, 'empty'));
    await expect(resolveInputFiles([path.join(dir, 'empty')])).rejects.toThrow(/the folder has no \.csv, \.ndjson, \.jsonl or \.json file/);
  });
});
