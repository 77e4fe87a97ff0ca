import { describe, expect, it } from 'vitest';
import { clockFor, localeFrom, timeZoneFrom } from './clock.ts';
import { formatDateTime, formatRelative } from './format.ts';

describe('clock', () => {
  it('takes the most preferred language Intl knows from Accept-Language', () => {
    expect(localeFrom('de-CH,de;q=0.9,en;q=0.8')).toBe('de-CH');
    expect(localeFrom('en;q=0.5, fr-BE')).toBe('fr-BE');
    expect(localeFrom('*')).toBe('en');
    expect(localeFrom('not a tag!!, nl')).toBe('nl');
    expect(localeFrom('')).toBe('en');
    expect(localeFrom(undefined)).toBe('en');
  });

  it('trusts only a time zone Intl knows', () => {
    expect(timeZoneFrom('Asia/Tokyo')).toBe('Asia/Tokyo');
    expect(timeZoneFrom('Mars/Olympus')).toBe('UTC');
    expect(timeZoneFrom('<script>')).toBe('UTC');
    expect(timeZoneFrom(undefined)).toBe('UTC');
  });

  it('formats the same text from the same clock (server render and hydration)', () => {
    const clock = clockFor('en-US', 'America/New_York', new Date('2026-12-02T12:33:00Z'));
    const date = new Date('2026-12-30T08:00:00Z');
    const render = () =>
      `${formatDateTime(date, clock.timeZone, clock.locale)} · ${formatRelative(date, new Date(clock.now), clock.locale)}`;
    expect(render()).toBe('Dec 30, 2026, 3:00 AM · in 4 weeks');
    expect(render()).toBe(render());
    // Plain spaces only: ICU versions differ on the narrow no-break space before AM/PM.
    expect(formatDateTime(date, 'UTC', 'en-US')).toBe('Dec 30, 2026, 8:00 AM UTC');
  });
});
