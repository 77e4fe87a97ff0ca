import { EntityRepository } from '@mikro-orm/postgresql';
import type { JobRun } from '../entities/job-run.entity.ts';

export class JobRunRepository extends EntityRepository<JobRun> {
  /** Newest first; `job` filters by job name. */
  page(filter: { job?: string }, limit: number, offset: number): Promise<JobRun[]> {
    return this.find(filter.job ? { job: filter.job } : {}, {
      orderBy: { startedAt: 'desc', id: 'desc' },
      limit,
      offset,
    });
  }
}
