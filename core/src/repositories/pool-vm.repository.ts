import { EntityRepository } from '@mikro-orm/postgresql';
import type { PoolVm } from '../entities/pool-vm.entity.ts';

export class PoolVmRepository extends EntityRepository<PoolVm> {
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
