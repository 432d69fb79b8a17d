/**
 * A/B of the Parquet writer against another commit's, in one process:
 * `npx tsx scripts/bench/parquet-writer-ab.ts [ref] [rounds]` (ref default
 * HEAD~1). The other commit's core/ is extracted with `git archive` into a
 * temporary folder and imported next to this tree's, then both encode the raw
 * and partials rows of the pipeline bench's 200,000 clickstream records
 * (batches of 1,000, rows computed once by this tree's engine), alternating
 * A and B per round (the order flipped each round) so that load drift on a
 * shared machine hits both. Prints B/A (this tree over the ref) of the best
 * and of the median round, and checks that both write the same bytes.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compilePipeline, encodeParquet, lakeTable, processBatch, type LakeColumn, type LakeRow, type SourceRecord } from '../../core';
import clickstream from '../../pipelines/clickstream';
import { clickstreamWorkload } from '../../test/support/clickstream-events';

type Encode = (columns: readonly LakeColumn[], rows: readonly LakeRow[]) => Uint8Array;

const ref = process.argv[2] ?? 'HEAD~1';
const rounds = Number(process.argv[3] ?? 12);
const root = path.resolve(import.meta.dirname, '../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardflow-ab-'));
try {
  execFileSync('bash', ['-c', `git archive ${JSON.stringify(ref)} core | tar -x -C ${JSON.stringify(dir)}`], { cwd: root });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  const old = (await import(path.join(dir, 'core/encode.ts'))) as { encodeParquet: Encode };

  const recs: SourceRecord[] = clickstreamWorkload(200_000, { seed: 1, arrivalStepMs: 5 }).records.map((r, i) => ({
    data: Buffer.from(r.text).toString('base64'),
    arrivalTime: r.arrivalMs,
    position: String(i),
    source: 'shardId-000000000000',
  }));
  const compiled = compilePipeline(clickstream);
  const raw = lakeTable(clickstream, 'raw').columns;
  const partials = lakeTable(clickstream, 'partials').columns;
  const files: [readonly LakeColumn[], readonly LakeRow[]][] = [];
  for (let i = 0; i < recs.length; i += 1000) {
    const out = processBatch(compiled, recs.slice(i, i + 1000));
    for (const rows of out.raw.values()) files.push([raw, rows]);
    for (const byPath of out.partials.values()) for (const rows of byPath.values()) files.push([partials, rows]);
  }
  const run = (enc: Encode): number => {
    let bytes = 0;
    for (const [cols, rows] of files) bytes += enc(cols, rows).byteLength;
    return bytes;
  };
  for (const [cols, rows] of files.slice(0, 50)) {
    if (Buffer.compare(old.encodeParquet(cols, rows), encodeParquet(cols, rows)) !== 0) throw new Error('the two writers wrote different bytes');
  }
  const contenders: [string, Encode][] = [['A (' + ref + ')', old.encodeParquet], ['B (this tree)', encodeParquet]];
  const times: number[][] = [[], []];
  const bytes = contenders.map(([, enc]) => run(enc)); // warm-up
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [1, 0] : [0, 1];
    for (const k of order) {
      const t = performance.now();
      run(contenders[k]![1]);
      times[k]!.push(performance.now() - t);
    }
  }
  const best = times.map((t) => Math.min(...t));
  const median = times.map((t) => [...t].sort((a, b) => a - b)[t.length >> 1]!);
  for (let k = 0; k < 2; k++) console.log(`${contenders[k]![0]}: best ${best[k]!.toFixed(1)} ms, median ${median[k]!.toFixed(1)} ms, ${bytes[k]} bytes, ${files.length} files`);
  console.log(`B/A speed: best ${(best[0]! / best[1]!).toFixed(3)}, median ${(median[0]! / median[1]!).toFixed(3)}`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
