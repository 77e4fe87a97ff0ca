import type { EntityManager } from '@mikro-orm/postgresql';
import { OutboxEvent } from '../entities/outbox-event.entity.ts';
import type { VmAllocation } from '../entities/vm-allocation.entity.ts';

export const VM_RELEASE_TOPIC = 'vm.release';
/** Written by auto-release, once per allocation, when it enters the expiry warning window. */
export const ALLOCATION_EXPIRING_TOPIC = 'allocation.expiring';

export interface AllocationExpiringPayload {
  allocationId: string;
  userId: string;
  email: string;
  poolVmId: string;
  cockpitUrl: string | null;
  expiresAt: string;
}

export interface VmReleasePayload {
  poolVmId: string;
  allocationId: string;
  userId: string;
  reason: string | null;
  releasedAt: string | null;
}

/** Writes the `vm.release` outbox row; call inside the release transaction. */
export async function enqueueVmRelease(tx: EntityManager, allocation: VmAllocation): Promise<void> {
  const payload: VmReleasePayload = {
    poolVmId: allocation.poolVm.id,
    allocationId: allocation.id,
    userId: allocation.user.id,
    reason: allocation.releaseReason ?? null,
    releasedAt: allocation.releasedAt?.toISOString() ?? null,
  };
  tx.create(OutboxEvent, {
    topic: VM_RELEASE_TOPIC,
    payload: { ...payload },
    dedupeKey: `${VM_RELEASE_TOPIC}:${allocation.id}`,
    status: 'PENDING',
    attempts: 0,
    nextAttemptAt: new Date(),
    createdAt: new Date(),
  });
  await tx.flush();
}
