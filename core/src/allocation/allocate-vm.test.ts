import { describe, expect, it } from 'vitest';
import { adjustBalance } from '../billing/ledger.ts';
import {
  BalanceNegativeError,
  NoActivePlanError,
  PoolExhaustedError,
  QuotaExceededError,
} from '../errors.ts';
import { formatUtcMinute } from '../lib/dates.ts';
import { refreshPool } from '../pool/refresh-pool.ts';
import { useTestDatabase } from '../testing/database.ts';
import {
  allocateTestVm,
  createTestUser,
  creditUser,
  errorCodeOf,
  poolEntries,
} from '../testing/factories.ts';
import { allocateVm } from './allocate-vm.ts';

// Several tests make the pool exactly their own VMs with refreshPool (which retires the rest),
// so the tests of this file run one after the other, as they do by default.
const t = useTestDatabase({ poolMax: 8 });
const HOUR_MS = 3_600_000;

/** Makes the pool exactly `count` fresh free VMs; their ids, in allocation order. */
async function poolOf(count: number): Promise<string[]> {
  const entries = poolEntries(count);
  await refreshPool(t.em(), entries);
  return entries.map((e) => e.id);
}

describe('allocateVm', () => {
  it('hands out a free VM with its cockpit link and points the VM at the allocation', async () => {
    const [vm] = await poolOf(1);
    const user = await createTestUser(t.em());
    const allocation = await allocateTestVm(t.em(), user.id);
    expect(allocation).toMatchObject({
      user: { id: user.id },
      poolVm: { id: vm },
      provisioner: 'pool',
      status: 'ACTIVE',
      releasedAt: null,
      releaseReason: null,
      cockpitUrl: `https://cockpit.test/${vm}`,
    });
    const [row] = await t.query('select active_allocation_id from pool_vm where id = $1', [vm]);
    expect(row.active_allocation_id).toBe(allocation.id);
  });

  it('picks the free VMs in id order, skipping taken ones', async () => {
    const vms = await poolOf(3);
    const got: string[] = [];
    for (let i = 0; i < 3; i++) {
      const user = await createTestUser(t.em());
      got.push((await allocateTestVm(t.em(), user.id)).poolVm.id);
    }
    expect(got).toEqual(vms);
  });

  it('expires at the plan period end', async () => {
    await poolOf(1);
    const periodEnd = new Date(Date.now() + 10 * 24 * HOUR_MS);
    const user = await createTestUser(t.em(), { vmQuota: 1, periodEnd });
    const before = Date.now();
    const allocation = await allocateTestVm(t.em(), user.id);
    expect(allocation.expiresAt.getTime()).toBe(periodEnd.getTime());
    expect(allocation.allocatedAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
  });

  it('refuses a user without a plan period (NO_ACTIVE_PLAN, saying what to do), writing nothing', async () => {
    await poolOf(1);
    const user = await createTestUser(t.em(), { vmQuota: 3, periodEnd: null });
    const err = await allocateTestVm(t.em(), user.id).catch((e) => e);
    expect(err).toBeInstanceOf(NoActivePlanError);
    expect(err).toMatchObject({ code: 'NO_ACTIVE_PLAN', periodEnd: null });
    expect(err.message).toMatch(/no active plan: buy a plan/);
    expect(await t.query('select 1 from vm_allocation where user_id = $1', [user.id])).toEqual([]);
  });

  it('refuses a new VM once the plan period has ended (NO_ACTIVE_PLAN), writing nothing', async () => {
    await poolOf(1);
    const ended = new Date(Date.now() - 1000);
    const user = await createTestUser(t.em(), { vmQuota: 3, periodEnd: ended });
    const err = await allocateTestVm(t.em(), user.id).catch((e) => e);
    expect(err).toBeInstanceOf(NoActivePlanError);
    expect(err.message).toBe(
      `Your plan period ended on ${formatUtcMinute(ended)}: renew it or buy a plan on the Plans page, then allocate a VM again.`,
    );
    expect(await t.query('select 1 from vm_allocation where user_id = $1', [user.id])).toEqual([]);
  });

  it('refuses a user whose balance is below zero (BALANCE_NEGATIVE), and allocates again at zero', async () => {
    await poolOf(1);
    const user = await createTestUser(t.em());
    await adjustBalance(t.em(), { userId: user.id, amountCents: -7, note: 'usage beyond credit' });
    const err = await allocateTestVm(t.em(), user.id).catch((e) => e);
    expect(err).toBeInstanceOf(BalanceNegativeError);
    expect(err).toMatchObject({ code: 'BALANCE_NEGATIVE', balanceCents: -7, currency: 'EUR' });
    expect(err.message).toMatch(/^Your balance is -0\.07 EUR: add credit/);
    expect(await t.query('select 1 from vm_allocation where user_id = $1', [user.id])).toEqual([]);
    await creditUser(t.em(), user.id, 7);
    await expect(allocateTestVm(t.em(), user.id)).resolves.toMatchObject({ status: 'ACTIVE' });
  });

  it('holds each user to the quota (QUOTA_EXCEEDED with the counts)', async () => {
    await poolOf(4);
    const user = await createTestUser(t.em(), { vmQuota: 2 });
    await allocateTestVm(t.em(), user.id);
    await allocateTestVm(t.em(), user.id);
    const err = await allocateTestVm(t.em(), user.id).catch((e) => e);
    expect(err).toBeInstanceOf(QuotaExceededError);
    expect(err).toMatchObject({ code: 'QUOTA_EXCEEDED', vmQuota: 2, activeAllocations: 2 });
    expect(err.message).toBe('Your quota allows 2 active VMs and you have 2');
  });

  it('refuses any VM with quota 0', async () => {
    await poolOf(1);
    const user = await createTestUser(t.em(), { vmQuota: 0 });
    expect(await errorCodeOf(allocateTestVm(t.em(), user.id))).toBe('QUOTA_EXCEEDED');
  });

  it('counts only ACTIVE allocations against the quota', async () => {
    await poolOf(2);
    const user = await createTestUser(t.em(), { vmQuota: 1 });
    const first = await allocateTestVm(t.em(), user.id);
    await t.query(
      "update vm_allocation set status = 'RELEASED', released_at = now(), release_reason = 'USER' where id = $1",
      [first.id],
    );
    await expect(allocateTestVm(t.em(), user.id)).resolves.toMatchObject({ status: 'ACTIVE' });
  });

  it('keeps the quota under concurrent requests of one user', async () => {
    await poolOf(10);
    const user = await createTestUser(t.em(), { vmQuota: 3 });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => allocateTestVm(t.em(), user.id)),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    expect(ok).toHaveLength(3);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(QuotaExceededError);
    const [{ n }] = await t.query(
      "select count(*)::int as n from vm_allocation where user_id = $1 and status = 'ACTIVE'",
      [user.id],
    );
    expect(n).toBe(3);
  });

  it('gives every VM to at most one of many concurrent users; the rest get POOL_EXHAUSTED', async () => {
    const vms = await poolOf(3);
    const users = await Promise.all(Array.from({ length: 6 }, () => createTestUser(t.em())));
    const results = await Promise.allSettled(users.map((u) => allocateTestVm(t.em(), u.id)));
    const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.poolVm.id] : []));
    expect(won.sort()).toEqual(vms);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(PoolExhaustedError);
  });

  it('never hands out a VM in MAINTENANCE or RETIRED', async () => {
    const [a, b] = poolEntries(2);
    await refreshPool(t.em(), [
      { ...a, status: 'MAINTENANCE' },
      { ...b, status: 'RETIRED' },
    ]);
    const user = await createTestUser(t.em());
    expect(await errorCodeOf(allocateTestVm(t.em(), user.id))).toBe('POOL_EXHAUSTED');
  });

  it('answers NOT_FOUND for an unknown user', async () => {
    await poolOf(1);
    const call = allocateVm(t.em(), { userId: '00000000-0000-4000-8000-000000000000', provisioner: 'pool' });
    expect(await errorCodeOf(call)).toBe('NOT_FOUND');
  });

  it('answers NOT_FOUND, not a raw 22P02 error, for a user id that is not a UUID', async () => {
    await poolOf(1);
    const call = allocateVm(t.em(), { userId: 'nope', provisioner: 'pool' });
    expect(await errorCodeOf(call)).toBe('NOT_FOUND');
  });
});
