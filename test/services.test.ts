/**
 * Local services, started for real on free ports in a temp dir: Kinesis (both
 * engines), Kafka (KRaft, needs Java 17 and, the first time, mvn), and the
 * supervisor that starts them together. No skips: a missing dependency fails
 * with the service's own message.
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListStreamsCommand,
  PutRecordsCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { Kafka, logLevel, type EachMessagePayload } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStreamIfMissing, localKinesisClient } from '../local/aws-clients';
import { startLocalServices } from '../local/services/index';
import { createTopicIfMissing, startKafkaBroker } from '../local/services/kafka';
import { startKinesisEmulator, type KinesisEngine } from '../local/services/kinesis';
import { assertPortFree, freePort, ServiceStartError, type RunningService } from '../local/services/service';
import { spawnUntilReady } from './support/ready-parent';

let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-services-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function readShard(client: KinesisClient, stream: string): Promise<string[]> {
  const desc = await client.send(new DescribeStreamCommand({ StreamName: stream }));
  const shardId = desc.StreamDescription?.Shards?.[0]?.ShardId;
  const it = await client.send(
    new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
  );
  const out = await client.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator, Limit: 100 }));
  return (out.Records ?? []).map((r) => Buffer.from(r.Data ?? new Uint8Array()).toString('utf8'));
}

async function putRecords(client: KinesisClient, stream: string, bodies: string[]): Promise<void> {
  const out = await client.send(
    new PutRecordsCommand({
      StreamName: stream,
      Records: bodies.map((b, i) => ({ PartitionKey: `k${i}`, Data: Buffer.from(b) })),
    }),
  );
  expect(out.FailedRecordCount ?? 0).toBe(0);
}

/** Holds a loopback port the way another program would. */
async function occupy(port: number): Promise<net.Server> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
  return srv;
}

describe.each<KinesisEngine>(['kinesalite', 'kinesis-local'])('Kinesis emulator (%s)', (engine) => {
  it('answers PutRecords and GetRecords through the AWS SDK', async () => {
    // Prepare
    const dataDir = path.join(root, `kinesis-${engine}`);
    const svc = await startKinesisEmulator({ engine, port: await freePort(), dataDir });
    const client = localKinesisClient(svc.endpoint);
    try {
      await createStreamIfMissing(client, 'clicks', 1);
      // Act
      await putRecords(client, 'clicks', ['{"n":1}', '{"n":2}']);
      // Assess
      expect(await readShard(client, 'clicks')).toEqual(['{"n":1}', '{"n":2}']);
      // A second create is a no-op, not an error.
      await expect(createStreamIfMissing(client, 'clicks', 1)).resolves.toBeUndefined();
    } finally {
      client.destroy();
      await svc.stop();
    }
  }, 60_000);
});

describe('Kinesis emulator restart', () => {
  it.each<KinesisEngine>(['kinesalite', 'kinesis-local'])('%s keeps streams and records in dataDir', async (engine) => {
    // Prepare
    const dataDir = path.join(root, `kinesis-restart-${engine}`);
    const port = await freePort();
    let svc: RunningService = await startKinesisEmulator({ engine, port, dataDir });
    let client = localKinesisClient(svc.endpoint);
    await createStreamIfMissing(client, 'orders', 1);
    await putRecords(client, 'orders', ['before-restart']);
    client.destroy();
    await svc.stop();
    // Act
    svc = await startKinesisEmulator({ engine, port, dataDir });
    client = localKinesisClient(svc.endpoint);
    try {
      // Assess
      expect(await readShard(client, 'orders')).toEqual(['before-restart']);
      // A second emulator on the same dataDir would overwrite this one's data: refused.
      await expect(startKinesisEmulator({ engine, port: await freePort(), dataDir })).rejects.toThrow(/in use|another emulator/);
    } finally {
      client.destroy();
      await svc.stop();
    }
  }, 60_000);
});

describe('kinesalite as a child process', () => {
  it('does not outlive its supervisor: after a SIGKILL of it the port is free, and a new start on the same data keeps the stream', async () => {
    const dataDir = path.join(root, 'kinesalite-orphan');
    const port = await freePort();
    const parent = await spawnUntilReady('kinesalite-parent.ts', [dataDir, String(port)]);
    try {
      parent.kill('SIGKILL');
      // tether.mjs sees the liveness pipe close and stops kinesalite; poll (ordering, not a timing threshold).
      const answers = async (): Promise<boolean> => {
        const c = localKinesisClient(`http://127.0.0.1:${port}`);
        try {
          await c.send(new ListStreamsCommand({}));
          return true;
        } catch {
          return false;
        } finally {
          c.destroy();
        }
      };
      while (await answers()) await new Promise((r) => setTimeout(r, 50));

      const svc = await startKinesisEmulator({ engine: 'kinesalite', port, dataDir });
      const client = localKinesisClient(svc.endpoint);
      try {
        expect((await client.send(new ListStreamsCommand({}))).StreamNames).toEqual(['kept']);
      } finally {
        client.destroy();
        await svc.stop();
      }
    } finally {
      if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
    }
  }, 60_000);
});

describe('Kafka broker (KRaft)', () => {
  const dataDir = (): string => path.join(root, 'kafka');
  let port: number;

  async function consumeOne(brokers: string[], groupId: string, topic: string): Promise<string> {
    const kafka = new Kafka({ clientId: 'services-test', brokers, logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      return await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no message on ${topic} within 30 s`)), 30_000);
        void consumer.run({
          autoCommit: true,
          eachMessage: async ({ message }: EachMessagePayload) => {
            clearTimeout(timer);
            resolve(message.value?.toString('utf8') ?? '');
          },
        });
      });
    } finally {
      // disconnect() commits the offset of the message handled above.
      await consumer.disconnect();
    }
  }

  async function produce(brokers: string[], topic: string, value: string): Promise<void> {
    const kafka = new Kafka({ clientId: 'services-test', brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await producer.send({ topic, messages: [{ key: 'k', value }] });
    } finally {
      await producer.disconnect();
    }
  }

  it('produces and consumes through kafkajs, and keeps topics and group offsets across a restart', async () => {
    // Prepare
    port = await freePort();
    let broker = await startKafkaBroker({ port, dataDir: dataDir() });
    try {
      expect(await createTopicIfMissing([broker.endpoint], 'clicks', 2)).toBe(true);
      expect(await createTopicIfMissing([broker.endpoint], 'clicks', 2)).toBe(false);
      // Act
      await produce([broker.endpoint], 'clicks', 'first');
      // Assess
      expect(await consumeOne([broker.endpoint], 'lake-writer', 'clicks')).toBe('first');
    } finally {
      await broker.stop();
    }

    // Act: same dataDir, same port
    broker = await startKafkaBroker({ port, dataDir: dataDir() });
    try {
      // Assess: the topic survived, and the group resumes after 'first' (its committed offset survived).
      const admin = new Kafka({ brokers: [broker.endpoint], logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      expect(await admin.listTopics()).toContain('clicks');
      await admin.disconnect();
      await produce([broker.endpoint], 'clicks', 'second');
      expect(await consumeOne([broker.endpoint], 'lake-writer', 'clicks')).toBe('second');
      // Kafka 3.9 KRaft does not lock its metadata log: a second broker on this dataDir must be refused by us.
      await expect(startKafkaBroker({ port: await freePort(), dataDir: dataDir() })).rejects.toThrow(
        /data directory .* is in use by process/,
      );
    } finally {
      await broker.stop();
    }
  }, 240_000);
});

describe('start errors', () => {
  it.each([
    ['Kinesis (kinesalite)', (port: number) => startKinesisEmulator({ engine: 'kinesalite', port, dataDir: path.join(root, 'busy-k') })],
    ['Kinesis (kinesis-local)', (port: number) => startKinesisEmulator({ engine: 'kinesis-local', port, dataDir: path.join(root, 'busy-kl') })],
    ['Kafka', (port: number) => startKafkaBroker({ port, dataDir: path.join(root, 'busy-kafka') })],
  ])('%s on a port in use gives ServiceStartError naming the port', async (_name, start) => {
    const port = await freePort();
    const holder = await occupy(port);
    try {
      const err = await start(port).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ServiceStartError);
      expect((err as Error).message).toMatch(new RegExp(`port ${port}\\b.*already in use`));
    } finally {
      await new Promise((r) => holder.close(r));
    }
  });

  it('Kafka without java on PATH says to install Java', async () => {
    const path_ = process.env.PATH;
    process.env.PATH = path.join(root, 'empty-bin');
    try {
      await expect(startKafkaBroker({ port: await freePort(), dataDir: path.join(root, 'no-java') })).rejects.toThrow(
        /java not found on PATH.*Java 17/,
      );
    } finally {
      process.env.PATH = path_;
    }
  });

  it('startLocalServices stops the services that started when another fails', async () => {
    // Prepare: Kinesis's port is taken, S3's is free.
    const kinesisPort = await freePort();
    const s3Port = await freePort();
    const holder = await occupy(kinesisPort);
    try {
      // Act
      const start = startLocalServices({
        dataDir: path.join(root, 'partial'),
        services: ['kinesis', 's3'],
        ports: { kinesis: kinesisPort, s3: s3Port },
      });
      // Assess: the Kinesis error comes through, and S3 released its port.
      await expect(start).rejects.toThrow(new RegExp(`port ${kinesisPort}`));
      await expect(assertPortFree('s3 check', s3Port)).resolves.toBeUndefined();
    } finally {
      await new Promise((r) => holder.close(r));
    }
  });

  it('startLocalServices starts Kinesis and S3 together and stops both', async () => {
    const ports = { kinesis: await freePort(), s3: await freePort() };
    const services = await startLocalServices({ dataDir: path.join(root, 'both'), services: ['kinesis', 's3'], ports });
    expect(services.kinesis?.endpoint).toBe(`http://127.0.0.1:${ports.kinesis}`);
    expect(services.s3?.endpoint).toBe(`http://127.0.0.1:${ports.s3}`);
    expect(services.kafka).toBeUndefined();
    await services.stopAll();
    await expect(assertPortFree('kinesis check', ports.kinesis)).resolves.toBeUndefined();
    await expect(assertPortFree('s3 check', ports.s3)).resolves.toBeUndefined();
  }, 30_000);
});
