/**
 * Local runtime benchmarks (issue 11):
 * - end to end per source (Kinesis on kinesalite, Kafka on the broker) at 2 and
 *   4 shards/partitions: events/s from the first `send` call to the aggregate
 *   view answering with every event, against the send alone into a stream or
 *   topic of the same size on the same emulator/broker that nothing consumes.
 *   Rounds are interleaved (each case's send-only and end-to-end runs follow
 *   each other, the order alternating, after one untimed warm-up round), so load
 *   drift on a shared machine enters both sides alike; ratio = Σ send-only ms /
 *   Σ end-to-end ms over the timed rounds.
 * - Kinesis read-back: GetRecords of the send-only records right after they were
 *   sent. Every record the mapping processes is read once this way from the
 *   same emulator, so send / (send + read-back) bounds the Kinesis ratio even
 *   with a handler that costs nothing.
 * - local Athena query time on a day of data (24 hourly partitions) with a
 *   partition predicate on dt/hour against the same question without one:
 *   the ratio shows the pruning.
 *
 * Each case runs at EVENTS per send (20,000: mostly the fixed latency of a batch and a
 * query) and at LARGE_EVENTS (throughput: whether the consumer keeps up with the send).
 *
 * Run alone: `npx tsx scripts/bench/local-e2e.ts` (E2E_ROUNDS, E2E_EVENTS, E2E_LARGE_EVENTS (0: none) override the sizes,
 * E2E_WINDOW_MS the batching window, E2E_PRODUCER=inline runs the producer in this process).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, type GetRecordsCommandOutput, type KinesisClient } from '@aws-sdk/client-kinesis';
import type { AthenaClient } from '@aws-sdk/client-athena';
import { Kafka, logLevel } from 'kafkajs';
import { definePipeline, kafkaSource, kinesisSource, toInput, type Pipeline } from '../../core';
import { createStreamProcessor } from '../../functions/stream-processor/handler';
import { silentLogger } from '../../functions/shared/logger';
import { createStreamIfMissing, localAthenaClient, localKinesisClient } from '../../local/aws-clients';
import { sendToKafka, sendToKinesis, type OutgoingRecord } from '../../local/producers';
import { runAthenaQuery } from '../../local/query';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { createTopicIfMissing } from '../../local/services';
import { childEntry } from '../../local/services/child-entry';
import { freePort } from '../../local/services/service';
import clickstream from '../../pipelines/clickstream';
import iot from '../../pipelines/iot';
import { clickstreamWorkload } from '../../test/support/clickstream-events';
import { kinesisEvent, kinesisRecord } from '../../test/support/events';
import { workload, type FromProducer, type ToProducer } from './e2e-producer';
import { benchScratchDir, result, type BenchResult, type BenchSuiteOutput } from './types';

/** Events per send, per round and case. */
const EVENTS = Number(process.env.E2E_EVENTS ?? 20_000);
/** Events per send of the larger-volume cases. */
const LARGE_EVENTS = Number(process.env.E2E_LARGE_EVENTS ?? 200_000);
/** Timed rounds per case, after one untimed warm-up round. */
const ROUNDS = Number(process.env.E2E_ROUNDS ?? 3);
/** The mappings' batching window; unset: what `dev` uses (LOCAL_MAX_BATCHING_WINDOW_MS, local/runtime.ts). */
const WINDOW_MS = process.env.E2E_WINDOW_MS === undefined ? undefined : Number(process.env.E2E_WINDOW_MS);
/**
 * Where the producer runs: 'process' (default) a child process, as `shardflow send` runs beside
 * `dev`; 'inline' this process, sharing the event loop with kinesalite, s3rver and the consumer.
 */
const PRODUCER = process.env.E2E_PRODUCER === 'inline' ? 'inline' : 'process';
const DAY_EVENTS = 48_000;
const SIZES = [2, 4] as const;

interface Case {
  readonly label: string;
  /** Events per send. */
  readonly events: number;
  readonly kind: 'kinesis' | 'kafka';
  readonly size: number;
  /** The pipeline the runtime consumes into the lake. */
  readonly pipeline: Pipeline;
  /** The view's measure that counts events (sum of it over the view = raw events). */
  readonly countMeasure: string;
  /** Stream or topic of the same size that nothing consumes. */
  readonly sendOnlyTarget: string;
}

interface CaseTimes {
  sendOnlyMs: number[];
  e2eMs: number[];
  /** Parts of the end-to-end run: the send, send end → every event counted by the runtime, the view query. */
  e2eSendMs: number[];
  drainMs: number[];
  queryMs: number[];
  /** Kinesis: GetRecords of the send-only records. */
  readBackMs: number[];
  /** Lake objects and handler batches per end-to-end send. */
  objects: number[];
  batches: number[];
  /** CPU of the send-only run, and of the end-to-end run from the send's start to the drain's end. */
  sendOnlyCpu: CpuMs[];
  e2eCpu: CpuMs[];
  expectedRaw: number;
}

/** CPU ms used so far by this process (the runtime), the producer process, and the other processes under this one (the broker's JVM, kinesalite, the Athena worker). */
interface CpuMs {
  readonly runtime: number;
  readonly producer: number;
  readonly services: number;
}

/** The producer's pid, for cpuNow(). */
let producerPid: number | undefined;

/**
 * Reads /proc (Linux; elsewhere only the runtime's CPU is known and the others are NaN).
 * Clock ticks are 10 ms (USER_HZ 100 on Linux).
 */
function cpuNow(): CpuMs {
  const u = process.cpuUsage();
  const runtime = (u.user + u.system) / 1000;
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  try {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        // After "pid (comm) ": state, ppid, …, utime (14th field) and stime (15th).
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        parent.set(Number(d), Number(f[1]));
        ticks.set(Number(d), Number(f[11]) + Number(f[12]));
      } catch {
        // The process ended meanwhile.
      }
    }
  } catch {
    return { runtime, producer: NaN, services: NaN };
  }
  const under = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === process.pid) return true;
    return false;
  };
  let producer = 0;
  let services = 0;
  for (const [pid, t] of ticks) {
    if (!under(pid)) continue;
    if (pid === producerPid) producer += t * 10;
    else services += t * 10;
  }
  return { runtime, producer, services };
}

const cpuSince = (a: CpuMs): CpuMs => {
  const b = cpuNow();
  return { runtime: b.runtime - a.runtime, producer: b.producer - a.producer, services: b.services - a.services };
};

/** A copy of an example pipeline on its own stream/topic, tables and view. */
function variant(base: Pipeline, name: string, source: Pipeline['source']): Pipeline {
  const input = toInput(base);
  return definePipeline({
    ...input,
    name,
    source,
    tables: { raw: `${name}_events`, partials: `${name}_partials`, late: `${name}_late`, quarantine: `${name}_quarantine` },
    // The first aggregate's partials table is tables.partials; the others get their view's default.
    ...(input.aggregates ? { aggregates: input.aggregates.map((a, i) => ({ ...a, view: `${name}_view${i === 0 ? '' : i}`, partials: undefined })) } : {}),
    scheduledQueries: [],
  });
}

function cases(): Case[] {
  const sizes = LARGE_EVENTS > 0 ? [EVENTS, LARGE_EVENTS] : [EVENTS];
  return sizes.flatMap((events, big) =>
    SIZES.flatMap((n): Case[] => {
      const suffix = big ? '_big' : '';
      const count = big ? `, ${events.toLocaleString('en-US')} events` : '';
      return [
        {
          label: `Kinesis (kinesalite), ${n} shards${count}`,
          events,
          kind: 'kinesis',
          size: n,
          pipeline: variant(clickstream, `bench_kinesis_${n}${suffix}`, kinesisSource({ stream: `bench-kinesis-${n}${suffix.replace('_', '-')}`, shards: n })),
          countMeasure: 'events',
          sendOnlyTarget: `bench-send-only-${n}`,
        },
        {
          label: `Kafka broker, ${n} partitions${count}`,
          events,
          kind: 'kafka',
          size: n,
          pipeline: variant(iot, `bench_kafka_${n}${suffix}`, kafkaSource({ topic: `bench-kafka-${n}${suffix.replace('_', '-')}`, partitions: n })),
          countMeasure: 'readings',
          sendOnlyTarget: `bench-send-only-${n}`,
        },
      ];
    }),
  );
}

async function waitForReceived(rt: LocalRuntime, pipeline: string, n: number, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = rt.status().find((x) => x.pipeline === pipeline)!;
    if (s.counts.received >= n) return;
    if (Date.now() > deadline) throw new Error(`${pipeline}: ${s.counts.received}/${n} processed after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Iterators at the tip of every shard: reading them after a send reads exactly what it sent. */
async function tipIterators(kinesis: KinesisClient, stream: string): Promise<string[]> {
  const shards = (await kinesis.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? [];
  return Promise.all(
    shards.map(async (s) => (await kinesis.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: s.ShardId, ShardIteratorType: 'LATEST' }))).ShardIterator!),
  );
}

/** Reads every shard from the given iterators to its tip, shards in parallel as the mapping reads them; returns the records read. */
async function readBack(kinesis: KinesisClient, iterators: string[]): Promise<number> {
  const counts = await Promise.all(
    iterators.map(async (first) => {
      let it: string | undefined = first;
      let n = 0;
      while (it) {
        const out: GetRecordsCommandOutput = await kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10_000 }));
        const got = out.Records?.length ?? 0;
        n += got;
        if (got === 0) break;
        it = out.NextShardIterator;
      }
      return n;
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** Prepares a send (untimed) and runs it (timed by the caller). */
interface BenchProducer {
  prepare(c: Case, round: number): Promise<{ records: number; raw: number }>;
  send(c: Case, target: string): Promise<{ failed: number }>;
  close(): Promise<void>;
}

/** The producer in this process (E2E_PRODUCER=inline). */
async function inlineProducer(kinesis: KinesisClient, kafkaBroker: string): Promise<BenchProducer> {
  const producer = new Kafka({ clientId: 'bench', brokers: [kafkaBroker], logLevel: logLevel.NOTHING }).producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  let prepared: OutgoingRecord[] = [];
  return {
    prepare: async (c, round) => {
      const w = workload(c.kind, c.events, round);
      prepared = w.records;
      return { records: w.records.length, raw: w.raw };
    },
    send: async (c, target) => {
      const records = prepared;
      prepared = [];
      return c.kind === 'kinesis' ? sendToKinesis(kinesis, target, records) : sendToKafka(producer, target, records);
    },
    close: () => producer.disconnect().catch(() => undefined),
  };
}

/** The producer as a child process (scripts/bench/e2e-producer.ts), one request at a time. */
async function childProducer(kinesisEndpoint: string, kafkaBroker: string): Promise<BenchProducer> {
  const { entry, execArgv } = childEntry(import.meta.url, 'e2e-producer');
  const child: ChildProcess = fork(entry, [], {
    execArgv,
    env: { ...process.env, SHARDFLOW_BENCH_PRODUCER: '1' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  producerPid = child.pid;
  let waiting: { resolve: (m: FromProducer) => void; reject: (e: Error) => void } | undefined;
  child.on('message', (m: FromProducer) => {
    const w = waiting;
    waiting = undefined;
    if (m.type === 'error') w?.reject(new Error(`bench producer: ${m.message}`));
    else w?.resolve(m);
  });
  child.once('exit', (code, signal) => waiting?.reject(new Error(`bench producer exited (${signal ?? code})`)));
  const ask = (m: ToProducer): Promise<FromProducer> =>
    new Promise((resolve, reject) => {
      waiting = { resolve, reject };
      child.send(m);
    });
  await ask({ type: 'init', kinesis: kinesisEndpoint, kafka: kafkaBroker });
  return {
    prepare: async (c, round) => {
      const m = await ask({ type: 'prepare', kind: c.kind, events: c.events, round });
      if (m.type !== 'prepared') throw new Error(`bench producer answered ${m.type} to prepare`);
      return { records: m.records, raw: m.raw };
    },
    send: async (c, target) => {
      const m = await ask({ type: 'send', kind: c.kind, target });
      if (m.type !== 'sent') throw new Error(`bench producer answered ${m.type} to send`);
      return { failed: m.failed };
    },
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.disconnect();
      await exited;
    },
  };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

async function e2eRounds(rt: LocalRuntime, athena: AthenaClient, kinesis: KinesisClient, producer: BenchProducer, all: Case[]): Promise<Map<Case, CaseTimes>> {
  const times = new Map<Case, CaseTimes>(all.map((c) => [c, { sendOnlyMs: [], e2eMs: [], e2eSendMs: [], drainMs: [], queryMs: [], readBackMs: [], objects: [], batches: [], sendOnlyCpu: [], e2eCpu: [], expectedRaw: 0 }]));
  for (let round = 0; round <= ROUNDS; round++) {
    const timed = round > 0;
    for (const c of all) {
      const t = times.get(c)!;
      const sendOnly = async () => {
        const { records } = await producer.prepare(c, round);
        const iterators = c.kind === 'kinesis' ? await tipIterators(kinesis, c.sendOnlyTarget) : [];
        const cpu = cpuNow();
        const started = performance.now();
        const report = await producer.send(c, c.sendOnlyTarget);
        const ms = performance.now() - started;
        const used = cpuSince(cpu);
        if (report.failed > 0) throw new Error(`${c.label}: ${report.failed} records not sent to ${c.sendOnlyTarget}`);
        let readMs = NaN;
        if (c.kind === 'kinesis') {
          const r = performance.now();
          const read = await readBack(kinesis, iterators);
          readMs = performance.now() - r;
          if (read !== records) throw new Error(`${c.label}: read back ${read} of ${records} records`);
        }
        if (timed) {
          t.sendOnlyMs.push(ms);
          t.sendOnlyCpu.push(used);
          if (c.kind === 'kinesis') t.readBackMs.push(readMs);
        }
      };
      const endToEnd = async () => {
        const { records, raw } = await producer.prepare(c, round);
        const beforeCounts = rt.status().find((s) => s.pipeline === c.pipeline.name)!.counts;
        const before = beforeCounts.received;
        t.expectedRaw += raw;
        const cpu = cpuNow();
        const started = performance.now();
        const report = await producer.send(c, c.kind === 'kinesis' ? (c.pipeline.source as { stream: string }).stream : (c.pipeline.source as { topic: string }).topic);
        const sent = performance.now();
        if (report.failed > 0) throw new Error(`${c.label}: ${report.failed} records not sent`);
        await waitForReceived(rt, c.pipeline.name, before + records);
        const drained = performance.now();
        const used = cpuSince(cpu);
        const r = await runAthenaQuery(athena, { sql: `SELECT sum(${c.countMeasure}) FROM ${c.pipeline.aggregates[0]!.view}` });
        const done = performance.now();
        // The view must count every event sent so far, or the time measured is not end to end.
        const got = Number(r.rows[0]![0]);
        if (got !== t.expectedRaw) throw new Error(`${c.label}: the view counts ${got} events, expected ${t.expectedRaw}`);
        const after = rt.status().find((s) => s.pipeline === c.pipeline.name)!.counts;
        if (timed) {
          t.objects.push(after.objects - beforeCounts.objects);
          t.batches.push(after.batches - beforeCounts.batches);
          t.e2eMs.push(done - started);
          t.e2eSendMs.push(sent - started);
          t.drainMs.push(drained - sent);
          t.queryMs.push(done - drained);
          t.e2eCpu.push(used);
        }
      };
      if (round % 2 === 0) {
        await sendOnly();
        await endToEnd();
      } else {
        await endToEnd();
        await sendOnly();
      }
    }
  }
  return times;
}

export async function benchLocalE2e(): Promise<BenchSuiteOutput> {
  const dataDir = await benchScratchDir('shardflow-bench-e2e');
  const all = cases();
  const loadBefore = os.loadavg()[0]!;
  const rt = await startLocalRuntime({
    // clickstream itself for the pruning queries below (its stream stays idle meanwhile).
    pipelines: [...all.map((c) => c.pipeline), clickstream],
    dataDir,
    ports: { kinesis: await freePort(), s3: await freePort(), kafka: await freePort(), athena: await freePort() },
    ...(WINDOW_MS !== undefined ? { batchingWindowMs: WINDOW_MS } : {}),
  });
  const athena = localAthenaClient(rt.info.endpoints.athena);
  const kinesis = localKinesisClient(rt.info.endpoints.kinesis!);
  let producer: BenchProducer | undefined;
  const results: BenchResult[] = [];
  const rows: string[] = [];
  const e2eRows: string[] = [];
  const cpuRows: string[] = [];
  try {
    producer = PRODUCER === 'inline' ? await inlineProducer(kinesis, rt.info.endpoints.kafka!) : await childProducer(rt.info.endpoints.kinesis!, rt.info.endpoints.kafka!);
    for (const n of SIZES) {
      await createStreamIfMissing(kinesis, `bench-send-only-${n}`, n);
      await createTopicIfMissing([rt.info.endpoints.kafka!], `bench-send-only-${n}`, n);
    }
    const times = await e2eRounds(rt, athena, kinesis, producer, all);
    for (const c of all) {
      const t = times.get(c)!;
      const perRound = t.sendOnlyMs.map((s, i) => (s / t.e2eMs[i]!).toFixed(2));
      const bound = c.kind === 'kinesis' ? sum(t.sendOnlyMs) / (sum(t.sendOnlyMs) + sum(t.readBackMs)) : null;
      results.push(
        result(
          `local e2e: ${c.label} → handler → lake → view`,
          (c.events * ROUNDS * 1000) / sum(t.e2eMs),
          `send only into the same ${c.kind === 'kinesis' ? 'emulator' : 'broker'}, ${c.size} ${c.kind === 'kinesis' ? 'shards' : 'partitions'}, not consumed`,
          (c.events * ROUNDS * 1000) / sum(t.sendOnlyMs),
          `goal ≥ 0.8; ${c.events} events × ${ROUNDS} interleaved rounds; per round ${perRound.join(', ')}${bound !== null ? `; read-back bound ${bound.toFixed(2)}` : ''}`,
        ),
      );
      e2eRows.push(
        `| ${c.label} | ${median(t.sendOnlyMs).toFixed(0)} | ${median(t.e2eMs).toFixed(0)} | ${median(t.e2eSendMs).toFixed(0)} | ${median(t.drainMs).toFixed(0)} | ${median(t.queryMs).toFixed(0)} | ${c.kind === 'kinesis' ? median(t.readBackMs).toFixed(0) : '–'} | ${(sum(t.sendOnlyMs) / sum(t.e2eMs)).toFixed(3)} | ${bound !== null ? bound.toFixed(2) : '–'} | ${median(t.batches)} | ${median(t.objects)} |`,
      );
      const cpuCell = (xs: CpuMs[], k: keyof CpuMs): string => {
        const m = median(xs.map((x) => x[k]));
        return Number.isNaN(m) ? '–' : m.toFixed(0);
      };
      const e2eWall = t.e2eSendMs.map((x, i) => x + t.drainMs[i]!);
      const total = (x: CpuMs): number => x.runtime + x.producer + x.services;
      cpuRows.push(
        `| ${c.label} | ${median(t.sendOnlyMs).toFixed(0)} | ${cpuCell(t.sendOnlyCpu, 'producer')} | ${cpuCell(t.sendOnlyCpu, 'services')} | ${cpuCell(t.sendOnlyCpu, 'runtime')} | ${median(e2eWall).toFixed(0)} | ${cpuCell(t.e2eCpu, 'producer')} | ${cpuCell(t.e2eCpu, 'services')} | ${cpuCell(t.e2eCpu, 'runtime')} | ${(median(t.e2eCpu.map(total)) / os.cpus().length).toFixed(0)} | ${((median(t.e2eCpu.map((x) => x.runtime)) * 1000) / c.events).toFixed(1)} |`,
      );
    }

    // --- A day of data, 24 hourly partitions, written by the real handler in batches of 1000.
    const dayStart = Date.UTC(2026, 9, 1);
    const day = clickstreamWorkload(DAY_EVENTS, { seed: 5, startMs: dayStart, arrivalStepMs: 86_400_000 / DAY_EVENTS });
    const handler = createStreamProcessor(clickstream, { s3: rt.s3, bucket: rt.info.lakeBucket, logger: silentLogger });
    for (let i = 0; i < DAY_EVENTS; i += 1000) {
      await handler(kinesisEvent(day.records.slice(i, i + 1000).map((r, j) => kinesisRecord(r.text, { seq: i + j, arrivalMs: r.arrivalMs, raw: true, shardId: 'shardId-bench' }))));
    }
    const pruned = `SELECT category, count(*) AS n FROM clickstream_events WHERE dt = '2026-10-01' AND hour = 12 GROUP BY category`;
    const unpruned = `SELECT category, count(*) AS n FROM clickstream_events WHERE date_format(ts, '%Y-%m-%d %H') = '2026-10-01 12' GROUP BY category`;
    const time = async (sql: string) => {
      await runAthenaQuery(athena, { sql }); // warm the object cache: measure the query, not the first download
      const samples: { ms: number; bytes: number; rows: string }[] = [];
      for (let i = 0; i < 5; i++) {
        const s = performance.now();
        const r = await runAthenaQuery(athena, { sql });
        samples.push({ ms: performance.now() - s, bytes: r.dataScannedBytes, rows: JSON.stringify([...r.rows].sort()) });
      }
      samples.sort((a, b) => a.ms - b.ms);
      return samples[2]!;
    };
    const p = await time(pruned);
    const u = await time(unpruned);
    if (p.rows !== u.rows) throw new Error(`pruned and unpruned queries disagree: ${p.rows} vs ${u.rows}`);
    results.push(result('local Athena: one hour of a day, dt/hour predicate', 1000 / p.ms, 'same question without a partition predicate', 1000 / u.ms, `queries/s; median of 5 wall ms ${p.ms.toFixed(0)} vs ${u.ms.toFixed(0)}; bytes scanned ${p.bytes} vs ${u.bytes}`));
    rows.push(`| pruned: \`${pruned}\` | ${p.ms.toFixed(0)} | ${p.bytes.toLocaleString('en-US')} |`, `| unpruned: \`${unpruned}\` | ${u.ms.toFixed(0)} | ${u.bytes.toLocaleString('en-US')} |`);
  } finally {
    await producer?.close();
    kinesis.destroy();
    athena.destroy();
    await rt.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  }

  const load = `${loadBefore.toFixed(1)} at the start, ${os.loadavg()[0]!.toFixed(1)} at the end, on ${os.cpus().length} CPUs`;
  const markdown = [
    '## Local runtime end to end, and partition pruning',
    '',
    `End to end: ${EVENTS.toLocaleString('en-US')}${LARGE_EVENTS > 0 ? ` and ${LARGE_EVENTS.toLocaleString('en-US')}` : ''} events per send through the real services (kinesalite, a Kafka broker, s3rver, the DuckDB Athena endpoint) and the real handler, timed from the first send call to a query of the aggregate view that counts every event sent (checked). Baseline: the same send into a stream or topic of the same size on the same emulator or broker that nothing consumes. ${ROUNDS} timed rounds after a warm-up, each case's two runs back to back in alternating order; ratio = Σ send-only time / Σ end-to-end time. ${PRODUCER === 'process' ? 'The producer is a process of its own, as `shardflow send` is beside `shardflow dev` (both legs alike); kinesalite runs in its own process as under `dev`, s3rver and the mappings with the handler in the runtime\'s (this) process.' : 'The producer shares the runtime\'s process, and its event loop, with s3rver and the consumer (E2E_PRODUCER=inline); kinesalite runs in its own process as under `dev`.'} Machine load average (1 min): ${load}.`,
    '',
    '| measure | events/s | baseline | baseline events/s | ratio | notes |',
    '|---|---:|---|---:|---:|---|',
    ...results.map((r) => `| ${r.name} | ${r.events_per_s.toLocaleString('en-US')} | ${r.baseline} | ${r.baseline_events_per_s.toLocaleString('en-US')} | ${r.ratio} | ${r.notes ?? ''} |`),
    '',
    'Where the end-to-end time goes (medians over the rounds, ms): the send itself while the pipeline consumes, then from the send\'s end until the runtime has committed every event (the last batch: its window ends once the source is quiet, see LOCAL_MAX_BATCHING_WINDOW_MS in local/runtime.ts), then the view query. Kinesis read-back is GetRecords of the send-only records from the same emulator, by a reader in the runtime\'s process; send / (send + read-back) is the ratio a handler that cost nothing would reach. Batches and lake objects: the handler\'s, per end-to-end send (median).',
    '',
    '| case | send only | end to end | of which send | drain | view query | Kinesis read-back | ratio | read-back bound | batches per send | lake objects per send |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...e2eRows,
    '',
    `CPU time (medians, ms) of each process while a send runs: the send-only send, and the end-to-end send with its drain (from the send's start until the runtime has committed every event; not the view query). Producer: its process; services: the processes under the runtime's (the broker's JVM, kinesalite, the Athena worker); runtime: its own process (the mappings, the handler, s3rver). "CPU floor" is the end-to-end run's CPU time of all three over the ${os.cpus().length} CPUs: no schedule runs it in less wall time. Other load on the machine is not counted.`,
    '',
    '| case | send only ms | producer | services | runtime | send + drain ms | producer | services | runtime | CPU floor ms | runtime µs per event |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...cpuRows,
    '',
    `Pruning: ${DAY_EVENTS.toLocaleString('en-US')} clickstream events over one day (24 hourly partitions), same answer both ways (checked):`,
    '',
    '| query | median ms | bytes scanned |',
    '|---|---:|---:|',
    ...rows,
    '',
    'Command: `npm run bench -- --only local-e2e`.',
  ].join('\n');
  return { results, markdown };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  console.log((await benchLocalE2e()).markdown);
  console.error(`local-e2e: ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
