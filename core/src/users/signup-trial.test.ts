import { describe, expect, it } from 'vitest';
import { describeSignupTrial, parseSignupTrial, trialPlan } from './signup-trial.ts';

describe('parseSignupTrial', () => {
  it('reads VMs and a span in hours or days, any case', () => {
    expect(parseSignupTrial('1 VM for 24h')).toEqual({ vmQuota: 1, hours: 24 });
    expect(parseSignupTrial(' 2 vms for 7D ')).toEqual({ vmQuota: 2, hours: 168 });
    expect(parseSignupTrial('3VMs for 1h')).toEqual({ vmQuota: 3, hours: 1 });
  });

  it('is null when off', () => {
    for (const off of ['', ' ', 'off', 'OFF', 'none', '0']) expect(parseSignupTrial(off)).toBeNull();
  });

  it('refuses anything else, saying the format', () => {
    for (const bad of [
      '1 VM',
      'for 24h',
      '0 VM for 24h',
      '1 VM for 0h',
      '1 VM for 367d',
      '1 VM for 2w',
      'yes',
    ])
      expect(() => parseSignupTrial(bad)).toThrow(/must read "<n> VM for <hours>h"/);
  });
});

describe('trialPlan and describeSignupTrial', () => {
  it('ends the trial the span after now, and says it back', () => {
    const now = new Date('2026-12-03T10:00:00Z');
    expect(trialPlan({ vmQuota: 2, hours: 48 }, now)).toEqual({
      vmQuota: 2,
      periodEnd: new Date('2026-12-05T10:00:00Z'),
    });
    expect(describeSignupTrial({ vmQuota: 1, hours: 24 })).toBe('1 VM for 1d');
    expect(describeSignupTrial({ vmQuota: 2, hours: 5 })).toBe('2 VMs for 5h');
    expect(describeSignupTrial(null)).toBe('off');
  });
});
