/**
 * `shardflow`: init, dev, send, query, status, pipelines (and the batch commands). Every
 * command talks to the services through the same AWS SDK calls it would use
 * on AWS; `--target` picks where those calls go.
 */
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { Command, InvalidArgumentError, Option } from 'commander';
import { Kafka, logLevel } from 'kafkajs';
import { aggregateViews, checkSchemaLock, formatSchemaLock, lakeTables, parseSchemaLock, SCHEMA_LOCK_FILE, type Pipeline } from '../core';
import { localS3Client } from '../local/aws-clients';
import { listPartitionObjects } from '../functions/compactor/compaction';
import { generateEvents } from '../local/event-generator';
import { findPipeline, loadPipelines } from '../local/pipeline-loader';
import { sendToKafka, sendToKinesis, toOutgoing, type OutgoingRecord, type SendReport } from '../local/producers';
import { checkSchemaRecords } from '../local/schema-records';
import { InputFileError, readInputFile, resolveInputFiles, type FileRecords, type InputFormat } from '../local/file-input';
import { ATHENA_ENGINES, readRuntimeInfo, readStatusFile, startLocalRuntime, type AthenaEngineName, type PipelineStatus } from '../local/runtime';
import { resolveTarget, type Target, type TargetKind } from '../local/targets';
import { runAthenaQuery, QueryFailedError } from '../local/query';
import { DEFAULT_UI_PORT, startDevUi, type UiServer } from '../local/ui';
import { packageVersion } from '../lib/package-files';
import type { GlueTemplate } from '../lib/glue-template';
import { registerBatchCommands } from './batch-commands';
import { initProject } from './init';
import { formatRows, type OutputFormat } from './table-format';

class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

interface GlobalOptions {
  pipelines: string;
  dataDir: string;
  target: TargetKind;
  outputsFile: string;
}

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number ≥ 1 (given ${JSON.stringify(v)})`);
  return n;
};

const program = new Command('shardflow')
  .description('Serverless stream pipelines on AWS, run locally with the same handler and SDK calls')
  .version(packageVersion(), '-V, --version', 'print the Shardflow version')
  .option('--pipelines <dir>', 'folder of pipeline definitions', 'pipelines')
  .option('--data-dir <dir>', 'local state: services, lake, checkpoints', '.shardflow')
  .addOption(new Option('--target <target>', 'where the SDK calls go').choices(['local', 'localstack', 'aws']).default('local'))
  .option('--outputs-file <file>', 'stack outputs of `cdk deploy --outputs-file` (target aws)', 'cdk-outputs.json')
  .showHelpAfterError();

function globals(): GlobalOptions {
  return program.opts<GlobalOptions>();
}

function target(): Promise<Target> {
  const g = globals();
  return resolveTarget(g.target, { dataDir: g.dataDir, outputsFile: g.outputsFile });
}

program
  .command('init [dir]')
  .description('write a new project into dir (default: the current folder): a pipeline, its test, a CDK app')
  .option('--shardflow <spec>', 'what the project installs shardflow from: a version range, a tarball or a folder (default: ^ this version)')
  .action((dir: string | undefined, o: { shardflow?: string }) => {
    const target = dir ?? '.';
    const written = initProject(target, o.shardflow ? { shardflowSpec: o.shardflow } : {});
    const cd = path.resolve(target) === process.cwd() ? '' : `cd ${target} && `;
    console.log(`wrote ${written.join(', ')} in ${path.resolve(target)}\n\nnext:\n  ${cd}npm install\n  npx shardflow dev        # then, in another terminal: npx shardflow send clicks --count 1000\n  npx cdk synth`);
  });

program
  .command('pipelines')
  .description('load and check the pipeline definitions, list them with their streams and tables, and check and update the schema lock')
  .option('--lock [file]', `write the schema lock (default ${SCHEMA_LOCK_FILE}), after checking the schemas against it; commit it: cdk synth checks it too. Without --lock, a lock file that exists is checked and updated`)
  .action(async (o: { lock?: string | true }) => {
    const pipelines = await loadPipelines(globals().pipelines);
    for (const p of pipelines) {
      const src = p.source.kind === 'kinesis' ? `Kinesis stream ${p.source.stream}` : `Kafka topic ${p.source.topic}`;
      const views = aggregateViews(p);
      console.log(`${p.name}: ${src}; tables ${lakeTables(p).map((t) => `${t.database}.${t.name}`).join(', ')}${views.length > 0 ? `; view${views.length > 1 ? 's' : ''} ${views.map((v) => `${v.database}.${v.name}`).join(', ')}` : ''}`);
    }
    const file = path.resolve(typeof o.lock === 'string' ? o.lock : SCHEMA_LOCK_FILE);
    if (o.lock === undefined && !fs.existsSync(file)) return;
    const before = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
    const lock = checkSchemaLock(before === null ? null : parseSchemaLock(before, file), pipelines, file);
    const text = formatSchemaLock(lock);
    if (text !== before) fs.writeFileSync(file, text);
    const gens = pipelines.map((p) => `${p.name} generation ${lock.pipelines[p.name]!.generation}`).join(', ');
    console.log(`schema lock ${path.relative(process.cwd(), file) || file}: ${text === before ? 'up to date' : before === null ? 'written' : 'updated'} (${gens})`);
  });

program
  .command('dev')
  .description('start the local services and run every pipeline until Ctrl-C')
  .option('--kinesis-engine <engine>', 'kinesalite | kinesis-local', 'kinesalite')
  .option('--kinesis-port <port>', 'Kinesis emulator port', positiveInt('--kinesis-port'), 4568)
  .option('--s3-port <port>', 'S3 emulator port', positiveInt('--s3-port'), 4569)
  .option('--athena-port <port>', 'local Athena endpoint port', positiveInt('--athena-port'), 4570)
  .option('--kafka-port <port>', 'Kafka broker port', positiveInt('--kafka-port'), 9092)
  .option('--no-status', 'do not draw the live status table')
  .option('--ui-port <port>', 'web UI port (loopback)', positiveInt('--ui-port'), DEFAULT_UI_PORT)
  .option('--no-ui', 'do not serve the web UI')
  .addOption(
    new Option('--athena-engine <engine>', 'what runs the local Athena API: DuckDB, or Trino 476 (Athena v3\'s engine; needs scripts/setup-trino.sh and Java 24+)')
      .choices([...ATHENA_ENGINES])
      .default('duckdb'),
  )
  .action(async (o: { kinesisEngine: 'kinesalite' | 'kinesis-local'; kinesisPort: number; s3Port: number; athenaPort: number; kafkaPort: number; status: boolean; uiPort: number; ui: boolean; athenaEngine: AthenaEngineName }) => {
    const g = globals();
    const pipelines = await loadPipelines(g.pipelines);
    process.stderr.write(`shardflow dev: starting services for ${pipelines.map((p) => p.name).join(', ')} …\n`);
    const rt = await startLocalRuntime({
      pipelines,
      dataDir: g.dataDir,
      kinesisEngine: o.kinesisEngine,
      athenaEngine: o.athenaEngine,
      // aws-cdk-lib takes seconds to load: only when Trino needs the synthesized Glue catalog.
      ...(o.athenaEngine === 'trino' ? { glueTemplate: await glueTemplateOf(pipelines) } : {}),
      ports: { kinesis: o.kinesisPort, s3: o.s3Port, athena: o.athenaPort, kafka: o.kafkaPort },
    });
    let ui: UiServer | undefined;
    try {
      if (o.ui) ui = await startDevUi(rt, pipelines, { port: o.uiPort });
    } catch (err) {
      await rt.stop();
      throw err;
    }
    const e = rt.info.endpoints;
    process.stderr.write(
      `ready: S3 ${e.s3}, Athena ${e.athena}${e.kinesis ? `, Kinesis ${e.kinesis}` : ''}${e.kafka ? `, Kafka ${e.kafka}` : ''}\n` +
        (ui ? `web UI: ${ui.url}\n` : '') +
        `lake: s3://${rt.info.lakeBucket}/  data: ${path.resolve(g.dataDir)}  logs: ${path.resolve(g.dataDir, 'logs/runtime.log')}\n` +
        `send events: npx shardflow send ${pipelines[0]!.name} --count 1000   ·   Ctrl-C stops cleanly\n`,
    );
    let timer: NodeJS.Timeout | undefined;
    if (o.status && process.stdout.isTTY) {
      let lines = 0;
      timer = setInterval(() => {
        const text = renderStatus(rt.status());
        if (lines > 0) readline.moveCursor(process.stdout, 0, -lines);
        readline.clearScreenDown(process.stdout);
        process.stdout.write(text + '\n');
        lines = text.split('\n').length;
      }, 1_000);
    }
    await new Promise<void>((resolve) => {
      const onSignal = () => {
        process.stderr.write('\nstopping: finishing in-flight batches and checkpointing …\n');
        resolve();
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
    });
    if (timer) clearInterval(timer);
    await ui?.stop();
    await rt.stop();
    process.stderr.write('stopped. Nothing in flight was lost; `shardflow dev` resumes from the checkpoints.\n');
  });

async function glueTemplateOf(pipelines: readonly Pipeline[]): Promise<(bucket: string) => GlueTemplate> {
  const { synthesizeGlueTemplate } = await import('../lib/glue-template');
  return (bucket) => synthesizeGlueTemplate(pipelines, bucket);
}

/** Events in per shard at the previous refresh, for the events/s column. */
const lastEventsIn = new Map<string, { n: number; at: number }>();

function eventsPerSecond(id: string, n: number): string {
  const now = Date.now();
  const prev = lastEventsIn.get(id);
  lastEventsIn.set(id, { n, at: now });
  if (!prev || now <= prev.at) return '–';
  return String(Math.round(((n - prev.n) * 1000) / (now - prev.at)));
}

function renderStatus(status: readonly PipelineStatus[]): string {
  const rows: string[][] = [['pipeline', 'shard/partition', 'lag', 'events/s', 'events in', 'raw', 'filtered', 'quarantined', 'late', 'files', 'failures']];
  for (const s of status) {
    const parts = s.mapping?.partitions ?? [];
    const c = s.counts;
    rows.push([s.pipeline, s.source, '', '', '', String(c.raw), String(c.filtered), String(c.quarantined), String(c.late), String(c.objects), '']);
    for (const p of parts) {
      const lag = p.millisBehindLatest !== null ? `${p.millisBehindLatest} ms` : p.recordsBehindLatest !== null ? `${p.recordsBehindLatest} rec` : '–';
      rows.push(['', p.id, lag, eventsPerSecond(`${s.pipeline}/${p.id}`, p.eventsIn), String(p.eventsIn), '', '', '', '', '', String(p.failures)]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((v, i) => (i < 2 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ')).join('\n');
}

program
  .command('send <pipeline>')
  .description('send events: from files (NDJSON or CSV; a file, folder or glob; - for stdin), or the built-in generator')
  .option('--count <n>', 'events to generate', positiveInt('--count'), 1000)
  .option('--rate <r>', 'events per second (default: as fast as possible)', positiveInt('--rate'))
  .option('--file <paths...>', 'files of events: .ndjson/.jsonl/.json (one event per line) or .csv (header row; dotted headers fill nested fields), folders of them, quoted globs, or - for stdin; each file is sent once')
  .addOption(new Option('--format <format>', 'read every --file as this format, whatever its extension (stdin: ndjson unless given)').choices(['ndjson', 'csv']))
  .option('--seed <n>', 'generator seed', positiveInt('--seed'), 1)
  .action(async (name: string, o: { count: number; rate?: number; file?: string[]; format?: InputFormat; seed: number }) => {
    const g = globals();
    const pipeline = findPipeline(await loadPipelines(g.pipelines), name);
    let records: OutgoingRecord[] = [];
    const files: FileRecords[] = [];
    if (o.file) {
      try {
        // Every file is read and checked before anything is sent: a malformed CSV stops the run with
        // nothing sent, so the fixed run sends each file once.
        for (const f of await resolveInputFiles(o.file, o.format)) files.push(await readInputFile(pipeline, f));
      } catch (err) {
        if (err instanceof InputFileError) throw new CliError(err.message);
        throw err;
      }
      for (const f of files) for (const w of f.warnings) console.error(`warning: ${w}`);
      records = files.flatMap((f) => f.records);
    } else {
      let i = 0;
      for (const ev of generateEvents(pipeline, o.count, { seed: o.seed })) records.push(toOutgoing(pipeline, ev, i++));
    }
    const t = await target();
    if (g.target === 'local') {
      // The lake's schema record (written by `dev` at start): refuse to send events of a definition the lake's objects cannot follow.
      const s3 = t.s3();
      try {
        await checkSchemaRecords(s3, t.lakeBucket(pipeline), [pipeline], { store: false });
      } finally {
        s3.destroy();
      }
    }
    const total = records.length;
    const started = performance.now();
    const progress = (r: SendReport) => {
      if (!process.stderr.isTTY) return;
      const done = r.sent + r.failed;
      const width = 30;
      const filled = Math.round((done / Math.max(1, total)) * width);
      process.stderr.write(`\r[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${done}/${total}  retried ${r.retried}  failed ${r.failed}`);
    };
    const report = await sendRecords(pipeline, t, records, { ...(o.rate ? { rate: o.rate } : {}), onProgress: progress });
    if (process.stderr.isTTY) process.stderr.write('\n');
    const secs = (performance.now() - started) / 1000;
    if (o.file) console.log(fileSummary(files, report));
    console.log(`${pipeline.name}: sent ${report.sent}, failed ${report.failed}, retried ${report.retried} in ${secs.toFixed(1)} s (${Math.round(report.sent / Math.max(secs, 0.001))} events/s)`);
    if (report.failed > 0) {
      const file = `shardflow-send-failed-${Date.now()}.ndjson`;
      fs.writeFileSync(file, report.failures.map((f) => f.record.data).join('\n') + '\n');
      console.error(`${report.failed} event(s) were not accepted (first error: ${report.failures[0]!.error}); they are in ${file} to resend with --file`);
      process.exitCode = 1;
    }
  });

/** Files, rows and per-file counts of a `send --file` run. */
function fileSummary(files: readonly FileRecords[], report: SendReport): string {
  const failed = new Set(report.failures.map((f) => f.record));
  const rows = files.reduce((n, f) => n + f.records.length, 0);
  const lines = [`${files.length} file(s), ${rows} row(s):`];
  for (const f of files) {
    const notSent = f.records.reduce((n, r) => n + (failed.has(r) ? 1 : 0), 0);
    let line = `  ${f.file} (${f.format}): ${f.records.length} row(s), sent ${f.records.length - notSent}, failed ${notSent}`;
    if (f.untyped > 0) line += `; ${f.untyped} with a value that is not its field's type, sent for the pipeline to quarantine (first: ${f.firstUntyped})`;
    lines.push(line);
  }
  return lines.join('\n');
}

export async function sendRecords(pipeline: Pipeline, t: Target, records: OutgoingRecord[], opts: { rate?: number; onProgress?: (r: SendReport) => void }): Promise<SendReport> {
  if (pipeline.source.kind === 'kinesis') {
    const client = t.kinesis();
    try {
      return await sendToKinesis(client, t.streamName(pipeline), records, opts);
    } finally {
      client.destroy();
    }
  }
  const kafka = new Kafka({ ...t.kafka(pipeline), logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    return await sendToKafka(producer, t.topicName(pipeline), records, opts);
  } finally {
    await producer.disconnect();
  }
}

program
  .command('query <sql>')
  .description('run Athena SQL (Trino dialect) and print the result')
  .addOption(new Option('--format <format>', 'output format').choices(['table', 'csv', 'json']).default('table'))
  .option('--database <db>', 'default database', 'shardflow')
  .option('--workgroup <wg>', 'Athena workgroup (default: primary locally, the stack\'s on aws)')
  .option('--max-rows <n>', 'print at most this many rows', positiveInt('--max-rows'))
  .action(async (sql: string, o: { format: OutputFormat; database: string; workgroup?: string; maxRows?: number }) => {
    const t = await target();
    const client = t.athena();
    try {
      const r = await runAthenaQuery(client, { sql, database: o.database, workgroup: o.workgroup ?? t.workgroup() }, o.maxRows ? { maxRows: o.maxRows } : {});
      console.log(formatRows(r.columns, r.rows, o.format));
      if (o.format === 'table') {
        console.error(`${r.rows.length} row(s); scanned ${r.dataScannedBytes} bytes in ${r.engineExecutionMs} ms; query ${r.queryExecutionId}`);
      }
    } catch (err) {
      if (err instanceof QueryFailedError) throw new CliError(err.reason);
      throw err;
    } finally {
      client.destroy();
    }
  });

program
  .command('status')
  .description('services, streams, lag, counts and lake tables of the running `dev`')
  .action(async () => {
    const g = globals();
    const info = await readRuntimeInfo(g.dataDir);
    if (!info) throw new CliError(`no \`shardflow dev\` is running on ${path.resolve(g.dataDir)}`);
    console.log(`shardflow dev (pid ${info.pid}) since ${info.startedAt}`);
    for (const [name, ep] of Object.entries(info.endpoints)) console.log(`  ${name.padEnd(8)} ${ep}`);
    const s = await readStatusFile(g.dataDir);
    if (s) {
      console.log(`\nas of ${s.at} (counts since ${s.countsSince ?? info.startedAt}):`);
      console.log(renderStatus(s.pipelines));
    } else {
      console.log('\n(no status yet: the runtime writes it every second)');
    }
    // Tables and their partitions, from the lake itself (one listing per table).
    const pipelines = await loadPipelines(g.pipelines);
    const s3 = localS3Client(info.endpoints.s3);
    try {
      const rows = [['table', 'format', 'partitions', 'objects', 'bytes', 'newest partition']];
      for (const t of pipelines.flatMap(lakeTables)) {
        const objects = await listPartitionObjects(s3, info.lakeBucket, t.location);
        const parts = [...new Set(objects.map((o) => /dt=[^/]+\/hour=\d+/.exec(o.key)?.[0]).filter((x): x is string => !!x))].sort();
        rows.push([`${t.database}.${t.name}`, t.format, String(parts.length), String(objects.length), String(objects.reduce((n, o) => n + o.size, 0)), parts.at(-1) ?? '–']);
      }
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      console.log('\n' + rows.map((r) => r.map((v, i) => v.padEnd(widths[i]!)).join('  ')).join('\n'));
    } finally {
      s3.destroy();
    }
  });

registerBatchCommands(program, {
  target,
  pipelinesDir: () => globals().pipelines,
});

program.parseAsync(process.argv).catch((err: unknown) => {
  const e = err as Error;
  const known = ['CliError', 'InitError', 'TargetError', 'PipelineLoadError', 'PipelineDefinitionError', 'ServiceStartError', 'QueryFailedError', 'RecordTooLargeError', 'UiBuildError'];
  console.error(`shardflow: ${known.includes(e.name) ? e.message : (e.stack ?? e.message)}`);
  process.exit(1);
});
