import { describe, expect, it } from 'vitest';
import { LOCK_USER_SQL, lockedUser } from './lock-user.ts';

describe('lockUser', () => {
  it('gives the allocation hot path the very statement it runs, as native $1 text', () => {
    expect(LOCK_USER_SQL).toBe(
      'select vm_quota, vm_quota_period_end, status, email_verified_at is not null as email_verified from users where id = $1 for no key update',
    );
  });

  it('reads a period end handed back as text as a Date', () => {
    const end = '2026-11-23T12:00:00.000Z';
    expect(
      lockedUser({ vm_quota: 2, vm_quota_period_end: end, status: 'active', email_verified: true }),
    ).toEqual({
      vm_quota: 2,
      vm_quota_period_end: new Date(end),
      status: 'active',
      email_verified: true,
    });
    expect(
      lockedUser({ vm_quota: 1, vm_quota_period_end: null, status: 'suspended', email_verified: false })
        .vm_quota_period_end,
    ).toBeNull();
  });
});
