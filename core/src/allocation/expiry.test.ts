import { describe, expect, it } from 'vitest';
import { expiryWarningWindow, isExpiringSoon } from './expiry.ts';

const now = new Date('2026-11-23T12:00:00.000Z');
const at = (hoursFromNow: number) => new Date(now.getTime() + hoursFromNow * 3_600_000);

describe('isExpiringSoon', () => {
  it('is true for an ACTIVE allocation ending within the window, not past it', () => {
    expect(isExpiringSoon({ status: 'ACTIVE', expiresAt: at(71.9) }, 72, now)).toBe(true);
    expect(isExpiringSoon({ status: 'ACTIVE', expiresAt: at(0) }, 72, now)).toBe(true);
    expect(isExpiringSoon({ status: 'ACTIVE', expiresAt: at(72) }, 72, now)).toBe(false);
    expect(isExpiringSoon({ status: 'ACTIVE', expiresAt: at(-0.001) }, 72, now)).toBe(false);
  });

  it('is false for a released allocation and when warnings are off', () => {
    expect(isExpiringSoon({ status: 'RELEASED', expiresAt: at(1) }, 72, now)).toBe(false);
    expect(isExpiringSoon({ status: 'ACTIVE', expiresAt: at(1) }, 0, now)).toBe(false);
  });
});

describe('expiryWarningWindow', () => {
  it('runs from now (included) to the warning hours ahead (excluded); none when warnings are off', () => {
    expect(expiryWarningWindow(72, now)).toEqual({ from: now, until: at(72) });
    expect(expiryWarningWindow(0, now)).toBeNull();
    expect(expiryWarningWindow(-1, now)).toBeNull();
  });
});
