/**
 * Kafka broker: Apache Kafka in KRaft combined mode (one node is both broker
 * and controller), run with the machine's Java from jars that
 * `scripts/setup-kafka.sh` resolves from Maven Central. Topics and committed
 * offsets live under `dataDir`, so a restart keeps them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { assertPortFree, freePort, ServiceStartError, type RunningService } from './service';
import { lockDataDir, ServiceProcess, waitUntilReady, type DataDirLock } from './service-process';

/**
 * Pinned with scripts/setup-kafka.sh. 3.9.x rather than 4.x: Kafka 4 removed old
 * protocol API versions (KIP-896) and kafkajs 2.2.4 predates that change.
 */
export const KAFKA_VERSION = '3.9.2';
export const DEFAULT_KAFKA_PORT = 9092;

export interface KafkaBrokerOptions {
  /** Loopback port of the client (PLAINTEXT) listener. @default 9092 */
  readonly port?: number;
  /** KRaft controller listener port. @default a free port picked at each start */
  readonly controllerPort?: number;
  /** Directory that holds the log segments, metadata log, config and broker.log. */
  readonly dataDir: string;
  /** Partitions of a topic created without a count (`num.partitions`). @default 1 */
  readonly partitionsDefault?: number;
  /** JVM maximum heap, in MiB. @default 512 */
  readonly heapMb?: number;
  /** Give up on readiness after this long, in ms (a cold JVM takes 5–15 s on 2 cores). @default 90000 */
  readonly startTimeoutMs?: number;
}

const SERVICE = 'Kafka broker';
const here = path.dirname(fileURLToPath(import.meta.url));
const SETUP_SCRIPT = path.resolve(here, '../../scripts/setup-kafka.sh');

/** Where setup-kafka.sh puts the jars; same default as the script. */
export function kafkaHome(): string {
  const cache = process.env.SHARDFLOW_CACHE ?? path.join(os.homedir(), '.cache', 'shardflow');
  return path.join(cache, `kafka-${KAFKA_VERSION}`);
}

/** Java on PATH, else a ServiceStartError that says what to install. */
function assertJava(): void {
  const res = spawnSync('java', ['-version'], { encoding: 'utf8', timeout: 15_000 });
  if (res.error) {
    const why = (res.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'java not found on PATH' : res.error.message;
    throw new ServiceStartError(SERVICE, `${why}. Install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless).`);
  }
  const major = /version "(\d+)/.exec(res.stderr)?.[1];
  if (major !== undefined && Number(major) < 17) {
    throw new ServiceStartError(SERVICE, `Java ${major} found; Kafka ${KAFKA_VERSION} here runs on Java 17+.`);
  }
}

/**
 * The broker's libs directory, running scripts/setup-kafka.sh first when the
 * jars are not there yet (one-time, ~20 s with network, needs mvn).
 */
export async function ensureKafkaJars(timeoutMs = 600_000): Promise<string> {
  const home = kafkaHome();
  if (existsSync(path.join(home, '.complete'))) return path.join(home, 'libs');
  const out = await runToEnd('bash', [SETUP_SCRIPT], { ...process.env, SHARDFLOW_KAFKA_VERSION: KAFKA_VERSION }, timeoutMs);
  if (out.code !== 0 || !existsSync(path.join(home, '.complete'))) {
    throw new ServiceStartError(
      SERVICE,
      `the Kafka jars are not set up and \`bash scripts/setup-kafka.sh\` failed (${out.how}):\n${out.output.slice(-2_000)}`,
    );
  }
  return path.join(home, 'libs');
}

interface RunResult {
  readonly code: number | null;
  readonly how: string;
  readonly output: string;
}

/** Runs a command to completion with a time limit; never rejects. */
function runToEnd(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    const keep = (b: Buffer): void => {
      output = (output + b.toString('utf8')).slice(-8_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-(child.pid ?? 0), 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, how: err.message, output });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const how = timedOut ? `timed out after ${timeoutMs} ms` : signal ? `killed by ${signal}` : `exit code ${code}`;
      resolve({ code, how, output });
    });
  });
}

function serverProperties(o: {
  port: number;
  controllerPort: number;
  logDir: string;
  partitions: number;
}): string {
  return [
    '# Written by local/services/kafka.ts at each start; edits are overwritten.',
    'process.roles=broker,controller',
    'node.id=1',
    // Static single-voter quorum: the controller port may change between restarts.
    `controller.quorum.voters=1@127.0.0.1:${o.controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${o.port},CONTROLLER://127.0.0.1:${o.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${o.port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${o.logDir}`,
    `num.partitions=${o.partitions}`,
    // Topics come from the pipeline definition (createTopicIfMissing), never from a typo.
    'auto.create.topics.enable=false',
    // One node: internal topics cannot have more replicas than brokers.
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    // Default 50 partitions each: creating them on the first group join costs seconds on 2 cores.
    'offsets.topic.num.partitions=1',
    'transaction.state.log.num.partitions=1',
    // Default 3 s wait for more members before the first rebalance; one local consumer needs none.
    'group.initial.rebalance.delay.ms=0',
    // Log segments: 64 MiB instead of 1 GiB keeps a dev dataDir small when retention runs.
    'log.segment.bytes=67108864',
    '',
  ].join('\n');
}

const LOG4J_PROPERTIES = [
  '# Broker log to stdout, captured by local/services/kafka.ts into <dataDir>/broker.log.',
  'log4j.rootLogger=INFO, stdout',
  'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
  // These log every request/state change at INFO; WARN keeps broker.log readable.
  'log4j.logger.kafka=INFO',
  'log4j.logger.org.apache.kafka=INFO',
  'log4j.logger.kafka.request.logger=WARN',
  'log4j.logger.state.change.logger=WARN',
  'log4j.logger.kafka.controller=WARN',
  'log4j.logger.org.apache.kafka.controller=WARN',
  '',
].join('\n');

/**
 * Kafka's cluster id: 16 random bytes in URL-safe base64 without padding (22 chars).
 * Never starting with '-', which StorageTool's argument parser reads as an option
 * (Kafka's own Uuid.randomUuid() skips those ids for the same reason).
 */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export async function startKafkaBroker(opts: KafkaBrokerOptions): Promise<RunningService> {
  const port = opts.port ?? DEFAULT_KAFKA_PORT;
  const partitions = opts.partitionsDefault ?? 1;
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new ServiceStartError(SERVICE, `partitionsDefault must be a positive integer (given ${partitions})`);
  }
  const dataDir = path.resolve(opts.dataDir);
  const configDir = path.join(dataDir, 'config');
  const logDir = path.join(dataDir, 'kraft-logs');
  await fs.mkdir(configDir, { recursive: true, mode: 0o700 });
  await fs.mkdir(logDir, { recursive: true, mode: 0o700 });
  // Before the port checks: a broker that a SIGKILLed supervisor left on this dataDir still
  // holds the port, and the lock stops it (identified by pid and start time, service-process.ts).
  const lock = await lockDataDir(SERVICE, dataDir);
  try {
    await assertPortFree(SERVICE, port);
    const controllerPort = opts.controllerPort ?? (await freePort());
    await assertPortFree(`${SERVICE} (KRaft controller)`, controllerPort);
    assertJava();
    const libs = await ensureKafkaJars();
    return await runBroker({ opts, port, controllerPort, libs, dataDir, configDir, logDir, lock });
  } catch (err) {
    await lock.release();
    throw err;
  }
}

interface BrokerLaunch {
  readonly opts: KafkaBrokerOptions;
  readonly port: number;
  readonly controllerPort: number;
  readonly libs: string;
  readonly dataDir: string;
  readonly configDir: string;
  readonly logDir: string;
  readonly lock: DataDirLock;
}

async function runBroker({ opts, port, controllerPort, libs, dataDir, configDir, logDir, lock }: BrokerLaunch): Promise<RunningService> {
  const partitions = opts.partitionsDefault ?? 1;
  const propsFile = path.join(configDir, 'server.properties');
  const log4jFile = path.join(configDir, 'log4j.properties');
  await fs.writeFile(propsFile, serverProperties({ port, controllerPort, logDir, partitions }), { mode: 0o600 });
  await fs.writeFile(log4jFile, LOG4J_PROPERTIES, { mode: 0o600 });

  const classpath = path.join(libs, '*');
  const jvmArgs = [
    `-Xmx${opts.heapMb ?? 512}m`,
    '-Xms64m',
    // Startup over peak speed: C1 only and the serial collector brought a restart from
    // ~16 s to ~10 s on 2 cores; a one-node dev broker is I/O-bound, not JIT-bound.
    '-XX:TieredStopAtLevel=1',
    '-XX:+UseSerialGC',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=${new URL(`file://${log4jFile}`).href}`,
    `-Dkafka.logs.dir=${dataDir}`,
    '-cp',
    classpath,
  ];

  // Format the storage once: meta.properties marks a formatted log dir (and holds the cluster id).
  if (!existsSync(path.join(logDir, 'meta.properties'))) {
    const fmt = await runToEnd(
      'java',
      [...jvmArgs, 'kafka.tools.StorageTool', 'format', '-t', newClusterId(), '-c', propsFile, '--ignore-formatted'],
      process.env,
      120_000,
    );
    if (fmt.code !== 0) {
      throw new ServiceStartError(SERVICE, `formatting KRaft storage in ${logDir} failed (${fmt.how}):\n${fmt.output.slice(-2_000)}`);
    }
  }

  const proc = new ServiceProcess({
    service: SERVICE,
    command: 'java',
    args: [...jvmArgs, 'kafka.Kafka', propsFile],
    cwd: dataDir,
    logFile: path.join(dataDir, 'broker.log'),
    // An orphaned broker gets the same time for its controlled shutdown as stop() gives it.
    orphanGraceMs: 20_000,
  });
  await lock.recordChild(proc.pid);
  const endpoint = `127.0.0.1:${port}`;
  try {
    await waitUntilReady({
      service: SERVICE,
      process: proc,
      probe: () => answersListTopics([endpoint]),
      timeoutMs: opts.startTimeoutMs ?? 90_000,
      intervalMs: 250,
    });
  } catch (err) {
    await proc.stop(5_000);
    throw err;
  }
  return {
    name: 'kafka',
    endpoint,
    port,
    async stop() {
      // Controlled shutdown flushes logs and writes clean-shutdown markers; 1–3 s when idle.
      await proc.stop(20_000);
      await lock.release();
    },
  };
}

function quietKafka(brokers: string[], clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    retry: { retries: 0 },
  });
}

async function answersListTopics(brokers: string[]): Promise<boolean> {
  const admin = quietKafka(brokers, 'shardflow-readiness').admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Creates the topic unless it exists, and waits until its partition leaders are
 * elected. Returns true when it created the topic. A topic that exists with a
 * different partition count is left as it is.
 */
export async function createTopicIfMissing(brokers: string[], topic: string, partitions: number): Promise<boolean> {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new RangeError(`Partition count must be a positive integer (given ${partitions})`);
  }
  const kafka = new Kafka({
    clientId: 'shardflow-admin',
    brokers,
    // Failures surface as the thrown error; kafkajs would also log TOPIC_ALREADY_EXISTS as an ERROR.
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    // false when it already exists (kafkajs swallows TOPIC_ALREADY_EXISTS).
    return await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
      waitForLeaders: true,
      timeout: 30_000,
    });
  } finally {
    await admin.disconnect();
  }
}
