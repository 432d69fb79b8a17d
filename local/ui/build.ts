/**
 * Builds the UI bundle (Preact + uPlot, esbuild) into a static folder that
 * `shardflow dev` serves: index.html, app.js, app.css. Nothing is fetched at
 * run time; the bundle holds every byte the page needs.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The front-end sources. */
export const UI_SOURCE_DIR = path.join(HERE, 'app');
/** Where the bundle goes unless told otherwise, and where the server looks for it. */
export const UI_DIST_DIR = path.join(HERE, 'dist');
/** The files of a bundle; the server serves exactly these. */
export const UI_FILES = ['index.html', 'app.js', 'app.css'] as const;

export class UiBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UiBuildError';
  }
}

export async function buildUi(outDir: string = UI_DIST_DIR): Promise<{ outDir: string; bytes: number }> {
  const entry = path.join(UI_SOURCE_DIR, 'main.tsx');
  try {
    await fs.access(entry);
  } catch {
    throw new UiBuildError(`the UI bundle is missing and its sources (${entry}) are not here to build it; build it with \`npx tsx scripts/build-ui.ts\``);
  }
  const { build } = await import('esbuild');
  const tmp = `${outDir}.tmp-${process.pid}`;
  await fs.rm(tmp, { recursive: true, force: true });
  try {
    await build({
      entryPoints: { app: entry },
      outdir: tmp,
      bundle: true,
      minify: true,
      format: 'esm',
      target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
      jsx: 'automatic',
      jsxImportSource: 'preact',
      legalComments: 'eof',
      logLevel: 'silent',
      absWorkingDir: UI_SOURCE_DIR,
      tsconfig: path.join(UI_SOURCE_DIR, 'tsconfig.json'),
    });
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw new UiBuildError(`building the UI failed: ${(err as Error).message}`);
  }
  await fs.copyFile(path.join(UI_SOURCE_DIR, 'index.html'), path.join(tmp, 'index.html'));
  // Swap in whole: a server never sees half a bundle. Two builders at once both succeed; the last one's stays.
  await fs.mkdir(path.dirname(outDir), { recursive: true });
  await fs.rm(outDir, { recursive: true, force: true });
  try {
    await fs.rename(tmp, outDir);
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true });
    if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  let bytes = 0;
  for (const f of UI_FILES) bytes += (await fs.stat(path.join(outDir, f))).size;
  return { outDir, bytes };
}

async function mtime(file: string): Promise<number | null> {
  try {
    return (await fs.stat(file)).mtimeMs;
  } catch {
    return null;
  }
}

/**
 * The bundle folder, built first when a file of it is missing, or, in a
 * checkout where the sources are present, older than a source file (so an
 * edited UI is never served stale). A package ships the bundle without the
 * sources and is served as built.
 */
export async function ensureUiBuilt(dir: string = UI_DIST_DIR): Promise<string> {
  const built = await Promise.all(UI_FILES.map((f) => mtime(path.join(dir, f))));
  if (built.some((t) => t === null)) {
    await buildUi(dir);
    return dir;
  }
  const sources = await fs.readdir(UI_SOURCE_DIR).catch(() => [] as string[]);
  const newest = Math.max(0, ...(await Promise.all(sources.map((f) => mtime(path.join(UI_SOURCE_DIR, f))))).map((t) => t ?? 0));
  if (newest > Math.min(...(built as number[]))) await buildUi(dir);
  return dir;
}
