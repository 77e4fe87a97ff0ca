import { describe, expect, it } from 'vitest';
import { byRelease, releaseReasonText } from './history.ts';

describe('history', () => {
  it('names every release reason in words', () => {
    expect(releaseReasonText('USER')).toBe('Released by you');
    expect(releaseReasonText('ADMIN')).toBe('Released by an operator');
    expect(releaseReasonText('EXPIRED')).toBe('The plan period ended');
    expect(releaseReasonText('CREDIT_EXHAUSTED')).toBe('The balance stayed below zero');
    expect(releaseReasonText(null)).toBe('Released');
  });

  it('lists the most recently released first', () => {
    const rows = [
      { id: 'a', allocatedAt: '2026-11-01T00:00:00Z', releasedAt: '2026-11-02T00:00:00Z' },
      { id: 'b', allocatedAt: '2026-10-01T00:00:00Z', releasedAt: '2026-11-20T00:00:00Z' },
      { id: 'c', allocatedAt: '2026-11-05T00:00:00Z', releasedAt: '2026-11-06T00:00:00Z' },
    ];
    expect(byRelease(rows).map((r) => r.id)).toEqual(['b', 'c', 'a']);
  });
});
