import { describe, expect, it } from 'vitest';
import { purchasePlan } from '../billing/plans.ts';
import { AllocationNotActiveError, NotFoundError, ValidationError } from '../errors.ts';
import { formatUtcMinute } from '../lib/dates.ts';
import { useTestDatabase } from '../testing/database.ts';
import { addPoolVms, allocateTestVm, createTestUser, creditUser, testCatalog } from '../testing/factories.ts';
import { extendAllocation, listAllocationExtensions, MAX_EXTENSION_DAYS } from './extend-allocation.ts';
import { releaseAllocation } from './release-allocation.ts';

const t = useTestDatabase({ poolMax: 8 });
const DAY_MS = 24 * 3600 * 1000;

/** A user holding one fresh VM (24 h default lifetime). */
async function held() {
  await addPoolVms(t.em(), 1);
  const user = await createTestUser(t.em());
  const allocation = await allocateTestVm(t.em(), user.id);
  return { user, allocation };
}

const endOf = async (id: string): Promise<Date> =>
  (await t.query<{ expires_at: Date }>('select expires_at from vm_allocation where id = $1', [id]))[0]
    .expires_at;

const problemsOf = async (promise: Promise<unknown>) => {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ValidationError);
  return (err as ValidationError).problems;
};

describe('extendAllocation', () => {
  it('moves one ACTIVE allocation later and records the previous end and the reason', async () => {
    const { allocation } = await held();
    const later = new Date(allocation.expiresAt.getTime() + 3 * DAY_MS);
    const { allocation: extended, extension } = await extendAllocation(t.em(), {
      allocationId: allocation.id,
      expiresAt: later,
      reason: '  support case 42: outage on our side  ',
    });
    expect(extended.expiresAt).toEqual(later);
    expect(await endOf(allocation.id)).toEqual(later);
    expect(extension).toMatchObject({
      allocationId: allocation.id,
      previousExpiresAt: allocation.expiresAt,
      expiresAt: later,
      reason: 'support case 42: outage on our side',
    });
    const history = await listAllocationExtensions(t.em(), allocation.id);
    expect(history).toEqual([extension]);
  });

  it('keeps every extension in order', async () => {
    const { allocation } = await held();
    const first = new Date(allocation.expiresAt.getTime() + DAY_MS);
    const second = new Date(allocation.expiresAt.getTime() + 2 * DAY_MS);
    await extendAllocation(t.em(), { allocationId: allocation.id, expiresAt: first, reason: 'one' });
    await extendAllocation(t.em(), { allocationId: allocation.id, expiresAt: second, reason: 'two' });
    const history = await listAllocationExtensions(t.em(), allocation.id);
    expect(history.map((e) => [e.previousExpiresAt, e.expiresAt, e.reason])).toEqual([
      [allocation.expiresAt, first, 'one'],
      [first, second, 'two'],
    ]);
  });

  it('refuses an end not later than the current one, too far ahead or invalid, and an empty reason', async () => {
    const { allocation } = await held();
    const now = new Date();
    expect(
      await problemsOf(
        extendAllocation(t.em(), {
          allocationId: allocation.id,
          expiresAt: allocation.expiresAt,
          reason: 'x',
        }),
      ),
    ).toEqual([
      {
        path: 'expiresAt',
        message: `must be later than the allocation's current end, ${formatUtcMinute(allocation.expiresAt)}`,
      },
    ]);
    const tooFar = new Date(now.getTime() + (MAX_EXTENSION_DAYS + 1) * DAY_MS);
    expect(
      await problemsOf(
        extendAllocation(t.em(), { allocationId: allocation.id, expiresAt: tooFar, reason: 'x', now }),
      ),
    ).toEqual([{ path: 'expiresAt', message: `must be at most ${MAX_EXTENSION_DAYS} days from now` }]);
    expect(
      await problemsOf(
        extendAllocation(t.em(), { allocationId: allocation.id, expiresAt: new Date('nope'), reason: 'x' }),
      ),
    ).toEqual([{ path: 'expiresAt', message: 'must be a valid date-time' }]);
    const later = new Date(allocation.expiresAt.getTime() + DAY_MS);
    expect(
      await problemsOf(
        extendAllocation(t.em(), { allocationId: allocation.id, expiresAt: later, reason: '   ' }),
      ),
    ).toEqual([{ path: 'reason', message: 'must not be empty' }]);
    expect(await endOf(allocation.id)).toEqual(allocation.expiresAt);
    expect(await listAllocationExtensions(t.em(), allocation.id)).toEqual([]);
  });

  it('answers ALLOCATION_NOT_ACTIVE for a released allocation, NOT_FOUND for an unknown one', async () => {
    const { allocation } = await held();
    await releaseAllocation(t.em(), { allocationId: allocation.id, reason: 'ADMIN' });
    const later = new Date(allocation.expiresAt.getTime() + DAY_MS);
    await expect(
      extendAllocation(t.em(), { allocationId: allocation.id, expiresAt: later, reason: 'x' }),
    ).rejects.toBeInstanceOf(AllocationNotActiveError);
    for (const allocationId of ['00000000-0000-4000-8000-000000000000', 'nope'])
      await expect(
        extendAllocation(t.em(), { allocationId, expiresAt: later, reason: 'x' }),
      ).rejects.toBeInstanceOf(NotFoundError);
    expect(await endOf(allocation.id)).toEqual(allocation.expiresAt);
  });

  it("a plan purchase afterwards re-dates it with the plan's other VMs", async () => {
    const { user, allocation } = await held();
    await extendAllocation(t.em(), {
      allocationId: allocation.id,
      expiresAt: new Date(allocation.expiresAt.getTime() + DAY_MS),
      reason: 'goodwill',
    });
    await creditUser(t.em(), user.id, 999);
    const bought = await purchasePlan(t.em(), testCatalog(), {
      userId: user.id,
      planCode: 'basic',
      periods: 1,
    });
    expect(bought.allocationsRedated).toBe(1);
    expect(await endOf(allocation.id)).toEqual(bought.purchase.periodEnd);
  });
});
