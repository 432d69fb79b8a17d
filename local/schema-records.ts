/**
 * The schema records in a lake's state (`_shardflow/schemas/<pipeline>.json`,
 * core/schema-evolution.ts): `dev` checks each pipeline's definition against
 * its record before anything runs, and stores the new record; `send` checks
 * without storing.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { checkSchemaEvolution, LAKE_STATE_PREFIXES, parseSchemaRecord, type Pipeline, type SchemaRecord } from '../core';

export function schemaRecordKey(pipeline: string): string {
  return `${LAKE_STATE_PREFIXES.schemas}${pipeline}.json`;
}

export async function readSchemaRecord(s3: S3Client, bucket: string, pipeline: string): Promise<SchemaRecord | null> {
  const key = schemaRecordKey(pipeline);
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return parseSchemaRecord(await res.Body!.transformToString(), `s3://${bucket}/${key}`);
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return null;
    throw err;
  }
}

/**
 * Checks every pipeline against its record and, with `store`, writes the records that changed.
 * All are checked before any is written, so a refused set leaves every record as it was.
 * @throws PipelineDefinitionError for a change objects already written cannot follow
 */
export async function checkSchemaRecords(s3: S3Client, bucket: string, pipelines: readonly Pipeline[], opts: { store: boolean }): Promise<void> {
  const updates: { key: string; body: string }[] = [];
  for (const p of pipelines) {
    const prev = await readSchemaRecord(s3, bucket, p.name);
    const key = schemaRecordKey(p.name);
    const next = checkSchemaEvolution(prev, p, `s3://${bucket}/${key}`);
    if (!prev || JSON.stringify(prev) !== JSON.stringify(next)) updates.push({ key, body: JSON.stringify(next, null, 2) + '\n' });
  }
  if (!opts.store) return;
  for (const u of updates) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: u.key, Body: u.body, ContentType: 'application/json' }));
}
