import { describe, expect, it } from 'vitest';
import { type AllocateState, allocateBlocker } from './allocate-blocker.ts';

const now = new Date('2026-12-02T12:00:00Z');
const state = (over: Partial<AllocateState>): AllocateState => ({
  vmQuota: 1,
  periodEnd: '2026-12-30T00:00:00Z',
  balanceCents: 500,
  currency: 'EUR',
  active: 0,
  emailVerified: true,
  ...over,
});

describe('allocateBlocker', () => {
  it('lets a user with a plan, credit and a free slot allocate', () => {
    expect(allocateBlocker(state({}), now)).toBeNull();
    expect(allocateBlocker(state({ vmQuota: 3, active: 2, balanceCents: 0 }), now)).toBeNull();
  });

  it('says the quota is full the way the tile counts it', () => {
    expect(allocateBlocker(state({ active: 1 }), now)).toMatchObject({
      code: 'QUOTA_EXCEEDED',
      message: '1 of 1 in use: release one or upgrade.',
      href: '/plans',
    });
    expect(allocateBlocker(state({ vmQuota: 0 }), now)?.message).toBe(
      'Your plan includes no VM: upgrade to get one.',
    );
  });

  it('asks for a verified email before anything else, as the API does', () => {
    expect(allocateBlocker(state({ emailVerified: false, periodEnd: null, active: 1 }), now)).toEqual({
      code: 'EMAIL_NOT_VERIFIED',
      message: 'Verify your email address first: open the link we sent you.',
    });
  });

  it('checks the plan period first, then the balance, as the API does', () => {
    expect(allocateBlocker(state({ periodEnd: null, balanceCents: -5, active: 1 }), now)).toMatchObject({
      code: 'NO_ACTIVE_PLAN',
      message: 'No active plan: a VM needs one.',
    });
    expect(allocateBlocker(state({ periodEnd: '2026-12-02T12:00:00Z' }), now)?.message).toBe(
      'Your plan period has ended: renew it to get a VM.',
    );
    expect(allocateBlocker(state({ balanceCents: -150, active: 1 }), now, '/credit')).toMatchObject({
      code: 'BALANCE_NEGATIVE',
      message: 'Your balance is below zero (-€1.50): add credit first.',
      href: '/credit',
    });
  });
});
