import type { EntityManager } from '@mikro-orm/postgresql';
import { rows, sql } from '../db/sql.ts';
import { type ReleaseReason, VmAllocation } from '../entities/vm-allocation.entity.ts';
import { NotFoundError } from '../errors.ts';
import { isUuid } from '../lib/ids.ts';
import { enqueueSelected } from '../outbox/enqueue.ts';
import { freeVm } from '../pool/pool-vms.ts';
import type { Provisioner } from '../provisioners/provisioner.ts';

export interface ReleaseAllocationInput {
  allocationId: string;
  reason: ReleaseReason;
  /** When set, only this user's allocation can be released (others read as not found). */
  userId?: string;
  /**
   * When set, the allocation is released only if it expired before this instant
   * (`expires_at < expiredBefore`, strictly); an ACTIVE one that has not expired is left alone
   * and comes back with `notExpired`.
   */
  expiredBefore?: Date;
  /**
   * Runs first inside the release transaction (it may lock what its answer depends on, e.g. the
   * balance); false: nothing changes and the result has `preconditionFailed`.
   */
  precondition?: (tx: EntityManager) => Promise<boolean>;
  /** Runs inside the release transaction, once, when this call did the release (e.g. the outbox row). */
  onReleased?: (tx: EntityManager, allocation: VmAllocation) => Promise<void>;
}

export interface ReleaseAllocationResult {
  allocation: VmAllocation;
  /** True when the allocation was already RELEASED (by someone else, or earlier): nothing changed. */
  alreadyReleased: boolean;
  /** With `expiredBefore`: the allocation is ACTIVE but had not expired; nothing changed. */
  notExpired: boolean;
  /** With `precondition`: it did not hold; nothing changed. */
  preconditionFailed: boolean;
}

/**
 * Sets RELEASED + releasedAt + releaseReason and frees the pool VM, with the release hook in
 * the same transaction. Releasing an already released allocation changes nothing.
 */
export async function releaseAllocation(
  em: EntityManager,
  input: ReleaseAllocationInput,
): Promise<ReleaseAllocationResult> {
  // Not UUIDs: no such allocation (or not this user's), answered before PostgreSQL refuses them.
  if (!isUuid(input.allocationId) || (input.userId !== undefined && !isUuid(input.userId)))
    throw new NotFoundError('Allocation', input.allocationId);
  return em.transactional(async (tx) => {
    if (input.precondition && !(await input.precondition(tx))) {
      const existing = await tx.findOne(VmAllocation, { id: input.allocationId }, { refresh: true });
      if (!existing) throw new NotFoundError('Allocation', input.allocationId);
      return { allocation: existing, alreadyReleased: false, notExpired: false, preconditionFailed: true };
    }
    const ownerClause = input.userId ? sql` and user_id = ${input.userId}` : sql``;
    const expiryClause = input.expiredBefore ? sql` and expires_at < ${input.expiredBefore}` : sql``;
    const released = await rows(
      tx,
      sql<Record<string, unknown>>`update vm_allocation
          set status = 'RELEASED', released_at = now(), release_reason = ${input.reason}
        where id = ${input.allocationId} and status = 'ACTIVE'${ownerClause}${expiryClause} returning *`,
    );
    if (released.length === 0) {
      // Nothing changed: say why (not found / not this user's, already released, not expired).
      const existing = await tx.findOne(
        VmAllocation,
        { id: input.allocationId, ...(input.userId ? { user: input.userId } : {}) },
        { refresh: true },
      );
      if (!existing) throw new NotFoundError('Allocation', input.allocationId);
      const alreadyReleased = existing.status === 'RELEASED';
      return {
        allocation: existing,
        alreadyReleased,
        notExpired: !alreadyReleased,
        preconditionFailed: false,
      };
    }
    const allocation = tx.map(VmAllocation, released[0]);
    await freeVm(tx, allocation.poolVm.id, allocation.id);
    await enqueueReleasedEvent(tx, allocation.id);
    await input.onReleased?.(tx, allocation);
    return { allocation, alreadyReleased: false, notExpired: false, preconditionFailed: false };
  });
}

/** The user-facing `allocation.released` event, once per allocation, in the release transaction. */
function enqueueReleasedEvent(tx: EntityManager, allocationId: string): Promise<number> {
  return enqueueSelected(
    tx,
    'allocation.released',
    sql<{ payload: unknown; dedupe_key: string }>`
      select jsonb_build_object(
               'allocationId', a.id, 'userId', a.user_id, 'email', u.email, 'poolVmId', a.pool_vm_id,
               'reason', a.release_reason, 'releasedAt', a.released_at) as payload,
             'allocation.released:' || a.id as dedupe_key
        from vm_allocation a join users u on u.id = a.user_id
       where a.id = ${allocationId}`,
  );
}

/**
 * Releases every ACTIVE allocation of a user with `reason`, each through its provisioner's
 * release (so the deployer's `vm.release` row is written as for any release; an allocation of a
 * provisioner this process does not know is released without it), in the caller's transaction.
 * How many this call released.
 */
export async function releaseUserAllocations(
  em: EntityManager,
  userId: string,
  reason: ReleaseReason,
  provisionerFor: (name: string) => Provisioner | null,
): Promise<number> {
  const active = await rows(
    em,
    sql<{ id: string; provisioner: string }>`select id, provisioner from vm_allocation
       where user_id = ${userId} and status = 'ACTIVE' order by id`,
  );
  let released = 0;
  for (const allocation of active) {
    const provisioner = provisionerFor(allocation.provisioner);
    const result = provisioner
      ? await provisioner.release(em, allocation.id, reason)
      : await releaseAllocation(em, { allocationId: allocation.id, reason });
    if (!result.alreadyReleased) released++;
  }
  return released;
}
