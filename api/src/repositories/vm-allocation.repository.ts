import { EntityRepository } from '@mikro-orm/postgresql';
import type { AllocationStatus, VmAllocation } from '../entities/vm-allocation.entity.ts';

export interface AllocationFilter {
  status?: AllocationStatus;
  userId?: string;
}

export class VmAllocationRepository extends EntityRepository<VmAllocation> {
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
