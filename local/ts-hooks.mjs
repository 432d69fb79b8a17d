// Node module hooks that load users' TypeScript pipeline files (module.register, from
// local/pipeline-loader.ts). Plain JavaScript: Node runs it as it is, in its loader thread.
//
// .ts and .mts files load as ES modules whatever their package.json says, as TypeScript
// compiles them with `module: ESNext`; .cts as CommonJS. esbuild strips the types (it is a
// dependency already: it bundles the Lambda handlers), one file at a time, no type check.
// Relative imports may name the .ts file, its .js twin (NodeNext style) or leave the
// extension out (Bundler style).
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

const TS_FILE = /\.(ts|mts|cts)$/;

function isTs(url) {
  return typeof url === 'string' && url.startsWith('file:') && TS_FILE.test(new URL(url).pathname);
}

/** Files a relative specifier of a TypeScript module may mean, in TypeScript's order. */
function candidates(specifier) {
  if (/\.js$/.test(specifier)) return [specifier.replace(/\.js$/, '.ts')];
  if (/\.mjs$/.test(specifier)) return [specifier.replace(/\.mjs$/, '.mts')];
  if (/\.cjs$/.test(specifier)) return [specifier.replace(/\.cjs$/, '.cts')];
  return [`${specifier}.ts`, `${specifier}.mts`, `${specifier}/index.ts`, `${specifier}.js`, `${specifier}/index.js`];
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    const relative = /^\.\.?(\/|$)/.test(specifier);
    const missing = err?.code === 'ERR_MODULE_NOT_FOUND' || err?.code === 'ERR_UNSUPPORTED_DIR_IMPORT';
    if (!relative || !missing || !isTs(context.parentURL)) throw err;
    for (const c of candidates(specifier)) {
      try {
        return await nextResolve(c, context);
      } catch {
        // next candidate
      }
    }
    throw err;
  }
}

export async function load(url, context, nextLoad) {
  if (!isTs(url)) return nextLoad(url, context);
  const file = fileURLToPath(url);
  const commonjs = file.endsWith('.cts');
  const { code } = await transform(await readFile(file, 'utf8'), {
    loader: 'ts',
    format: commonjs ? 'cjs' : 'esm',
    target: 'node20',
    sourcefile: file,
    sourcemap: 'inline',
  });
  return { format: commonjs ? 'commonjs' : 'module', source: code, shortCircuit: true };
}
