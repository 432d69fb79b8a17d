/**
 * The local-e2e benchmark's producer, run as a process of its own as
 * `shardflow send` runs beside `shardflow dev`: the events are made before the
 * timed part (`prepare`), then sent with the producers `send` uses (`send`).
 * It exits when its parent goes (the IPC channel closes), so a benchmark that
 * dies leaves no producer behind.
 */
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { localKinesisClient } from '../../local/aws-clients';
import { sendToKafka, sendToKinesis, type OutgoingRecord } from '../../local/producers';
import { clickstreamWorkload } from '../../test/support/clickstream-events';
import { iotWorkload } from '../../test/support/iot-events';

export type ToProducer =
  | { type: 'init'; kinesis: string; kafka: string }
  | { type: 'prepare'; kind: 'kinesis' | 'kafka'; events: number; round: number }
  | { type: 'send'; kind: 'kinesis' | 'kafka'; target: string };

export type FromProducer =
  | { type: 'ready' }
  | { type: 'prepared'; records: number; raw: number }
  | { type: 'sent'; sent: number; failed: number }
  | { type: 'error'; message: string };

/** The events of one send, and how many of them the view must count. */
export function workload(kind: 'kinesis' | 'kafka', events: number, round: number): { records: OutgoingRecord[]; raw: number } {
  if (kind === 'kinesis') {
    const w = clickstreamWorkload(events, { seed: 3 + round, startMs: Date.now(), arrivalStepMs: 0, onTheLimit: false });
    return { records: w.records.map((r, i): OutgoingRecord => ({ data: r.text, partitionKey: `u${i % 97}` })), raw: w.counts.raw };
  }
  const w = iotWorkload(events, Date.now(), 4 + round);
  return { records: w.records.map((r): OutgoingRecord => ({ data: r.text, partitionKey: r.key })), raw: w.counts.raw };
}

if (process.send && process.env.SHARDFLOW_BENCH_PRODUCER === '1') {
  const reply = (m: FromProducer): void => void process.send!(m);
  let kinesis: ReturnType<typeof localKinesisClient> | undefined;
  let producer: Producer | undefined;
  let prepared: OutgoingRecord[] = [];
  process.on('disconnect', () => process.exit(0));
  process.on('message', (m: ToProducer) => {
    void (async () => {
      try {
        if (m.type === 'init') {
          kinesis = localKinesisClient(m.kinesis);
          // As `shardflow send` makes it (cli/main.ts).
          producer = new Kafka({ clientId: 'bench', brokers: [m.kafka], logLevel: logLevel.NOTHING }).producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
          await producer.connect();
          reply({ type: 'ready' });
        } else if (m.type === 'prepare') {
          const w = workload(m.kind, m.events, m.round);
          prepared = w.records;
          reply({ type: 'prepared', records: w.records.length, raw: w.raw });
        } else {
          const records = prepared;
          prepared = [];
          const r = m.kind === 'kinesis' ? await sendToKinesis(kinesis!, m.target, records) : await sendToKafka(producer!, m.target, records);
          reply({ type: 'sent', sent: r.sent, failed: r.failed });
        }
      } catch (err) {
        reply({ type: 'error', message: (err as Error).stack ?? String(err) });
      }
    })();
  });
}
