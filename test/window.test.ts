import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignWindows, partitionOf, partitionPath, batchObjectName, parseDuration } from '../core';

describe('assignWindows', () => {
  it('puts an event in exactly one tumbling window that contains it', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e12, max: 4e12 }), fc.constantFrom(1000, 60_000, 300_000, 3_600_000), (t, size) => {
        const ws = assignWindows({ kind: 'tumbling', sizeMs: size }, t);
        expect(ws).toHaveLength(1);
        expect(ws[0]!.start).toBeLessThanOrEqual(t);
        expect(ws[0]!.end).toBeGreaterThan(t);
        expect(Math.abs(ws[0]!.start % size)).toBe(0);
      }),
    );
  });

  it('puts an event in size/every hopping windows, each containing it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4e12 }), fc.constantFrom([300_000, 60_000], [600_000, 120_000], [60_000, 60_000]), (t, [size, every]) => {
        const ws = assignWindows({ kind: 'hopping', sizeMs: size!, everyMs: every! }, t);
        expect(ws).toHaveLength(size! / every!);
        for (const w of ws) {
          expect(w.start).toBeLessThanOrEqual(t);
          expect(w.end).toBeGreaterThan(t);
          expect(w.end - w.start).toBe(size);
        }
      }),
    );
  });

  it('handles the window boundary: an event at the end of a window belongs to the next', () => {
    expect(assignWindows({ kind: 'tumbling', sizeMs: 60_000 }, 120_000)).toEqual([{ start: 120_000, end: 180_000 }]);
    expect(assignWindows({ kind: 'tumbling', sizeMs: 60_000 }, 119_999)).toEqual([{ start: 60_000, end: 120_000 }]);
  });
});

describe('partitions and object names', () => {
  it('uses UTC event time for dt and hour', () => {
    const p = partitionOf(Date.UTC(2026, 10, 25, 23, 59, 59, 999));
    expect(p).toEqual({ dt: '2026-11-25', hour: '23' });
    expect(partitionPath(partitionOf(Date.UTC(2026, 0, 1, 7)))).toBe('dt=2026-01-01/hour=07');
  });

  it('names objects from the input alone', () => {
    expect(batchObjectName({ kind: 'kinesis', shardId: 'shardId-000000000001', firstSequence: '495', lastSequence: '497' })).toBe('shardId-000000000001-495-497');
    expect(batchObjectName({ kind: 'kafka', topic: 'iot-readings', partition: 2, firstOffset: '10', lastOffset: '19' })).toBe('iot-readings-2-10-19');
  });
});

describe('parseDuration', () => {
  it.each([
    ['1 minute', 60_000], ['5 minutes', 300_000], ['90s', 90_000], ['1h', 3_600_000], ['1 day', 86_400_000], [250, 250],
  ])('%s → %d ms', (d, ms) => expect(parseDuration(d)).toEqual({ ms }));

  it('names the bad input', () => {
    expect(parseDuration('soon')).toEqual({ error: expect.stringContaining('(given "soon")') });
    expect(parseDuration(-1)).toEqual({ error: expect.stringContaining('(given -1)') });
  });
});
