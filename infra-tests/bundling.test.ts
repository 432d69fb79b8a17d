/**
 * The one test that bundles the real handler with the local esbuild (no Docker).
 * Measured here: bundling adds about 2 s per function on a 2-core machine, so the
 * other tests use inline code (PipelineStackProps.processor.handlerCode).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import clickstream from '../pipelines/clickstream';
import { deploy } from './helpers';

describe('stream processor bundle', () => {
  test('ESM bundle with source map, the pipeline inlined, ARM64 Node.js 22', () => {
    // GIVEN / WHEN the real handler is bundled
    const started = performance.now();
    const { app, stack } = deploy(clickstream, { bundle: true });
    const assembly = app.synth();
    const ms = performance.now() - started;
    // THEN the function runs the bundle with source maps enabled
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps', LAKE_BUCKET: Match.anyValue() } },
    });
    // AND the asset is an ES module carrying the validated pipeline, with its source map
    const dirs = readdirSync(assembly.directory).filter((d) => d.startsWith('asset.'));
    const bundle = dirs.map((d) => join(assembly.directory, d)).find((d) => readdirSync(d).includes('index.mjs'));
    expect(bundle).toBeDefined();
    expect(readdirSync(bundle!)).toContain('index.mjs.map');
    const code = readFileSync(join(bundle!, 'index.mjs'), 'utf8');
    expect(code).toContain(JSON.stringify(JSON.stringify(clickstream)));
    console.log(`synth with real bundling: ${Math.round(ms)} ms`);
  });
});
