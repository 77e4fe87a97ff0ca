import type { EntityManager } from '@mikro-orm/postgresql';
import type { RawBuilder } from 'kysely';
import { execute, sql } from '../db/sql.ts';
import type { NotifyTopic } from './notify-events.ts';

/**
 * The outbox topic of an email to a user about one of their events: a row of its own beside
 * the event's webhook row, so the two deliveries are retried (and fail) independently and each
 * is sent once. Written with the event, in its statement, when the user's preference wants it.
 * Its payload: `event` (the topic), `eventId` (the event's outbox id), `userId`, `email` (the
 * address then) and `data` (the event's payload).
 */
export const EMAIL_TOPIC = 'email';

/** The user's choices (users.email_<preference>): warnings are on by default, receipts off. */
export const EMAIL_PREFERENCES = ['warnings', 'receipts'] as const;
export type EmailPreference = (typeof EMAIL_PREFERENCES)[number];

export interface EmailRule {
  /** The preference that turns it on, or `always`: a security notice cannot be turned off. */
  preference: EmailPreference | 'always';
  /** Only occurrences whose payload `key` is one of `values` (the rest are not news to the user). */
  only?: { key: string; values: readonly string[] };
}

/**
 * Which user events are also emailed, under which preference. `allocation.expiring` is not:
 * `plan.expiring` and `balance.negative` say the same, once per plan or episode rather than per VM.
 * A password set or a token made is always emailed, so that a user whose account someone else
 * got into hears of it; not the first password an invitation link sets, which the user just chose,
 * nor a token an operator made for the user.
 */
export const EMAILED_EVENTS = {
  'plan.expiring': { preference: 'warnings' },
  'balance.low': { preference: 'warnings' },
  'balance.negative': { preference: 'warnings' },
  'allocation.released': {
    preference: 'warnings',
    only: { key: 'reason', values: ['EXPIRED', 'CREDIT_EXHAUSTED'] },
  },
  'payment.received': { preference: 'receipts' },
  'plan.renewed': { preference: 'receipts' },
  'password.changed': { preference: 'always', only: { key: 'via', values: ['RESET', 'CHANGE'] } },
  'api_token.created': { preference: 'always', only: { key: 'createdBy', values: ['USER'] } },
} as const satisfies Partial<Record<NotifyTopic, EmailRule>>;

export type EmailedTopic = keyof typeof EMAILED_EVENTS;

export function isEmailedTopic(topic: string): topic is EmailedTopic {
  return Object.hasOwn(EMAILED_EVENTS, topic);
}

const UUID = '^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$';

/**
 * The statement that writes the `email` rows for the events of `topic` just written (a CTE
 * named `ev`: their outbox `id`, `payload` and `dedupe_key`) whose user wants them; null when
 * the topic is never emailed. A key already in the outbox is skipped.
 */
export function emailRowsFor(topic: NotifyTopic): RawBuilder<unknown> | null {
  if (!isEmailedTopic(topic)) return null;
  const rule: EmailRule = EMAILED_EVENTS[topic];
  const wanted = rule.preference === 'always' ? sql`true` : sql.ref(`u.email_${rule.preference}`);
  const reason = rule.only
    ? sql`and ev.payload->>${sql.lit(rule.only.key)} in (${sql.join(rule.only.values.map((r) => sql.lit(r)))})`
    : sql``;
  return sql`
    insert into outbox (topic, payload, dedupe_key, status, attempts, next_attempt_at, created_at)
    select ${EMAIL_TOPIC},
           jsonb_build_object('event', ${topic}::text, 'eventId', ev.id, 'userId', u.id, 'email', u.email,
                              'data', ev.payload),
           ${`${EMAIL_TOPIC}:`} || ev.dedupe_key, 'PENDING', 0, now(), now()
      from ev
      join users u on u.id = case when ev.payload->>'userId' ~ ${UUID}
                                  then (ev.payload->>'userId')::uuid end
     where ${wanted} ${reason} and u.status <> 'deleted'
       -- Never to an address nobody has shown to be theirs (a sign-up awaiting verification).
       and u.email_verified_at is not null
    on conflict (dedupe_key) do nothing`;
}

/**
 * Drops the user's emails not sent yet, in the caller's transaction (deleteUser's): an erased
 * account has no address to send them to. Sent ones stay, with the address erased
 * (eraseEmailFromEvents). How many were dropped.
 */
export async function dropPendingEmails(em: EntityManager, userId: string): Promise<number> {
  return execute(
    em,
    sql`delete from outbox where topic = ${EMAIL_TOPIC} and status <> 'DONE' and payload->>'userId' = ${userId}`,
  );
}
