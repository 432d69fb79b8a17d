/**
 * The stream processor: a thin adapter from the AWS event to the pure engine
 * and the lake writer. One code path for Kinesis and MSK.
 *
 * Kinesis: returns `{ batchItemFailures }` naming the first record of a batch
 * that was not safely written, so Lambda's checkpoint never skips data.
 * Kafka: a failed topic-partition batch fails the invocation (Lambda retries
 * the whole event); batches already written are rewritten to the same objects.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, MSKEvent } from 'aws-lambda';
import { compilePipeline, lakeTables, processBatch, type BatchCounts, type Pipeline } from '../../core';
import { createLogger, type Logger } from '../shared/logger';
import { isKinesisEvent, isMskEvent, kinesisBatches, mskBatches, type SourceBatch } from './events';
import { LakeWriter } from './lake-writer';

export interface StreamProcessorDeps {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly logger?: Logger;
  /** Called after each batch is committed (the local runtime's status view uses it). */
  readonly onBatch?: (source: string, counts: BatchCounts, objects: number) => void;
}

export type StreamProcessor = (event: KinesisStreamEvent | MSKEvent) => Promise<KinesisStreamBatchResponse>;

export class UnsupportedEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedEventError';
  }
}

export class BatchFailedError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'BatchFailedError';
  }
}

export function createStreamProcessor(pipeline: Pipeline, deps: StreamProcessorDeps): StreamProcessor {
  const compiled = compilePipeline(pipeline);
  const writer = new LakeWriter(deps.s3, deps.bucket, pipeline, lakeTables(pipeline));
  const log = deps.logger ?? createLogger('stream-processor');

  const runBatch = async (b: SourceBatch): Promise<boolean> => {
    try {
      const out = processBatch(compiled, b.records);
      const manifest = await writer.writeBatch(b.identity, out);
      deps.onBatch?.(b.records[0]!.source, out.counts, manifest.objects.length);
      log.info('batch committed', { pipeline: pipeline.name, batch: b.identity, ...out.counts, objects: manifest.objects.length });
      return true;
    } catch (err) {
      log.error('batch failed', { pipeline: pipeline.name, batch: b.identity, error: err });
      return false;
    }
  };

  return async (event) => {
    if (isKinesisEvent(event)) {
      const batches = kinesisBatches(event);
      const results = await Promise.all(batches.map(runBatch));
      return { batchItemFailures: batches.filter((_, i) => !results[i]).map((b) => ({ itemIdentifier: b.firstItemIdentifier })) };
    }
    if (isMskEvent(event)) {
      const batches = mskBatches(event);
      const results = await Promise.all(batches.map(runBatch));
      const failed = batches.filter((_, i) => !results[i]);
      if (failed.length > 0) {
        throw new BatchFailedError(`${failed.length} of ${batches.length} topic-partition batch(es) failed: ${failed.map((b) => `${b.records[0]!.source}@${b.firstItemIdentifier}`).join(', ')}`);
      }
      return { batchItemFailures: [] };
    }
    throw new UnsupportedEventError('expected a Kinesis (Records[].eventSource = aws:kinesis) or MSK (eventSource = aws:kafka) event');
  };
}
