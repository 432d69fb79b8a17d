import { describe, expect, it } from 'vitest';
import { definePipeline, field, kinesisSource, count, tumbling, pipelineFromJson, PipelineDefinitionError } from '../core';
import clickstream from '../pipelines/clickstream';
import iot from '../pipelines/iot';

const base = {
  name: 'orders',
  source: kinesisSource({ stream: 'orders', shards: 1 }),
  schema: { id: 'string', amount: 'double', ts: 'timestamp' },
  eventTime: 'ts',
} as const;

describe('definePipeline', () => {
  it('accepts the example pipelines and round-trips them through JSON', () => {
    for (const p of [clickstream, iot]) {
      expect(pipelineFromJson(JSON.stringify(p))).toEqual(p);
    }
    expect(clickstream.tables.raw).toBe('clickstream_events');
    expect(iot.source).toEqual({ kind: 'kafka', topic: 'iot-readings', partitions: 3 });
  });

  it.each([
    [{ eventTime: 'when' }, /Pipeline "orders": eventTime: names field "when", which is not in the schema/],
    [{ eventTime: 'amount' }, /eventTime: field "amount" must have type timestamp \(given double\)/],
    [{ filter: field('amout').gt(1) }, /filter: field "amout" is not in the schema/],
    [{ filter: field('amount').gt('x') }, /filter: gt value "x" does not match the type of field "amount" \(double\)/],
    [{ schema: { id: 'uuid', ts: 'timestamp' } }, /schema.id: type must be one of .* \(given "uuid"\)/],
    [{ source: kinesisSource({ stream: 'orders', shards: 0 }) }, /source.shards: must be 'on-demand' or a whole number between 1 and 500 inclusive \(given 0\)/],
    [{ processing: { batchSize: 0 } }, /processing.batchSize: must be a whole number between 1 and 10000 inclusive \(given 0\)/],
    [{ aggregate: { groupBy: ['nope'], window: tumbling('1 minute'), measures: { n: count() }, view: 'v' } }, /aggregate.groupBy: field "nope" is not in the schema/],
    [{ aggregate: { groupBy: ['id'], window: tumbling('1 minute'), measures: {}, view: 'v' } }, /aggregate.measures: needs at least one measure/],
    [{ scheduledQueries: [{ name: 'q', schedule: 'every hour', sql: 'select 1' }] }, /scheduledQueries\[0\].schedule: must be an EventBridge expression/],
  ])('rejects a bad definition: %j', (override, message) => {
    expect(() => definePipeline({ ...base, ...override } as never)).toThrow(message);
    expect(() => definePipeline({ ...base, ...override } as never)).toThrow(PipelineDefinitionError);
  });
});

describe('definePipeline filter compilation', () => {
  it('fails at load when lambdaFilterCriteria is on and the filter cannot be expressed there', () => {
    expect(() => definePipeline({ ...base, filter: field('amount').gt(10), processing: { lambdaFilterCriteria: true } })).toThrow(
      /Pipeline "orders": processing.lambdaFilterCriteria: the filter cannot be expressed as Lambda FilterCriteria: .*amount/,
    );
  });

  it('accepts lambdaFilterCriteria for an expressible filter', () => {
    const p = definePipeline({ ...base, filter: field('id').startsWith('web-'), processing: { lambdaFilterCriteria: true } });
    expect(p.processing.lambdaFilterCriteria).toBe(true);
  });
});
