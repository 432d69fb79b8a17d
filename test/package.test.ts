/**
 * Shardflow as a user gets it: `npm pack`, the tarball installed into a fresh
 * folder (no registry publish; the registry serves its dependencies), `shardflow
 * init`, `npm install`, then in the new project with no edits: `cdk synth`, its
 * test, its type check, and `dev` + `send` + `query`.
 *
 * Slow by nature (two npm installs with aws-cdk-lib, a synth with real bundling):
 * it reuses npm's cache (`npm_config_cache`, default ~/.npm, which `npm ci` fills)
 * and prefers it to the network. Times of each step are printed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../local/services/service';

const exec = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '..');
const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];
const STEP_MS = 600_000;

let tmp: string;
let tarball: string;
let app: string;
const times: Record<string, number> = {};

/** Runs a command to its end; throws with its output when it fails. */
async function sh(step: string, cmd: string, args: string[], cwd: string, timeout = STEP_MS): Promise<{ stdout: string; stderr: string }> {
  const started = performance.now();
  try {
    return await exec(cmd, args, { cwd, timeout, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' } });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${step} (${cmd} ${args.join(' ')} in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  } finally {
    times[step] = Math.round(performance.now() - started);
  }
}

function npm(step: string, args: string[], cwd: string) {
  return sh(step, 'npm', args, cwd);
}

/** The installed `shardflow` bin of the project in cwd. */
function shardflow(step: string, args: string[], cwd: string) {
  return sh(step, process.execPath, [path.join(cwd, 'node_modules/.bin/shardflow'), ...args], cwd);
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shardflow-package-'));
  // npm pack runs prepack (the dist/ build) and prints the tarball's name last.
  const packed = await npm('npm pack', ['pack', '--pack-destination', tmp, '--loglevel=error'], REPO);
  tarball = path.join(tmp, packed.stdout.trim().split('\n').at(-1)!);
  const home = path.join(tmp, 'home');
  fs.mkdirSync(home);
  fs.writeFileSync(path.join(home, 'package.json'), JSON.stringify({ name: 'home', private: true }));
  // Only the CLI is needed here: the peer aws-cdk-lib comes with the project's own install below.
  await npm('npm install <tarball>', ['install', ...NPM_FLAGS, '--omit=peer', tarball], home);
  app = path.join(home, 'app');
  await shardflow('shardflow init', ['init', 'app', '--shardflow', tarball], home);
  await npm('npm install (project)', ['install', ...NPM_FLAGS], app);
}, 4 * STEP_MS);

afterAll(() => {
  console.log(`package end-to-end, ms per step: ${JSON.stringify(times)}`);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds compiled JavaScript with declarations, the bin and no TypeScript sources or tests', async () => {
    const { stdout } = await sh('tar', 'tar', ['tzf', tarball], tmp);
    const files = stdout.trim().split('\n').map((f) => f.replace(/^package\//, ''));
    expect(files).toEqual(expect.arrayContaining(['package.json', 'cli/shardflow.mjs', 'dist/api/index.js', 'dist/api/index.d.ts', 'dist/api/cdk.js', 'dist/api/cdk.d.ts', 'dist/cli/main.js', 'dist/functions/stream-processor/index.js', 'dist/local/ts-hooks.mjs', 'dist/scripts/setup-kafka.sh', 'CHANGELOG.md']));
    expect(files.filter((f) => /(?<!\.d)\.ts$/.test(f) || /\.test\./.test(f) || f.startsWith('test/') || f.startsWith('node_modules/'))).toEqual([]);
    const manifest = JSON.parse(fs.readFileSync(path.join(app, 'node_modules/shardflow/package.json'), 'utf8')) as { dependencies: Record<string, string>; peerDependencies: Record<string, string> };
    for (const dev of ['tsx', 'vitest', 'typescript', 'eslint', 'aws-cdk']) expect(manifest.dependencies).not.toHaveProperty(dev);
    expect(Object.keys(manifest.peerDependencies).sort()).toEqual(['aws-cdk-lib', 'constructs']);
  });

  it('runs compiled: --version is the package version, and tsx is not installed for the user', async () => {
    const { stdout } = await shardflow('shardflow --version', ['--version'], app);
    const version = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
    expect(stdout.trim()).toBe(version);
    // Each entry point loads from the user's project, as an ES module and through require() (Node 20.19+).
    const esm = await sh('import entry points', process.execPath, ['--input-type=module', '-e',
      "import * as a from 'shardflow'; import * as c from 'shardflow/cdk'; import * as l from 'shardflow/local'; console.log([typeof a.definePipeline, typeof a.runEvents, typeof c.ShardflowPipeline, typeof c.shardflowStacks, typeof l.startLocalRuntime].join())"], app);
    expect(esm.stdout.trim()).toBe('function,function,function,function,function');
    const cjs = await sh('require entry point', process.execPath, ['-e', "console.log(typeof require('shardflow').definePipeline)"], app);
    expect(cjs.stdout.trim()).toBe('function');
    // The project's tsx (a dev dependency of the scaffold, for cdk.json's app) is not the package's.
    expect(fs.existsSync(path.join(app, 'node_modules/shardflow/node_modules/tsx'))).toBe(false);
  });
});

describe('shardflow init', () => {
  it('writes the project and refuses to overwrite it', async () => {
    for (const f of ['package.json', 'tsconfig.json', 'cdk.json', 'bin/app.ts', 'pipelines/index.ts', 'pipelines/clicks.ts', 'test/clicks.test.ts', 'README.md', '.gitignore']) {
      expect(fs.existsSync(path.join(app, f)), f).toBe(true);
    }
    const before = fs.readFileSync(path.join(app, 'pipelines/clicks.ts'), 'utf8');
    await expect(shardflow('shardflow init (again)', ['init', '.'], app)).rejects.toThrow(/already has package\.json, tsconfig\.json.*overwrites nothing/);
    expect(fs.readFileSync(path.join(app, 'pipelines/clicks.ts'), 'utf8')).toBe(before);
  });

  it('cdk synth: the lake stack and the pipeline stack with its Glue tables, the handler bundled from the installed package', async () => {
    await sh('cdk synth', path.join(app, 'node_modules/.bin/cdk'), ['synth', '--quiet'], app);
    const out = path.join(app, 'cdk.out');
    const template = (stack: string) => JSON.parse(fs.readFileSync(path.join(out, `${stack}.template.json`), 'utf8')) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
    const resources = (stack: string, type: string) => Object.values(template(stack).Resources).filter((r) => r.Type === type);
    expect(resources('ShardflowLake', 'AWS::Glue::Database')).toHaveLength(1);
    expect(resources('ShardflowLake', 'AWS::Athena::WorkGroup')).toHaveLength(1);
    expect(resources('Shardflow-clicks', 'AWS::Kinesis::Stream')).toHaveLength(1);
    // Every table and view the package lists for the pipeline is a Glue table of its stack.
    const { stdout } = await shardflow('shardflow pipelines', ['pipelines'], app);
    const listed = [...stdout.matchAll(/shardflow\.([a-z0-9_]+)/g)].map((m) => m[1]!);
    expect(listed).toContain('clicks_by_page_1m');
    const glue = resources('Shardflow-clicks', 'AWS::Glue::Table').map((r) => (r.Properties.TableInput as { Name: string }).Name);
    expect(glue).toEqual(expect.arrayContaining(listed));
    // The stream processor's asset is an esbuild bundle of the installed dist/ with the pipeline inlined.
    const bundle = fs.readdirSync(out).filter((d) => d.startsWith('asset.')).map((d) => path.join(out, d, 'index.mjs')).filter((f) => fs.existsSync(f))
      .map((f) => fs.readFileSync(f, 'utf8')).find((code) => code.includes('clicks_by_page_1m') && code.includes('batchItemFailures'));
    expect(bundle).toBeDefined();
  }, STEP_MS);

  it("the project's own test and type check pass", async () => {
    const test = await npm('npm test (project)', ['test', '--silent'], app);
    expect(test.stdout).toMatch(/2 passed/);
    // NodeNext resolution, the strictest: the package's declarations and exports map hold under it.
    await sh('tsc --noEmit (project)', path.join(app, 'node_modules/.bin/tsc'), ['--noEmit'], app);
  }, STEP_MS);

  describe('shardflow dev + send + query', () => {
    let dev: ChildProcess | undefined;
    let log = '';

    afterAll(async () => {
      if (!dev || dev.exitCode !== null) return;
      const exited = new Promise((resolve) => dev!.once('exit', resolve));
      dev.kill('SIGINT');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000))]);
      if (dev.exitCode === null) dev.kill('SIGKILL');
    }, 30_000);

    it('sends generated events and queries the aggregate view', async () => {
      const ports = { kinesis: await freePort(), s3: await freePort(), athena: await freePort(), ui: await freePort() };
      const started = performance.now();
      // A watchdog between this test and `dev` stops dev if this process dies without cleaning up.
      const watchdog = `const { spawn } = require('node:child_process');
const [parent, ...cmd] = process.argv.slice(1);
const child = spawn(cmd[0], cmd.slice(1), { stdio: 'inherit' });
child.on('exit', (code) => process.exit(code ?? 1));
let stopping = false;
const stop = () => { if (stopping) return; stopping = true; child.kill('SIGINT'); setTimeout(() => child.kill('SIGKILL'), 15000).unref(); };
process.on('SIGINT', stop); process.on('SIGTERM', stop);
setInterval(() => { try { process.kill(Number(parent), 0); } catch { stop(); } }, 1000);`;
      dev = spawn(process.execPath, ['-e', watchdog, String(process.pid), process.execPath, path.join(app, 'node_modules/.bin/shardflow'), 'dev', '--no-status',
        '--kinesis-port', String(ports.kinesis), '--s3-port', String(ports.s3), '--athena-port', String(ports.athena), '--ui-port', String(ports.ui)], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
      dev.stdout!.on('data', (b: Buffer) => (log += b.toString()));
      dev.stderr!.on('data', (b: Buffer) => (log += b.toString()));
      const deadline = Date.now() + 120_000;
      while (!/^ready: /m.test(log)) {
        if (dev.exitCode !== null || Date.now() > deadline) throw new Error(`shardflow dev did not start:\n${log}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      times['dev ready'] = Math.round(performance.now() - started);

      const sent = await shardflow('shardflow send', ['send', 'clicks', '--count', '300', '--seed', '7'], app);
      expect(sent.stdout).toMatch(/clicks: sent 300, failed 0/);
      // Once the batch is written, the view counts exactly the raw table's rows (filtered and late ones in neither).
      const query = async (sql: string) => {
        const q = await shardflow('shardflow query', ['query', '--format', 'json', sql], app);
        return JSON.parse(q.stdout.trim().split('\n')[0]!) as Record<string, unknown>; // NDJSON, one row a line
      };
      let raw = 0;
      const until = Date.now() + 60_000;
      while (Date.now() < until && raw === 0) {
        raw = Number((await query('SELECT count(*) AS n FROM clicks_events')).n);
        if (raw === 0) await new Promise((r) => setTimeout(r, 1_000));
      }
      expect(raw).toBeGreaterThan(0);
      expect(raw).toBeLessThanOrEqual(300);
      const view = await query('SELECT sum(clicks) AS clicks, count(DISTINCT page) AS pages FROM clicks_by_page_1m');
      expect(Number(view.clicks)).toBe(raw);
      expect(Number(view.pages)).toBeGreaterThan(1);
      const status = await shardflow('shardflow status', ['status'], app);
      expect(status.stdout).toMatch(/clicks/);
    }, STEP_MS);
  });
});
