/** Listing a prefix of a bucket, the same way on AWS and against the local S3 emulator. */
import { ListObjectsCommand, type S3Client } from '@aws-sdk/client-s3';

export interface ListedObject {
  readonly key: string;
  readonly etag: string;
  readonly size: number;
  /** Epoch ms. */
  readonly lastModified: number;
}

/**
 * Every object under a prefix, in key order. ListObjects (version 1) paged by
 * marker rather than ListObjectsV2: S3 answers both alike (same permission,
 * s3:ListBucket, same price), but the local S3 emulator (s3rver 3.7) encrypts
 * V2 continuation tokens with DES, which Node's OpenSSL 3 refuses, so a V2
 * listing of more than one page (1,000 keys) fails there. Without a
 * delimiter, S3 sends no NextMarker: the next page starts after the last key
 * (ListObjects API reference, "NextMarker").
 */
export async function listObjects(s3: S3Client, bucket: string, prefix: string, signal?: AbortSignal): Promise<ListedObject[]> {
  const out: ListedObject[] = [];
  let marker: string | undefined;
  for (;;) {
    signal?.throwIfAborted();
    const page = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, Marker: marker }), { abortSignal: signal });
    const contents = page.Contents ?? [];
    for (const o of contents) if (o.Key) out.push({ key: o.Key, etag: (o.ETag ?? '').replace(/"/g, ''), size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 });
    const next = page.NextMarker ?? contents.at(-1)?.Key;
    if (!page.IsTruncated || next === undefined || next === marker) return out;
    marker = next;
  }
}
