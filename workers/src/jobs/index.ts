import type { Job } from '../runtime/job.ts';

export interface JobEntry {
  /** One line for `--help`. */
  description: string;
  /** Loaded on demand, so a usage error answers without loading the ORM and the job's code. */
  load(): Promise<Job<object>>;
}

/** Every job a worker process can run, by CLI name (`workers/src/main.ts <job>`): the job's `name`. */
export const jobs: Record<string, JobEntry> = {
  'auto-release': {
    description:
      'releases expired allocations (reason EXPIRED) and writes allocation.expiring warnings; default every hour',
    load: async () => (await import('./auto-release.job.ts')).autoReleaseJob,
  },
  aggregate: {
    description:
      'debits new usage records from the billing repository (USAGE_SOURCE git|forge) exactly once; default every 5 minutes',
    load: async () => (await import('./aggregate.job.ts')).aggregateJob,
  },
  reconcile: {
    description:
      'recomputes every balance from the ledger and records any drift (changes nothing); default daily',
    load: async () => (await import('./reconcile.job.ts')).reconcileJob,
  },
  outbox: {
    description:
      'delivers outbox events: vm.release → deployer POST /admin/release-vm (a logging stub without DEPLOYER_URL), user events → NOTIFY_WEBHOOK_URL, their emails → SMTP_URL',
    load: async () => (await import('./release-outbox.job.ts')).releaseOutboxJob,
  },
};
