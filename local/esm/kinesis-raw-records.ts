/**
 * GetRecords for the local Kinesis mapping, with each record's Data kept as the
 * base64 text the wire carries.
 *
 * The Lambda event wants `kinesis.data` as base64 (the Kinesis JSON protocol's
 * own encoding of a blob), but the SDK's deserializer decodes every record's
 * Data to bytes (after a regular-expression check of the text) and turns its
 * timestamp into a Date, and the mapping then encoded the bytes back. Under
 * local-e2e that round trip was several microseconds per record of the
 * runtime's CPU, the process that also runs the handler and the S3 emulator.
 *
 * It is still the SDK's call: the same command, signing, endpoint, retries and
 * error parsing (ExpiredIteratorException and the rest reach the caller as the
 * SDK's exceptions). One middleware, inside the SDK's deserializer, reads a
 * successful response's body itself and hands the deserializer an empty object
 * in its place. A response that is not a JSON object with a Records array is
 * left to the SDK as it came.
 *
 * Wire shape (Kinesis API reference, GetRecords, JSON protocol): `{"Records":
 * [{"Data": base64, "PartitionKey", "SequenceNumber", "ApproximateArrivalTimestamp":
 * seconds since the epoch as a JSON number, …}], "NextShardIterator",
 * "MillisBehindLatest"}`.
 */
import { Readable } from 'node:stream';
import { GetRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import type { HttpResponse } from '@smithy/types';

export interface RawKinesisRecord {
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  /** The record's data as base64, as the wire carried it. */
  readonly data: string;
  /** ApproximateArrivalTimestamp in whole milliseconds (as the SDK's Date would hold it). */
  readonly arrivalMs: number;
}

export interface RawGetRecordsOutput {
  readonly records: RawKinesisRecord[];
  readonly nextShardIterator: string | undefined;
  readonly millisBehindLatest: number | undefined;
  /** 'wire': read from the response body here; 'sdk': the body was not the documented shape, the SDK's output. */
  readonly source: 'wire' | 'sdk';
}

interface WireRecord {
  Data?: unknown;
  PartitionKey?: unknown;
  SequenceNumber?: unknown;
  ApproximateArrivalTimestamp?: unknown;
}

interface WireOutput {
  Records?: unknown;
  NextShardIterator?: unknown;
  MillisBehindLatest?: unknown;
}

/** The records of a parsed GetRecords body, or undefined when it does not have the documented shape. */
export function rawRecordsOf(body: unknown): Omit<RawGetRecordsOutput, 'source'> | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const o = body as WireOutput;
  if (!Array.isArray(o.Records)) return undefined;
  const records: RawKinesisRecord[] = [];
  for (const r of o.Records as WireRecord[]) {
    if (typeof r !== 'object' || r === null) return undefined;
    const { Data, PartitionKey, SequenceNumber, ApproximateArrivalTimestamp } = r;
    if (typeof Data !== 'string' || typeof PartitionKey !== 'string' || typeof SequenceNumber !== 'string') return undefined;
    // The JSON protocol's timestamps are epoch seconds; the SDK rounds them to a Date's milliseconds.
    const arrivalMs = typeof ApproximateArrivalTimestamp === 'number' ? Math.round(ApproximateArrivalTimestamp * 1000) : Date.now();
    records.push({ sequenceNumber: SequenceNumber, partitionKey: PartitionKey, data: Data, arrivalMs });
  }
  return {
    records,
    nextShardIterator: typeof o.NextShardIterator === 'string' ? o.NextShardIterator : undefined,
    millisBehindLatest: typeof o.MillisBehindLatest === 'number' ? o.MillisBehindLatest : undefined,
  };
}

async function readAll(body: unknown): Promise<Buffer | undefined> {
  if (!(body instanceof Readable)) return undefined;
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

/** One GetRecords call through `client`, records as RawKinesisRecord. Errors are the SDK's. */
export async function getRecordsRaw(client: KinesisClient, shardIterator: string, limit: number): Promise<RawGetRecordsOutput> {
  const command = new GetRecordsCommand({ ShardIterator: shardIterator, Limit: limit });
  let raw: Omit<RawGetRecordsOutput, 'source'> | undefined;
  command.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      const response = out.response as HttpResponse;
      if (response.statusCode !== 200) return out;
      const bytes = await readAll(response.body);
      if (bytes === undefined) return out;
      let parsed: unknown;
      try {
        parsed = JSON.parse(bytes.toString('utf8'));
      } catch {
        parsed = undefined;
      }
      raw = rawRecordsOf(parsed);
      // What the SDK's deserializer reads instead: the body as it was when it is not ours to
      // answer (so the SDK reports it), else an empty object.
      const rest = raw ? Buffer.from('{}') : bytes;
      response.body = Readable.from([rest]);
      response.headers = { ...response.headers, 'content-length': String(rest.length) };
      return out;
    },
    // 'deserialize' at low priority runs inside the SDK's deserializer: it sees the HTTP response first.
    { step: 'deserialize', priority: 'low', name: 'shardflowRawGetRecords' },
  );
  const sdk = await client.send(command);
  if (raw) return { ...raw, source: 'wire' };
  // Not the documented shape: what the SDK made of it.
  return {
    records: (sdk.Records ?? []).map((r) => ({
      sequenceNumber: r.SequenceNumber!,
      partitionKey: r.PartitionKey ?? '',
      data: Buffer.from(r.Data ?? new Uint8Array()).toString('base64'),
      arrivalMs: r.ApproximateArrivalTimestamp?.getTime() ?? Date.now(),
    })),
    nextShardIterator: sdk.NextShardIterator,
    millisBehindLatest: sdk.MillisBehindLatest,
    source: 'sdk',
  };
}
