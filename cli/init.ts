/**
 * `shardflow init [dir]`: a new project that works at once. `npm install`, then
 * `npx shardflow dev` / `send` / `query`, `npm test` and `npx cdk synth` run in it
 * with no edits. The app builds its stacks through the package's API
 * (shardflow/cdk shardflowStacks), the example pipeline is on Kinesis so that
 * `dev` needs no Java, and nothing that exists is overwritten.
 */
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../lib/package-files';

export class InitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InitError';
  }
}

export interface InitOptions {
  /** What the project's package.json depends on for shardflow. @default '^<this version>' */
  readonly shardflowSpec?: string;
}

interface Manifest {
  version: string;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** npm package name from a folder name: lower case, [a-z0-9-._~]. */
function packageName(dir: string): string {
  const name = path.basename(path.resolve(dir)).toLowerCase().replace(/[^a-z0-9._~-]+/g, '-').replace(/^[._-]+/, '');
  return name || 'shardflow-app';
}

/** The files of a new project, by path from its folder. */
export function projectFiles(dir: string, opts: InitOptions = {}): Record<string, string> {
  const root = packageRoot();
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as Manifest;
  // The versions Shardflow itself is built and tested with.
  const range = (name: string): string => {
    const v = manifest.peerDependencies?.[name] ?? manifest.devDependencies?.[name];
    if (!v) throw new InitError(`Shardflow's package.json names no version of ${name}`);
    return v;
  };
  // The feature flags Shardflow's own app and tests synthesize with.
  const context = (JSON.parse(fs.readFileSync(path.join(root, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;
  const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
  return {
    'package.json': json({
      name: packageName(dir),
      version: '0.1.0',
      private: true,
      type: 'module',
      scripts: {
        dev: 'shardflow dev',
        test: 'vitest run',
        typecheck: 'tsc --noEmit',
        synth: 'cdk synth',
      },
      dependencies: {
        shardflow: opts.shardflowSpec ?? `^${manifest.version}`,
        'aws-cdk-lib': range('aws-cdk-lib'),
        constructs: range('constructs'),
      },
      devDependencies: {
        '@types/node': range('@types/node'),
        'aws-cdk': range('aws-cdk'),
        tsx: range('tsx'),
        typescript: range('typescript'),
        vitest: range('vitest'),
      },
    }),
    'tsconfig.json': json({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2023'],
        types: ['node'],
        strict: true,
        skipLibCheck: true,
        noEmit: true,
        verbatimModuleSyntax: true,
      },
      include: ['bin', 'pipelines', 'test'],
    }),
    'cdk.json': json({ app: 'npx tsx bin/app.ts', watch: { include: ['bin/**', 'pipelines/**'] }, context }),
    'bin/app.ts': `/**
 * The CDK app: a shared lake stack (ShardflowLake), one stack per pipeline
 * (Shardflow-<name>), and cdk-nag's AwsSolutions checks at synth.
 * To put a pipeline in a stack of your own instead, see ShardflowPipeline in shardflow/cdk.
 */
import { App } from 'aws-cdk-lib';
import { shardflowStacks } from 'shardflow/cdk';
import { pipelines } from '../pipelines/index.js';

const app = new App();
shardflowStacks(app, { pipelines });
app.synth();
`,
    'pipelines/index.ts': `/** The pipelines \`cdk deploy\` deploys. \`shardflow dev\` runs every file in this folder but this one. */
import type { Pipeline } from 'shardflow';
import clicks from './clicks.js';

export const pipelines: readonly Pipeline[] = [clicks];
`,
    'pipelines/clicks.ts': `import { approxDistinct, count, definePipeline, field, kinesisSource, max, sum, tumbling } from 'shardflow';

/** Page clicks on Kinesis: clicks with a value, counted per page per minute. */
export default definePipeline({
  name: 'clicks',
  description: 'Clicks with a value above 0, per page per minute',
  source: kinesisSource({ stream: 'clicks-events', shards: 1 }),
  schema: {
    click_id: 'string',
    user_id: 'string',
    page: 'string',
    value: 'double',
    ts: 'timestamp',
  },
  eventTime: 'ts',
  filter: field('value').gt(0),
  allowedLateness: '10 minutes',
  aggregate: {
    groupBy: ['page'],
    window: tumbling('1 minute'),
    measures: {
      clicks: count(),
      total_value: sum('value'),
      max_value: max('value'),
      users: approxDistinct('user_id'),
    },
    view: 'clicks_by_page_1m',
  },
});
`,
    'test/clicks.test.ts': `import { runEvents } from 'shardflow';
import { describe, expect, it } from 'vitest';
import clicks from '../pipelines/clicks.js';

describe('clicks pipeline', () => {
  const ts = '2026-01-01T10:00:30Z';
  const arrivalTime = Date.parse(ts) + 1_000;

  it('counts clicks per page per minute', () => {
    const run = runEvents(clicks, [
      { click_id: 'a', user_id: 'u1', page: '/home', value: 2, ts },
      { click_id: 'b', user_id: 'u2', page: '/home', value: 3, ts },
      { click_id: 'c', user_id: 'u1', page: '/about', value: 1, ts },
    ], { arrivalTime });
    expect(run.counts).toMatchObject({ received: 3, raw: 3, filtered: 0, quarantined: 0, late: 0 });
    const home = run.aggregates.find((r) => r.page === '/home');
    expect(home).toMatchObject({ clicks: 2, total_value: 5, max_value: 3, users: 2 });
  });

  it('filters clicks without value and quarantines bad records with the reason', () => {
    const run = runEvents(clicks, [
      { click_id: 'a', user_id: 'u1', page: '/home', value: 0, ts },
      { click_id: 'b', user_id: 'u1', page: '/home', ts },
      'not json',
    ], { arrivalTime });
    expect(run.counts).toMatchObject({ received: 3, filtered: 1, quarantined: 2 });
    expect(run.quarantine.map((r) => r.field)).toContain('value');
  });
});
`,
    'README.md': `# ${packageName(dir)}

Stream pipelines with [Shardflow](https://www.npmjs.com/package/shardflow): each file in
\`pipelines/\` is one pipeline (source, schema, filter, windowed aggregates).

Run everything locally (Node.js 20.19+; no cloud account, no Docker), then deploy:

\`\`\`sh
npm install && npx shardflow dev     # local Kinesis, S3, Athena and every pipeline; Ctrl-C stops
npx cdk deploy --all                 # the same pipelines on AWS (after \`npx cdk bootstrap\` once)
\`\`\`

While \`dev\` runs, in another terminal:

\`\`\`sh
npx shardflow send clicks --count 1000
npx shardflow query "SELECT * FROM clicks_by_page_1m ORDER BY window_start DESC LIMIT 10"
\`\`\`

\`npm test\` runs the pipeline's unit test (test/clicks.test.ts); \`npx cdk synth\` writes
the CloudFormation templates. A new pipeline is a new file in \`pipelines/\`, added to
\`pipelines/index.ts\` for \`cdk deploy\`.
`,
    '.gitignore': 'node_modules/\ncdk.out/\n.shardflow/\ncdk-outputs.json\n*.log\n',
  };
}

/** Writes a new project into dir; refuses, writing nothing, if any of its files exists. Returns the paths written. */
export function initProject(dir: string, opts: InitOptions = {}): string[] {
  // A tarball or folder given relative to where init runs: npm reads file: specs from the project's folder.
  const spec = opts.shardflowSpec;
  const local = spec !== undefined && !spec.startsWith('file:') && /[/\\]|\.tgz$/.test(spec) && fs.existsSync(spec);
  const shardflowSpec = local ? `file:${path.relative(path.resolve(dir), path.resolve(spec)) || '.'}` : spec;
  const files = projectFiles(dir, shardflowSpec ? { shardflowSpec } : {});
  const existing = Object.keys(files).filter((f) => fs.existsSync(path.join(dir, f)));
  if (existing.length > 0) {
    throw new InitError(`${path.resolve(dir)} already has ${existing.join(', ')}; \`shardflow init\` overwrites nothing (choose an empty folder, or move them)`);
  }
  for (const [rel, text] of Object.entries(files)) {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text, { flag: 'wx' });
  }
  return Object.keys(files);
}
