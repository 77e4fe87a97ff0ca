import { describe, expect, it } from 'vitest';
import { NotFoundError } from '../errors.ts';
import { VM_RELEASE_TOPIC } from '../outbox/enqueue.ts';
import { PoolProvisioner } from '../provisioners/pool-provisioner.ts';
import { useTestDatabase } from '../testing/database.ts';
import { addPoolVms, allocateTestVm, createTestUser } from '../testing/factories.ts';
import { releaseAllocation } from './release-allocation.ts';

const t = useTestDatabase({ poolMax: 8 });
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

/** A user holding one fresh VM. */
async function held() {
  await addPoolVms(t.em(), 1);
  const user = await createTestUser(t.em());
  const allocation = await allocateTestVm(t.em(), user.id);
  return { user, allocation };
}

const vmOf = async (id: string) =>
  (await t.query('select active_allocation_id from pool_vm where id = $1', [id]))[0].active_allocation_id;

describe('releaseAllocation', () => {
  it('releases with reason and time, and frees the VM for the next user', async () => {
    const { allocation } = await held();
    const result = await releaseAllocation(t.em(), { allocationId: allocation.id, reason: 'ADMIN' });
    expect(result).toMatchObject({ alreadyReleased: false, notExpired: false });
    expect(result.allocation).toMatchObject({ status: 'RELEASED', releaseReason: 'ADMIN' });
    expect(result.allocation.releasedAt).toBeInstanceOf(Date);
    expect(await vmOf(allocation.poolVm.id)).toBeNull();
  });

  it('a second release changes nothing and says alreadyReleased', async () => {
    const { allocation } = await held();
    const first = await releaseAllocation(t.em(), { allocationId: allocation.id, reason: 'USER' });
    const again = await releaseAllocation(t.em(), { allocationId: allocation.id, reason: 'ADMIN' });
    expect(again).toMatchObject({ alreadyReleased: true, notExpired: false });
    expect(again.allocation.releaseReason).toBe('USER');
    expect(again.allocation.releasedAt?.getTime()).toBe(first.allocation.releasedAt?.getTime());
  });

  it("reads another user's allocation as NOT_FOUND and leaves it ACTIVE", async () => {
    const { allocation } = await held();
    const other = await createTestUser(t.em());
    const call = releaseAllocation(t.em(), { allocationId: allocation.id, reason: 'USER', userId: other.id });
    await expect(call).rejects.toBeInstanceOf(NotFoundError);
    const [row] = await t.query('select status from vm_allocation where id = $1', [allocation.id]);
    expect(row.status).toBe('ACTIVE');
  });

  it('lets the owner release their own allocation', async () => {
    const { user, allocation } = await held();
    const result = await releaseAllocation(t.em(), {
      allocationId: allocation.id,
      reason: 'USER',
      userId: user.id,
    });
    expect(result.allocation.status).toBe('RELEASED');
  });

  it('answers NOT_FOUND for an unknown id and for one that is not a UUID', async () => {
    for (const allocationId of [UNKNOWN, 'nope', "1' or '1'='1"]) {
      await expect(releaseAllocation(t.em(), { allocationId, reason: 'USER' })).rejects.toBeInstanceOf(
        NotFoundError,
      );
    }
  });

  it('with expiredBefore, leaves an allocation that has not expired yet (notExpired)', async () => {
    const { allocation } = await held();
    const result = await releaseAllocation(t.em(), {
      allocationId: allocation.id,
      reason: 'EXPIRED',
      expiredBefore: new Date(),
    });
    expect(result).toMatchObject({ alreadyReleased: false, notExpired: true });
    expect(result.allocation.status).toBe('ACTIVE');
    expect(await vmOf(allocation.poolVm.id)).toBe(allocation.id);
  });

  it('expiredBefore is strict: expiring exactly then is not expired', async () => {
    const { allocation } = await held();
    const at = allocation.expiresAt;
    const same = await releaseAllocation(t.em(), {
      allocationId: allocation.id,
      reason: 'EXPIRED',
      expiredBefore: at,
    });
    expect(same.notExpired).toBe(true);
    const later = new Date(at.getTime() + 1);
    const done = await releaseAllocation(t.em(), {
      allocationId: allocation.id,
      reason: 'EXPIRED',
      expiredBefore: later,
    });
    expect(done.allocation).toMatchObject({ status: 'RELEASED', releaseReason: 'EXPIRED' });
  });

  it('runs the release hook once, in the release transaction: a failing hook undoes the release', async () => {
    const { allocation } = await held();
    const failing = releaseAllocation(t.em(), {
      allocationId: allocation.id,
      reason: 'USER',
      onReleased: async () => {
        throw new Error('hook failed');
      },
    });
    await expect(failing).rejects.toThrow('hook failed');
    const [row] = await t.query('select status from vm_allocation where id = $1', [allocation.id]);
    expect(row.status).toBe('ACTIVE');
    expect(await vmOf(allocation.poolVm.id)).toBe(allocation.id);

    let calls = 0;
    const hook = async () => {
      calls++;
    };
    await releaseAllocation(t.em(), { allocationId: allocation.id, reason: 'USER', onReleased: hook });
    await releaseAllocation(t.em(), { allocationId: allocation.id, reason: 'USER', onReleased: hook });
    expect(calls).toBe(1);
  });

  it('releases once under concurrent releases; the pool provisioner writes one vm.release event', async () => {
    const { allocation } = await held();
    const provisioner = new PoolProvisioner();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => provisioner.release(t.em(), allocation.id, 'ADMIN')),
    );
    expect(results.filter((r) => !r.alreadyReleased)).toHaveLength(1);
    const events = await t.query('select payload from outbox where topic = $1 and dedupe_key = $2', [
      VM_RELEASE_TOPIC,
      `${VM_RELEASE_TOPIC}:${allocation.id}`,
    ]);
    expect(events).toHaveLength(1);
    expect(events[0].payload).toMatchObject({
      allocationId: allocation.id,
      poolVmId: allocation.poolVm.id,
      reason: 'ADMIN',
    });
  });

  it('answers NOT_FOUND, not a raw 22P02 error, for a userId that is not a UUID, and releases nothing', async () => {
    const { allocation } = await held();
    for (const userId of ['nope', ''])
      await expect(
        releaseAllocation(t.em(), { allocationId: allocation.id, reason: 'USER', userId }),
      ).rejects.toBeInstanceOf(NotFoundError);
    const [row] = await t.query('select status from vm_allocation where id = $1', [allocation.id]);
    expect(row.status).toBe('ACTIVE');
  });
});
