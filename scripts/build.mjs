#!/usr/bin/env node
// Builds the published package into dist/: `tsc -p tsconfig.build.json` (JavaScript,
// declarations and source maps, one file per source file, so that paths relative to
// import.meta.url — the Lambda entry points, the Kafka setup script — hold in dist/ as
// in the checkout), then the steps below. Run by `npm run build` and by `npm pack`
// (prepack). Plain JavaScript so that it needs no TypeScript runner.
//
// To ship something more (a web UI's static files, a browser bundle): files that sit
// next to the code in the compiled folders are copied as they are (COPY_FROM_SOURCE);
// for anything that must be built, add a function to EXTRA_STEPS.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');

/** Compiled folders; their non-TypeScript files (but tests) are copied to dist/ at the same path. */
const COPY_FROM_SOURCE = ['api', 'core', 'functions', 'lib', 'local', 'cli'];
/** Other files the package needs at run time, by path from the root (kept at the same path under dist/). */
const EXTRA_FILES = [
  // local/services/kafka.ts runs ../../scripts/setup-kafka.sh, which reads kafka/pom.xml beside it.
  'scripts/setup-kafka.sh',
  'scripts/kafka/pom.xml',
  // local/trino/server.ts runs ../../scripts/setup-trino.sh for `dev --athena-engine trino`.
  'scripts/setup-trino.sh',
];
/** Build steps after tsc and the copies, each `(dist: string) => void | Promise<void>`. */
const EXTRA_STEPS = [
  // The dev web UI ships as its built bundle (local/ui/build.ts looks for dist/ beside itself);
  // its .tsx sources and their Preact/uPlot dev dependencies stay out of the package.
  (dist) => run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/build-ui.ts'), path.join(dist, 'local/ui/dist')]),
];
/** Source folders that are inputs of an EXTRA_STEPS build, not files to ship. */
const NOT_COPIED = [path.join(ROOT, 'local/ui/app'), path.join(ROOT, 'local/ui/dist')];

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

function* walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else yield p;
  }
}

/**
 * The sources import each other without extensions (moduleResolution Bundler, as tsx and
 * esbuild read them); Node's ES module loader and TypeScript's NodeNext resolution need the
 * full file name. Each relative specifier in the emitted .js and .d.ts files becomes the file
 * it resolves to in dist/ (`./x` → `./x.js`, `../core` → `../core/index.js`).
 */
function addExtensions(file) {
  const dir = path.dirname(file);
  const isDts = file.endsWith('.d.ts');
  const resolve = (spec) => {
    if (/\.(m?js|json)$/.test(spec)) return spec;
    for (const [suffix, probe] of [['.js', '.js'], ['/index.js', '/index.js']]) {
      const target = path.join(dir, spec + probe);
      if (fs.existsSync(target) || (isDts && fs.existsSync(target.replace(/\.js$/, '.d.ts')))) return spec + suffix;
    }
    throw new Error(`${path.relative(ROOT, file)}: cannot resolve the import "${spec}" in dist/`);
  };
  const text = fs.readFileSync(file, 'utf8');
  const out = text.replace(/(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.\.?\/[^'"\n]*|\.\.?)\2/g, (_m, pre, q, spec) => `${pre}${q}${resolve(spec)}${q}`);
  if (out !== text) fs.writeFileSync(file, out);
}

fs.rmSync(DIST, { recursive: true, force: true });
run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json']);
for (const file of walk(DIST)) if (/\.(js|d\.ts)$/.test(file)) addExtensions(file);
for (const folder of COPY_FROM_SOURCE) {
  for (const file of walk(path.join(ROOT, folder))) {
    // The launcher stays at cli/shardflow.mjs (package.json bin); everything TypeScript is compiled.
    if (/\.(ts|mts|cts)$/.test(file) || /\.test\./.test(file) || file === path.join(ROOT, 'cli/shardflow.mjs')) continue;
    if (NOT_COPIED.some((dir) => file.startsWith(dir + path.sep))) continue;
    const to = path.join(DIST, path.relative(ROOT, file));
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(file, to);
  }
}
for (const rel of EXTRA_FILES) {
  const to = path.join(DIST, rel);
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(path.join(ROOT, rel), to);
  fs.chmodSync(to, fs.statSync(path.join(ROOT, rel)).mode);
}
for (const step of EXTRA_STEPS) await step(DIST);
console.error(`built ${path.relative(process.cwd(), DIST) || '.'}/`);
