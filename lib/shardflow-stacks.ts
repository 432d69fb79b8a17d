/**
 * The stacks of a whole Shardflow app in one call: one shared lake stack, one
 * stack per pipeline, and cdk-nag's AwsSolutions pack over all of them (cdk-nag 3
 * runs as a CDK validation plugin: findings without an acknowledgement fail the synth).
 * This repository's bin/app.ts and the app that `shardflow init` writes are this call.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Validations, type App, type Environment } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Pipeline } from '../core/pipeline';
import { checkSchemaLock, parseSchemaLock, SCHEMA_LOCK_FILE } from '../core/schema-evolution';
import type { DataLakeProps } from './data-lake';
import { LakeStack } from './lake-stack';
import { PipelineStack, type PipelineStackProps } from './pipeline-stack';
import { InvalidPropError } from './prop-checks';

export interface ShardflowStacksProps {
  /** The pipelines to deploy, at least one; each gets a stack `<stackNamePrefix><name>`. */
  readonly pipelines: readonly Pipeline[];
  /** Id and name of the lake stack. @default 'ShardflowLake' */
  readonly lakeStackName?: string;
  /** Prefix of each pipeline stack's id and name. @default 'Shardflow-' */
  readonly stackNamePrefix?: string;
  /** Options of the lake. Its databases default to the pipelines' databases. @default DATA_LAKE_DEFAULTS */
  readonly lake?: DataLakeProps;
  /** Account and region of every stack. @default environment-agnostic stacks */
  readonly env?: Environment;
  /** Run cdk-nag's AwsSolutions pack at synth. @default true */
  readonly nag?: boolean;
  /** Overrides for one pipeline's stack, by pipeline name (memory, alarm topic, Kafka cluster …). @default none */
  readonly pipelineProps?: Readonly<Record<string, Omit<PipelineStackProps, 'pipeline' | 'lake'>>>;
  /**
   * The schema lock file (`shardflow pipelines` writes it; commit it): synth fails when a
   * pipeline's schema changes in a way the objects its lake already holds cannot follow
   * (docs/schema-evolution.md). `false`: no check.
   * @default 'shardflow-schemas.lock.json' in the current folder, when it exists
   */
  readonly schemaLock?: string | false;
}

export interface ShardflowStacks {
  readonly lake: LakeStack;
  /** Pipeline stacks by pipeline name. */
  readonly pipelines: Readonly<Record<string, PipelineStack>>;
}

export function shardflowStacks(app: App, props: ShardflowStacksProps): ShardflowStacks {
  if (props.pipelines.length === 0) throw new InvalidPropError('Pipelines must hold at least one pipeline (given [])');
  for (const name of Object.keys(props.pipelineProps ?? {})) {
    if (!props.pipelines.some((p) => p.name === name)) {
      throw new InvalidPropError(`Pipeline props name a pipeline that is not in pipelines: ${JSON.stringify(name)} (pipelines: ${props.pipelines.map((p) => p.name).join(', ')})`);
    }
  }
  checkLockFile(props.pipelines, props.schemaLock);
  const env = props.env ? { env: props.env } : {};
  const lake = new LakeStack(app, props.lakeStackName ?? 'ShardflowLake', {
    ...env,
    lake: { databases: [...new Set(props.pipelines.map((p) => p.database))], ...props.lake },
  });
  const pipelines: Record<string, PipelineStack> = {};
  for (const pipeline of props.pipelines) {
    pipelines[pipeline.name] = new PipelineStack(app, `${props.stackNamePrefix ?? 'Shardflow-'}${pipeline.name}`, {
      ...env,
      ...props.pipelineProps?.[pipeline.name],
      pipeline,
      lake: lake.lake,
    });
  }
  if (props.nag !== false) Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { lake, pipelines };
}

/** Throws PipelineDefinitionError when a pipeline's schema cannot follow its record in the lock file. */
function checkLockFile(pipelines: readonly Pipeline[], option: string | false | undefined): void {
  if (option === false) return;
  const file = path.resolve(option ?? SCHEMA_LOCK_FILE);
  if (!fs.existsSync(file)) {
    if (option !== undefined) throw new InvalidPropError(`schemaLock: ${file} does not exist (\`npx shardflow pipelines --lock ${option}\` writes it)`);
    return;
  }
  checkSchemaLock(parseSchemaLock(fs.readFileSync(file, 'utf8'), file), pipelines, file);
}
