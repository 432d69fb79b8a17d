import { col, count, definePipeline, kinesisSource, max, sum, tumbling } from '../core';

/**
 * Orders on Kinesis, with the customer as a nested object:
 * `{"order_id": "o1", "customer": {"id": "c7", "country": "DE"}, "amount": 12.5, "ts": "…"}`.
 * Revenue per country per 5 minutes, in cents computed per event.
 */
export default definePipeline({
  name: 'orders',
  description: 'Orders per customer country per 5 minutes, revenue in cents',
  source: kinesisSource({ stream: 'orders', shards: 1 }),
  schema: {
    order_id: 'string',
    customer_id: { type: 'string', path: 'customer.id' },
    country: { type: 'string', path: 'customer.country', required: false },
    amount: 'double',
    ts: 'timestamp',
  },
  eventTime: 'ts',
  derive: {
    // Trino's CAST(double AS bigint) rounds half away from zero: 12.345 → 1235.
    amount_cents: col('amount').mul(100).cast('bigint'),
  },
  filter: col('amount_cents').gt(0),
  allowedLateness: '10 minutes',
  aggregate: {
    groupBy: ['country'],
    window: tumbling('5 minutes'),
    measures: {
      orders: count(),
      revenue_cents: sum('amount_cents'),
      max_amount: max('amount'),
    },
    view: 'orders_by_country_5m',
  },
  database: 'shardflow',
});
