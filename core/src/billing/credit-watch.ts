import type { EntityManager } from '@mikro-orm/postgresql';
import type { RawBuilder } from 'kysely';
import { pageAllocations } from '../allocation/list-allocations.ts';
import { execute, firstRow, rows, sql } from '../db/sql.ts';
import { isUuid } from '../lib/ids.ts';
import type { Logger } from '../lib/logger.ts';
import { enqueueNotification } from '../outbox/notify-events.ts';
import type { Provisioner } from '../provisioners/provisioner.ts';
import type { CreditPolicy } from './credit-policy.ts';
import { lockBilling } from './ledger.ts';

/**
 * Running out of credit. Usage may take a balance below zero (records are facts); then:
 *
 * - the runway is the balance divided by the user's usage rate, the USAGE debits of the last
 *   `RUNWAY_WINDOW_DAYS` days over that many days;
 * - a balance is low when it is below `floorCents`, or its runway is below `runwayDays` (only
 *   for accounts money has moved on: a new, empty account is not running out of anything);
 * - a negative episode starts with the ledger row that took the balance below zero and ends
 *   with the first row that brings it back to zero or above (a top-up): the ledger is the
 *   truth, so a top-up ends the grace without anyone writing a flag, and the next episode is
 *   named by its own row and gets a new grace;
 * - `graceHours` after an episode started, the user's ACTIVE allocations are released with
 *   reason CREDIT_EXHAUSTED.
 *
 * `creditStatus` says where a user stands (the dashboard); `watchCredit`, run by every
 * auto-release tick, writes the events and the releases. This module is the only writer of
 * `credit_watch`.
 */

/** The usage rate is the USAGE debits of this many days before now, per day. */
export const RUNWAY_WINDOW_DAYS = 7;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const MAX_DATE_MS = 8_640_000_000_000_000n;

export type LowReason = 'FLOOR' | 'RUNWAY';

export interface CreditStatus {
  userId: string;
  balanceCents: number;
  currency: string;
  /** USAGE debits of the last RUNWAY_WINDOW_DAYS days (a positive amount). */
  usageCentsInWindow: number;
  /** usageCentsInWindow / RUNWAY_WINDOW_DAYS (fractional cents). */
  dailyUsageCents: number;
  /** balance / daily usage in days; 0 when the balance is not above zero; null without usage. */
  runwayDays: number | null;
  /** When the balance reaches zero at that rate; null without usage, when it is not above zero, or past year 275760. */
  runsOutAt: Date | null;
  low: boolean;
  /** Why it is low: below the floor (checked first), or a runway below the threshold. */
  lowReason: LowReason | null;
  negative: boolean;
  /** When the ledger row that took the balance below zero was written (this episode). */
  negativeSince: Date | null;
  /** When the user's VMs are released unless credit comes first; null: not negative, or grace 0. */
  releaseAt: Date | null;
  policy: CreditPolicy;
}

/**
 * The runway of `balanceCents` at `usageCentsInWindow` per RUNWAY_WINDOW_DAYS days, exactly:
 * days (a float) and the instant it runs out (whole milliseconds, rounded down). Null without
 * usage; 0 days (and no instant) when the balance is not above zero.
 */
export function runway(
  balanceCents: number,
  usageCentsInWindow: number,
  now: Date,
): { days: number; runsOutAt: Date | null } | null {
  if (usageCentsInWindow <= 0) return null;
  if (balanceCents <= 0) return { days: 0, runsOutAt: null };
  // BigInt: balance × window ms exceeds 2^53 for large balances.
  const ms =
    (BigInt(balanceCents) * BigInt(RUNWAY_WINDOW_DAYS * DAY_MS)) / BigInt(Math.round(usageCentsInWindow));
  const at = BigInt(now.getTime()) + ms;
  return {
    days: (balanceCents * RUNWAY_WINDOW_DAYS) / usageCentsInWindow,
    // Past the last date JavaScript can hold (year 275760): no instant.
    runsOutAt: at <= MAX_DATE_MS ? new Date(Number(at)) : null,
  };
}

/** The negative episode a user is in: the ledger row that took the balance below zero. */
function negativeEpisodeOf(userId: RawBuilder<unknown>) {
  return sql`select e.id, e.created_at from ledger_entry e
     where e.user_id = ${userId}
       and e.id > coalesce((select max(p.id) from ledger_entry p
                             where p.user_id = ${userId} and p.balance_after_cents >= 0), 0)
     order by e.id limit 1`;
}

interface StatusRow {
  user_id: string;
  email: string;
  balance: string;
  currency: string;
  usage_cents: string;
  low_reason: LowReason | null;
  negative_entry_id: string | null;
  negative_since: Date | string | null;
}

/**
 * Every user's credit (or one user's), as of `now`: the one definition of "low" and of the
 * negative episode, shared by the dashboard and the watch.
 */
function statusQuery(now: Date, policy: CreditPolicy, userId?: string) {
  const since = new Date(now.getTime() - RUNWAY_WINDOW_DAYS * DAY_MS);
  const bUser = sql.ref('b.user_id');
  return sql<StatusRow>`
    select b.user_id::text as user_id, u.email, b.credit_balance_cents::text as balance, b.currency,
           coalesce(w.cents, 0)::text as usage_cents,
           case when not exists (select 1 from ledger_entry x where x.user_id = b.user_id) then null
                when b.credit_balance_cents < ${policy.floorCents} then 'FLOOR'
                when w.cents > 0
                 and b.credit_balance_cents::numeric * ${RUNWAY_WINDOW_DAYS}
                     < ${String(policy.runwayDays)}::numeric * w.cents then 'RUNWAY'
           end as low_reason,
           n.id::text as negative_entry_id, n.created_at as negative_since
      from billing b
      join users u on u.id = b.user_id
      left join lateral (
        select -sum(l.amount_cents) as cents from ledger_entry l
         where l.user_id = b.user_id and l.kind = 'USAGE' and l.created_at > ${since} and l.created_at <= ${now}
      ) w on true
      left join lateral (${negativeEpisodeOf(bUser)}) n on b.credit_balance_cents < 0
     ${userId ? sql`where b.user_id = ${userId}` : sql``}`;
}

const toDate = (v: Date | string | null): Date | null =>
  v === null ? null : v instanceof Date ? v : new Date(v);

function releaseAtOf(negativeSince: Date | null, policy: CreditPolicy): Date | null {
  if (!negativeSince || policy.graceHours <= 0) return null;
  return new Date(negativeSince.getTime() + policy.graceHours * HOUR_MS);
}

function toStatus(row: StatusRow, policy: CreditPolicy, now: Date): CreditStatus {
  const balanceCents = Number(row.balance);
  const usage = Number(row.usage_cents);
  const r = runway(balanceCents, usage, now);
  const negativeSince = balanceCents < 0 ? toDate(row.negative_since) : null;
  return {
    userId: row.user_id,
    balanceCents,
    currency: row.currency,
    usageCentsInWindow: usage,
    dailyUsageCents: usage / RUNWAY_WINDOW_DAYS,
    runwayDays: r?.days ?? null,
    runsOutAt: r?.runsOutAt ?? null,
    low: row.low_reason !== null,
    lowReason: row.low_reason,
    negative: balanceCents < 0,
    negativeSince,
    releaseAt: releaseAtOf(negativeSince, policy),
    policy,
  };
}

/** Where a user's credit stands as of `now` (default: now); null when the user has no balance. */
export async function creditStatus(
  em: EntityManager,
  userId: string,
  policy: CreditPolicy,
  now = new Date(),
): Promise<CreditStatus | null> {
  if (!isUuid(userId)) return null;
  const row = await firstRow(em, statusQuery(now, policy, userId));
  return row ? toStatus(row, policy, now) : null;
}

export interface CreditWatchSummary {
  /** Users whose low or negative state changed since the watch last looked. */
  usersChanged: number;
  /** `balance.low` events written (low episodes that began). */
  lowEvents: number;
  /** Low episodes that ended (the balance recovered above the thresholds). */
  lowRecovered: number;
  /** `balance.negative` events written (negative episodes that began). */
  negativeEvents: number;
  /** `allocation.expiring` warnings (reason CREDIT_EXHAUSTED) written. */
  releaseWarnings: number;
  /** Allocations released with reason CREDIT_EXHAUSTED. */
  creditReleased: number;
  /** Due allocations whose warning was only written now: released on a later tick, never unwarned. */
  creditReleaseDeferred: number;
  /** Due allocations not released: credit came (or the allocation was released) meanwhile. */
  creditReleaseSkipped: number;
  errors: string[];
}

export interface WatchCreditOptions extends CreditPolicy {
  /** The tick's instant (default now). */
  now?: Date;
  /** The provisioner that made an allocation, or null if unknown (the release path). */
  provisionerFor: (name: string) => Provisioner | null;
  signal?: AbortSignal;
  log?: Logger;
}

const MAX_ERROR_LINES = 100;

interface WatchedRow extends StatusRow {
  watched_low_since: Date | string | null;
  watched_negative_entry_id: string | null;
}

/**
 * One look at every balance, as each auto-release tick runs it:
 *
 * 1. one statement finds the users whose low or negative state differs from what `credit_watch`
 *    recorded; each of them is then settled in a transaction of its own with its watch row
 *    locked: a low episode that begins gets one `balance.low` (dedupe key
 *    `balance.low:<user>:<episode start ms>`), one that ends is closed; a negative episode that
 *    begins gets one `balance.negative` (`balance.negative:<user>:<ledger row>`, with `releaseAt`)
 *    and one `allocation.expiring` warning per ACTIVE allocation (reason CREDIT_EXHAUSTED,
 *    `expiresAt` = the release time; `allocation.expiring:<allocation>:credit:<ledger row>`);
 * 2. with a grace (`graceHours` > 0), every ACTIVE allocation of a user whose episode began at
 *    least `graceHours` ago is released through the provisioner that made it, reason
 *    CREDIT_EXHAUSTED, each in its own transaction that first locks the balance and checks the
 *    user is still in that episode (a top-up committed before it wins; one waiting behind it
 *    comes after the release). An allocation whose warning did not exist yet gets it now and is
 *    released on a later tick.
 *
 * Two watchers at once (replicas, a manual run) write each event once: the watch row lock
 * serializes them per user, and the dedupe keys name the episode.
 */
export async function watchCredit(
  em: EntityManager,
  options: WatchCreditOptions,
): Promise<CreditWatchSummary> {
  const now = options.now ?? new Date();
  const policy: CreditPolicy = {
    runwayDays: options.runwayDays,
    floorCents: options.floorCents,
    graceHours: options.graceHours,
  };
  const summary: CreditWatchSummary = {
    usersChanged: 0,
    lowEvents: 0,
    lowRecovered: 0,
    negativeEvents: 0,
    releaseWarnings: 0,
    creditReleased: 0,
    creditReleaseDeferred: 0,
    creditReleaseSkipped: 0,
    errors: [],
  };
  const fail = (line: string) => {
    if (summary.errors.length < MAX_ERROR_LINES) summary.errors.push(line);
  };

  const changed = await rows(
    em,
    sql<WatchedRow>`select s.*, w.low_since as watched_low_since, w.negative_entry_id::text as watched_negative_entry_id
       from (${statusQuery(now, policy)}) s left join credit_watch w on w.user_id::text = s.user_id
      where (s.low_reason is not null) <> (w.low_since is not null)
         or s.negative_entry_id is distinct from w.negative_entry_id::text`,
  );
  for (const row of changed) {
    if (options.signal?.aborted) break;
    summary.usersChanged++;
    try {
      await settleUser(em.fork(), row, policy, now, summary);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      fail(`user ${row.user_id}: ${message}`);
      options.log?.error({ userId: row.user_id, err: message }, 'credit watch: could not settle');
    }
  }

  if (policy.graceHours > 0 && !options.signal?.aborted)
    await releaseDue(em, options, policy, now, summary, fail);
  return summary;
}

/** One user's change of state, in a transaction holding the user's watch row. */
async function settleUser(
  em: EntityManager,
  row: StatusRow,
  policy: CreditPolicy,
  now: Date,
  summary: CreditWatchSummary,
): Promise<void> {
  const status = toStatus(row, policy, now);
  await em.transactional(async (tx) => {
    await execute(tx, sql`insert into credit_watch (user_id) values (${row.user_id}) on conflict do nothing`);
    const watched = await firstRow(
      tx,
      sql<{ low_since: Date | string | null; negative_entry_id: string | null }>`
        select low_since, negative_entry_id::text from credit_watch where user_id = ${row.user_id} for update`,
    );
    if (!watched) return;
    const base = {
      userId: row.user_id,
      email: row.email,
      balanceCents: status.balanceCents,
      currency: status.currency,
    };

    if (status.low && watched.low_since === null) {
      await execute(
        tx,
        sql`update credit_watch set low_since = ${now}, updated_at = now() where user_id = ${row.user_id}`,
      );
      const written = await enqueueNotification(
        tx,
        'balance.low',
        {
          ...base,
          reason: status.lowReason,
          runwayDays: status.runwayDays,
          runsOutAt: status.runsOutAt?.toISOString() ?? null,
          dailyUsageCents: status.dailyUsageCents,
          lowBalanceCents: policy.floorCents,
          lowBalanceRunwayDays: policy.runwayDays,
          lowSince: now.toISOString(),
        },
        `balance.low:${row.user_id}:${now.getTime()}`,
      );
      if (written) summary.lowEvents++;
    } else if (!status.low && watched.low_since !== null) {
      await execute(
        tx,
        sql`update credit_watch set low_since = null, updated_at = now() where user_id = ${row.user_id}`,
      );
      summary.lowRecovered++;
    }

    if (row.negative_entry_id !== watched.negative_entry_id) {
      await execute(
        tx,
        sql`update credit_watch set negative_entry_id = ${row.negative_entry_id}::bigint,
              negative_since = ${status.negativeSince}, updated_at = now() where user_id = ${row.user_id}`,
      );
      if (row.negative_entry_id !== null && status.negativeSince) {
        const written = await enqueueNotification(
          tx,
          'balance.negative',
          {
            ...base,
            negativeSince: status.negativeSince.toISOString(),
            releaseAt: status.releaseAt?.toISOString() ?? null,
            graceHours: policy.graceHours,
          },
          `balance.negative:${row.user_id}:${row.negative_entry_id}`,
        );
        if (written) summary.negativeEvents++;
        if (status.releaseAt) {
          const active = await pageAllocations(tx, { status: 'ACTIVE', userId: row.user_id }, 10_000, 0);
          for (const a of active) {
            if (await enqueueReleaseWarning(tx, a, row.email, row.negative_entry_id, status.releaseAt))
              summary.releaseWarnings++;
          }
        }
      }
    }
  });
}

/** The `allocation.expiring` warning that an allocation will be released for lack of credit. */
function enqueueReleaseWarning(
  tx: EntityManager,
  allocation: { id: string; user: { id: string }; poolVm: { id: string }; cockpitUrl?: string | null },
  email: string,
  negativeEntryId: string,
  releaseAt: Date,
): Promise<boolean> {
  return enqueueNotification(
    tx,
    'allocation.expiring',
    {
      allocationId: allocation.id,
      userId: allocation.user.id,
      email,
      poolVmId: allocation.poolVm.id,
      cockpitUrl: allocation.cockpitUrl ?? null,
      expiresAt: releaseAt.toISOString(),
      reason: 'CREDIT_EXHAUSTED',
      releaseAt: releaseAt.toISOString(),
    },
    `allocation.expiring:${allocation.id}:credit:${negativeEntryId}`,
  );
}

/**
 * Inside a release transaction: locks the balance (so a top-up either committed before, and is
 * seen, or waits for the release) and tells whether the user is still in episode `entryId`.
 */
async function stillInEpisode(tx: EntityManager, userId: string, entryId: string): Promise<boolean> {
  const balance = await lockBilling(tx, userId);
  if (!balance || balance.balanceCents >= 0) return false;
  const episode = await firstRow(tx, sql<{ id: string }>`${negativeEpisodeOf(sql`${userId}::uuid`)}`);
  return episode !== undefined && String(episode.id) === entryId;
}

async function releaseDue(
  em: EntityManager,
  options: WatchCreditOptions,
  policy: CreditPolicy,
  now: Date,
  summary: CreditWatchSummary,
  fail: (line: string) => void,
): Promise<void> {
  const dueBefore = new Date(now.getTime() - policy.graceHours * HOUR_MS);
  const due = await rows(
    em,
    sql<StatusRow>`select * from (${statusQuery(now, policy)}) s
      where s.negative_entry_id is not null and s.negative_since <= ${dueBefore}`,
  );
  for (const user of due) {
    const entryId = user.negative_entry_id as string;
    const releaseAt = releaseAtOf(toDate(user.negative_since), policy) as Date;
    const active = await pageAllocations(em.fork(), { status: 'ACTIVE', userId: user.user_id }, 10_000, 0);
    for (const allocation of active) {
      if (options.signal?.aborted) return;
      try {
        // Warned first, in a transaction of its own; a warning written only now defers the release.
        if (await enqueueReleaseWarning(em.fork(), allocation, user.email, entryId, releaseAt)) {
          summary.releaseWarnings++;
          summary.creditReleaseDeferred++;
          continue;
        }
        const provisioner = options.provisionerFor(allocation.provisioner);
        if (!provisioner) {
          fail(`allocation ${allocation.id}: unknown provisioner "${allocation.provisioner}"`);
          continue;
        }
        const result = await provisioner.release(em.fork(), allocation.id, 'CREDIT_EXHAUSTED', {
          userId: user.user_id,
          precondition: (tx) => stillInEpisode(tx, user.user_id, entryId),
        });
        if (result.preconditionFailed || result.alreadyReleased) summary.creditReleaseSkipped++;
        else summary.creditReleased++;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        fail(`allocation ${allocation.id}: ${message}`);
        options.log?.error({ allocationId: allocation.id, err: message }, 'credit watch: release failed');
      }
    }
  }
}
