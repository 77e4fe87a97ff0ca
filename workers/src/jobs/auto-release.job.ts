import { AUTO_RELEASE_JOB, type AutoReleaseSummary, autoRelease } from '@hero/core/allocation/auto-release';
import { planRenewalWindowHours } from '@hero/core/billing/auto-renew';
import { creditPolicyOf } from '@hero/core/billing/credit-policy';
import { loadPlanCatalog } from '@hero/core/billing/plans';
import { ConfigError } from '@hero/core/lib/env';
import { provisionerNamed } from '@hero/core/provisioners/registry';
import { tickTiming } from '../config.ts';
import type { Job } from '../runtime/job.ts';

/**
 * The auto-release worker: each tick first renews the plan periods that are due (auto-renew on
 * and the balance covers: `plan.renewed`; otherwise one `plan.expiring`), then releases the
 * allocations whose `expiresAt` has passed (reason EXPIRED, through the provisioner that made
 * each one, so a pool VM's release reaches the deployer through the outbox) and writes one
 * `allocation.expiring` event per allocation entering the EXPIRY_WARNING_HOURS window; last it
 * watches every balance (balance.low / balance.negative once per episode, CREDIT_EXHAUSTED
 * releases after NEGATIVE_BALANCE_GRACE_HOURS). A stop request ends the tick after the item in
 * hand.
 */
export const autoReleaseJob: Job<AutoReleaseSummary> = {
  name: AUTO_RELEASE_JOB,
  timing: (config) => tickTiming(config, ['AUTO_RELEASE_INTERVAL_MS', 'AUTO_RELEASE_SCHEDULE']),
  checkConfig: (config) => {
    try {
      loadPlanCatalog(config);
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
  },
  describeConfig: (config) => ({
    batchSize: config.AUTO_RELEASE_BATCH_SIZE,
    expiryWarningHours: config.EXPIRY_WARNING_HOURS,
    credit: creditPolicyOf(config),
    renewalWindowHours: planRenewalWindowHours(config.EXPIRY_WARNING_HOURS),
  }),
  run: ({ em, config, log, signal }) =>
    autoRelease(em, {
      provisionerFor: (name) => provisionerNamed(name),
      batchSize: config.AUTO_RELEASE_BATCH_SIZE,
      expiryWarningHours: config.EXPIRY_WARNING_HOURS,
      creditPolicy: creditPolicyOf(config),
      // Read each tick: a changed PLANS_FILE prices the next renewals (checked at start-up).
      renewals: { catalog: loadPlanCatalog(config) },
      signal,
      log,
    }),
};
