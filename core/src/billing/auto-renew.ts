import type { EntityManager } from '@mikro-orm/postgresql';
import { DEFAULT_EXPIRY_WARNING_HOURS, expiryWarningWindow } from '../allocation/expiry.ts';
import { firstRow, rows, sql } from '../db/sql.ts';
import { CurrencyMismatchError, InsufficientCreditError, NotFoundError } from '../errors.ts';
import type { Logger } from '../lib/logger.ts';
import { enqueueNotification } from '../outbox/notify-events.ts';
import { lockUser } from '../users/lock-user.ts';
import { type PlanCatalog, type PlanQuote, purchaseInTransaction, quotePlan } from './plans.ts';

/*
 * Auto-renew: a user who opted in (`users.auto_renew`) has the last plan they bought renewed for
 * one period from the balance before the period ends, through purchasePlan's own transaction
 * body (ledger debit, period extension, re-dating of the ACTIVE allocations). A period that will
 * not be renewed (auto-renew off, the balance short, the plan no longer on offer) gets one
 * `plan.expiring` event instead, and auto-release releases its VMs at the period end.
 */

/** The periods a renewal buys: one, at the catalog's price of the day. */
export const RENEWAL_PERIODS = 1;

/**
 * How many hours before its end a period is renewed (or its `plan.expiring` sent): the
 * expiry-warning window, so a renewed plan's VMs are re-dated before auto-release would warn
 * about them in the same tick. EXPIRY_WARNING_HOURS `0` turns the allocation warnings off, not
 * auto-renew: renewals then keep the default window.
 */
export function planRenewalWindowHours(expiryWarningHours: number): number {
  return expiryWarningHours > 0 ? expiryWarningHours : DEFAULT_EXPIRY_WARNING_HOURS;
}

/** Why a period will not be renewed (the `reason` of `plan.expiring`). */
export type NotRenewedReason =
  | 'AUTO_RENEW_OFF'
  | 'INSUFFICIENT_CREDIT'
  | 'PLAN_UNAVAILABLE'
  | 'CURRENCY_MISMATCH';

export interface RenewalSummary {
  /** Users with a purchased plan whose period ends in the window (and something left to do). */
  usersDue: number;
  /** Periods renewed by this run (one `plan.renewed` each). */
  plansRenewed: number;
  /** Who this run renewed and what it debited (not stored on the job run: the counts are). */
  renewed: { userId: string; priceCents: number; periodEnd: Date }[];
  /** `plan.expiring` events this run wrote (at most one per user and period end, ever). */
  expiringNotices: number;
  /** Due users whose period changed before their turn (renewed or bought meanwhile): nothing done. */
  skipped: number;
  /** One line per user whose renewal failed unexpectedly; the run goes on with the others. */
  errors: string[];
}

export interface RenewDuePlansOptions {
  catalog: PlanCatalog;
  /** Periods ending in `[now, now + windowHours)` are due. */
  windowHours: number;
  now?: Date;
  signal?: AbortSignal;
  log?: Logger;
}

interface DueRow {
  user_id: string;
  period_end: Date | string;
}

const epochMs = (d: Date) => d.getTime();
/** `plan.renewed:<user>:<renewed period end, epoch ms>`: once per user and period. */
export const planRenewedKey = (userId: string, periodEnd: Date) =>
  `plan.renewed:${userId}:${epochMs(periodEnd)}`;
/** `plan.expiring:<user>:<period end, epoch ms>`: once per user and period end. */
export const planExpiringKey = (userId: string, periodEnd: Date) =>
  `plan.expiring:${userId}:${epochMs(periodEnd)}`;

/**
 * Renews the plans that are due: one set-based statement selects the users with a purchased
 * plan whose period ends within the window (auto-renew on, or no `plan.expiring` yet for that
 * end), then each is handled in a transaction of its own under the user lock. The period end is
 * read again under the lock and must still be the one selected, so a period is renewed once
 * even with two runs at the same moment or a purchase by the user in between (which moves the
 * end); the unique `(user_id, renews_period_end)` of `plan_purchase` backs that up. A user the
 * balance does not cover is tried again on every run until the end, in case credit arrives.
 */
export async function renewDuePlans(
  em: EntityManager,
  options: RenewDuePlansOptions,
): Promise<RenewalSummary> {
  const now = options.now ?? new Date();
  const summary: RenewalSummary = {
    usersDue: 0,
    plansRenewed: 0,
    renewed: [],
    expiringNotices: 0,
    skipped: 0,
    errors: [],
  };
  const window = expiryWarningWindow(options.windowHours, now);
  if (!window) return summary;
  const due = await rows(
    em,
    sql<DueRow>`select u.id as user_id, u.vm_quota_period_end as period_end from users u
       where u.vm_quota_period_end >= ${window.from} and u.vm_quota_period_end < ${window.until}
         and u.status = 'active'
         and exists (select 1 from plan_purchase p where p.user_id = u.id)
         and (u.auto_renew or not exists (
               select 1 from outbox o
                where o.dedupe_key = 'plan.expiring:' || u.id || ':'
                                     || floor(extract(epoch from u.vm_quota_period_end) * 1000)::bigint))
       order by u.vm_quota_period_end, u.id`,
  );
  for (const row of due) {
    if (options.signal?.aborted) break;
    summary.usersDue++;
    try {
      const outcome = await renewIfDue(
        em.fork(),
        options.catalog,
        row.user_id,
        new Date(row.period_end),
        now,
      );
      if (typeof outcome === 'object') {
        summary.plansRenewed++;
        summary.renewed.push({ userId: row.user_id, ...outcome });
      } else if (outcome === 'expiring') summary.expiringNotices++;
      else if (outcome === 'moved') summary.skipped++;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (summary.errors.length < 100) summary.errors.push(`user ${row.user_id}: ${message}`);
      options.log?.error({ userId: row.user_id, err: message }, 'auto-renew: renewal failed');
    }
  }
  const { renewed: _list, ...counts } = summary;
  options.log?.info(counts, 'auto-renew done');
  return summary;
}

interface RenewalState {
  email: string;
  auto_renew: boolean;
  balance_cents: string | number;
  currency: string;
  plan_code: string;
  plan_name: string;
}

/**
 * One due user, in one transaction: renewed (`plan.renewed`; the price and the new end), or
 * `plan.expiring` written ('expiring'; already there: 'none'), or 'moved' when the period end
 * is no longer `periodEnd`.
 */
async function renewIfDue(
  em: EntityManager,
  catalog: PlanCatalog,
  userId: string,
  periodEnd: Date,
  now: Date,
): Promise<{ priceCents: number; periodEnd: Date } | 'expiring' | 'none' | 'moved'> {
  return em.transactional(async (tx) => {
    const locked = await lockUser(tx, userId);
    if (!locked) throw new NotFoundError('User', userId);
    if (locked.vm_quota_period_end?.getTime() !== periodEnd.getTime()) return 'moved';
    // A suspended account is not charged for a period it cannot use (nor told it ends).
    if (locked.status !== 'active') return 'none';
    const state = await firstRow(tx, renewalStateQuery(userId));
    if (!state) return 'moved';
    const plan = catalog.plans.find((p) => p.code === state.plan_code);
    const quote = plan ? quotePlan(catalog, plan.code, RENEWAL_PERIODS) : null;
    let reason: NotRenewedReason;
    if (!state.auto_renew) reason = 'AUTO_RENEW_OFF';
    else if (!quote) reason = 'PLAN_UNAVAILABLE';
    else {
      try {
        // Nothing is written before these refusals: the transaction goes on to the notice.
        const renewed = await purchaseInTransaction(tx, quote, { userId, now, renewsPeriodEnd: periodEnd });
        await enqueueNotification(
          tx,
          'plan.renewed',
          {
            userId,
            email: state.email,
            purchaseId: renewed.purchase.id,
            planCode: quote.plan.code,
            planName: quote.plan.name,
            periods: quote.periods,
            priceCents: quote.priceCents,
            currency: quote.currency,
            previousPeriodEnd: periodEnd.toISOString(),
            periodEnd: renewed.purchase.periodEnd.toISOString(),
            balanceCents: renewed.balanceCents,
            allocationsRedated: renewed.allocationsRedated,
          },
          planRenewedKey(userId, periodEnd),
        );
        return { priceCents: quote.priceCents, periodEnd: renewed.purchase.periodEnd };
      } catch (err) {
        if (err instanceof InsufficientCreditError) reason = 'INSUFFICIENT_CREDIT';
        else if (err instanceof CurrencyMismatchError) reason = 'CURRENCY_MISMATCH';
        else throw err;
      }
    }
    const written = await enqueueNotification(
      tx,
      'plan.expiring',
      {
        userId,
        email: state.email,
        planCode: state.plan_code,
        planName: state.plan_name,
        periodEnd: periodEnd.toISOString(),
        reason,
        autoRenew: state.auto_renew,
        renewalPriceCents: quote?.priceCents ?? null,
        balanceCents: Number(state.balance_cents),
        currency: state.currency,
      },
      planExpiringKey(userId, periodEnd),
    );
    return written ? 'expiring' : 'none';
  });
}

/** The user's opt-in, balance and last purchased plan. */
const renewalStateQuery = (userId: string) =>
  sql<RenewalState>`select u.email, u.auto_renew, b.credit_balance_cents as balance_cents, b.currency,
                           lp.plan_code, lp.plan_name
                      from users u join billing b on b.user_id = u.id
                      join lateral (select plan_code, plan_name from plan_purchase p where p.user_id = u.id
                                     order by p.created_at desc, p.id desc limit 1) lp on true
                     where u.id = ${userId}`;

/** What the dashboard's plan tile shows. */
export interface PlanStatus {
  /** The last plan bought (what a renewal renews); null: never bought one. */
  planCode: string | null;
  planName: string | null;
  periodEnd: Date | null;
  autoRenew: boolean;
  /** One period of that plan at today's price; null when none was bought or it is no longer on offer. */
  renewal: PlanQuote | null;
}

export async function planStatus(
  em: EntityManager,
  catalog: PlanCatalog,
  userId: string,
): Promise<PlanStatus> {
  const row = await firstRow(
    em,
    sql<{
      auto_renew: boolean;
      period_end: Date | string | null;
      plan_code: string | null;
      plan_name: string | null;
    }>`
      select u.auto_renew, u.vm_quota_period_end as period_end, lp.plan_code, lp.plan_name
        from users u
        left join lateral (select plan_code, plan_name from plan_purchase p where p.user_id = u.id
                            order by p.created_at desc, p.id desc limit 1) lp on true
       where u.id = ${userId}`,
  );
  if (!row) throw new NotFoundError('User', userId);
  const onOffer = row.plan_code !== null && catalog.plans.some((p) => p.code === row.plan_code);
  return {
    planCode: row.plan_code,
    planName: row.plan_name,
    periodEnd: row.period_end === null ? null : new Date(row.period_end),
    autoRenew: row.auto_renew,
    renewal: onOffer ? quotePlan(catalog, row.plan_code!, RENEWAL_PERIODS) : null,
  };
}
