import type { EntityManager } from '@mikro-orm/postgresql';
import { type AllocationStatus, VmAllocation } from '../entities/vm-allocation.entity.ts';

export const ALLOCATION_ORDERS = ['ALLOCATED_DESC', 'ALLOCATED_ASC', 'EXPIRES_ASC', 'EXPIRES_DESC'] as const;
export type AllocationOrder = (typeof ALLOCATION_ORDERS)[number];

/** Each order ends on the id, so that it is total and offset cursors stay stable. */
const ALLOCATION_ORDER_BY = {
  ALLOCATED_DESC: [{ allocatedAt: 'desc' }, { id: 'desc' }],
  ALLOCATED_ASC: [{ allocatedAt: 'asc' }, { id: 'asc' }],
  EXPIRES_ASC: [{ expiresAt: 'asc' }, { id: 'asc' }],
  EXPIRES_DESC: [{ expiresAt: 'desc' }, { id: 'desc' }],
} as const satisfies Record<AllocationOrder, unknown>;

export interface AllocationFilter {
  status?: AllocationStatus;
  userId?: string;
}

export function pageAllocations(
  em: EntityManager,
  filter: AllocationFilter,
  limit: number,
  offset: number,
  order: AllocationOrder = 'ALLOCATED_DESC',
): Promise<VmAllocation[]> {
  return em.find(
    VmAllocation,
    {
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.userId ? { user: filter.userId } : {}),
    },
    { orderBy: [...ALLOCATION_ORDER_BY[order]], limit, offset, populate: ['poolVm'] },
  );
}
