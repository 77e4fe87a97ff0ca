import { randomUUID } from 'node:crypto';
import { type EntityName, EntityRepository } from '@mikro-orm/postgresql';
import type { AllocationStatus, VmAllocation } from '../entities/vm-allocation.entity.ts';

export interface AllocationFilter {
  status?: AllocationStatus;
  userId?: string;
}

export interface NewActiveAllocation {
  userId: string;
  poolVmId: string;
  provisioner: string;
  allocatedAt: Date;
  expiresAt: Date;
  cockpitUrl: string | null;
}

export class VmAllocationRepository extends EntityRepository<VmAllocation> {
  /** Counted with a fresh statement snapshot, so call it after locking the user row. */
  async countActiveForUser(userId: string): Promise<number> {
    const rows = await this.getEntityManager().execute<{ n: number }[]>(
      `select count(*)::int as n from vm_allocation where user_id = ? and status = 'ACTIVE'`,
      [userId],
    );
    return rows[0].n;
  }

  /**
   * Inserts an ACTIVE allocation (the allocation hot path: one statement, no unit-of-work
   * flush) and returns it as a managed entity.
   */
  async insertActive(data: NewActiveAllocation): Promise<VmAllocation> {
    const em = this.getEntityManager();
    const rows = await em.execute<Record<string, unknown>[]>(
      `insert into vm_allocation (id, user_id, pool_vm_id, provisioner, status, allocated_at, expires_at, cockpit_url)
       values (?, ?, ?, ?, 'ACTIVE', ?, ?, ?) returning *`,
      [
        randomUUID(),
        data.userId,
        data.poolVmId,
        data.provisioner,
        data.allocatedAt,
        data.expiresAt,
        data.cockpitUrl,
      ],
    );
    return em.map(this.getEntityName() as unknown as EntityName<VmAllocation>, rows[0]);
  }

  async page(filter: AllocationFilter, limit: number, offset: number): Promise<VmAllocation[]> {
    return this.find(
      {
        ...(filter.status ? { status: filter.status } : {}),
        ...(filter.userId ? { user: filter.userId } : {}),
      },
      { orderBy: { allocatedAt: 'desc', id: 'desc' }, limit, offset, populate: ['poolVm'] },
    );
  }
}
