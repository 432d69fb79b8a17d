import { approxDistinct, count, definePipeline, field, kinesisSource, max, sum, tumbling } from '../core';

/** Web clickstream on Kinesis: per-category activity per minute. */
export default definePipeline({
  name: 'clickstream',
  description: 'Clicks with value > 10, counted per category per minute',
  source: kinesisSource({ stream: 'clickstream-events', shards: 2 }),
  schema: {
    event_id: 'string',
    user_id: 'string',
    category: 'string',
    value: 'double',
    ts: 'timestamp',
  },
  eventTime: 'ts',
  filter: field('value').gt(10),
  allowedLateness: '10 minutes',
  aggregate: {
    groupBy: ['category'],
    window: tumbling('1 minute'),
    measures: {
      events: count(),
      total_value: sum('value'),
      max_value: max('value'),
      users: approxDistinct('user_id'),
    },
    view: 'clickstream_by_category_1m',
  },
  tables: {
    raw: 'clickstream_events',
    partials: 'clickstream_partials',
    late: 'clickstream_late',
    quarantine: 'clickstream_quarantine',
  },
  database: 'shardflow',
});
