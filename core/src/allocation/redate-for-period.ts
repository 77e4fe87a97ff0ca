import type { EntityManager } from '@mikro-orm/postgresql';
import { rows, sql } from '../db/sql.ts';

/**
 * Moves every ACTIVE allocation of a user to expire at `periodEnd`: all VMs of a plan expire
 * together. The one writer of `vm_allocation.expires_at` after an allocation is made; call it
 * inside the transaction that holds the user's lock (`lockUser`). Returns how many moved.
 */
export async function redateForPeriod(tx: EntityManager, userId: string, periodEnd: Date): Promise<number> {
  const moved = await rows(
    tx,
    sql<{ id: string }>`update vm_allocation set expires_at = ${periodEnd}
                         where user_id = ${userId} and status = 'ACTIVE' returning id`,
  );
  return moved.length;
}
