import { avg, count, definePipeline, field, kafkaSource, max, tumbling } from '../core';

/** IoT sensor readings on Kafka: per-site temperature every 5 minutes. */
export default definePipeline({
  name: 'iot',
  description: 'Readings with a temperature, averaged per site per 5 minutes',
  source: kafkaSource({ topic: 'iot-readings', partitions: 3 }),
  schema: {
    device_id: 'string',
    site: 'string',
    temperature: { type: 'double', required: false },
    humidity: { type: 'double', required: false },
    ts: 'timestamp',
  },
  eventTime: 'ts',
  filter: field('temperature').isNotNull(),
  allowedLateness: '10 minutes',
  aggregate: {
    groupBy: ['site'],
    window: tumbling('5 minutes'),
    measures: {
      readings: count(),
      avg_temperature: avg('temperature'),
      max_temperature: max('temperature'),
    },
    view: 'iot_by_site_5m',
  },
  tables: {
    raw: 'iot_readings',
    partials: 'iot_partials',
    late: 'iot_late',
    quarantine: 'iot_quarantine',
  },
  database: 'shardflow',
  scheduledQueries: [
    {
      name: 'daily_temperature_extremes',
      description: 'Lowest and highest temperature per site over the last UTC day, from the raw readings',
      // Midnight UTC, over the day that just ended; `dt BETWEEN` with constant bounds prunes to that
      // day's partitions, `ts` bounds make the interval exact.
      schedule: 'cron(0 0 * * ? *)',
      sql: `SELECT site, MIN(temperature) AS min_temperature, MAX(temperature) AS max_temperature, COUNT(*) AS readings
FROM iot_readings
WHERE dt BETWEEN {{dt_start}} AND {{dt_end}} AND ts >= {{window_start}} AND ts < {{window_end}}
GROUP BY site
ORDER BY site`,
    },
  ],
});
