import type { EntityManager } from '@mikro-orm/postgresql';
import { rows as query, sql } from '../db/sql.ts';
import { JOB_RUN_STATUSES, type JobRunStatus } from '../entities/job-run.entity.ts';

/** Job runs by job and status, and each job's last success, as of one read. */
export interface JobRunTotals {
  /** job → status → rows (every status present, 0 when none). */
  runs: Map<string, Map<JobRunStatus, number>>;
  /** job → `finished_at` of its latest SUCCEEDED run (null: none yet). */
  lastSuccess: Map<string, Date | null>;
}

interface Row {
  part: 'settled' | 'open' | 'fresh' | 'max';
  job: string;
  status: JobRunStatus;
  n: number;
  last_success: Date | string | null;
  id: string | null;
}

/**
 * Counts `job_run` rows by job and status for /metrics without reading the whole table on
 * every scrape (the table keeps every tick of every job: the outbox alone adds ~17,000 rows a
 * day). Rows up to a watermark are counted once and kept here; each read looks only at the rows
 * after it (primary-key range) and at the few rows that were RUNNING when counted (they are
 * re-read until they end). The first read of a process counts the whole table once.
 *
 * The watermark trails the newest id by one read: a row whose insert was still uncommitted
 * while a later id was visible is picked up by the next read, not lost (job-run rows are
 * written in their own short transactions). Counts only grow (rows are never deleted); a
 * table that shrinks below the watermark (restored backup) restarts the count.
 */
export class JobRunCounter {
  /** Every row with id ≤ settledTo is in `settled` (or, while RUNNING, in `open`). */
  private settledTo = 0;
  /** The newest id seen by the previous read: the next read settles up to it. */
  private seenTo = 0;
  private readonly settled = new Map<string, number>();
  private readonly settledSuccess = new Map<string, number>();
  /** Settled rows that were RUNNING when counted: id → job. */
  private readonly open = new Map<number, string>();

  private reset(): void {
    this.settledTo = 0;
    this.seenTo = 0;
    this.settled.clear();
    this.settledSuccess.clear();
    this.open.clear();
  }

  async read(em: EntityManager): Promise<JobRunTotals> {
    const settleTo = this.seenTo;
    const open = [...this.open.keys()];
    const rows = await query(
      em,
      sql<Row>`select 'settled' as part, job, status::text as status, count(*)::int as n,
              max(finished_at) filter (where status = 'SUCCEEDED') as last_success, null::text as id
         from job_run where id > ${this.settledTo} and id <= ${settleTo} and status <> 'RUNNING' group by job, status
       union all
       select 'open', job, status::text, 1, case when status = 'SUCCEEDED' then finished_at end, id::text
         from job_run where (id > ${this.settledTo} and id <= ${settleTo} and status = 'RUNNING') or id = any(${open}::bigint[])
       union all
       select 'fresh', job, status::text, count(*)::int,
              max(finished_at) filter (where status = 'SUCCEEDED'), null
         from job_run where id > ${settleTo} group by job, status
       union all
       select 'max', '', 'RUNNING', 0, null, (select max(id) from job_run)::text`,
    );
    const maxId = Number(rows.find((r) => r.part === 'max')?.id ?? 0);
    if (maxId < settleTo) {
      // The table lost rows we counted (e.g. a restored backup): count it again from scratch.
      this.reset();
      return this.read(em);
    }

    const key = (job: string, status: string) => `${job}\u0000${status}`;
    const add = (map: Map<string, number>, k: string, n: number) => map.set(k, (map.get(k) ?? 0) + n);
    const later = (map: Map<string, number>, job: string, at: Date | string | null) => {
      if (at === null) return;
      const t = new Date(at).getTime();
      if (t > (map.get(job) ?? Number.NEGATIVE_INFINITY)) map.set(job, t);
    };
    const fresh = new Map<string, number>();
    const freshSuccess = new Map<string, number>();
    const running = new Map<string, number>();
    for (const row of rows) {
      if (row.part === 'settled') {
        add(this.settled, key(row.job, row.status), row.n);
        later(this.settledSuccess, row.job, row.last_success);
      } else if (row.part === 'open') {
        const id = Number(row.id);
        if (row.status === 'RUNNING') {
          this.open.set(id, row.job);
          add(running, key(row.job, row.status), 1);
        } else {
          this.open.delete(id);
          add(this.settled, key(row.job, row.status), 1);
          later(this.settledSuccess, row.job, row.last_success);
        }
      } else if (row.part === 'fresh') {
        add(fresh, key(row.job, row.status), row.n);
        later(freshSuccess, row.job, row.last_success);
      }
    }
    this.settledTo = settleTo;
    this.seenTo = maxId;

    const totals: JobRunTotals = { runs: new Map(), lastSuccess: new Map() };
    for (const source of [this.settled, running, fresh]) {
      for (const [k, n] of source) {
        const [job, status] = k.split('\u0000') as [string, JobRunStatus];
        let byStatus = totals.runs.get(job);
        if (!byStatus) {
          byStatus = new Map(JOB_RUN_STATUSES.map((s) => [s, 0]));
          totals.runs.set(job, byStatus);
        }
        byStatus.set(status, (byStatus.get(status) ?? 0) + n);
      }
    }
    for (const job of totals.runs.keys()) {
      const t = Math.max(
        this.settledSuccess.get(job) ?? Number.NEGATIVE_INFINITY,
        freshSuccess.get(job) ?? Number.NEGATIVE_INFINITY,
      );
      totals.lastSuccess.set(job, Number.isFinite(t) ? new Date(t) : null);
    }
    return totals;
  }
}
