import type { Job } from '../runtime/job.ts';
import { releaseOutboxJob } from './release-outbox.job.ts';

/** Every job a worker process can run, by CLI name (`workers/src/main.ts <job>`). */
export const jobs: Record<string, Job<object>> = {
  [releaseOutboxJob.name]: releaseOutboxJob,
};
