/**
 * CDK app: one shared lake stack, one stack per pipeline in pipelines/index.ts,
 * and the cdk-nag AwsSolutions pack over all of them (lib/shardflow-stacks.ts).
 */
import { App } from 'aws-cdk-lib';
import { shardflowStacks } from '../lib/shardflow-stacks';
import { pipelines } from '../pipelines';

const app = new App();
shardflowStacks(app, { pipelines });
app.synth();
