/**
 * Where s3rver keeps an object's bytes on disk, without loading s3rver itself
 * (the local Athena query worker copies lake objects from there).
 */
import path from 'node:path';

/**
 * The file that holds an object's bytes in s3rver's file store (lib/stores/filesystem.js
 * getResourcePath: `<dir>/<bucket>/<key>._S3rver_object`; keys are not encoded except on
 * Windows), or null where that layout does not hold. Read it only to copy, and check the copy
 * against the ETag: s3rver rewrites the file in place.
 */
export function s3ObjectFile(directory: string, bucket: string, key: string): string | null {
  if (process.platform === 'win32') return null;
  const root = path.join(path.resolve(directory), bucket, '/');
  const file = path.join(root, `${key}._S3rver_object`);
  // A key with dot segments is no file of this bucket (the HTTP guard refuses such keys anyway).
  return file.startsWith(root) && !key.split('/').some((s) => s === '.' || s === '..') ? file : null;
}

