import type { EntityManager } from '@mikro-orm/postgresql';
import { rows, sql } from '../db/sql.ts';
import { JobRun, type JobRunStatus } from '../entities/job-run.entity.ts';

/**
 * Summary keys that count what a run looked at rather than what it did: a tick that saw ten
 * nodes and skipped all ten, or checked every balance and found no drift, did nothing.
 */
export const OBSERVED_SUMMARY_KEYS = [
  'nodesSeen',
  'nodesSkipped',
  'rowsExamined',
  'ignoredFiles',
  'ignoredFileList',
  'usersChecked',
  'usageUsersChecked',
  'creditReleaseSkipped',
] as const;

/**
 * A quiet run: a scheduled tick that did nothing. Either SKIPPED (another run held the lock) or
 * SUCCEEDED with a summary in which, once the observed counters are left out, every number at
 * any depth is 0, every list is empty and no flag is true. Failures, runs still going and
 * manual runs are never quiet.
 */
const QUIET = sql<boolean>`(trigger = 'SCHEDULE' and (status = 'SKIPPED' or (status = 'SUCCEEDED'
  and (summary is null or jsonb_typeof(summary) <> 'object'
    or not jsonb_path_exists(summary - ${sql.raw(`array[${OBSERVED_SUMMARY_KEYS.map((k) => `'${k}'`).join(', ')}]`)},
      'strict $.** ? ((@.type() == "number" && @ != 0) || (@.type() == "array" && @.size() > 0) || @ == true)')))))`;

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
