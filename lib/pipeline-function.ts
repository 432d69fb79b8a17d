/**
 * A pipeline's Lambda function built from one of its functions/ entry points:
 * bundled by the local esbuild (no Docker) with the validated pipeline inlined,
 * or, in infra tests, given inline code so that synth skips bundling.
 * Shared by the stream processor, the query runner and the compactor.
 */
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import type { Pipeline } from '../core/pipeline';
import { bundlingLockFile, packageModule, packageRoot } from './package-files';

/**
 * A functions/ entry point, by path from the package root (`functions/stream-processor/index.ts`):
 * the TypeScript source in the checkout, its compiled JavaScript in an installed package.
 * esbuild bundles either one at synth.
 */
export function entryPath(relative: string): string {
  return packageModule(relative);
}

export interface PipelineFunctionProps extends Omit<lambda.FunctionOptions, 'environment'> {
  readonly pipeline: Pipeline;
  /** Absolute path of the entry module (entryPath). */
  readonly entry: string;
  /** Exported handler name in the entry. */
  readonly handler: string;
  readonly environment: Record<string, string>;
  readonly runtime: lambda.Runtime;
  /** Test-only code, to skip bundling; its handler is `index.<handler>`. */
  readonly code?: lambda.Code;
}

export function pipelineFunction(scope: Construct, id: string, props: PipelineFunctionProps): lambda.Function {
  const { pipeline, entry, handler, code, ...common } = props;
  if (code) return new lambda.Function(scope, id, { ...common, code, handler: `index.${handler}` });
  return new nodejs.NodejsFunction(scope, id, {
    ...common,
    // Stack traces through the bundle's source map.
    environment: { ...common.environment, NODE_OPTIONS: '--enable-source-maps' },
    entry,
    handler,
    // The package root: the entry is under it, and esbuild resolves dependencies from there up.
    projectRoot: packageRoot(),
    depsLockFilePath: bundlingLockFile(),
    bundling: processorBundling(pipeline),
  });
}

/** esbuild options for a pipeline's function bundle. */
export function processorBundling(pipeline: Pipeline): nodejs.BundlingOptions {
  const json = JSON.stringify(pipeline);
  return {
    // Local esbuild from node_modules: synth needs no Docker.
    forceDockerBundling: false,
    // ESM: hyparquet(-writer) ship as ES modules and top-level await is available.
    format: nodejs.OutputFormat.ESM,
    target: 'node22',
    mainFields: ['module', 'main'],
    minify: true,
    sourceMap: true,
    sourcesContent: false,
    // Bundle the AWS SDK too: the lockfile pins the version the handler is tested with,
    // where the runtime's built-in SDK changes under it.
    externalModules: [],
    // Inline the pipeline: `process.env.SHARDFLOW_PIPELINE` in code becomes the JSON string…
    define: { 'process.env.SHARDFLOW_PIPELINE': JSON.stringify(json) },
    // …and the banner also sets it before any module runs, for code that reads env by name
    // (requireEnv). createRequire lets bundled CommonJS dependencies require Node built-ins.
    banner: [
      "import { createRequire as __sfCreateRequire } from 'node:module';",
      'const require = __sfCreateRequire(import.meta.url);',
      `process.env.SHARDFLOW_PIPELINE = ${JSON.stringify(json)};`,
    ].join(' '),
  };
}
