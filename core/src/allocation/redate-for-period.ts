import type { EntityManager } from '@mikro-orm/postgresql';
import { execute, rows, sql } from '../db/sql.ts';

/*
 * The writers of `vm_allocation.expires_at` after an allocation is made: a user's whole plan
 * (redateForPeriod) or one allocation an operator extends (redateAllocation, through
 * extendAllocation). Call them inside the transaction that holds the user's lock (`lockUser`).
 */

/**
 * Moves every ACTIVE allocation of a user to expire at `periodEnd`: all VMs of a plan expire
 * together. Returns how many moved.
 */
export async function redateForPeriod(tx: EntityManager, userId: string, periodEnd: Date): Promise<number> {
  const moved = await rows(
    tx,
    sql<{ id: string }>`update vm_allocation set expires_at = ${periodEnd}
                         where user_id = ${userId} and status = 'ACTIVE' returning id`,
  );
  return moved.length;
}

/** Moves one ACTIVE allocation's end; false when it is not (or no longer) ACTIVE. */
export async function redateAllocation(
  tx: EntityManager,
  allocationId: string,
  expiresAt: Date,
): Promise<boolean> {
  const moved = await execute(
    tx,
    sql`update vm_allocation set expires_at = ${expiresAt} where id = ${allocationId} and status = 'ACTIVE'`,
  );
  return moved > 0;
}
