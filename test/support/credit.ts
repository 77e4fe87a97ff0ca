import { postLedgerEntry } from '@hero/core/billing/ledger';
import type { MikroORM } from '@hero/core/db/orm';
import type { ApiProcess } from './api.ts';
import { graphql } from './graphql.ts';

/** The signed-in user's credit status (Billing.creditStatus). */
export const MY_CREDIT_STATUS = graphql(`query MyCreditStatus { me { billing { creditStatus {
  balanceCents currency usageCentsLast7Days dailyUsageCents runwayDays runsOutAt low lowReason
  negative negativeSince releaseAt lowBalanceCents lowBalanceRunwayDays graceHours } } } }`);

/** The user's creditStatus through the api; throws on an error answer. */
export async function creditStatusOf(api: ApiProcess, token: string) {
  const res = await api.asUser(token, MY_CREDIT_STATUS);
  if (!res.data?.me) throw new Error(`creditStatus failed: ${JSON.stringify(res)}`);
  return res.data.me.billing.creditStatus;
}

/**
 * A usage debit of `cents`, as the aggregator posts it (a USAGE ledger row through the ledger's
 * one writer), for tests that need usage without a billing repository.
 */
export async function postUsageDebit(orm: MikroORM, userId: string, cents: number): Promise<number> {
  const posted = await orm.em
    .fork()
    .transactional((tx) =>
      postLedgerEntry(tx, { userId, kind: 'USAGE', amountCents: -cents, reference: 'usage:test' }),
    );
  if (!posted) throw new Error(`no billing row for user ${userId}`);
  return posted.balanceAfterCents;
}

/** The notification events (outbox rows) about a user, in the order written. */
export function notificationsOf(
  db: { query: <T extends object>(text: string, params?: unknown[]) => Promise<T[]> },
  userId: string,
) {
  return db.query<{ id: string; topic: string; payload: Record<string, any>; dedupe_key: string }>(
    `select id::text, topic, payload, dedupe_key from outbox where payload->>'userId' = $1 order by id`,
    [userId],
  );
}
