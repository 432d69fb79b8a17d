import { pipelineFromJson, type Pipeline } from '../../core';

/** Missing or malformed configuration: thrown at module load, so a bad deploy fails at once. */
export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}

export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const v = env[name];
  if (v === undefined || v.trim() === '') throw new ConfigurationError(`Environment variable ${name} is required but not set`);
  return v;
}

export function optionalEnv(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v;
}

/**
 * The pipeline a function serves, from SHARDFLOW_PIPELINE (JSON of a validated
 * Pipeline; the CDK bundle inlines it at build time, since Lambda caps
 * environment variables at 4 KB in total).
 */
export function pipelineFromEnv(env: NodeJS.ProcessEnv = process.env): Pipeline {
  const json = requireEnv('SHARDFLOW_PIPELINE', env);
  try {
    return pipelineFromJson(json);
  } catch (err) {
    throw new ConfigurationError(`SHARDFLOW_PIPELINE is not a valid pipeline: ${(err as Error).message}`);
  }
}
