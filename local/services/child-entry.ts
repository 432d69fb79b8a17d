/**
 * How Node runs one of this project's modules as a child process: in the
 * checkout (TypeScript, the parent itself loaded through tsx or vitest) with
 * tsx's loader; in the installed package (compiled JavaScript, no tsx) as it is.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** `--import <tsx loader>`: what a TypeScript entry needs. */
export function tsxLoaderArgs(): string[] {
  const require = createRequire(import.meta.url);
  return ['--import', pathToFileURL(path.join(path.dirname(require.resolve('tsx/package.json')), 'dist', 'loader.mjs')).href];
}

/**
 * The module `name` beside the module at `from` (its import.meta.url), with the
 * extension `from` has, and the Node options to run it with.
 */
export function childEntry(from: string, name: string): { entry: string; execArgv: string[] } {
  const ext = path.extname(fileURLToPath(from));
  const entry = fileURLToPath(new URL(`./${name}${ext}`, from));
  return { entry, execArgv: ext === '.ts' ? tsxLoaderArgs() : [] };
}
