import { defineEntity, p } from '@mikro-orm/core';

export const POOL_VM_STATUSES = ['AVAILABLE', 'MAINTENANCE', 'RETIRED'] as const;
export type PoolVmStatus = (typeof POOL_VM_STATUSES)[number];

export const PoolVmSchema = defineEntity({
  name: 'PoolVm',
  tableName: 'pool_vm',
  properties: {
    /** The operator's id for the VM (from the manifest). */
    id: p.text().primary(),
    name: p.text(),
    host: p.text().nullable(),
    region: p.text().nullable(),
    status: p.enum(POOL_VM_STATUSES),
    cockpitUrl: p.text().nullable(),
    /**
     * The ACTIVE allocation holding this VM, kept in the same transaction as the allocation's
     * status. Allocation locks the pool row and checks this column, so a concurrent allocator
     * that waited for the lock re-reads it (the partial unique index is the backstop).
     */
    activeAllocationId: p.uuid().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});

export class PoolVm extends PoolVmSchema.class {}
PoolVmSchema.setClass(PoolVm);
