/**
 * CDK app: one shared lake stack, one stack per pipeline in pipelines/index.ts,
 * and the cdk-nag AwsSolutions pack over all of them (cdk-nag 3 runs as a CDK
 * validation plugin: findings without an acknowledgement fail the synth).
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { LakeStack } from '../lib/lake-stack';
import { PipelineStack } from '../lib/pipeline-stack';
import { pipelines } from '../pipelines';

const app = new App();
const { lake } = new LakeStack(app, 'ShardflowLake', { lake: { databases: [...new Set(pipelines.map((p) => p.database))] } });
for (const pipeline of pipelines) new PipelineStack(app, `Shardflow-${pipeline.name}`, { pipeline, lake });
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
