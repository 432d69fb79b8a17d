import { describe, expect, it } from 'vitest';
import { cutSessions, mergeSessions, SessionBuffer, type SessionPart } from '../core/session';
import { mulberry32 } from '../core/prng';
import { onePassSessions, partialSessions, sessionStream, sortSessions, type SessionEvent, type SessionTotals } from './support/session-streams';

const MIN = 60_000;
const GAPS = [1_000, 5 * MIN, 30 * MIN];

const minNull = (a: number | null, b: number | null, f: (x: number, y: number) => number) => (a === null ? b : b === null ? a : f(a, b));
function mergeTotals(a: SessionTotals, b: SessionTotals): SessionTotals {
  return {
    key: a.key,
    start: Math.min(a.start, b.start),
    end: Math.max(a.end, b.end),
    events: a.events + b.events,
    values: a.values + b.values,
    sum: minNull(a.sum, b.sum, (x, y) => x + y),
    min: minNull(a.min, b.min, Math.min),
    max: minNull(a.max, b.max, Math.max),
  };
}
const asPart = (s: SessionTotals): SessionPart<SessionTotals> => ({ group: JSON.stringify(s.key), start: s.start, end: s.end, value: s });
const merged = (parts: readonly SessionTotals[]) => sortSessions(mergeSessions(parts.map(asPart), mergeTotals).map((p) => ({ ...p.value, start: p.start, end: p.end })));

describe('cutSessions', () => {
  it('starts a new session at a pause of gap or more, and ends each at its last event + gap', () => {
    expect(cutSessions([0, 999, 1998, 2998, 5000], 1000)).toEqual([
      { first: 0, last: 2, start: 0, end: 2998 },
      { first: 3, last: 3, start: 2998, end: 3998 },
      { first: 4, last: 4, start: 5000, end: 6000 },
    ]);
    expect(cutSessions([7, 7, 7], 1000)).toEqual([{ first: 0, last: 2, start: 7, end: 1007 }]);
    expect(cutSessions([], 1000)).toEqual([]);
  });
});

describe('mergeSessions', () => {
  it('joins a part that starts before the running end, not one that starts at it', () => {
    const parts = [
      { group: 'a', start: 0, end: 10, value: 1 },
      { group: 'a', start: 10, end: 20, value: 2 },
      { group: 'a', start: 2, end: 5, value: 4 },
      { group: 'b', start: 3, end: 12, value: 8 },
      { group: 'a', start: 19, end: 30, value: 16 },
    ];
    expect(mergeSessions(parts, (x, y) => x + y)).toEqual([
      { group: 'a', start: 0, end: 10, value: 5 },
      { group: 'a', start: 10, end: 30, value: 18 },
      { group: 'b', start: 3, end: 12, value: 8 },
    ]);
  });

  it('a part inside a longer one does not end the session early (running max of ends, not the last end)', () => {
    const parts = [
      { group: 'a', start: 0, end: 100, value: 1 },
      { group: 'a', start: 10, end: 20, value: 1 },
      { group: 'a', start: 50, end: 60, value: 1 },
    ];
    expect(mergeSessions(parts, (x, y) => x + y)).toEqual([{ group: 'a', start: 0, end: 100, value: 3 }]);
  });
});

describe('sessions from batches equal one pass over all events (property)', () => {
  it.each(GAPS)('gap %i ms: any split into batches, in any order, merges to the one-pass sessions', (gapMs) => {
    let bridges = 0;
    let multiBatch = 0;
    let sessions = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const s = sessionStream(seed * 7919 + gapMs, gapMs);
      const want = onePassSessions(s.events, gapMs);
      const parts = s.batches.flatMap((b) => partialSessions(b, gapMs));
      expect(merged(parts), `seed ${seed}`).toEqual(want);
      // Order of the parts (batches in any order, rows in any order) does not matter.
      const rand = mulberry32(seed);
      expect(merged([...parts].sort(() => rand() - 0.5)), `seed ${seed}, shuffled`).toEqual(want);
      // Merging in stages (a view over merged partials, e.g. after compaction of some) gives the same.
      const half = Math.floor(parts.length / 2);
      const staged = [...merged(parts.slice(0, half)), ...parts.slice(half)];
      expect(merged(staged), `seed ${seed}, staged`).toEqual(want);
      bridges += s.bridges;
      if (s.batches.length > 1) multiBatch++;
      sessions += want.length;
    }
    // The streams must exercise what the property is about.
    expect(bridges).toBeGreaterThan(300);
    expect(multiBatch).toBeGreaterThan(120);
    expect(sessions).toBeGreaterThan(1500);
  });

  it('the generated pauses hit gap − 1 ms (one session), gap and gap + 1 ms (two sessions)', () => {
    const gapMs = 5 * MIN;
    const seen = { below: 0, at: 0, above: 0 };
    for (let seed = 1; seed <= 20; seed++) {
      const s = sessionStream(seed, gapMs);
      const want = onePassSessions(s.events, gapMs);
      for (const key of new Set(s.events.map((e) => e.key))) {
        const ts = s.events.filter((e) => e.key === key).map((e) => e.t).sort((a, b) => a - b);
        const starts = new Set(want.filter((w) => w.key === key).map((w) => w.start));
        for (let i = 1; i < ts.length; i++) {
          const d = ts[i]! - ts[i - 1]!;
          if (d === gapMs - 1) { seen.below++; expect(starts.has(ts[i]!)).toBe(false); }
          if (d === gapMs) { seen.at++; expect(starts.has(ts[i]!)).toBe(true); }
          if (d === gapMs + 1) { seen.above++; expect(starts.has(ts[i]!)).toBe(true); }
        }
      }
    }
    expect(seen.below).toBeGreaterThan(10);
    expect(seen.at).toBeGreaterThan(10);
    expect(seen.above).toBeGreaterThan(10);
  });
});

describe('SessionBuffer', () => {
  it('cuts a batch in arrival order into the partial sessions of its events sorted by time, ties kept in arrival order', () => {
    const gapMs = 5 * MIN;
    for (let seed = 1; seed <= 50; seed++) {
      const s = sessionStream(seed, gapMs);
      for (const batch of s.batches) {
        const buf = new SessionBuffer<SessionEvent>(gapMs);
        for (const e of batch) buf.add(JSON.stringify(e.key), e, e.t);
        const got: { key: string; start: number; end: number; ids: number[] }[] = [];
        buf.forEachSession((key, c, rows) => got.push({ key, start: c.start, end: c.end, ids: rows.slice(c.first, c.last + 1).map((r) => r.id) }));
        const want = partialSessions(batch, gapMs);
        expect(got.map((g) => [g.key, g.start, g.end, g.ids.length]).sort()).toEqual(want.map((w) => [JSON.stringify(w.key), w.start, w.end, w.events]).sort());
        for (const g of got) {
          const es = g.ids.map((id) => batch.find((e) => e.id === id)!);
          for (let i = 1; i < es.length; i++) {
            expect(es[i]!.t).toBeGreaterThanOrEqual(es[i - 1]!.t);
            if (es[i]!.t === es[i - 1]!.t) expect(batch.indexOf(es[i]!)).toBeGreaterThan(batch.indexOf(es[i - 1]!));
          }
        }
      }
    }
  });
});
