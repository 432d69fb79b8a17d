/**
 * Loads the user's pipeline definitions from a folder. Each `*.ts` file (but
 * index.ts) default-exports a `definePipeline(...)` result; definitions were
 * validated when their module loaded, and the set is checked here for
 * clashes (two pipelines on one stream, two tables with one name).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { aggregateView, lakeTables, PipelineDefinitionError, type Pipeline } from '../core';

export class PipelineLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PipelineLoadError';
  }
}

function isPipeline(v: unknown): v is Pipeline {
  return typeof v === 'object' && v !== null && (v as Pipeline).version === 1 && typeof (v as Pipeline).name === 'string';
}

export async function loadPipelines(dir: string): Promise<Pipeline[]> {
  const abs = path.resolve(dir);
  let files: string[];
  try {
    files = (await fs.readdir(abs)).filter((f) => /\.(ts|mts|js|mjs)$/.test(f) && !/^index\./.test(f) && !f.endsWith('.d.ts')).sort();
  } catch (err) {
    throw new PipelineLoadError(`cannot read the pipelines folder ${abs}: ${(err as Error).message}`);
  }
  const pipelines: Pipeline[] = [];
  for (const f of files) {
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(path.join(abs, f)).href)) as { default?: unknown };
    } catch (err) {
      if (err instanceof PipelineDefinitionError) throw new PipelineLoadError(`${path.join(dir, f)}: ${err.message}`);
      throw new PipelineLoadError(`${path.join(dir, f)} failed to load: ${(err as Error).message}`);
    }
    if (!isPipeline(mod.default)) {
      throw new PipelineLoadError(`${path.join(dir, f)} must \`export default definePipeline({...})\``);
    }
    pipelines.push(mod.default);
  }
  if (pipelines.length === 0) throw new PipelineLoadError(`no pipeline definitions in ${abs} (expected *.ts files that export default definePipeline({...}))`);
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
    const v = aggregateView(p);
    if (v) claim(`table ${v.database}.${v.name}`, p.name);
  }
}

export function findPipeline(pipelines: readonly Pipeline[], name: string): Pipeline {
  const p = pipelines.find((x) => x.name === name);
  if (!p) throw new PipelineLoadError(`unknown pipeline "${name}" (known: ${pipelines.map((x) => x.name).join(', ')})`);
  return p;
}
