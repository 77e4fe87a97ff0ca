import { describe, expect, it } from 'vitest';
import { backoffMs } from './backoff.ts';

describe('backoffMs', () => {
  it('doubles from baseMs on every retry', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, { baseMs: 2000 }))).toEqual([
      2000, 4000, 8000, 16000, 32000,
    ]);
  });

  it('stops at maxMs, however many retries', () => {
    expect(backoffMs(10, { baseMs: 2000, maxMs: 900_000 })).toBe(900_000);
    expect(backoffMs(1000, { baseMs: 2000, maxMs: 900_000 })).toBe(900_000);
  });

  it('treats attempt 0 like the first retry', () => {
    expect(backoffMs(0, { baseMs: 200, maxMs: 1000 })).toBe(200);
  });

  it('spreads the pause by ±jitter, within its bounds', () => {
    const pauses = Array.from({ length: 500 }, () => backoffMs(3, { baseMs: 1000, jitter: 0.2 }));
    expect(Math.min(...pauses)).toBeGreaterThanOrEqual(3200);
    expect(Math.max(...pauses)).toBeLessThanOrEqual(4800);
    expect(new Set(pauses).size).toBeGreaterThan(10);
  });
});
