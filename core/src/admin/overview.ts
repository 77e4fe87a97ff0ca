import type { EntityManager } from '@mikro-orm/postgresql';
import { RECONCILE_JOB } from '../billing/reconcile.ts';
import { firstRow, rows, sql } from '../db/sql.ts';
import { AGGREGATE_JOB } from '../usage/aggregate-usage.ts';

export interface FailingNode {
  nodeName: string;
  lastError: string;
  lastRunAt: Date | null;
}

export interface Overview {
  totalUsers: number;
  /** Sum of every balance, in cents (may be negative: usage is debited after the fact). */
  totalBalanceCents: number;
  consumedRecords: number;
  rejectedRecords: number;
  activeAllocations: number;
  pool: { total: number; free: number; allocated: number };
  aggregator: {
    /** The last aggregation run that finished (any trigger), and how it ended. */
    lastRunAt: Date | null;
    lastRunStatus: string | null;
    lastSuccessAt: Date | null;
    failingNodes: FailingNode[];
  };
  ledger: LedgerHealth;
}

/** What the last finished reconciliation run (scheduled or manual) found. */
export interface LedgerHealth {
  lastCheckedAt: Date | null;
  lastRunStatus: string | null;
  usersDrifted: number | null;
  totalDriftCents: number | null;
  chainBreaks: number | null;
}

/** The last finished `reconcile` run (also read by the api's /metrics). */
export async function loadLedgerHealth(em: EntityManager): Promise<LedgerHealth> {
  const run = await firstRow(
    em,
    sql<{ finished_at: Date | string | null; status: string; summary: Record<string, unknown> | null }>`
      select finished_at, status, summary from job_run
       where job = ${RECONCILE_JOB} and status in ('SUCCEEDED', 'FAILED') order by started_at desc, id desc limit 1`,
  );
  const count = (key: string) =>
    typeof run?.summary?.[key] === 'number' ? (run.summary[key] as number) : null;
  return {
    lastCheckedAt: run ? toDate(run.finished_at) : null,
    lastRunStatus: run?.status ?? null,
    usersDrifted: count('usersDrifted'),
    totalDriftCents: count('totalDriftCents'),
    chainBreaks: count('chainBreaks'),
  };
}

interface OverviewRow {
  total_users: string;
  total_balance: string;
  consumed: string;
  rejected: string;
  active: string;
  pool_total: string;
  pool_free: string;
  pool_allocated: string;
  last_run_at: Date | string | null;
  last_run_status: string | null;
  last_success_at: Date | string | null;
}

const toDate = (v: Date | string | null) => (v === null ? null : new Date(v));

/**
 * The admin overview in two statements. `consumedRecords` is exact (count over the primary
 * key index): fine at millions of rows; revisit with an estimate beyond that.
 */
export async function loadOverview(em: EntityManager): Promise<Overview> {
  const row = await firstRow(
    em,
    sql<OverviewRow>`select (select count(*) from users) as total_users,
            (select coalesce(sum(credit_balance_cents), 0) from billing) as total_balance,
            (select count(*) from consumed_record) as consumed,
            (select count(*) from rejected_usage_record) as rejected,
            (select count(*) from vm_allocation where status = 'ACTIVE') as active,
            (select count(*) from pool_vm where status <> 'RETIRED') as pool_total,
            (select count(*) from pool_vm where status = 'AVAILABLE' and active_allocation_id is null) as pool_free,
            (select count(*) from pool_vm where active_allocation_id is not null) as pool_allocated,
            r.finished_at as last_run_at, r.status as last_run_status,
            (select max(finished_at) from job_run where job = ${AGGREGATE_JOB} and status = 'SUCCEEDED') as last_success_at
       from (select 1) one
       left join lateral (select finished_at, status from job_run
                           where job = ${AGGREGATE_JOB} and status in ('SUCCEEDED', 'FAILED')
                           order by started_at desc, id desc limit 1) r on true`,
  );
  if (!row) throw new Error('the overview query returned no row');
  const failing = await rows(
    em,
    sql<{ node_name: string; last_error: string; last_run_at: Date | string | null }>`
      select node_name, last_error, last_run_at from aggregator_node_state
       where last_error is not null order by node_name limit 100`,
  );
  return {
    totalUsers: Number(row.total_users),
    totalBalanceCents: Number(row.total_balance),
    consumedRecords: Number(row.consumed),
    rejectedRecords: Number(row.rejected),
    activeAllocations: Number(row.active),
    pool: {
      total: Number(row.pool_total),
      free: Number(row.pool_free),
      allocated: Number(row.pool_allocated),
    },
    aggregator: {
      lastRunAt: toDate(row.last_run_at),
      lastRunStatus: row.last_run_status,
      lastSuccessAt: toDate(row.last_success_at),
      failingNodes: failing.map((f) => ({
        nodeName: f.node_name,
        lastError: f.last_error,
        lastRunAt: toDate(f.last_run_at),
      })),
    },
    ledger: await loadLedgerHealth(em),
  };
}
