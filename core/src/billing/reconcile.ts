import type { EntityManager } from '@mikro-orm/postgresql';
import { runJobNow } from '../jobs/run-with-job-lock.ts';
import type { Logger } from '../lib/logger.ts';
import { checkLedger, checkUsageLedger, type LedgerCheck, type UsageLedgerCheck } from './ledger.ts';

export const RECONCILE_JOB = 'reconcile';
/** Drifted users listed in a run's summary (the counts cover all of them). */
export const RECONCILE_LISTED = 20;

export type ReconcileSummary = LedgerCheck & UsageLedgerCheck;

/**
 * The reconciliation run: recomputes every balance from the ledger, and every user's usage
 * debits from their consumed records, and reports the drift in its summary (and at warn level),
 * without changing anything: a drift is for an operator to look into, not for a job to paper over.
 */
export async function reconcileBalances(em: EntityManager, log?: Logger): Promise<ReconcileSummary> {
  const check = {
    ...(await checkLedger(em, RECONCILE_LISTED)),
    ...(await checkUsageLedger(em, RECONCILE_LISTED)),
  };
  if (check.usageUsersDrifted > 0) {
    log?.warn(
      { usageUsersDrifted: check.usageUsersDrifted, usageTotalDriftCents: check.usageTotalDriftCents },
      'usage drift: usage debited on the ledger differs from the sum of consumed records',
    );
  }
  if (check.usersDrifted > 0 || check.chainBreaks > 0) {
    log?.warn(
      {
        usersDrifted: check.usersDrifted,
        totalDriftCents: check.totalDriftCents,
        chainBreaks: check.chainBreaks,
      },
      'ledger drift: balances differ from the sum of their ledger rows',
    );
  }
  return check;
}

/** Admin "run now" of the reconciliation (runJobNow: ALREADY_RUNNING, JOB_FAILED). */
export function reconcileBalancesNow(em: EntityManager, log?: Logger): Promise<ReconcileSummary> {
  return runJobNow(em, RECONCILE_JOB, log, (runEm) => reconcileBalances(runEm, log));
}
