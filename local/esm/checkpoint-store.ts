/**
 * Checkpoints of a Kinesis event source mapping: per shard, the sequence number
 * of the last record whose fate is settled (processed, filtered out, or sent to
 * the on-failure destination). One JSON file per mapping under the data
 * directory, replaced atomically (write a temp file, then rename) so that a
 * crash leaves either the old or the new checkpoint, never a torn one.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

export interface ShardCheckpoint {
  /** Last settled sequence number; reading resumes AFTER_SEQUENCE_NUMBER of it. */
  readonly sequenceNumber?: string;
  /** The shard was read to its end (closed by a reshard) and fully settled. */
  readonly closed?: boolean;
  /** ISO-8601 time of the write. */
  readonly updatedAt: string;
}

export interface CheckpointStore {
  /** The checkpoint of every shard seen so far. */
  load(): Promise<ReadonlyMap<string, ShardCheckpoint>>;
  /** Records a shard's checkpoint; resolves once it is durable. */
  save(shardId: string, checkpoint: Omit<ShardCheckpoint, 'updatedAt'>): Promise<void>;
}

interface CheckpointFile {
  readonly version: 1;
  readonly mappingUuid: string;
  readonly shards: Record<string, ShardCheckpoint>;
}

export class CheckpointFileError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'CheckpointFileError';
  }
}

/** `<dataDir>/<mappingUuid>.json`. Writes are serialised; concurrent saves coalesce into the next write. */
export class FileCheckpointStore implements CheckpointStore {
  readonly file: string;
  private shards: Record<string, ShardCheckpoint> | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    dataDir: string,
    private readonly mappingUuid: string,
  ) {
    if (!/^[A-Za-z0-9._-]{1,128}$/.test(mappingUuid)) {
      throw new CheckpointFileError(`Mapping id must match [A-Za-z0-9._-]{1,128} to name a checkpoint file (given ${JSON.stringify(mappingUuid)})`);
    }
    this.file = path.join(dataDir, `${mappingUuid}.json`);
  }

  async load(): Promise<ReadonlyMap<string, ShardCheckpoint>> {
    return new Map(Object.entries(await this.state()));
  }

  async save(shardId: string, checkpoint: Omit<ShardCheckpoint, 'updatedAt'>): Promise<void> {
    const shards = await this.state();
    shards[shardId] = { ...checkpoint, updatedAt: new Date().toISOString() };
    // Chain after the previous write; each write takes the latest state, so a burst costs few writes.
    const next = this.writing.then(() => this.write(shards));
    this.writing = next.catch(() => undefined);
    return next;
  }

  private async state(): Promise<Record<string, ShardCheckpoint>> {
    if (this.shards) return this.shards;
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CheckpointFileError(`Cannot read checkpoint file ${this.file}: ${(err as Error).message}`, err);
      this.shards = {};
      return this.shards;
    }
    let parsed: CheckpointFile;
    try {
      parsed = JSON.parse(text) as CheckpointFile;
    } catch (err) {
      throw new CheckpointFileError(`Checkpoint file ${this.file} is not valid JSON (${(err as Error).message}); move it away to restart from the starting position`, err);
    }
    if (parsed?.version !== 1 || typeof parsed.shards !== 'object' || parsed.shards === null) {
      throw new CheckpointFileError(`Checkpoint file ${this.file} has an unsupported layout (version ${JSON.stringify(parsed?.version)}, expected 1)`);
    }
    this.shards = { ...parsed.shards };
    return this.shards;
  }

  private async write(shards: Record<string, ShardCheckpoint>): Promise<void> {
    const body: CheckpointFile = { version: 1, mappingUuid: this.mappingUuid, shards };
    // Private to the user, like everything under the data directory (docs/security.md).
    await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await fs.writeFile(tmp, JSON.stringify(body, null, 2), { mode: 0o600 });
      await fs.rename(tmp, this.file);
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw new CheckpointFileError(`Cannot write checkpoint file ${this.file}: ${(err as Error).message}`, err);
    }
  }
}
