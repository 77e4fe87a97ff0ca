import { describe, expect, it } from 'vitest';
import { barWidthFor, linear, linePath, niceTicks, timeLabels, visibleLabels } from './scale.ts';

describe('niceTicks', () => {
  it('covers the range from 0 with round steps', () => {
    expect(niceTicks(0, 87)).toEqual([0, 25, 50, 75, 100]);
    expect(niceTicks(0, 1000)).toEqual([0, 250, 500, 750, 1000]);
  });
  it('includes negative values', () => {
    const ticks = niceTicks(-30, 70);
    expect(ticks[0]).toBeLessThanOrEqual(-30);
    expect(ticks[ticks.length - 1]).toBeGreaterThanOrEqual(70);
    expect(ticks).toContain(0);
  });
  it('gives a usable axis for an empty or flat series', () => {
    expect(niceTicks(0, 0).length).toBeGreaterThan(1);
  });
  it('gives whole-number ticks for counts', () => {
    expect(niceTicks(0, 0, 4, true)).toEqual([0, 1]);
    expect(niceTicks(0, 1, 4, true)).toEqual([0, 1]);
    expect(niceTicks(0, 3, 4, true)).toEqual([0, 1, 2, 3]);
    expect(niceTicks(0, 10, 4, true)).toEqual([0, 5, 10]);
    for (const max of [1, 2, 3, 7, 9, 13, 250, 999]) {
      const ticks = niceTicks(0, max, 4, true);
      expect(ticks.every(Number.isInteger), `${max}: ${ticks}`).toBe(true);
      expect(new Set(ticks).size).toBe(ticks.length);
      expect(ticks[ticks.length - 1]).toBeGreaterThanOrEqual(max);
    }
    // Without the flag a count of 1 would read 0, 0.25, 0.5…
    expect(niceTicks(0, 1)).toContain(0.25);
  });
});

describe('visibleLabels', () => {
  it('never draws the same label twice', () => {
    const shown = visibleLabels(['Dec 3', 'Dec 3', 'Dec 3', 'Dec 3', 'Dec 4'], 600);
    expect(shown).toEqual(['Dec 3', null, null, null, 'Dec 4']);
  });
  it('draws no more labels than fit the width, evenly spread', () => {
    const labels = Array.from({ length: 30 }, (_, i) => `Nov ${i + 1}`);
    const wide = visibleLabels(labels, 560).filter((l) => l !== null);
    const narrow = visibleLabels(labels, 200).filter((l) => l !== null);
    expect(wide.length).toBeLessThanOrEqual(Math.floor(560 / (6 * 7 + 16)));
    expect(narrow.length).toBeLessThanOrEqual(Math.floor(200 / (6 * 7 + 16)));
    expect(narrow.length).toBeGreaterThan(1);
    expect(narrow[0]).toBe('Nov 1');
  });
  it('draws the one label of a one-point chart', () => {
    expect(visibleLabels(['Dec 3'], 300)).toEqual(['Dec 3']);
    expect(visibleLabels([], 300)).toEqual([]);
  });
});

describe('barWidthFor', () => {
  it('keeps a lone bar from filling the chart', () => {
    expect(barWidthFor(560)).toBe(48);
    expect(barWidthFor(10)).toBe(7);
    expect(barWidthFor(1)).toBe(2);
  });
});

describe('timeLabels', () => {
  const at = (iso: string) => new Date(iso);
  it('says the day when that tells the runs apart', () => {
    expect(timeLabels([at('2026-12-01T10:00:00Z'), at('2026-12-02T10:00:00Z')], 'en-US', 'UTC')).toEqual([
      'Dec 1',
      'Dec 2',
    ]);
  });
  it('adds the time, then the seconds, when runs are closer (no four identical labels)', () => {
    const sameMinute = [
      '2026-12-03T09:30:05Z',
      '2026-12-03T09:30:10Z',
      '2026-12-03T09:30:15Z',
      '2026-12-03T09:30:20Z',
    ];
    const labels = timeLabels(sameMinute.map(at), 'en-GB', 'UTC');
    expect(labels).toEqual(['09:30:05', '09:30:10', '09:30:15', '09:30:20']);
    const twoDays = timeLabels(
      [at('2026-12-02T09:30:00Z'), at('2026-12-03T09:30:00Z'), at('2026-12-03T11:00:00Z')],
      'en-GB',
      'UTC',
    );
    expect(new Set(twoDays).size).toBe(3);
    expect(twoDays[0]).toMatch(/^2 Dec,? 09:30$/);
  });
  it("uses the viewer's zone", () => {
    const [tokyo] = timeLabels(
      [at('2026-12-03T20:00:00Z'), at('2026-12-03T21:00:00Z')],
      'en-GB',
      'Asia/Tokyo',
    );
    expect(tokyo).toBe('05:00');
  });
});

describe('linear', () => {
  it('maps the domain onto the range', () => {
    const f = linear([0, 10], [100, 0]);
    expect(f(0)).toBe(100);
    expect(f(5)).toBe(50);
    expect(f(10)).toBe(0);
  });
});

describe('linePath', () => {
  const identity = (v: number) => v;
  const points = [
    { x: 0, y: 0 },
    { x: 10, y: 20 },
    { x: 30, y: 20 },
  ];
  it('joins the points with straight segments by default', () => {
    expect(linePath(points, identity, identity)).toBe('M0.0,0.0 L10.0,20.0 L30.0,20.0');
  });
  it('with step, holds each value until the next point, then jumps', () => {
    // From x=0 to x=10 the value stays 0; at x=10 it jumps to 20 (no ramp in between).
    expect(linePath(points, identity, identity, true)).toBe('M0.0,0.0 H10.0 V20.0 H30.0 V20.0');
  });
  it('is empty without points', () => {
    expect(linePath([], identity, identity, true)).toBe('');
  });
});
