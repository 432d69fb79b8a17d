/**
 * Files of the Shardflow package at run time, wherever it runs from: the source
 * checkout (TypeScript through tsx) or an installed package (compiled JavaScript
 * in dist/, one file per source file). Both keep the same tree below their root,
 * so a file is found by its path from the root, with the extension that exists.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The package root: the nearest folder above this file whose package.json is Shardflow's. */
export function packageRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'shardflow') return (root = dir);
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find Shardflow's package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** The package's version (package.json). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * A source module of the package by its path from the root without extension
 * (`functions/stream-processor/index`): the .ts file in the checkout, the
 * compiled .js file under dist/ in an installed package.
 */
export function packageModule(relative: string): string {
  const base = path.join(packageRoot(), relative.replace(/\.ts$/, ''));
  for (const candidate of [`${base}.ts`, path.join(packageRoot(), 'dist', `${relative.replace(/\.ts$/, '')}.js`)]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`Shardflow package file ${relative} is missing (looked for ${base}.ts and dist/${relative}.js under ${packageRoot()})`);
}

/**
 * The lock file NodejsFunction is given. It must be a file under the project root; bundling
 * reads it only to pick the package manager and to install `nodeModules`, which Shardflow's
 * bundles do not use. An installed package has no lock file (npm never packs one), so its
 * package.json stands in (read as npm).
 */
export function bundlingLockFile(): string {
  const lock = path.join(packageRoot(), 'package-lock.json');
  return existsSync(lock) ? lock : path.join(packageRoot(), 'package.json');
}
