import { randomUUID } from 'node:crypto';
import { defineEntity, p } from '@mikro-orm/core';
import { PoolVm } from './pool-vm.entity.ts';
import { User } from './user.entity.ts';

export const ALLOCATION_STATUSES = ['ACTIVE', 'RELEASED'] as const;
export type AllocationStatus = (typeof ALLOCATION_STATUSES)[number];
/**
 * CREDIT_EXHAUSTED: the balance stayed below zero past NEGATIVE_BALANCE_GRACE_HOURS;
 * SUSPENDED / DELETED: an operator suspended (asking for the release) or deleted the account.
 */
export const RELEASE_REASONS = [
  'USER',
  'ADMIN',
  'EXPIRED',
  'CREDIT_EXHAUSTED',
  'SUSPENDED',
  'DELETED',
] as const;
export type ReleaseReason = (typeof RELEASE_REASONS)[number];

export const VmAllocationSchema = defineEntity({
  name: 'VmAllocation',
  tableName: 'vm_allocation',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => randomUUID()),
    user: () => p.manyToOne(User),
    poolVm: () => p.manyToOne(PoolVm),
    provisioner: p.text(),
    status: p.enum(ALLOCATION_STATUSES).default('ACTIVE'),
    allocatedAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime(),
    releasedAt: p.datetime().nullable(),
    releaseReason: p.enum(RELEASE_REASONS).nullable(),
    /** Copied from the pool VM at allocation time; later pool edits do not change it. */
    cockpitUrl: p.text().nullable(),
  },
});

export class VmAllocation extends VmAllocationSchema.class {}

/**
 * What the API shows of an allocation: a loaded VmAllocation, or the plain row the allocation
 * hot path returns without going through the unit of work.
 */
export interface AllocationView {
  id: string;
  user: { id: string };
  poolVm: { id: string };
  provisioner: string;
  status: AllocationStatus;
  allocatedAt: Date;
  expiresAt: Date;
  releasedAt?: Date | null;
  releaseReason?: ReleaseReason | null;
  cockpitUrl?: string | null;
}
VmAllocationSchema.setClass(VmAllocation);
