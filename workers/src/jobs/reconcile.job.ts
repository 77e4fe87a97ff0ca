import { applyAuditRetention } from '@hero/core/audit/audit-log';
import { RECONCILE_JOB, type ReconcileSummary, reconcileBalances } from '@hero/core/billing/reconcile';
import { tickTiming } from '../config.ts';
import type { Job } from '../runtime/job.ts';

/**
 * The reconciliation worker: each tick recomputes every balance from the ledger and records the
 * drift in the run's summary (read by the admin overview and the api's /metrics); it never
 * changes a balance. Being daily, it also applies the audit log's retention
 * (AUDIT_RETENTION_DAYS): `auditPurged` rows deleted.
 */
export const reconcileJob: Job<ReconcileSummary & { auditPurged: number }> = {
  name: RECONCILE_JOB,
  timing: (config) => tickTiming(config, ['RECONCILE_INTERVAL_MS', 'RECONCILE_SCHEDULE']),
  run: async ({ em, log, config }) => {
    const summary = await reconcileBalances(em, log);
    const auditPurged = await applyAuditRetention(em, config.AUDIT_RETENTION_DAYS);
    if (auditPurged > 0)
      log.info({ auditPurged, days: config.AUDIT_RETENTION_DAYS }, 'audit log rows purged');
    return { ...summary, auditPurged };
  },
};
