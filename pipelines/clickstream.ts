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
  scheduledQueries: [
    {
      name: 'top_categories_hourly',
      description: 'Top categories by total value over the last hour, from the aggregate view',
      // Every hour on the hour (UTC). The SQL is placeholder-free until the CDK app passes the query
      // runner as the schedules' renderer: it covers the last complete hour at execution time. With a
      // renderer, write `window_start >= {{window_start}} AND window_start < {{window_end}}` instead:
      // re-runs and catch-up runs then cover their own interval.
      schedule: 'cron(0 * * * ? *)',
      sql: `SELECT category, SUM(total_value) AS total_value, SUM(events) AS events, MAX(max_value) AS max_value
FROM clickstream_by_category_1m
WHERE window_start >= from_unixtime(floor(to_unixtime(current_timestamp) / 3600) * 3600 - 3600)
  AND window_start < from_unixtime(floor(to_unixtime(current_timestamp) / 3600) * 3600)
GROUP BY category
ORDER BY total_value DESC, category
LIMIT 10`,
    },
  ],
});
