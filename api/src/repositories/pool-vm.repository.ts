import { EntityRepository } from '@mikro-orm/postgresql';
import type { PoolVm } from '../entities/pool-vm.entity.ts';

export interface FreeVmRow {
  id: string;
  cockpit_url: string | null;
}

export class PoolVmRepository extends EntityRepository<PoolVm> {
  /**
   * Picks and locks one free VM. Rows locked by concurrent allocators are skipped; a row whose
   * lock we waited for is re-checked by Postgres against its new version, so a VM taken
   * meanwhile (active_allocation_id set) is never returned.
   */
  async lockFreeVm(): Promise<FreeVmRow | null> {
    const rows = await this.getEntityManager().execute<FreeVmRow[]>(
      `select id, cockpit_url from pool_vm
        where status = 'AVAILABLE' and active_allocation_id is null
        order by id limit 1 for update skip locked`,
    );
    return rows[0] ?? null;
  }

  async markAllocated(vmId: string, allocationId: string): Promise<void> {
    await this.getEntityManager().execute(
      'update pool_vm set active_allocation_id = ?, updated_at = now() where id = ?',
      [allocationId, vmId],
    );
  }

  /** Frees the VM an allocation held (by the VM's primary key: no scan of the pool). */
  async markFreed(vmId: string, allocationId: string): Promise<void> {
    await this.getEntityManager().execute(
      'update pool_vm set active_allocation_id = null, updated_at = now() where id = ? and active_allocation_id = ?',
      [vmId, allocationId],
    );
  }

  async countByState(): Promise<{ total: number; free: number; allocated: number }> {
    const rows = await this.getEntityManager().execute<{ total: string; free: string; allocated: string }[]>(
      `select count(*) filter (where status <> 'RETIRED') as total,
              count(*) filter (where status = 'AVAILABLE' and active_allocation_id is null) as free,
              count(*) filter (where active_allocation_id is not null) as allocated
         from pool_vm`,
    );
    const r = rows[0];
    return { total: Number(r.total), free: Number(r.free), allocated: Number(r.allocated) };
  }
}
