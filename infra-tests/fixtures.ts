/** Pipelines for infra tests beyond the two shipped examples. */
import { count, definePipeline, field, kinesisSource, tumbling, type PipelineInput } from '../core';

export const baseInput: PipelineInput = {
  name: 'orders',
  source: kinesisSource({ stream: 'orders-events', shards: 'on-demand' }),
  schema: { order_id: 'string', category: 'string', amount: 'double', ts: 'timestamp' },
  eventTime: 'ts',
  filter: field('category').in(['books', 'games']),
  aggregate: { groupBy: ['category'], window: tumbling('1 minute'), measures: { orders: count() }, view: 'orders_by_category_1m' },
  processing: { batchSize: 500, batchingWindow: '5s', parallelizationFactor: 4, maxRetryAttempts: 2, maxRecordAge: '6 hours', startingPosition: 'LATEST' },
};

export const orders = (over: Partial<PipelineInput> = {}) => definePipeline({ ...baseInput, ...over });
