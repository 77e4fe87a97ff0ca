import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { PoolVm } from '../entities/pool-vm.entity.ts';
import { User } from '../entities/user.entity.ts';
import { VmAllocation } from '../entities/vm-allocation.entity.ts';
import { NotFoundError, PoolExhaustedError, QuotaExceededError } from '../errors.ts';

export interface AllocateVmInput {
  userId: string;
  provisioner: string;
  /** Used when the user has no quota period end. */
  defaultTtlHours: number;
}

const HOUR_MS = 3_600_000;
const MAX_ATTEMPTS = 3;

/**
 * Hands one free pool VM to a user, in one transaction:
 * the user row is locked (so a user's concurrent requests cannot overrun the quota), one free
 * VM is locked with FOR UPDATE SKIP LOCKED, and the allocation plus the VM's
 * `active_allocation_id` are written together. The partial unique index "one ACTIVE
 * allocation per pool VM" is the backstop; hitting it retries with another VM.
 */
export async function allocateVm(em: EntityManager, input: AllocateVmInput): Promise<VmAllocation> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await allocateOnce(em, input);
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException && attempt < MAX_ATTEMPTS) continue;
      throw err;
    }
  }
}

async function allocateOnce(em: EntityManager, input: AllocateVmInput): Promise<VmAllocation> {
  return em.transactional(async (tx) => {
    const users = tx.getRepository(User);
    const allocations = tx.getRepository(VmAllocation);
    const pool = tx.getRepository(PoolVm);

    const user = await users.lockForAllocation(input.userId);
    if (!user) throw new NotFoundError('User', input.userId);
    const now = new Date();
    const active = await allocations.countActiveForUser(input.userId);
    if (user.vmQuotaPeriodEnd && user.vmQuotaPeriodEnd.getTime() <= now.getTime()) {
      throw new QuotaExceededError(
        `Your plan period ended at ${user.vmQuotaPeriodEnd.toISOString()}: no new VM can be allocated`,
        user.vmQuota,
        active,
      );
    }
    if (active >= user.vmQuota) {
      throw new QuotaExceededError(
        `Your quota allows ${user.vmQuota} active VM${user.vmQuota === 1 ? '' : 's'} and you have ${active}`,
        user.vmQuota,
        active,
      );
    }
    const vm = await pool.lockFreeVm();
    if (!vm) throw new PoolExhaustedError();

    const expiresAt = user.vmQuotaPeriodEnd ?? new Date(now.getTime() + input.defaultTtlHours * HOUR_MS);
    const created = await allocations.insertActive({
      userId: input.userId,
      poolVmId: vm.id,
      provisioner: input.provisioner,
      allocatedAt: now,
      expiresAt,
      cockpitUrl: vm.cockpit_url,
    });
    await pool.markAllocated(vm.id, created.id);
    return created;
  });
}
