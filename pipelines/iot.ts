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
});
