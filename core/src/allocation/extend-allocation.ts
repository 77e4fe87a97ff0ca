import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { firstRow, rows, sql } from '../db/sql.ts';
import { VmAllocation } from '../entities/vm-allocation.entity.ts';
import { AllocationNotActiveError, NotFoundError, parseInput, ValidationError } from '../errors.ts';
import { formatUtcMinute } from '../lib/dates.ts';
import { isUuid } from '../lib/ids.ts';
import { lockUser } from '../users/lock-user.ts';
import { redateAllocation } from './redate-for-period.ts';

/** How far ahead an allocation may be extended: a typo of a year, not a plan, beyond this. */
export const MAX_EXTENSION_DAYS = 3660;
const DAY_MS = 24 * 3600 * 1000;

export interface ExtendAllocationInput {
  allocationId: string;
  /** The new end: later than the allocation's current end. */
  expiresAt: Date;
  /** Why (shown in the allocation's history): 1 to 500 characters. */
  reason: string;
  now?: Date;
}

/** One change of an allocation's end by an operator. */
export interface AllocationExtension {
  id: string;
  allocationId: string;
  previousExpiresAt: Date;
  expiresAt: Date;
  reason: string;
  createdAt: Date;
}

const reasonSchema = z.object({
  reason: z.string().trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters'),
});

/**
 * An operator moves one ACTIVE allocation's end later (a goodwill day, a support case), with the
 * reason kept in the allocation's history. A later change of the user's plan period (a
 * purchase, setUserQuota) re-dates it with the rest of the plan's VMs.
 */
export async function extendAllocation(
  em: EntityManager,
  input: ExtendAllocationInput,
): Promise<{ allocation: VmAllocation; extension: AllocationExtension }> {
  const now = input.now ?? new Date();
  const { reason } = parseInput(reasonSchema, { reason: input.reason }, 'Invalid extension');
  const end = input.expiresAt;
  if (Number.isNaN(end.getTime()))
    throw new ValidationError(
      [{ path: 'expiresAt', message: 'must be a valid date-time' }],
      'Invalid extension',
    );
  if (end.getTime() > now.getTime() + MAX_EXTENSION_DAYS * DAY_MS)
    throw new ValidationError(
      [{ path: 'expiresAt', message: `must be at most ${MAX_EXTENSION_DAYS} days from now` }],
      'Invalid extension',
    );
  if (!isUuid(input.allocationId)) throw new NotFoundError('Allocation', input.allocationId);

  return em.transactional(async (tx) => {
    const owner = await firstRow(
      tx,
      sql<{ user_id: string }>`select user_id from vm_allocation where id = ${input.allocationId}`,
    );
    if (!owner) throw new NotFoundError('Allocation', input.allocationId);
    // The user's lock first, as every re-dating of the user's allocations takes it.
    await lockUser(tx, owner.user_id);
    const current = await firstRow(
      tx,
      sql<{ status: string; expires_at: Date | string }>`
        select status, expires_at from vm_allocation where id = ${input.allocationId} for update`,
    );
    if (current?.status !== 'ACTIVE') throw new AllocationNotActiveError(input.allocationId);
    const previous = new Date(current.expires_at);
    if (end.getTime() <= previous.getTime())
      throw new ValidationError(
        [
          {
            path: 'expiresAt',
            message: `must be later than the allocation's current end, ${formatUtcMinute(previous)}`,
          },
        ],
        'Invalid extension',
      );
    await redateAllocation(tx, input.allocationId, end);
    const [row] = await rows(
      tx,
      sql<ExtensionRow>`
        insert into allocation_extension (allocation_id, previous_expires_at, expires_at, reason)
        values (${input.allocationId}, ${previous}, ${end}, ${reason})
        returning ${sql.raw(EXTENSION_COLUMNS)}`,
    );
    const allocation = await tx.findOneOrFail(VmAllocation, input.allocationId, { refresh: true });
    return { allocation, extension: toExtension(row) };
  });
}

/** An allocation's extensions, oldest first. */
export async function listAllocationExtensions(
  em: EntityManager,
  allocationId: string,
): Promise<AllocationExtension[]> {
  if (!isUuid(allocationId)) return [];
  const found = await rows(
    em,
    sql<ExtensionRow>`select ${sql.raw(EXTENSION_COLUMNS)} from allocation_extension
                       where allocation_id = ${allocationId} order by created_at, id`,
  );
  return found.map(toExtension);
}

const EXTENSION_COLUMNS = 'id, allocation_id, previous_expires_at, expires_at, reason, created_at';

interface ExtensionRow {
  id: string;
  allocation_id: string;
  previous_expires_at: Date | string;
  expires_at: Date | string;
  reason: string;
  created_at: Date | string;
}

const toExtension = (row: ExtensionRow): AllocationExtension => ({
  id: row.id,
  allocationId: row.allocation_id,
  previousExpiresAt: new Date(row.previous_expires_at),
  expiresAt: new Date(row.expires_at),
  reason: row.reason,
  createdAt: new Date(row.created_at),
});
