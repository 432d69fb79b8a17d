/**
 * Starts the local services a pipeline needs, side by side under one data
 * directory (`<dataDir>/kinesis`, `/s3`, `/kafka`), and stops them together.
 */
import path from 'node:path';
import { DEFAULT_KAFKA_PORT, startKafkaBroker } from './kafka';
import { DEFAULT_KINESIS_ENGINE, DEFAULT_KINESIS_PORT, startKinesisEmulator, type KinesisEngine } from './kinesis';
import { DEFAULT_S3_PORT, startS3Emulator, type S3Emulator } from './s3';
import type { RunningService } from './service';

export type LocalServiceName = 'kinesis' | 's3' | 'kafka';

export interface LocalServicesOptions {
  /** Root directory; each service keeps its data in a sub-folder named after it. */
  readonly dataDir: string;
  /** Loopback ports. @default { kinesis: 4568, s3: 4569, kafka: 9092 } */
  readonly ports?: Partial<Record<LocalServiceName, number>>;
  /** @default DEFAULT_KINESIS_ENGINE */
  readonly kinesisEngine?: KinesisEngine;
  /** Which services to start. @default ['kinesis', 's3', 'kafka'] */
  readonly services?: readonly LocalServiceName[];
  /** Buckets the S3 emulator creates at start if missing. */
  readonly buckets?: readonly string[];
  /** Further loopback ports whose pages may call the HTTP services (a local web UI); see local/http-guard.ts. @default [] */
  readonly allowedOriginPorts?: readonly number[];
}

export interface LocalServices {
  readonly kinesis?: RunningService;
  /** With a hook on every object change (the local Athena endpoint's object index). */
  readonly s3?: S3Emulator;
  readonly kafka?: RunningService;
  /** Stops every started service (in parallel; idempotent). */
  stopAll(): Promise<void>;
}

const starters: Record<LocalServiceName, (o: LocalServicesOptions) => Promise<RunningService>> = {
  kinesis: (o) =>
    startKinesisEmulator({
      engine: o.kinesisEngine ?? DEFAULT_KINESIS_ENGINE,
      port: o.ports?.kinesis ?? DEFAULT_KINESIS_PORT,
      dataDir: path.join(o.dataDir, 'kinesis'),
      allowedOriginPorts: o.allowedOriginPorts ?? [],
    }),
  s3: (o) =>
    startS3Emulator({
      port: o.ports?.s3 ?? DEFAULT_S3_PORT,
      dataDir: path.join(o.dataDir, 's3'),
      ...(o.buckets ? { buckets: o.buckets } : {}),
      allowedOriginPorts: o.allowedOriginPorts ?? [],
    }),
  kafka: (o) => startKafkaBroker({ port: o.ports?.kafka ?? DEFAULT_KAFKA_PORT, dataDir: path.join(o.dataDir, 'kafka') }),
};

/**
 * Starts the requested services in parallel (they share no ports or folders).
 * If any fails, the ones that did start are stopped before the first error is
 * rethrown, so a failed start never leaves a JVM or a bound port behind.
 */
export async function startLocalServices(opts: LocalServicesOptions): Promise<LocalServices> {
  const names = [...new Set(opts.services ?? (['kinesis', 's3', 'kafka'] as const))];
  const settled = await Promise.allSettled(names.map((name) => starters[name](opts)));

  const started = new Map<LocalServiceName, RunningService>();
  const failures: unknown[] = [];
  settled.forEach((s, i) => {
    if (s.status === 'fulfilled') started.set(names[i]!, s.value);
    else failures.push(s.reason);
  });

  const stopAll = async (): Promise<void> => {
    const results = await Promise.allSettled([...started.values()].map((svc) => svc.stop()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };

  if (failures.length > 0) {
    await stopAll().catch(() => undefined);
    throw failures[0];
  }
  return {
    ...(started.has('kinesis') ? { kinesis: started.get('kinesis') } : {}),
    ...(started.has('s3') ? { s3: started.get('s3') as S3Emulator } : {}),
    ...(started.has('kafka') ? { kafka: started.get('kafka') } : {}),
    stopAll,
  };
}

export { ServiceStartError, freePort, type RunningService } from './service';
export { startKinesisEmulator, DEFAULT_KINESIS_ENGINE, type KinesisEngine } from './kinesis';
export { startKafkaBroker, createTopicIfMissing } from './kafka';
export { startS3Emulator, s3ObjectFile, type S3Emulator, type S3ObjectChange } from './s3';
