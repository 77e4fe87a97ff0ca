import type { JobTrigger } from '@hero/core/entities/job-run.entity';
import { type JobOutcome, runWithJobLock } from '@hero/core/jobs/run-with-job-lock';
import type { Logger } from '@hero/core/lib/logger';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { WorkerConfig } from '../config.ts';
import type { Job } from './job.ts';

export interface RunJobDeps {
  config: WorkerConfig;
  /** The process logger; the job gets a child with `job`. */
  log: Logger;
  /** Aborted on shutdown; default never. */
  signal?: AbortSignal;
}

/**
 * One tick of a job: under the job's advisory lock, recorded as a job-run row (SKIPPED when
 * another replica or an admin "run now" holds the lock). Job errors come back as a FAILED
 * outcome; only a database failure around the run is thrown.
 */
export function runJobOnce<S extends object>(
  orm: MikroORM,
  job: Job<S>,
  trigger: JobTrigger,
  deps: RunJobDeps,
): Promise<JobOutcome<S>> {
  const log = deps.log.child({ job: job.name });
  const signal = deps.signal ?? new AbortController().signal;
  return runWithJobLock(orm.em, { job: job.name, trigger, log }, (em, handle) =>
    job.run({
      em,
      config: deps.config,
      log: log.child({ runId: handle.runId }),
      trigger,
      signal,
      progress: handle.progress,
    }),
  );
}
