import type { EntityManager } from '@mikro-orm/postgresql';
import { execute, firstRow, sql } from '../db/sql.ts';

/**
 * Frees the VM an allocation held, inside the release transaction (by the VM's primary key: no
 * scan of the pool). Only while it still points at that allocation.
 */
export async function freeVm(tx: EntityManager, vmId: string, allocationId: string): Promise<void> {
  await execute(
    tx,
    sql`update pool_vm set active_allocation_id = null, updated_at = now()
         where id = ${vmId} and active_allocation_id = ${allocationId}`,
  );
}

/** The pool's size (RETIRED VMs aside), its free VMs and the VMs held by an allocation. */
export async function countPoolVms(
  em: EntityManager,
): Promise<{ total: number; free: number; allocated: number }> {
  const r = await firstRow(
    em,
    sql<{ total: string; free: string; allocated: string }>`
      select count(*) filter (where status <> 'RETIRED') as total,
             count(*) filter (where status = 'AVAILABLE' and active_allocation_id is null) as free,
             count(*) filter (where active_allocation_id is not null) as allocated
        from pool_vm`,
  );
  return { total: Number(r?.total ?? 0), free: Number(r?.free ?? 0), allocated: Number(r?.allocated ?? 0) };
}
