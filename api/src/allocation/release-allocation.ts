import type { EntityManager } from '@mikro-orm/postgresql';
import { PoolVm } from '../entities/pool-vm.entity.ts';
import { type ReleaseReason, VmAllocation } from '../entities/vm-allocation.entity.ts';
import { NotFoundError } from '../errors.ts';
import { isUuid } from '../lib/ids.ts';

export interface ReleaseAllocationInput {
  allocationId: string;
  reason: ReleaseReason;
  /** When set, only this user's allocation can be released (others read as not found). */
  userId?: string;
  /** Runs inside the release transaction, once, when this call did the release (e.g. the outbox row). */
  onReleased?: (tx: EntityManager, allocation: VmAllocation) => Promise<void>;
}

export interface ReleaseAllocationResult {
  allocation: VmAllocation;
  /** True when the allocation was already RELEASED (by someone else, or earlier): nothing changed. */
  alreadyReleased: boolean;
}

/**
 * Sets RELEASED + releasedAt + releaseReason and frees the pool VM, with the release hook in
 * the same transaction. Releasing an already released allocation changes nothing.
 */
export async function releaseAllocation(
  em: EntityManager,
  input: ReleaseAllocationInput,
): Promise<ReleaseAllocationResult> {
  if (!isUuid(input.allocationId)) throw new NotFoundError('Allocation', input.allocationId);
  const result = await em.transactional(async (tx) => {
    const ownerClause = input.userId ? ' and user_id = ?' : '';
    const params: unknown[] = [input.reason, input.allocationId, ...(input.userId ? [input.userId] : [])];
    const rows = await tx.execute<{ id: string }[]>(
      `update vm_allocation set status = 'RELEASED', released_at = now(), release_reason = ?
        where id = ? and status = 'ACTIVE'${ownerClause} returning id`,
      params,
    );
    const allocation = await tx.findOne(
      VmAllocation,
      { id: input.allocationId, ...(input.userId ? { user: input.userId } : {}) },
      { refresh: true },
    );
    if (!allocation) throw new NotFoundError('Allocation', input.allocationId);
    if (rows.length === 0) return { allocation, alreadyReleased: true };
    await tx.getRepository(PoolVm).markFreed(allocation.id);
    await input.onReleased?.(tx, allocation);
    return { allocation, alreadyReleased: false };
  });
  await em.populate(result.allocation, ['poolVm']);
  return result;
}
