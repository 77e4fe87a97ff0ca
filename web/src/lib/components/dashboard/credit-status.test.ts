import { describe, expect, it } from 'vitest';
import { creditBanner, type DashboardCredit } from './credit-status.ts';

const credit = (over: Partial<DashboardCredit>): DashboardCredit => ({
  balanceCents: 1_000,
  currency: 'EUR',
  runwayDays: null,
  runsOutAt: null,
  low: false,
  lowReason: null,
  negative: false,
  releaseAt: null,
  ...over,
});

describe('creditBanner', () => {
  it('says negative before low, and nothing when neither', () => {
    expect(creditBanner(credit({}))).toBeNull();
    expect(creditBanner(credit({ low: true, lowReason: 'FLOOR' }))).toBe('low');
    expect(creditBanner(credit({ balanceCents: -1, low: true, lowReason: 'FLOOR', negative: true }))).toBe(
      'negative',
    );
  });
});
