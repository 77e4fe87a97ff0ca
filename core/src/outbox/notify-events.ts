import type { EntityManager } from '@mikro-orm/postgresql';
import { rows, sql } from '../db/sql.ts';

/**
 * The events the outbox worker sends to NOTIFY_WEBHOOK_URL (signed the Standard Webhooks way),
 * or logs when no webhook is configured. A domain writes one with `enqueueNotification` in the
 * transaction that makes the thing happen, so the event exists exactly when the change does.
 */
export const NOTIFY_TOPICS = [
  'allocation.expiring',
  'allocation.released',
  'balance.low',
  'balance.negative',
  'plan.renewed',
  'plan.expiring',
  'payment.received',
  'user.invited',
  'user.suspended',
  'user.deleted',
] as const;

export type NotifyTopic = (typeof NOTIFY_TOPICS)[number];

export function isNotifyTopic(topic: string): topic is NotifyTopic {
  return (NOTIFY_TOPICS as readonly string[]).includes(topic);
}

/**
 * Writes one PENDING `topic` event with `payload` (JSON: ids, ISO dates, amounts in cents with
 * their currency; `userId` and `email` when it concerns a user) in the caller's transaction.
 * `dedupeKey` names the occurrence (e.g. `balance.low:<user>:<episode>`): a key already in the
 * outbox is skipped, so a retried or concurrent writer sends it once. Returns whether it was
 * written.
 */
export async function enqueueNotification(
  em: EntityManager,
  topic: NotifyTopic,
  payload: Record<string, unknown>,
  dedupeKey: string,
): Promise<boolean> {
  const written = await rows(
    em,
    sql<{ id: string }>`
      insert into outbox (topic, payload, dedupe_key, status, attempts, next_attempt_at, created_at)
      values (${topic}, ${JSON.stringify(payload)}::jsonb, ${dedupeKey}, 'PENDING', 0, now(), now())
      on conflict (dedupe_key) do nothing
      returning id`,
  );
  return written.length > 0;
}

/**
 * Replaces the email in every event about a user (pending or sent) by `replacement`, in the
 * caller's transaction: a deleted account's address does not outlive it in the outbox.
 */
export async function eraseEmailFromEvents(
  em: EntityManager,
  userId: string,
  replacement: string,
): Promise<number> {
  const erased = await rows(
    em,
    sql<{
      id: string;
    }>`update outbox set payload = jsonb_set(payload, '{email}', to_jsonb(${replacement}::text))
       where payload->>'userId' = ${userId} and payload ? 'email' and payload->>'email' <> ${replacement}
       returning id`,
  );
  return erased.length;
}
