import { describe, expect, it } from 'vitest';
import { formatDateTime, formatMoney, formatRelative } from './format.ts';

describe('formatRelative', () => {
  const now = new Date('2026-11-23T12:00:00Z');
  it.each([
    ['2026-11-26T12:00:00Z', 'in 3 days'],
    ['2026-11-23T10:00:00Z', '2 hours ago'],
    ['2026-11-23T12:00:20Z', 'now'],
    ['2026-11-24T12:00:00Z', 'tomorrow'],
    ['2026-12-23T12:00:00Z', 'next month'],
  ])('%s is %s', (at, expected) => {
    expect(formatRelative(new Date(at), now)).toBe(expected);
  });
});

describe('formatDateTime', () => {
  it('renders in the given time zone', () => {
    const d = new Date('2026-11-23T23:30:00Z');
    expect(formatDateTime(d, 'UTC')).toContain('Nov 23, 2026');
    expect(formatDateTime(d, 'Asia/Tokyo')).toContain('Nov 24, 2026');
    expect(formatDateTime(d, 'America/New_York')).toContain('6:30');
  });
});

describe('formatMoney', () => {
  it('formats cents in the currency, keeping the sign', () => {
    expect(formatMoney(123456, 'EUR')).toBe('€1,234.56');
    expect(formatMoney(-50, 'USD')).toBe('-$0.50');
  });
});
