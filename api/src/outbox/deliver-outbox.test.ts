import { describe, expect, it } from 'vitest';
import { backoffMs } from './deliver-outbox.ts';

describe('outbox backoff', () => {
  it('doubles from the base after each failed attempt', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, 2000, 900_000))).toEqual([2000, 4000, 8000, 16000, 32000]);
  });

  it('is capped at the maximum', () => {
    expect(backoffMs(10, 2000, 900_000)).toBe(900_000);
    expect(backoffMs(1000, 2000, 900_000)).toBe(900_000);
  });

  it('treats attempt 0 like the first retry', () => {
    expect(backoffMs(0, 200, 1000)).toBe(200);
  });
});
