/**
 * Loads the user's pipeline definitions from a folder. Each file (but index.*)
 * default-exports a `definePipeline(...)` result; definitions were validated
 * when their module loaded, and the set is checked here for clashes (two
 * pipelines on one stream, two tables with one name).
 *
 * TypeScript files load through ts-hooks.mjs (esbuild strips the types): .ts and
 * .mts as ES modules whatever the folder's package.json says, .cts as CommonJS.
 * JavaScript files load as Node loads them (.js by the package's "type").
 */
import fs from 'node:fs/promises';
import { register } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { aggregateViews, lakeTables, PipelineDefinitionError, type Pipeline } from '../core';

export class PipelineLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PipelineLoadError';
  }
}

const PIPELINE_FILE = /\.(ts|mts|cts|js|mjs|cjs)$/;

let hooksRegistered = false;

/** Once per process, before the first pipeline file loads. */
function registerTypeScriptHooks(): void {
  if (hooksRegistered) return;
  register(new URL('./ts-hooks.mjs', import.meta.url));
  hooksRegistered = true;
}

/**
 * Why a pipeline file did not load, in plain words: a syntax error with its line, a
 * missing import, or what its code threw at load (with the line in the file).
 */
export function describeLoadFailure(file: string, err: unknown): string {
  const e = err as Error & { code?: string; errors?: { text: string; location?: { line: number; column: number; lineText?: string } }[] };
  const first = e?.errors?.[0];
  if (first && /Transform failed/.test(e.message ?? '')) {
    const at = first.location ? ` at line ${first.location.line}, column ${first.location.column + 1}` : '';
    return `${file}: syntax error${at}: ${first.text}${first.location?.lineText ? `\n    ${first.location.lineText.trim()}` : ''}`;
  }
  if (e?.code === 'ERR_MODULE_NOT_FOUND') {
    const what = /Cannot find (?:package|module) '([^']+)'/.exec(e.message)?.[1] ?? e.message;
    const bare = !what.startsWith('/') && !what.startsWith('.') && !what.startsWith('file:');
    return `${file}: it imports ${JSON.stringify(what)}, which ${bare ? 'is not installed (npm install it, or fix the name)' : 'does not exist'}`;
  }
  if (e instanceof SyntaxError || e?.name === 'SyntaxError') return `${file}: syntax error: ${e.message}`;
  const line = typeof e?.stack === 'string' ? new RegExp(`${path.basename(file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+)`).exec(e.stack)?.[1] : undefined;
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(err);
  return `${file}: its code threw while loading${line ? ` (line ${line})` : ''}: ${message}`;
}

function isPipeline(v: unknown): v is Pipeline {
  return typeof v === 'object' && v !== null && (v as Pipeline).version === 1 && typeof (v as Pipeline).name === 'string';
}

export async function loadPipelines(dir: string): Promise<Pipeline[]> {
  const abs = path.resolve(dir);
  let files: string[];
  try {
    files = (await fs.readdir(abs)).filter((f) => PIPELINE_FILE.test(f) && !/^index\./.test(f) && !/\.d\.[mc]?ts$/.test(f)).sort();
  } catch (err) {
    throw new PipelineLoadError(`cannot read the pipelines folder ${abs}: ${(err as Error).message}`);
  }
  const pipelines: Pipeline[] = [];
  if (files.some((f) => /ts$/.test(f))) registerTypeScriptHooks();
  for (const f of files) {
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(path.join(abs, f)).href)) as { default?: unknown };
    } catch (err) {
      if (err instanceof PipelineDefinitionError || (err as Error)?.name === 'PipelineDefinitionError') {
        throw new PipelineLoadError(`${path.join(dir, f)}: ${(err as Error).message}`);
      }
      throw new PipelineLoadError(describeLoadFailure(path.join(dir, f), err));
    }
    if (!isPipeline(mod.default)) {
      const got = mod.default === undefined ? 'it has no default export' : `its default export is ${typeof mod.default === 'object' ? 'an object that is not a pipeline' : `a ${typeof mod.default}`}`;
      throw new PipelineLoadError(`${path.join(dir, f)} must \`export default definePipeline({...})\` (${got})`);
    }
    pipelines.push(mod.default);
  }
  if (pipelines.length === 0) throw new PipelineLoadError(`no pipeline definitions in ${abs} (expected .ts or .js files that export default definePipeline({...}))`);
  checkPipelineSet(pipelines);
  return pipelines;
}

/** Two pipelines must not share a name, a source stream or topic, or a table or view name. */
export function checkPipelineSet(pipelines: readonly Pipeline[]): void {
  const owner = new Map<string, string>();
  const claim = (what: string, by: string) => {
    const prev = owner.get(what);
    if (prev !== undefined && prev !== by) throw new PipelineLoadError(`pipelines "${prev}" and "${by}" both use ${what}`);
    if (prev === by && what.startsWith('pipeline name')) throw new PipelineLoadError(`two pipelines are named "${by}"`);
    owner.set(what, by);
  };
  for (const p of pipelines) {
    claim(`pipeline name "${p.name}"`, p.name);
    claim(p.source.kind === 'kinesis' ? `Kinesis stream "${p.source.stream}"` : `Kafka topic "${p.source.topic}"`, p.name);
    for (const t of lakeTables(p)) claim(`table ${t.database}.${t.name}`, p.name);
    for (const v of aggregateViews(p)) claim(`table ${v.database}.${v.name}`, p.name);
  }
}

export function findPipeline(pipelines: readonly Pipeline[], name: string): Pipeline {
  const p = pipelines.find((x) => x.name === name);
  if (!p) throw new PipelineLoadError(`unknown pipeline "${name}" (known: ${pipelines.map((x) => x.name).join(', ')})`);
  return p;
}
