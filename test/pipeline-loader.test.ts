/**
 * Pipeline files load whatever their package's module type, and one that does not
 * load is named with the cause in plain words. Through the real CLI (a child
 * process), since vitest loads modules its own way and would hide Node's rules.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '..');
let tmp: string;

async function pipelinesCommand(dir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [path.join(REPO, 'cli/shardflow.mjs'), '--pipelines', dir, 'pipelines'], { timeout: 60_000, cwd: tmp });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A folder with a package.json and the given files; `CORE` in them is this repo's core. Helpers sit in a subfolder: every file at the top is a pipeline. */
async function folder(name: string, manifest: object, files: Record<string, string>): Promise<string> {
  const dir = path.join(tmp, name);
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'package.json'), JSON.stringify(manifest));
  const core = path.relative(dir, path.join(REPO, 'core'));
  for (const [f, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, f)), { recursive: true });
    await fs.writeFile(path.join(dir, f), text.replaceAll('CORE', f.includes('/') ? `../${core}` : core));
  }
  return dir;
}

const ORDERS = `import { definePipeline, kinesisSource, field } from 'CORE';
import { MIN_AMOUNT } from './shared/limits';
export default definePipeline({
  name: 'orders',
  source: kinesisSource({ stream: 'orders' }),
  schema: { id: 'string', amount: 'double', ts: 'timestamp' },
  eventTime: 'ts',
  filter: field('amount').gt(MIN_AMOUNT),
});
`;
const LIMITS = 'export const MIN_AMOUNT: number = 10;\n';

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-loader-'));
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('pipeline files load whatever the module type', () => {
  it.each([
    ['a package.json without "type" (CommonJS)', {}],
    ['"type": "commonjs"', { type: 'commonjs' }],
    ['"type": "module"', { type: 'module' }],
  ])('TypeScript with ES imports under %s', async (_label, type) => {
    // GIVEN a pipeline that imports a helper module next to it
    const dir = await folder(`ok-${JSON.stringify(type).replace(/\W/g, '')}`, { name: 'team-pipelines', ...type }, { 'orders.ts': ORDERS, 'shared/limits.ts': LIMITS });
    // WHEN the CLI loads the folder
    const r = await pipelinesCommand(dir);
    // THEN it lists the pipeline (before the fix, CommonJS folders failed with "Cannot require() ES Module … in a cycle")
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^orders: Kinesis stream orders; tables shardflow\.orders_events/m);
  });

  it('a CommonJS .cjs pipeline and a NodeNext-style import with a .js extension', async () => {
    const dir = await folder('mixed', {}, {
      'orders.ts': ORDERS.replace("'./shared/limits'", "'./shared/limits.js'"),
      'shared/limits.ts': LIMITS,
      // CommonJS requiring the (ES module) core: Node 20.19+ loads ES modules with require().
      'audit.cjs': `const { definePipeline, kinesisSource } = require(${JSON.stringify(path.join(REPO, 'core/index.ts'))});
module.exports = definePipeline({ name: 'audit', source: kinesisSource({ stream: 'audit' }), schema: { id: 'string', ts: 'timestamp' }, eventTime: 'ts' });
`,
    });
    const r = await pipelinesCommand(dir);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^audit: Kinesis stream audit/m);
    expect(r.stdout).toMatch(/^orders: Kinesis stream orders/m);
  });
});

describe('a pipeline file that does not load is named, with the cause in plain words', () => {
  it.each([
    ['a syntax error', 'export default definePipeline({\n  name: "broken",\n  source: ,\n});\n', /broken\.ts: syntax error at line 3, column 11: Unexpected ","/],
    ['a package that is not installed', "import { x } from 'no-such-package-shardflow';\nexport default x;\n", /broken\.ts: it imports "no-such-package-shardflow", which is not installed/],
    ['a relative import that does not exist', "import { x } from './nowhere';\nexport default x;\n", /broken\.ts: it imports ".*nowhere", which does not exist/],
    ['code that throws', "const limits: Record<string, number> | undefined = undefined;\nexport default limits!.max;\n", /broken\.ts: its code threw while loading \(line 2\): TypeError: Cannot read properties of undefined/],
    ['no default export', 'export const pipeline = 1;\n', /broken\.ts must `export default definePipeline\(\{\.\.\.\}\)` \(it has no default export\)/],
    ['an invalid definition', "import { definePipeline, kinesisSource } from 'CORE';\nexport default definePipeline({ name: 'broken', source: kinesisSource({ stream: 's' }), schema: { ts: 'timestamp' }, eventTime: 'when' });\n", /broken\.ts: Pipeline "broken": .*when/],
  ])('%s', async (label, text, message) => {
    // GIVEN one good pipeline and one that fails to load
    const dir = await folder(`bad-${label.replace(/\W+/g, '-')}`, {}, { 'orders.ts': ORDERS, 'shared/limits.ts': LIMITS, 'broken.ts': text });
    // WHEN the CLI loads the folder
    const r = await pipelinesCommand(dir);
    // THEN it fails with one line that names the file and says why, without a stack trace
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain(path.join(dir, 'broken.ts'));
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});
