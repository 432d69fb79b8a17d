/**
 * Trino, one node, for running the lake's SQL on the engine Athena v3 is built
 * on: the Hive connector as catalog `awsdatacatalog` (Athena's name for the Glue
 * catalog, which the view definitions name), a file metastore under `dataDir`,
 * and Trino's native S3 client pointed at the local S3 emulator.
 *
 * Runs from the tree scripts/setup-trino.sh unpacks, on Java 25 (Trino 476
 * needs 24+; the machine's default java stays 17 for Kafka).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, assertPortFree, ServiceStartError, type RunningService } from '../services/service';
import { lockDataDir, ServiceProcess, waitUntilReady } from '../services/service-process';
import { TrinoClient, type TrinoQueryOptions, type TrinoResult } from './client';

/** Pinned with scripts/setup-trino.sh: the newest trino-server on Maven Central. */
export const TRINO_VERSION = '476';
/** Athena's name for the Glue Data Catalog; view definitions (lib/lake-catalog.ts) name it. */
export const TRINO_CATALOG = 'awsdatacatalog';
const MIN_JAVA = 24;
const SERVICE = 'Trino';
const here = path.dirname(fileURLToPath(import.meta.url));
const SETUP_SCRIPT = path.resolve(here, '../../scripts/setup-trino.sh');

export interface TrinoOptions {
  /** Holds etc/, var/ (node data, server.log) and metastore/ (the file metastore). */
  readonly dataDir: string;
  /** The S3 emulator, e.g. http://127.0.0.1:4569. */
  readonly s3Endpoint: string;
  /** @default s3rver's S3RVER/S3RVER */
  readonly s3AccessKey?: string;
  readonly s3SecretKey?: string;
  /** @default 'us-east-1' */
  readonly s3Region?: string;
  /** HTTP port on 127.0.0.1. @default a free port */
  readonly port?: number;
  /** JVM maximum heap in MiB. @default 4096 */
  readonly heapMb?: number;
  /** @default 240000 (a cold start took 16–50 s on 2 busy cores) */
  readonly startTimeoutMs?: number;
  /**
   * Refuse every write through SQL (`hive.security=read-only`): for serving the lake, where the
   * metastore is loaded from the Glue template and the lake belongs to the stream processor.
   * @default false (tests may create scratch tables)
   */
  readonly readOnly?: boolean;
  /** A JDK/JRE home with Java 24+. @default $SHARDFLOW_TRINO_JAVA_HOME, else the first Java 24+ under /usr/lib/jvm */
  readonly javaHome?: string;
}

export interface RunningTrino extends RunningService {
  /** The Hive catalog's name (`awsdatacatalog`). */
  readonly catalog: string;
  /** Root of the file metastore: `<schema>/.trinoSchema`, `<schema>/<table>/.trinoTable`. */
  readonly metastoreDir: string;
  readonly client: TrinoClient;
  /** Runs one statement with catalog `awsdatacatalog` as the default. */
  query(sql: string, opts?: TrinoQueryOptions): Promise<TrinoResult>;
  /** Milliseconds from spawn to ready. */
  readonly startupMs: number;
}

/** Where setup-trino.sh unpacks Trino; same default as the script. */
export function trinoHome(): string {
  const cache = process.env.SHARDFLOW_CACHE ?? path.join(os.homedir(), '.cache', 'shardflow');
  return path.join(cache, `trino-${TRINO_VERSION}`);
}

export function trinoInstalled(): boolean {
  return existsSync(path.join(trinoHome(), '.complete'));
}

function javaMajor(javaBin: string): number | undefined {
  const res = spawnSync(javaBin, ['-version'], { encoding: 'utf8', timeout: 15_000 });
  if (res.error || res.status !== 0) return undefined;
  const m = /version "(\d+)/.exec(res.stderr);
  return m ? Number(m[1]) : undefined;
}

/** The java binary Trino runs on: an explicit home, $SHARDFLOW_TRINO_JAVA_HOME, or the newest 24+ in /usr/lib/jvm. */
export function findTrinoJava(javaHome?: string): string {
  const explicit = javaHome ?? process.env.SHARDFLOW_TRINO_JAVA_HOME;
  if (explicit) {
    const bin = path.join(explicit, 'bin', 'java');
    const major = javaMajor(bin);
    if (major === undefined) throw new ServiceStartError(SERVICE, `no runnable java at ${bin}`);
    if (major < MIN_JAVA) throw new ServiceStartError(SERVICE, `${bin} is Java ${major}; Trino ${TRINO_VERSION} needs Java ${MIN_JAVA}+`);
    return bin;
  }
  const jvmRoot = '/usr/lib/jvm';
  const homes = existsSync(jvmRoot) ? readdirSync(jvmRoot).map((d) => path.join(jvmRoot, d)) : [];
  // temurin-25 first: the machine image installs it for exactly this.
  homes.sort((a, b) => Number(b.includes('temurin-25')) - Number(a.includes('temurin-25')) || b.localeCompare(a));
  const seen: string[] = [];
  for (const h of homes) {
    const bin = path.join(h, 'bin', 'java');
    if (!existsSync(bin)) continue;
    const major = javaMajor(bin);
    seen.push(`${h} (${major ?? '?'})`);
    if (major !== undefined && major >= MIN_JAVA) return bin;
  }
  throw new ServiceStartError(
    SERVICE,
    `Trino ${TRINO_VERSION} needs Java ${MIN_JAVA}+ and none was found in ${jvmRoot} (seen: ${seen.join(', ') || 'nothing'}). ` +
      'Install a Java 25 JDK (e.g. Temurin 25 into /usr/lib/jvm/temurin-25-jdk-amd64) or set SHARDFLOW_TRINO_JAVA_HOME.',
  );
}

/** The Trino home, running scripts/setup-trino.sh first when it is not unpacked yet (needs mvn). */
export function ensureTrino(timeoutMs = 900_000): string {
  const home = trinoHome();
  if (trinoInstalled()) return home;
  const res = spawnSync('bash', [SETUP_SCRIPT], { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, SHARDFLOW_TRINO_VERSION: TRINO_VERSION } });
  if (res.status !== 0 || !trinoInstalled()) {
    const out = `${res.stdout ?? ''}${res.stderr ?? ''}`.slice(-2_000);
    throw new ServiceStartError(
      SERVICE,
      `Trino ${TRINO_VERSION} is not set up (${home}) and \`bash scripts/setup-trino.sh\` failed (${res.error?.message ?? `exit ${res.status}`}):\n${out}`,
    );
  }
  return home;
}

function properties(entries: Record<string, string | number | boolean>): string {
  return (
    '# Written by local/trino/server.ts at each start; edits are overwritten.\n' +
    Object.entries(entries)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n') +
    '\n'
  );
}

/**
 * Runs `java …` under a bash watchdog that kills the JVM within a second of
 * `parentPid` dying. process.on('exit') in ServiceProcess covers a normal exit
 * of Node, but not SIGKILL (a test runner killed on timeout), and a 4 GB JVM
 * must not outlive the test that started it.
 */
export const WATCHDOG = [
  'parent="$1"; shift',
  '"$@" &',
  'child=$!',
  'trap \'kill -TERM "$child" 2>/dev/null\' TERM INT',
  'while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1 & wait $!; done',
  'if kill -0 "$child" 2>/dev/null; then kill -KILL "$child" 2>/dev/null; fi',
  'wait "$child"',
].join('\n');

/** The first error of a failed start (Guice lists the cause at its top; the tail holds only its legend). */
async function firstError(logFile: string): Promise<string> {
  const text = await fs.readFile(logFile, 'utf8').catch(() => '');
  const i = text.search(/^(1\) |.*(ERROR|Exception|Error:))/m);
  return i < 0 ? '' : `\nFirst error in ${logFile}:\n${text.slice(i, i + 1_500)}`;
}

export async function startTrino(opts: TrinoOptions): Promise<RunningTrino> {
  const home = ensureTrino();
  const java = findTrinoJava(opts.javaHome);
  const port = opts.port ?? (await freePort());
  await assertPortFree(SERVICE, port);

  const dataDir = path.resolve(opts.dataDir);
  const etc = path.join(dataDir, 'etc');
  const catalogDir = path.join(etc, 'catalog');
  const varDir = path.join(dataDir, 'var');
  const metastoreDir = path.join(dataDir, 'metastore');
  await fs.mkdir(catalogDir, { recursive: true });
  await fs.mkdir(varDir, { recursive: true });
  await fs.mkdir(metastoreDir, { recursive: true });
  const lock = await lockDataDir(SERVICE, dataDir);
  const heapMb = opts.heapMb ?? 4096;
  const queryMemoryMb = Math.floor(heapMb * 0.6);

  try {
    await fs.writeFile(
      path.join(etc, 'config.properties'),
      properties({
        coordinator: true,
        'node-scheduler.include-coordinator': true,
        'http-server.http.port': port,
        'discovery.uri': `http://127.0.0.1:${port}`,
        'catalog.config-dir': catalogDir,
        'plugin.dir': path.join(home, 'plugin'),
        // Trino refuses to start unless per-node query memory + heap headroom (30 %) fit in the heap.
        'query.max-memory': `${queryMemoryMb}MB`,
        'query.max-memory-per-node': `${queryMemoryMb}MB`,
        // A dev/test node: no spilling, no 5-minute history of finished queries.
        'query.min-expire-age': '2m',
        // Two cores: fewer threads than Trino's server defaults keep start-up and context switches down.
        'task.concurrency': 2,
        'task.max-worker-threads': 8,
        // One node that is its own worker: the heartbeat detector can only ever mark this node failed, which it
        // did on a loaded CI machine (late pings over 1 % of a window), and every query then failed with
        // NO_NODES_AVAILABLE. With it off the node stays active for as long as the process lives.
        'failure-detector.enabled': false,
      }),
    );
    await fs.writeFile(path.join(etc, 'log.properties'), properties({ 'io.trino': 'WARN', 'io.airlift': 'WARN' }));
    await fs.writeFile(
      path.join(catalogDir, `${TRINO_CATALOG}.properties`),
      properties({
        'connector.name': 'hive',
        'hive.metastore': 'file',
        'hive.metastore.catalog.dir': 'local:///',
        'fs.native-local.enabled': true,
        'local.location': metastoreDir,
        'fs.native-s3.enabled': true,
        's3.endpoint': opts.s3Endpoint,
        's3.region': opts.s3Region ?? 'us-east-1',
        's3.aws-access-key': opts.s3AccessKey ?? 'S3RVER',
        's3.aws-secret-key': opts.s3SecretKey ?? 'S3RVER',
        's3.path-style-access': true,
        // The default signer sends aws-chunked bodies, which s3rver stores with the chunk framing in them.
        's3.signer-type': 'Aws4UnsignedPayloadSigner',
        // Applies the Glue `projection.*` table parameters, as Athena does.
        'hive.partition-projection-enabled': true,
        // s3rver answers a delimiter listing without CommonPrefixes, so sync_partition_metadata finds nothing;
        // tables without projection get their partitions through register_partition instead.
        'hive.allow-register-partition-procedure': true,
        ...(opts.readOnly ? { 'hive.security': 'read-only' } : { 'hive.non-managed-table-writes-enabled': true }),
        // Tables live in S3, not under the metastore directory (the file metastore's default assumption).
        'hive.metastore.disable-location-checks': true,
      }),
    );

    const jvm = [
      `-Xmx${heapMb}m`,
      '-Xms512m',
      '-XX:+UseG1GC',
      '-XX:G1HeapRegionSize=32M',
      '-XX:+ExplicitGCInvokesConcurrent',
      '-XX:+ExitOnOutOfMemoryError',
      '-XX:-OmitStackTraceInFastThrow',
      '-XX:ReservedCodeCacheSize=256M',
      '-XX:PerMethodRecompilationCutoff=10000',
      '-XX:PerBytecodeRecompilationCutoff=10000',
      '-XX:+EnableDynamicAgentLoading',
      '-Djdk.attach.allowAttachSelf=true',
      '-Djdk.nio.maxCachedBufferSize=2000000',
      '-Dfile.encoding=UTF-8',
      // Athena runs in UTC; the server's zone is the default session zone and the Parquet/JSON read zone.
      '-Duser.timezone=UTC',
      '--enable-native-access=ALL-UNNAMED',
      `-Dconfig=${path.join(etc, 'config.properties')}`,
      `-Dlog.levels-file=${path.join(etc, 'log.properties')}`,
      `-Dlog.output-file=${path.join(varDir, 'server.log')}`,
      '-cp',
      path.join(home, 'lib', '*'),
      'io.trino.server.TrinoServer',
    ];
    // What Trino's launcher reads from node.properties it passes as system properties; so do we.
    // Loopback only: the HTTP server binds node.bind-ip, and the node announces node.internal-address to itself.
    const nodeProps = [
      '-Dnode.environment=shardflow',
      '-Dnode.id=shardflow-local',
      `-Dnode.data-dir=${varDir}`,
      '-Dnode.bind-ip=127.0.0.1',
      '-Dnode.internal-address=127.0.0.1',
    ];
    const started = Date.now();
    const proc = new ServiceProcess({
      service: SERVICE,
      command: 'bash',
      args: ['-c', WATCHDOG, 'trino-watchdog', String(process.pid), java, ...nodeProps, ...jvm],
      cwd: home,
      logFile: path.join(varDir, 'launcher.log'),
    });
    await lock.recordChild(proc.pid);
    const endpoint = `http://127.0.0.1:${port}`;
    const probeClient = new TrinoClient(endpoint, { catalog: 'system' });
    try {
      await waitUntilReady({
        service: SERVICE,
        process: proc,
        // `starting: false` comes before the node has announced itself and the node manager has seen the
        // announcement; a query until then fails NO_NODES_AVAILABLE. Ready is: a query scheduled on a node ran.
        probe: async () => {
          const r = await fetch(`${endpoint}/v1/info`);
          if (!r.ok || ((await r.json()) as { starting?: boolean }).starting !== false) return false;
          const nodes = await probeClient.query("SELECT count(*) FROM system.runtime.nodes WHERE state = 'active'", { timeoutMs: 5_000 });
          return Number(nodes.rows[0]?.[0]) >= 1;
        },
        timeoutMs: opts.startTimeoutMs ?? 240_000,
        intervalMs: 250,
      });
    } catch (err) {
      await proc.stop(5_000);
      throw new ServiceStartError(SERVICE, `${(err as Error).message.replace(/^Trino: /, '')}${await firstError(path.join(varDir, 'launcher.log'))}`);
    }
    const startupMs = Date.now() - started;
    const client = new TrinoClient(endpoint, { catalog: TRINO_CATALOG });
    let stopped = false;
    return {
      name: 'trino',
      endpoint,
      port,
      catalog: TRINO_CATALOG,
      metastoreDir,
      client,
      startupMs,
      query: (sql, o) => client.query(sql, o),
      async stop() {
        if (stopped) return;
        stopped = true;
        // Graceful shutdown takes seconds and saves nothing here; the data lives in S3 and the metastore files.
        await proc.stop(3_000);
        await lock.release();
      },
    };
  } catch (err) {
    await lock.release();
    throw err;
  }
}
