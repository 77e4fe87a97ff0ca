import { describe, expect, it } from 'vitest';
import { moneyByCurrency, poolVmState, quotaChangeMessage } from './describe.ts';

const dec = '2026-12-02T12:33:00.000Z';
const jan = '2027-01-02T12:33:00.000Z';

describe('quotaChangeMessage', () => {
  it('says the period end moved, not that the quota was set, when only the end changed', () => {
    const text = quotaChangeMessage({ vmQuota: 1, periodEnd: dec }, { vmQuota: 1, periodEnd: jan });
    expect(text).toBe(
      'Plan period end moved from Dec 2, 2026, 12:33 PM UTC to Jan 2, 2027, 12:33 PM UTC; quota stays 1 VM.',
    );
    expect(text).not.toMatch(/Quota set/);
  });

  it('names each change, and says when nothing changed', () => {
    expect(quotaChangeMessage({ vmQuota: 1, periodEnd: dec }, { vmQuota: 3, periodEnd: dec })).toBe(
      'Quota changed from 1 VM to 3 VMs.',
    );
    expect(quotaChangeMessage({ vmQuota: 1, periodEnd: null }, { vmQuota: 2, periodEnd: jan })).toBe(
      'Quota changed from 1 VM to 2 VMs; plan period end set to Jan 2, 2027, 12:33 PM UTC.',
    );
    expect(quotaChangeMessage({ vmQuota: 2, periodEnd: dec }, { vmQuota: 2, periodEnd: null })).toBe(
      'Plan period end removed (was Dec 2, 2026, 12:33 PM UTC); quota stays 2 VMs.',
    );
    // The same instant written differently is no change.
    expect(
      quotaChangeMessage({ vmQuota: 0, periodEnd: '2026-12-02T12:33:00Z' }, { vmQuota: 0, periodEnd: dec }),
    ).toBe('Nothing changed: quota 0 VMs, plan period ends Dec 2, 2026, 12:33 PM UTC.');
    expect(quotaChangeMessage(null, { vmQuota: 1, periodEnd: null })).toBe(
      'Quota set to 1 VM; no plan period end.',
    );
  });
});

describe('poolVmState', () => {
  it('shows one state that agrees with the allocation', () => {
    expect(poolVmState('AVAILABLE', true)).toEqual({ label: 'In use', tone: 'info' });
    expect(poolVmState('AVAILABLE', false)).toEqual({ label: 'Free', tone: 'success' });
    expect(poolVmState('RETIRED', true).label).toBe('Retired, still allocated');
    expect(poolVmState('MAINTENANCE', false).label).toBe('Maintenance');
    for (const status of ['AVAILABLE', 'MAINTENANCE', 'RETIRED']) {
      expect(poolVmState(status, true).label).not.toMatch(/^(Free|Available)/);
    }
  });
});

describe('moneyByCurrency', () => {
  it('gives every amount its currency', () => {
    expect(moneyByCurrency([])).toBe('nothing');
    expect(moneyByCurrency([{ currency: 'EUR', cents: 1234 }])).toBe('€12.34');
    expect(
      moneyByCurrency([
        { currency: 'EUR', cents: 13 },
        { currency: 'USD', cents: 35 },
        { currency: 'GBP', cents: 100 },
      ]),
    ).toBe('€0.13, $0.35 and £1.00');
  });
});
