import { approxPercentile, col, count, countIf, definePipeline, field, kinesisSource, session, sum, tumbling } from '../core';

/**
 * Web shop orders on Kinesis, as shops send them: the customer is a nested
 * object (`{"order_id": "o1", "customer": {"id": "c7", "country": "DE"},
 * "amount": 12.5, "ts": "…"}`), and not every customer has a country.
 * Revenue and order-size percentiles per country every 5 minutes, and each
 * customer's shopping sessions (orders less than 30 minutes apart).
 */
export default definePipeline({
  name: 'orders',
  description: 'Orders per country per 5 minutes, and per-customer sessions with a 30-minute gap',
  source: kinesisSource({ stream: 'orders', shards: 2 }),
  schema: {
    order_id: 'string',
    customer_id: { type: 'string', path: 'customer.id' },
    country: { type: 'string', path: 'customer.country', required: false },
    amount: 'double',
    ts: 'timestamp',
  },
  // Whole cents for billing systems that keep integers: amounts come with two decimals, and the cast
  // rounds to the nearest (as Trino's does), so 19.99 × 100 = 1998.9999999999998 becomes 1999.
  derive: { amount_cents: col('amount').mul(100).cast('bigint') },
  eventTime: 'ts',
  // Mobile shops queue orders while offline: an hour of lateness before an order counts as late.
  allowedLateness: '1 hour',
  aggregates: [
    {
      groupBy: ['country'],
      window: tumbling('5 minutes'),
      measures: {
        orders: count(),
        revenue: sum('amount'),
        amount: approxPercentile('amount', [0.5, 0.95]),
        large_orders: countIf(field('amount').gt(100)),
      },
      view: 'orders_by_country_5m',
    },
    {
      groupBy: ['customer_id'],
      window: session({ gap: '30 minutes' }),
      measures: {
        orders: count(),
        revenue: sum('amount'),
      },
      view: 'orders_sessions_30m',
    },
  ],
  tables: {
    raw: 'orders_events',
    partials: 'orders_partials',
    late: 'orders_late',
    quarantine: 'orders_quarantine',
  },
  database: 'shardflow',
});
