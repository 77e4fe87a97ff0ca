import type { EntityManager } from '@mikro-orm/postgresql';
import type { RawBuilder } from 'kysely';
import { rows, sql } from '../db/sql.ts';
import { emailRowsFor } from './email-events.ts';

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
  'password.reset_requested',
  'password.changed',
  'api_token.created',
  'user.suspended',
  'user.unsuspended',
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
  const written = await insertNotifications(
    em,
    topic,
    sql<{
      payload: unknown;
      dedupe_key: string;
    }>`select ${JSON.stringify(payload)}::jsonb as payload, ${dedupeKey}::text as dedupe_key`,
  );
  return written > 0;
}

/**
 * Writes one PENDING event of `topic` per row `events` selects (a `payload` jsonb and a
 * `dedupe_key`), skipping keys already in the outbox, and in the same statement the `email`
 * rows of those that their users want emailed (email-events.ts). How many events were written.
 */
export async function insertNotifications(
  em: EntityManager,
  topic: NotifyTopic,
  events: RawBuilder<{ payload: unknown; dedupe_key: string }>,
): Promise<number> {
  const insert = sql<{ id: string }>`
      insert into outbox (topic, payload, dedupe_key, status, attempts, next_attempt_at, created_at)
      select ${topic}, e.payload, e.dedupe_key, 'PENDING', 0, now(), now() from (${events}) as e
      on conflict (dedupe_key) do nothing
      returning id, payload, dedupe_key`;
  const mail = emailRowsFor(topic);
  const written = await rows(
    em,
    mail ? sql<{ id: string }>`with ev as (${insert}), mail as (${mail}) select id from ev` : insert,
  );
  return written.length;
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
         -- An email row also carries its event's payload, address included, under data.
         || case when jsonb_typeof(payload->'data') = 'object' and payload->'data' ? 'email'
                 then jsonb_build_object('data', jsonb_set(payload->'data', '{email}', to_jsonb(${replacement}::text)))
                 else '{}'::jsonb end
       where payload->>'userId' = ${userId} and payload ? 'email' and payload->>'email' <> ${replacement}
       returning id`,
  );
  return erased.length;
}
