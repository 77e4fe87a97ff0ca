import { describe, expect, it } from 'vitest';
import { linear, linePath, niceTicks } from './scale.ts';

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
