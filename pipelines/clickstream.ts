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
      // Every hour on the hour (UTC), over the hour that just ended. The placeholders are filled from the
      // scheduled time (locally by the scheduler, on AWS by the query renderer), so a re-run or a catch-up
      // run covers exactly its own hour. The view carries the dt/hour of its partials: the constant
      // `dt = {{dt}} AND hour = {{hour}}` (the run's one hour) prunes to that partition, where window_start
      // bounds alone would make Athena list every projected partition since partitionsFrom.
      schedule: 'cron(0 * * * ? *)',
      sql: `SELECT category, SUM(total_value) AS total_value, SUM(events) AS events, MAX(max_value) AS max_value
FROM clickstream_by_category_1m
WHERE dt = {{dt}} AND hour = {{hour}} AND window_start >= {{window_start}} AND window_start < {{window_end}}
GROUP BY category
ORDER BY total_value DESC, category
LIMIT 10`,
    },
  ],
});
