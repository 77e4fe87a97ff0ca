import { describe, expect, it } from 'vitest';
import { linear, niceTicks } from './scale.ts';

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
});

describe('linear', () => {
  it('maps the domain onto the range', () => {
    const f = linear([0, 10], [100, 0]);
    expect(f(0)).toBe(100);
    expect(f(5)).toBe(50);
    expect(f(10)).toBe(0);
  });
});
