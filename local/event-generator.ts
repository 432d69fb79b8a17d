/**
 * Built-in event generator for `shardflow send`: plausible events for any
 * pipeline schema, with event times near now, a little out of order. Seeded,
 * so that the same command sends the same events. A field with a `path` is
 * written where the pipeline reads it (`customer.country` into a nested
 * `customer` object), and an optional one is sometimes left out, as producers
 * that omit a key do.
 */
import type { Pipeline, SchemaField } from '../core';
import { mulberry32 as prng } from '../core/prng';
import { fieldPath } from '../core/schema';

/** Small vocabularies make group-bys meaningful: a handful of categories, sites, users. */
const WORDS: Record<string, readonly string[]> = {
  category: ['books', 'games', 'music', 'garden', 'toys', 'sports'],
  site: ['north', 'south', 'east', 'west'],
  country: ['DE', 'FR', 'US', 'JP', 'BR', 'GB'],
};

/** Sets `value` at `keys` in `e`, making the objects on the way. */
function setAt(e: Record<string, unknown>, keys: readonly string[], value: unknown): void {
  let o = e;
  for (const k of keys.slice(0, -1)) {
    const next = o[k];
    o = (typeof next === 'object' && next !== null ? next : (o[k] = {})) as Record<string, unknown>;
  }
  o[keys[keys.length - 1]!] = value;
}

function valueFor(f: SchemaField, i: number, rand: () => number, nowMs: number): unknown {
  if (!f.required && rand() < 0.05) return null;
  switch (f.type) {
    case 'string': {
      const words = WORDS[f.name];
      if (words) return words[Math.floor(rand() * words.length)];
      if (f.name === 'event_id' || f.name === 'order_id') return `${f.name === 'event_id' ? 'evt' : 'order'}-${i}`; // unique per event
      if (f.name.endsWith('_id') || f.name === 'id') return `${f.name.replace(/_id$/, '')}-${Math.floor(rand() * 500)}`;
      return `${f.name}-${Math.floor(rand() * 20)}`;
    }
    case 'int':
      return Math.floor(rand() * 1000);
    case 'bigint':
      return Math.floor(rand() * 1e12);
    case 'double':
      // Amounts spread over three orders of magnitude (1 to ~400), as order values do, so percentiles and thresholds mean something.
      if (f.name.includes('amount')) return Math.round(Math.exp(rand() * 6) * 100) / 100;
      return f.name.includes('temp') ? Math.round((10 + rand() * 25) * 10) / 10 : Math.round(rand() * 10_000) / 100;
    case 'boolean':
      return rand() < 0.5;
    case 'timestamp':
      // Up to 60 s before now: out of order, but never late.
      return new Date(nowMs - Math.floor(rand() * 60_000)).toISOString();
  }
}

export function* generateEvents(p: Pipeline, count: number, opts: { seed?: number; now?: () => number } = {}): Generator<Record<string, unknown>> {
  const rand = prng(opts.seed ?? 1);
  const now = opts.now ?? Date.now;
  for (let i = 0; i < count; i++) {
    const t = now();
    const e: Record<string, unknown> = {};
    for (const f of p.schema) {
      const v = valueFor(f, i, rand, t);
      // A nested optional value is left out rather than sent as null: what a producer that omits the key sends.
      if (f.path && v === null) continue;
      setAt(e, fieldPath(f), v);
    }
    yield e;
  }
}
