/**
 * Which lake objects each table holds, for the query engine (engine.ts).
 *
 * Watched (the endpoint is told of every object the S3 emulator stores or
 * removes, local/services/s3.ts onObjectChange): a partition is listed once,
 * by the first query that needs it, and then kept by the changes, so a warm
 * query lists nothing. A query whose predicates name its days lists only
 * those days (or hours); one that does not lists the table whole, once. The
 * changes reach the query worker on the same IPC channel as the queries, and
 * the emulator reports a change before it answers the write, so a query
 * started after a write sees it. Changes that arrive while a listing runs are
 * applied on top of it, in order.
 *
 * Not watched (any other S3, or writers the endpoint is not told of): every
 * query lists what it reads, by the same prefixes. (A delimiter listing of the
 * dt=/hour= levels would find the partitions without naming them, but s3rver
 * finds no common prefix two directories down.)
 */
import type { LakeTable } from '../../core';
import type { LakeObject, LakeReader } from './catalog';
import type { PartitionKey, PartitionPredicate } from './query-plan';

/** An object stored (with etag and size) or removed (without), by key in the lake bucket. */
export interface LakeChange {
  readonly key: string;
  readonly etag?: string;
  readonly size?: number;
}

interface Listing {
  readonly covers: (p: PartitionKey) => boolean;
  readonly log: LakeChange[];
}

interface TableState {
  /** Objects by partition ("dt/hour") then key. */
  readonly partitions: Map<string, Map<string, LakeObject>>;
  /** Listed whole, or these days, or these hours ("dt/hour"): kept by the changes since. */
  full: boolean;
  readonly days: Set<string>;
  readonly hours: Set<string>;
  /** Listings running; changes meanwhile are logged and applied after each. */
  readonly listings: Set<Listing>;
}

const hourKey = (p: PartitionKey): string => `${p.dt}/${p.hour}`;
const HOURS = Array.from({ length: 24 }, (_, h) => h);

/** What one query needs listed: the table whole, or these day and hour prefixes. */
type Need = { readonly whole: true } | { readonly whole: false; readonly days: readonly string[]; readonly hours: readonly PartitionKey[] };

export class LakeIndex {
  /** By table location: a compacted table and its storage table share one. */
  private readonly states = new Map<string, { table: LakeTable; state: TableState }>();
  /** ListObjects walks made (tests and the benchmark count them). */
  listings = 0;

  constructor(
    private readonly reader: LakeReader,
    tables: Iterable<LakeTable>,
    /** True when every change to the lake bucket is reported through apply(). */
    readonly watched: boolean,
  ) {
    for (const t of tables) {
      if (!this.states.has(t.location)) this.states.set(t.location, { table: t, state: { partitions: new Map(), full: false, days: new Set(), hours: new Set(), listings: new Set() } });
    }
  }

  /** Changes to the lake bucket, in the order the store made them. */
  apply(changes: readonly LakeChange[]): void {
    if (!this.watched) return;
    for (const c of changes) {
      for (const [location, { table, state }] of this.states) {
        if (!c.key.startsWith(location)) continue;
        const obj = this.reader.objectOf(table, c.key, c.etag ?? '', c.size ?? 0);
        if (!obj) continue;
        for (const l of state.listings) if (l.covers(obj.partition)) l.log.push(c);
        // A partition never listed needs nothing: its first listing will see the change.
        if (this.isListed(state, obj.partition)) this.put(state, obj, c.etag === undefined);
      }
    }
  }

  /**
   * The objects of `table` in the partitions `keep` accepts (all when null), ordered by key.
   * `days`: the dt values those partitions can have, when the query names them (null: any).
   */
  async objects(table: LakeTable, keep: PartitionPredicate | null, days: readonly string[] | null, signal?: AbortSignal): Promise<LakeObject[]> {
    const need = this.need(keep, days);
    if (!this.watched) {
      const listed = await this.list(table, need, signal);
      return listed.filter((o) => !keep || keep(o.partition)).sort(byKey);
    }
    const entry = this.states.get(table.location);
    if (!entry) throw new Error(`lake index: table ${table.name} is not in the catalog`);
    const { state } = entry;
    const missing: Need = state.full
      ? { whole: false, days: [], hours: [] }
      : need.whole
        ? need
        : { whole: false, days: need.days.filter((d) => !state.days.has(d)), hours: need.hours.filter((p) => !state.days.has(p.dt) && !state.hours.has(hourKey(p))) };
    if (missing.whole || missing.days.length > 0 || missing.hours.length > 0) await this.listInto(table, state, missing, signal);
    const wantDays = need.whole ? null : new Set([...need.days, ...need.hours.map((p) => p.dt)]);
    const out: LakeObject[] = [];
    for (const objs of state.partitions.values()) {
      const first = objs.values().next().value;
      if (!first || (wantDays && !wantDays.has(first.partition.dt)) || (keep && !keep(first.partition))) continue;
      out.push(...objs.values());
    }
    return out.sort(byKey);
  }

  private need(keep: PartitionPredicate | null, days: readonly string[] | null): Need {
    if (!days) return { whole: true };
    const whole: string[] = [];
    const hours: PartitionKey[] = [];
    for (const dt of days) {
      const wanted = keep ? HOURS.filter((hour) => keep({ dt, hour })) : HOURS;
      if (wanted.length === 24) whole.push(dt);
      else hours.push(...wanted.map((hour) => ({ dt, hour })));
    }
    return { whole: false, days: whole, hours };
  }

  private isListed(state: TableState, p: PartitionKey): boolean {
    return state.full || state.days.has(p.dt) || state.hours.has(hourKey(p));
  }

  private async list(table: LakeTable, need: Need, signal?: AbortSignal): Promise<LakeObject[]> {
    const prefixes = need.whole
      ? [table.location]
      : [...need.days.map((d) => `${table.location}dt=${d}/`), ...need.hours.map((p) => `${table.location}dt=${p.dt}/hour=${String(p.hour).padStart(2, '0')}/`)];
    const out: LakeObject[] = [];
    for (const prefix of prefixes) {
      this.listings++;
      out.push(...(await this.reader.listPrefix(table, prefix, signal)));
    }
    return out;
  }

  private async listInto(table: LakeTable, state: TableState, need: Need, signal?: AbortSignal): Promise<void> {
    const days = need.whole ? new Set<string>() : new Set(need.days);
    const hours = need.whole ? new Set<string>() : new Set(need.hours.map(hourKey));
    const listing: Listing = { covers: (p) => need.whole || days.has(p.dt) || hours.has(hourKey(p)), log: [] };
    state.listings.add(listing);
    try {
      const listed = await this.list(table, need, signal);
      for (const o of listed) this.put(state, o, false);
      for (const c of listing.log) {
        const obj = this.reader.objectOf(table, c.key, c.etag ?? '', c.size ?? 0);
        if (obj) this.put(state, obj, c.etag === undefined);
      }
      if (need.whole) state.full = true;
      for (const d of days) state.days.add(d);
      for (const h of hours) state.hours.add(h);
    } finally {
      state.listings.delete(listing);
    }
  }

  private put(state: TableState, obj: LakeObject, removed: boolean): void {
    const k = hourKey(obj.partition);
    let objs = state.partitions.get(k);
    if (removed) {
      if (objs?.delete(obj.key) && objs.size === 0) state.partitions.delete(k);
      return;
    }
    if (!objs) state.partitions.set(k, (objs = new Map()));
    objs.set(obj.key, obj);
  }
}

const byKey = (a: LakeObject, b: LakeObject): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
