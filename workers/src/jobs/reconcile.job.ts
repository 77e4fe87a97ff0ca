import { RECONCILE_JOB, type ReconcileSummary, reconcileBalances } from '@hero/core/billing/reconcile';
import { tickTiming } from '../config.ts';
import type { Job } from '../runtime/job.ts';

/**
 * The reconciliation worker: each tick recomputes every balance from the ledger and records the
 * drift in the run's summary (read by the admin overview and the api's /metrics); it never
 * changes a balance.
 */
export const reconcileJob: Job<ReconcileSummary> = {
  name: RECONCILE_JOB,
  timing: (config) => tickTiming(config, ['RECONCILE_INTERVAL_MS', 'RECONCILE_SCHEDULE']),
  run: ({ em, log }) => reconcileBalances(em, log),
};
