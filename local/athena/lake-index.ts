/**
 * Which lake objects each table holds, for the query engine (engine.ts).
 *
 * Watched (the endpoint is told of every object the S3 emulator stores or
 * removes, local/services/s3.ts onObjectChange): a table is listed once, on
 * its first query, and then kept by the changes, so a query lists nothing.
 * The changes reach the query worker on the same IPC channel as the queries,
 * and the emulator reports a change before it answers the write, so a query
 * started after a write sees it. Changes that arrive while a table's first
 * listing runs are applied on top of it, in order.
 *
 * Not watched (any other S3, or writers the endpoint is not told of): every
 * query lists the tables it reads. (A delimiter listing of the dt=/hour= levels
 * would list less, but s3rver finds no common prefix two directories down.)
 */
import type { LakeTable } from '../../core';
import type { LakeObject, LakeReader } from './catalog';
import type { PartitionPredicate } from './query-plan';

/** An object stored (with etag and size) or removed (without), by key in the lake bucket. */
export interface LakeChange {
  readonly key: string;
  readonly etag?: string;
  readonly size?: number;
}

interface TableState {
  /** Objects by partition ("dt/hour") then key. */
  readonly partitions: Map<string, Map<string, LakeObject>>;
  /** The first listing, while it runs; changes meanwhile are logged and applied after it. */
  listing: Promise<void> | null;
  log: LakeChange[] | null;
  listed: boolean;
}

const partitionKey = (o: LakeObject): string => `${o.partition.dt}/${o.partition.hour}`;

export class LakeIndex {
  /** By table location: a compacted table and its storage table share one. */
  private readonly states = new Map<string, { table: LakeTable; state: TableState }>();
  /** Listings made (tests and the benchmark count them). */
  listings = 0;

  constructor(
    private readonly reader: LakeReader,
    tables: Iterable<LakeTable>,
    /** True when every change to the lake bucket is reported through apply(). */
    readonly watched: boolean,
  ) {
    for (const t of tables) {
      if (!this.states.has(t.location)) this.states.set(t.location, { table: t, state: { partitions: new Map(), listing: null, log: null, listed: false } });
    }
  }

  /** Changes to the lake bucket, in the order the store made them. */
  apply(changes: readonly LakeChange[]): void {
    if (!this.watched) return;
    for (const c of changes) {
      for (const [location, { table, state }] of this.states) {
        if (!c.key.startsWith(location)) continue;
        if (state.log) state.log.push(c);
        else if (state.listed) this.put(table, state, c);
        // A table never listed needs nothing: its first listing will see the change.
      }
    }
  }

  /** The objects of `table` in the partitions `keep` accepts (all when null), ordered by key. */
  async objects(table: LakeTable, keep: PartitionPredicate | null, signal?: AbortSignal): Promise<LakeObject[]> {
    if (!this.watched) {
      this.listings++;
      return this.reader.list(table, keep, signal);
    }
    const entry = this.states.get(table.location);
    if (!entry) throw new Error(`lake index: table ${table.name} is not in the catalog`);
    const { state } = entry;
    while (!state.listed) {
      state.listing ??= this.firstListing(table, state);
      await state.listing;
    }
    const out: LakeObject[] = [];
    for (const objs of state.partitions.values()) {
      const first = objs.values().next().value;
      if (!first || (keep && !keep(first.partition))) continue;
      out.push(...objs.values());
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  private async firstListing(table: LakeTable, state: TableState): Promise<void> {
    state.log = [];
    try {
      this.listings++;
      const listed = await this.reader.list(table, null);
      for (const o of listed) this.put(table, state, o);
      for (const c of state.log) this.put(table, state, c);
      state.listed = true;
    } catch (err) {
      // The next query tries again.
      state.partitions.clear();
      throw err;
    } finally {
      state.log = null;
      state.listing = null;
    }
  }

  private put(table: LakeTable, state: TableState, c: LakeChange | LakeObject): void {
    const removed = !('partition' in c) && c.etag === undefined;
    const obj = 'partition' in c ? c : this.reader.objectOf(table, c.key, c.etag ?? '', c.size ?? 0);
    if (!obj) return;
    const k = partitionKey(obj);
    if (removed) {
      const objs = state.partitions.get(k);
      if (objs?.delete(obj.key) && objs.size === 0) state.partitions.delete(k);
      return;
    }
    let objs = state.partitions.get(k);
    if (!objs) state.partitions.set(k, (objs = new Map()));
    objs.set(obj.key, obj);
  }
}
