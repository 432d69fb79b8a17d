/**
 * `npm run bench [-- --only a,b]`: runs the benchmark suites, prints each
 * table, writes bench/results.json and BENCHMARKS.md. Every ratio compares
 * against a baseline measured in the same run, on the same machine.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import type { BenchResult, BenchSuiteOutput } from './bench/types';

type Suite = () => Promise<BenchSuiteOutput>;

const SUITES: Record<string, () => Promise<Suite>> = {
  pipeline: async () => (await import('./bench/pipeline')).benchPipeline,
  parquet: async () => (await import('./bench/parquet')).benchParquet,
  'kinesis-emulators': async () => (await import('./bench/kinesis-emulators')).benchKinesisEmulators,
  'local-e2e': async () => (await import('./bench/local-e2e')).benchLocalE2e,
  compaction: async () => (await import('./bench/compaction')).benchCompaction,
  'athena-small-query': async () => (await import('./bench/athena-small-query')).benchAthenaSmallQuery,
  cost: async () => (await import('./bench/cost')).benchCost,
};

const onlyArg = process.argv.indexOf('--only');
const only = onlyArg >= 0 ? process.argv[onlyArg + 1]?.split(',') : undefined;
const names = Object.keys(SUITES).filter((n) => !only || only.includes(n));
if (only) for (const n of only) if (!SUITES[n]) throw new Error(`unknown suite "${n}" (suites: ${Object.keys(SUITES).join(', ')})`);

const results: BenchResult[] = [];
const sections: string[] = [];
for (const name of names) {
  const started = performance.now();
  process.stderr.write(`bench: ${name} …\n`);
  const out = await (await SUITES[name]!())();
  results.push(...out.results);
  sections.push(out.markdown);
  console.log(`\n${out.markdown}\n`);
  process.stderr.write(`bench: ${name} done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

/**
 * With --only, the suites that ran replace their own sections and rows and the
 * others stay as the last full run wrote them; each section says which command
 * produced it.
 */
const command = `npm run bench${only ? ` -- --only ${only.join(',')}` : ''}`;
const stamp = `${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node.js ${process.version}`;
const fresh = new Map(names.map((n, i) => [n, `<!-- suite: ${n} -->\n${sections[i]}\n\n_Produced by \`${command}\` on ${stamp}._`]));
let previous = new Map<string, string>();
let previousRows: BenchResult[] = [];
if (only) {
  const md = await fs.readFile('BENCHMARKS.md', 'utf8').catch(() => '');
  previous = new Map([...md.matchAll(/<!-- suite: ([\w-]+) -->\n([\s\S]*?)(?=\n<!-- suite: |$)/g)].map((m) => [m[1]!, `<!-- suite: ${m[1]} -->\n${m[2]!.trimEnd()}`]));
  previousRows = JSON.parse(await fs.readFile('bench/results.json', 'utf8').catch(() => '[]')) as BenchResult[];
}
const ordered = Object.keys(SUITES).flatMap((n) => fresh.get(n) ?? previous.get(n) ?? []);
const freshNames = new Set(results.map((r) => r.name));
const allRows = [...previousRows.filter((r) => !freshNames.has(r.name)), ...results];
const header = [
  '# Benchmarks',
  '',
  'Run `npm run bench` (all suites) or `npm run bench -- --only <suite,…>` (suites: ' + Object.keys(SUITES).join(', ') + ').',
  'Every ratio compares with a baseline measured in the same run, on the same machine. Raw rows: `bench/results.json`.',
  '',
].join('\n');
await fs.mkdir('bench', { recursive: true });
await fs.writeFile('bench/results.json', JSON.stringify(allRows, null, 2) + '\n');
await fs.writeFile('BENCHMARKS.md', header + '\n' + ordered.join('\n\n') + '\n');
console.log('wrote bench/results.json and BENCHMARKS.md');
