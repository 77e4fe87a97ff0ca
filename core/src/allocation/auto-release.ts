import type { EntityManager } from '@mikro-orm/postgresql';
import { planRenewalWindowHours, renewDuePlans } from '../billing/auto-renew.ts';
import type { CreditPolicy } from '../billing/credit-policy.ts';
import { type CreditWatchSummary, watchCredit } from '../billing/credit-watch.ts';
import type { PlanCatalog } from '../billing/plans.ts';
import { rows as query, sql } from '../db/sql.ts';
import { runJobNow } from '../jobs/run-with-job-lock.ts';
import type { Logger } from '../lib/logger.ts';
import { ALLOCATION_EXPIRING_TOPIC, enqueueSelected } from '../outbox/enqueue.ts';
import type { Provisioner } from '../provisioners/provisioner.ts';
import { type ExpiryWarningWindow, expiryWarningWindow } from './expiry.ts';

export interface AutoReleaseSummary {
  /** Rows the scan read: ACTIVE with `expiresAt < now` when read. */
  rowsExamined: number;
  /** Examined rows still expired when their turn came (not extended meanwhile). */
  rowsExpired: number;
  /** Rows this run released (reason EXPIRED). */
  rowsReleased: number;
  /** Rows someone else released between the scan and their release: not an error. */
  rowsAlreadyReleased: number;
  /** `allocation.expiring` outbox events written (allocations that entered the warning window). */
  expiryWarnings: number;
  /** With `renewals`: plan periods auto-renewed before the scan (`plan.renewed` events). */
  plansRenewed?: number;
  /** With `renewals`: `plan.expiring` events written (periods ending soon that will not be renewed). */
  planExpiringNotices?: number;
  /** One line per row that could not be released (or user not renewed); the run goes on with the others. */
  errors: string[];
  /** What the credit watch did (with `creditPolicy`): low/negative events, CREDIT_EXHAUSTED releases. */
  credit?: CreditWatchSummary;
}

export interface AutoReleaseOptions {
  /** The provisioner that made an allocation (its `provisioner` column), or null if unknown. */
  provisionerFor: (name: string) => Provisioner | null;
  /** The tick's instant: rows with `expiresAt < now` (strictly) are expired. Default: now. */
  now?: Date;
  /** Rows read per scan query. */
  batchSize?: number;
  /** Allocations expiring within this many hours get one `allocation.expiring` event; 0: none. */
  expiryWarningHours?: number;
  /** When set, the run also watches every balance (watchCredit): low/negative events, releases after the grace. */
  creditPolicy?: CreditPolicy;
  /**
   * The plan catalog: due plan periods are renewed (or get `plan.expiring`) before the scan, in
   * the window `planRenewalWindowHours(expiryWarningHours)`. Unset: no renewals.
   */
  renewals?: { catalog: PlanCatalog };
  /** Aborted: stop after the row in hand (each release is its own transaction). */
  signal?: AbortSignal;
  log?: Logger;
}

export const DEFAULT_AUTO_RELEASE_BATCH_SIZE = 500;
/** The job's name: its run-lock key and `job_run.job`, for the worker and for autoReleaseNow. */
export const AUTO_RELEASE_JOB = 'auto-release';
/** The summary (stored on the job-run row) lists this many failed rows at most, then a count. */
const MAX_ERROR_LINES = 100;

interface ExpiredRow {
  id: string;
  provisioner: string;
  /** expires_at as PostgreSQL prints it (microseconds kept), to resume the keyset scan exactly. */
  expires_at_text: string;
}

/**
 * With `renewals`, first renews the plan periods that are due (renewDuePlans), so a renewed
 * user's VMs move to the new end before the scan. Then ends expired allocations: reads ACTIVE rows with `expires_at < now` through the partial
 * index `vm_allocation_active_expires_at_index` in keyset batches, so the cost follows the
 * expired rows, not the table, and a row that cannot be released is not read again in this
 * run. Each row is released through the provisioner that made it, reason EXPIRED, in a
 * transaction of its own (the release hook, e.g. the deployer outbox row, commits with it;
 * an interrupted run leaves no half-released row). Released rows leave the partial index, so
 * a later run never examines them again.
 *
 * Then writes one `allocation.expiring` outbox event per ACTIVE allocation that expires within
 * `expiryWarningHours` (one set-based statement; the outbox dedupe key makes it once per
 * allocation, ever, even with two runs at the same moment).
 *
 * With `creditPolicy`, last, the credit watch (billing/credit-watch.ts: `watchCredit`).
 */
export async function autoRelease(
  em: EntityManager,
  options: AutoReleaseOptions,
): Promise<AutoReleaseSummary> {
  const now = options.now ?? new Date();
  const batchSize = options.batchSize ?? DEFAULT_AUTO_RELEASE_BATCH_SIZE;
  const summary: AutoReleaseSummary = {
    rowsExamined: 0,
    rowsExpired: 0,
    rowsReleased: 0,
    rowsAlreadyReleased: 0,
    expiryWarnings: 0,
    errors: [],
  };
  let unlisted = 0;
  const fail = (line: string) => {
    if (summary.errors.length < MAX_ERROR_LINES) summary.errors.push(line);
    else unlisted++;
  };
  if (options.renewals && !options.signal?.aborted) {
    // First: a renewed period re-dates its VMs, so they are neither released nor warned about.
    const renewed = await renewDuePlans(em, {
      catalog: options.renewals.catalog,
      windowHours: planRenewalWindowHours(options.expiryWarningHours ?? 0),
      now,
      signal: options.signal,
      log: options.log,
    });
    summary.plansRenewed = renewed.plansRenewed;
    summary.planExpiringNotices = renewed.expiringNotices;
    summary.errors.push(...renewed.errors);
  }
  let after: { expiresAt: string; id: string } | null = null;
  scan: while (!options.signal?.aborted) {
    const rows: ExpiredRow[] = await query(
      em,
      // Ordered by the timestamp column itself (not a text alias), so the partial index
      // returns the rows in order and the limit stops the scan early.
      sql<ExpiredRow>`select id, provisioner, expires_at::text as expires_at_text from vm_allocation
        where status = 'ACTIVE' and expires_at < ${now}
          ${after ? sql`and (expires_at, id) > (${after.expiresAt}::timestamptz, ${after.id}::uuid)` : sql``}
        order by vm_allocation.expires_at, vm_allocation.id limit ${batchSize}`,
    );
    for (const row of rows) {
      if (options.signal?.aborted) break scan;
      summary.rowsExamined++;
      after = { expiresAt: row.expires_at_text, id: row.id };
      const provisioner = options.provisionerFor(row.provisioner);
      if (!provisioner) {
        summary.rowsExpired++;
        fail(`allocation ${row.id}: unknown provisioner "${row.provisioner}"`);
        continue;
      }
      try {
        const result = await provisioner.release(em.fork(), row.id, 'EXPIRED', { expiredBefore: now });
        if (result.notExpired) continue;
        summary.rowsExpired++;
        if (result.alreadyReleased) summary.rowsAlreadyReleased++;
        else summary.rowsReleased++;
      } catch (err) {
        summary.rowsExpired++;
        const message = err instanceof Error ? err.message : String(err);
        fail(`allocation ${row.id}: ${message}`);
        options.log?.error({ allocationId: row.id, err: message }, 'auto-release: release failed');
      }
    }
    if (rows.length < batchSize) break;
  }
  if (unlisted > 0) summary.errors.push(`…and ${unlisted} more allocations that could not be released`);
  const window = expiryWarningWindow(options.expiryWarningHours ?? 0, now);
  if (!options.signal?.aborted && window) summary.expiryWarnings = await enqueueExpiryWarnings(em, window);
  if (!options.signal?.aborted && options.creditPolicy) {
    summary.credit = await watchCredit(em, {
      ...options.creditPolicy,
      now,
      provisionerFor: options.provisionerFor,
      signal: options.signal,
      log: options.log,
    });
  }
  options.log?.info(summary, 'auto-release done');
  return summary;
}

/**
 * One `allocation.expiring` outbox event per ACTIVE allocation ending in `window` that has none
 * yet for its current end (dedupe key `allocation.expiring:<id>:<expiresAt epoch ms>`, so an
 * allocation re-dated by a plan renewal is warned again before its new end). Returns how many
 * were written.
 */
export async function enqueueExpiryWarnings(em: EntityManager, window: ExpiryWarningWindow): Promise<number> {
  return enqueueSelected(
    em,
    ALLOCATION_EXPIRING_TOPIC,
    sql<{ payload: unknown; dedupe_key: string }>`
      select jsonb_build_object(
               'allocationId', a.id, 'userId', a.user_id, 'email', u.email, 'poolVmId', a.pool_vm_id,
               'cockpitUrl', a.cockpit_url, 'expiresAt', a.expires_at) as payload,
             ${`${ALLOCATION_EXPIRING_TOPIC}:`} || a.id || ':' || floor(extract(epoch from a.expires_at) * 1000)::bigint
               as dedupe_key
        from vm_allocation a join users u on u.id = a.user_id
       where a.status = 'ACTIVE' and a.expires_at >= ${window.from} and a.expires_at < ${window.until}`,
  );
}

/** An admin's "run now" of auto-release (runJobNow: ALREADY_RUNNING, JOB_FAILED). */
export function autoReleaseNow(
  em: EntityManager,
  options: Omit<AutoReleaseOptions, 'now' | 'signal'>,
): Promise<AutoReleaseSummary> {
  return runJobNow(em, AUTO_RELEASE_JOB, options.log, (runEm) => autoRelease(runEm, options));
}
