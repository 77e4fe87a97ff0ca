import type { EntityManager } from '@mikro-orm/postgresql';
import { JobRun } from '../entities/job-run.entity.ts';

/** Newest first; `job` filters by job name. */
export function pageJobRuns(
  em: EntityManager,
  filter: { job?: string },
  limit: number,
  offset: number,
): Promise<JobRun[]> {
  return em.find(JobRun, filter.job ? { job: filter.job } : {}, {
    orderBy: { startedAt: 'desc', id: 'desc' },
    limit,
    offset,
  });
}
