import { AGGREGATE_JOB, type AggregateSummary, aggregateUsage } from '@hero/core/usage/aggregate-usage';
import { createUsageSource, usageSourceKind } from '@hero/core/usage/sources/source-config';
import type { UsageSource } from '@hero/core/usage/sources/usage-source';
import { tickTiming, type WorkerConfig } from '../config.ts';
import type { Job } from '../runtime/job.ts';

let source: UsageSource | null = null;

/** The configured billing repository (one per process, shared by the ticks and /readyz). */
function sourceFor(config: WorkerConfig): UsageSource {
  source ??= createUsageSource(config);
  if (!source) throw new Error('no usage source configured');
  return source;
}

/**
 * The aggregator worker: each tick reads the billing repository (git or forge) and debits every
 * new usage record exactly once; nodes whose latest commit was already applied are skipped.
 * Shares its run lock with `aggregateNow`. A stop request ends the tick after the batch in hand;
 * the next tick goes on from there.
 */
export const aggregateJob: Job<AggregateSummary> = {
  name: AGGREGATE_JOB,
  timing: (config) => tickTiming(config, ['AGGREGATE_INTERVAL_MS', 'AGGREGATE_SCHEDULE']),
  checkConfig: (config) =>
    usageSourceKind(config)
      ? []
      : [
          'no usage source: set USAGE_SOURCE=git with BILLING_GIT_URL, or USAGE_SOURCE=forge with FORGE_URL, FORGE_TOKEN and BILLING_REPO',
        ],
  describeConfig: (config) => ({
    source: usageSourceKind(config),
    branch: config.BILLING_BRANCH,
    batchSize: config.AGGREGATE_BATCH_SIZE,
  }),
  readiness: (config) => [
    {
      // The forge (USAGE_SOURCE=forge: one GET of the repository) or the git repository.
      name: usageSourceKind(config) === 'forge' ? 'forge' : 'billingRepository',
      check: async (signal) => {
        await sourceFor(config).check?.(signal);
      },
    },
  ],
  run: ({ em, config, log, signal, progress }) => {
    return aggregateUsage(em, {
      source: sourceFor(config),
      batchSize: config.AGGREGATE_BATCH_SIZE,
      signal,
      log,
      onProgress: (p) => progress({ ...p }),
    });
  },
};
