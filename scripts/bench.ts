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

const command = `npm run bench${only ? ` -- --only ${only.join(',')}` : ''}`;
const header = [
  '# Benchmarks',
  '',
  `Produced by \`${command}\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node.js ${process.version}.`,
  'Every ratio compares with a baseline measured in the same run. Raw rows: `bench/results.json`.',
  '',
].join('\n');
await fs.mkdir('bench', { recursive: true });
await fs.writeFile('bench/results.json', JSON.stringify(results, null, 2) + '\n');
await fs.writeFile('BENCHMARKS.md', header + '\n' + sections.join('\n\n') + '\n');
console.log('wrote bench/results.json and BENCHMARKS.md');
