/**
 * `--target aws` reads the deployed names from `cdk deploy --outputs-file`:
 * the stream, the workgroup and the lake bucket the batch commands use
 * (run-query, runs, compact, backfill). Nothing is called here; only the names
 * and the errors are checked.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTarget } from '../local/targets';
import clickstream from '../pipelines/clickstream';
import iot from '../pipelines/iot';

let dir: string;
let outputsFile: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-targets-'));
  outputsFile = path.join(dir, 'cdk-outputs.json');
  await fs.writeFile(outputsFile, JSON.stringify({
    ShardflowLake: { WorkgroupName: 'shardflow' },
    'Shardflow-clickstream': { StreamName: 'clickstream-events', LakeBucketName: 'shardflow-lake-123456789012-eu-west-1', WorkgroupName: 'shardflow' },
  }));
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('resolveTarget aws', () => {
  it('names the deployed stream, workgroup and lake bucket of a pipeline', async () => {
    const t = await resolveTarget('aws', { dataDir: dir, outputsFile });
    expect(t.streamName(clickstream)).toBe('clickstream-events');
    expect(t.workgroup(clickstream)).toBe('shardflow');
    expect(t.lakeBucket(clickstream)).toBe('shardflow-lake-123456789012-eu-west-1');
    expect(t.lakeBucket()).toBe('shardflow-lake-123456789012-eu-west-1');
    t.s3().destroy();
  });

  it('says which pipeline was not deployed, and how to get the outputs file', async () => {
    const t = await resolveTarget('aws', { dataDir: dir, outputsFile });
    expect(() => t.lakeBucket(iot)).toThrow(/has no stack Shardflow-iot: was pipeline "iot" deployed\? \(stacks: ShardflowLake, Shardflow-clickstream\)/);
    await expect(resolveTarget('aws', { dataDir: dir, outputsFile: path.join(dir, 'missing.json') })).rejects.toThrow(/cannot read stack outputs from .*missing\.json .*npx cdk deploy --all --outputs-file/);
  });
});
