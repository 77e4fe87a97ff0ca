import type { EntityManager } from '@mikro-orm/postgresql';
import type { RawBuilder } from 'kysely';
import { OutboxEvent } from '../entities/outbox-event.entity.ts';
import type { VmAllocation } from '../entities/vm-allocation.entity.ts';
import { insertNotifications, type NotifyTopic } from './notify-events.ts';

export const VM_RELEASE_TOPIC = 'vm.release';
/** Written by auto-release, once per allocation, when it enters the expiry warning window. */
export const ALLOCATION_EXPIRING_TOPIC = 'allocation.expiring' satisfies NotifyTopic;

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

/**
 * Writes one PENDING event of `topic` per row `events` selects (a `payload` jsonb and a
 * `dedupe_key`), in one statement of the caller's transaction, with the users' emails of them;
 * a key already in the outbox is skipped (insertNotifications). For events a domain derives
 * from its own rows set-based (e.g. the expiry warnings). Returns how many were written.
 */
export function enqueueSelected(
  em: EntityManager,
  topic: NotifyTopic,
  events: RawBuilder<{ payload: unknown; dedupe_key: string }>,
): Promise<number> {
  return insertNotifications(em, topic, events);
}
