import { describe, expect, test } from 'vitest';
import clickstream from '../pipelines/clickstream';
import iot from '../pipelines/iot';
import ordersExample from '../pipelines/orders';
import { deploy, nagFindings } from './helpers';
import { orders } from './fixtures';

describe('cdk-nag AwsSolutions pack', () => {
  test.each([
    ['clickstream (Kinesis)', clickstream],
    ['iot (MSK Serverless)', iot],
    ['orders example (two aggregates, sessions)', ordersExample],
    ['orders with scheduled queries', orders({ scheduledQueries: [{ name: 'q', schedule: 'rate(1 hour)', sql: 'SELECT 1' }] })],
  ])('%s: no unacknowledged finding in the lake or pipeline stack', (_name, pipeline) => {
    // GIVEN the app's stacks / WHEN synthesized (cross-stack references resolved as `cdk synth` does)
    const { app, lake, stack } = deploy(pipeline);
    app.synth();
    // THEN every finding is fixed or acknowledged on its construct with a reason
    expect([...nagFindings(lake), ...nagFindings(stack)]).toEqual([]);
  });
});
