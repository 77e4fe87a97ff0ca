import { describe, expect, it } from 'vitest';
import { formatUtcMinute } from './dates.ts';

describe('formatUtcMinute', () => {
  it('says the minute in UTC, without milliseconds or a T', () => {
    expect(formatUtcMinute(new Date('2026-12-02T12:33:45.123Z'))).toBe('2026-12-02 12:33 UTC');
    expect(formatUtcMinute(new Date('2026-01-05T23:59:00+02:00'))).toBe('2026-01-05 21:59 UTC');
  });
});
