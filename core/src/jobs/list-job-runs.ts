import type { EntityManager } from '@mikro-orm/postgresql';
import { rows, sql } from '../db/sql.ts';
import { JobRun, type JobRunStatus } from '../entities/job-run.entity.ts';

/**
 * A quiet run: a scheduled tick that did nothing. Either SKIPPED (another run held the lock) or
 * SUCCEEDED with a summary in which, once the counters of what it looked at rather than what it
 * did are left out (`nodesSeen`, `rowsExamined`, …), every number at any depth is 0, every list
 * is empty and no flag is true. Failures, runs still going and manual runs are never quiet.
 * `job_run.quiet` is that, a column PostgreSQL generates (its migration has the definition), so
 * that leaving out or counting a million quiet runs is an index scan.
 */
const QUIET = sql<boolean>`quiet`;

/** Runs that want an operator's eye first: failures, runs in progress and manual runs of the last day. */
const NOTABLE = sql<boolean>`((status in ('FAILED', 'RUNNING') or trigger = 'MANUAL')
  and started_at > now() - interval '1 day')`;

export interface JobRunFilter {
  job?: string;
  status?: JobRunStatus;
  /** true: only quiet runs; false: leave them out; unset: every run. */
  quiet?: boolean;
}

function where(filter: JobRunFilter) {
  const parts = [sql`true`];
  if (filter.job) parts.push(sql`job = ${filter.job}`);
  if (filter.status) parts.push(sql`status = ${filter.status}`);
  if (filter.quiet === true) parts.push(QUIET);
  if (filter.quiet === false) parts.push(sql`not ${QUIET}`);
  return sql.join(parts, sql` and `);
}

/**
 * Newest first, filtered by job, status and quietness. `notableFirst` puts the last day's
 * failures, running and manual runs ahead of the rest (each group newest first), so a failure
 * is on the first page however busy the frequent jobs are.
 */
export async function pageJobRuns(
  em: EntityManager,
  filter: JobRunFilter,
  limit: number,
  offset: number,
  options: { notableFirst?: boolean } = {},
): Promise<JobRun[]> {
  const order = options.notableFirst
    ? sql`${NOTABLE} desc, started_at desc, id desc`
    : sql`started_at desc, id desc`;
  const ids = await rows(
    em,
    sql<{ id: string }>`select id from job_run where ${where(filter)}
      order by ${order} limit ${limit} offset ${offset}`,
  );
  if (ids.length === 0) return [];
  const found = await em.find(JobRun, { id: { $in: ids.map((r) => Number(r.id)) } });
  const byId = new Map(found.map((r) => [r.id, r]));
  return ids.flatMap((r) => byId.get(Number(r.id)) ?? []);
}

/** Per job (with `filter`'s job and status), how many quiet runs there are; jobs without any are left out. */
export async function countQuietJobRuns(
  em: EntityManager,
  filter: Omit<JobRunFilter, 'quiet'>,
): Promise<{ job: string; quietRuns: number }[]> {
  const found = await rows(
    em,
    sql<{ job: string; n: string }>`select job, count(*) as n from job_run
      where ${where({ ...filter, quiet: true })} group by job order by job`,
  );
  return found.map((r) => ({ job: r.job, quietRuns: Number(r.n) }));
}
