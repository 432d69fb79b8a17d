/** Shared fixtures for the infra tests: a fresh App per test with the app's feature flags. */
import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { Pipeline } from '../core/pipeline';
import { LakeStack } from '../lib/lake-stack';
import { PipelineStack, type PipelineStackProps } from '../lib/pipeline-stack';

const CDK_JSON = JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> };

/** An App with cdk.json's context, so tests see the feature flags `cdk synth` sees. */
export function newApp(): App {
  return new App({ context: CDK_JSON.context });
}

/** A fresh Stack in a fresh App. */
export function newStack(id = 'Test'): Stack {
  return new Stack(newApp(), id);
}

/** Inline stand-in for the bundled handler: bundling takes seconds, measured in bundling.test.ts. */
export const INLINE_CODE = lambda.Code.fromInline('export const handler = async () => ({ batchItemFailures: [] });');

/** Lake stack plus one pipeline stack, with inline code unless `bundle` is set. */
export function deploy(pipeline: Pipeline, extra: Partial<PipelineStackProps> & { bundle?: boolean } = {}): { app: App; lake: LakeStack; stack: PipelineStack } {
  const app = newApp();
  const lake = new LakeStack(app, 'Lake');
  const { bundle, ...rest } = extra;
  const stack = new PipelineStack(app, `Pipeline-${pipeline.name}`, {
    pipeline,
    lake: lake.lake,
    ...(bundle ? {} : { processor: { handlerCode: INLINE_CODE }, topicHandlerCode: INLINE_CODE, queryRendererCode: INLINE_CODE, compactor: { code: INLINE_CODE } }),
    ...rest,
  });
  return { app, lake, stack };
}

export interface NagFinding {
  readonly rule: string;
  readonly severity: string;
  readonly path: string;
}

/** cdk-nag AwsSolutions findings without an acknowledgement, in the given scope. */
export function nagFindings(scope: IConstruct): NagFinding[] {
  const report = new AwsSolutionsChecks().validateScope(scope);
  return report.violations.flatMap((v) =>
    v.violatingResources.map((r) => ({ rule: v.ruleName, severity: v.severity ?? 'error', path: r.constructPath ?? r.resourceLogicalId ?? '?' })),
  );
}
