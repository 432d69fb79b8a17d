/**
 * A deterministic IoT workload for the Kafka pipeline: readings per site,
 * some without a temperature (filtered), some malformed, some late, all out
 * of order; with the expected 5-minute aggregates computed independently.
 */
import { prng } from './clickstream-events';

export interface IotWorkload {
  readonly records: { text: string; key: string; kind: 'raw' | 'filtered' | 'quarantined' | 'late' }[];
  readonly counts: { raw: number; filtered: number; quarantined: number; late: number };
  /** Keyed by `${window_start}|${site}`. */
  readonly windows: Map<string, { window_start: number; site: string; readings: number; sum: number; max: number }>;
}

const SITES = ['north', 'south', 'east', 'west'];
const LIMIT_MS = 10 * 60_000;

/** Event times relative to `nowMs`, the moment of sending; no event near the lateness limit. */
export function iotWorkload(n: number, nowMs: number, seed = 9): IotWorkload {
  const rand = prng(seed);
  const records: IotWorkload['records'] = [];
  const counts = { raw: 0, filtered: 0, quarantined: 0, late: 0 };
  const windows: IotWorkload['windows'] = new Map();
  for (let i = 0; i < n; i++) {
    const device = `dev-${Math.floor(rand() * 50)}`;
    if (rand() < 0.02) {
      const bad = i % 2 === 0 ? `temp=21.5;device=${device}` : JSON.stringify({ device_id: device, site: 'north', temperature: 'warm', ts: nowMs });
      records.push({ text: bad, key: device, kind: 'quarantined' });
      counts.quarantined++;
      continue;
    }
    const late = rand() < 0.04;
    const delay = late ? LIMIT_MS + 60_000 + Math.floor(rand() * 20 * 60_000) : Math.floor(rand() * 8 * 60_000);
    const ts = nowMs - delay;
    const site = SITES[Math.floor(rand() * SITES.length)]!;
    const temperature = rand() < 0.1 ? null : Math.round((5 + rand() * 30) * 10) / 10;
    const ev = { device_id: device, site, temperature, humidity: Math.round(rand() * 1000) / 10, ts: new Date(ts).toISOString() };
    const text = JSON.stringify(ev);
    if (temperature === null) {
      records.push({ text, key: device, kind: 'filtered' });
      counts.filtered++;
    } else if (late) {
      records.push({ text, key: device, kind: 'late' });
      counts.late++;
    } else {
      records.push({ text, key: device, kind: 'raw' });
      counts.raw++;
      const ws = ts - (ts % 300_000);
      const k = `${ws}|${site}`;
      let w = windows.get(k);
      if (!w) windows.set(k, (w = { window_start: ws, site, readings: 0, sum: 0, max: -Infinity }));
      w.readings++;
      w.sum += temperature;
      w.max = Math.max(w.max, temperature);
    }
  }
  return { records, counts, windows };
}
