/**
 * Trino for a test file: one Trino 476 (local/trino/server.ts) over the test's
 * S3 emulator, its file metastore loaded with exactly the Glue databases,
 * tables and views `cdk synth` puts in the templates of the given pipelines,
 * and helpers to compare its answers with the local Athena endpoint's.
 */
import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import type { Pipeline } from '../../core';
import { deploy } from '../../infra-tests/helpers';
import { athenaRows } from '../../local/trino/result-format';
import { glueDatabasesOfTemplate, glueTablesOfTemplate, loadGlueCatalog, withBucket, type GlueTableEntry } from '../../local/trino/glue-metastore';
import { startTrino, trinoHome, trinoInstalled, TRINO_VERSION, type RunningTrino } from '../../local/trino/server';

/** Pseudo parameters the templates are resolved with; the deployed bucket is named from them. */
export const TEST_ACCOUNT = '123456789012';
export const TEST_REGION = 'us-east-1';
/** The lake bucket's name in the templates (lib/data-lake.ts: shardflow-lake-<account>-<region>). */
export const DEPLOYED_BUCKET = `shardflow-lake-${TEST_ACCOUNT}-${TEST_REGION}`;

export interface SynthesizedGlue {
  readonly databases: string[];
  /** Every AWS::Glue::Table of the pipelines' stacks, intrinsics resolved, s3:// URIs on `bucket`. */
  readonly tables: GlueTableEntry[];
}

/** The Glue entries of `cdk synth` for these pipelines (lake stack + each pipeline stack), pointed at `bucket`. */
export function synthesizedGlue(pipelines: readonly Pipeline[], bucket: string): SynthesizedGlue {
  const refs = { 'AWS::AccountId': TEST_ACCOUNT, 'AWS::Region': TEST_REGION, 'AWS::Partition': 'aws', 'AWS::URLSuffix': 'amazonaws.com' };
  const databases = new Set<string>();
  const tables: GlueTableEntry[] = [];
  for (const p of pipelines) {
    const { lake, stack } = deploy(p);
    for (const d of glueDatabasesOfTemplate(Template.fromStack(lake).toJSON(), refs)) databases.add(d);
    for (const t of glueTablesOfTemplate(Template.fromStack(stack).toJSON(), refs)) tables.push(withBucket(t, DEPLOYED_BUCKET, bucket));
  }
  return { databases: [...databases], tables };
}

/**
 * Starts Trino for a test file. Under CI=true a missing install fails at once
 * with what to run (.ci/run runs it), rather than a long install mid-suite.
 */
export async function startTestTrino(opts: { tmp: string; s3Endpoint: string }): Promise<RunningTrino> {
  if (process.env.CI === 'true' && !trinoInstalled()) {
    throw new Error(`Trino ${TRINO_VERSION} is not installed in ${trinoHome()}: run \`bash scripts/setup-trino.sh\` (.ci/run does) before the tests`);
  }
  // 2 GB: the test lake is small, and the suite's other services share the machine.
  return startTrino({ dataDir: path.join(opts.tmp, 'trino'), s3Endpoint: opts.s3Endpoint, heapMb: 2048 });
}

/** Loads the synthesized Glue catalog into a running Trino's metastore. */
export async function loadSynthesizedGlue(trino: RunningTrino, glue: SynthesizedGlue): Promise<void> {
  await loadGlueCatalog(trino.metastoreDir, glue.databases, glue.tables);
}

export interface Answer {
  readonly columns: readonly string[];
  /** Athena's text for each value. */
  readonly rows: readonly (readonly (string | null)[])[];
}

/** A statement on Trino, its values as Athena prints them. */
export async function trinoAnswer(trino: RunningTrino, sql: string, schema = 'shardflow'): Promise<Answer & { physicalInputBytes: number; totalSplits: number; processedRows: number }> {
  const r = await trino.query(sql, { schema });
  return {
    columns: r.columns.map((c) => c.name),
    rows: athenaRows(r.columns, r.rows),
    physicalInputBytes: r.stats.physicalInputBytes,
    totalSplits: r.stats.totalSplits,
    processedRows: r.stats.processedRows,
  };
}

const NUMERIC = /^-?(\d+\.?\d*(E-?\d+)?|NaN|Infinity)$/;

/** Equal, or both numbers within a relative 1e-9 (double sums in another order). */
function sameValue(a: string | null, b: string | null): boolean {
  if (a === b) return true;
  if (a === null || b === null || !NUMERIC.test(a) || !NUMERIC.test(b)) return false;
  const x = Number(a);
  const y = Number(b);
  return Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y));
}

/**
 * The differences between two answers, row for row (in order when `ordered`,
 * else as sorted multisets), as readable lines; [] when they agree.
 */
export function differences(trino: Answer, local: Answer, ordered = false, limit = 10): string[] {
  const out: string[] = [];
  if (trino.columns.join(',') !== local.columns.join(',')) out.push(`columns: trino [${trino.columns.join(', ')}] local [${local.columns.join(', ')}]`);
  if (trino.rows.length !== local.rows.length) out.push(`rows: trino ${trino.rows.length}, local ${local.rows.length}`);
  const key = (r: readonly (string | null)[]) => JSON.stringify(r);
  const a = ordered ? trino.rows : [...trino.rows].sort((x, y) => key(x).localeCompare(key(y)));
  const b = ordered ? local.rows : [...local.rows].sort((x, y) => key(x).localeCompare(key(y)));
  for (let i = 0; i < Math.min(a.length, b.length) && out.length < limit; i++) {
    const ra = a[i]!;
    const rb = b[i]!;
    if (ra.length !== rb.length || ra.some((v, j) => !sameValue(v, rb[j] ?? null))) out.push(`row ${i}: trino ${key(ra)} local ${key(rb)}`);
  }
  return out;
}
