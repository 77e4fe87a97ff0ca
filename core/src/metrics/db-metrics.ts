import type { EntityManager } from '@mikro-orm/postgresql';
import {
  Gauge,
  type LabelValues,
  type MetricObjectWithValues,
  type MetricValue,
  type Registry,
} from 'prom-client';
import { type LedgerHealth, loadLedgerHealth } from '../admin/overview.ts';
import { rows as query, sql } from '../db/sql.ts';
import type { JobRunStatus } from '../entities/job-run.entity.ts';
import { EMAIL_TOPIC } from '../outbox/email-events.ts';
import { VM_RELEASE_TOPIC } from '../outbox/enqueue.ts';
import { NOTIFY_TOPICS } from '../outbox/notify-events.ts';
import { AGGREGATE_JOB } from '../usage/aggregate-usage.ts';
import { JobRunCounter, type JobRunTotals } from './job-run-counts.ts';

/** `hero_pool_vms{status}`: every pool VM in exactly one of these. */
export const POOL_STATES = ['free', 'allocated', 'maintenance', 'retired'] as const;
/** Outbox topics always reported (0 when none); others appear when they have events. */
const KNOWN_TOPICS = [VM_RELEASE_TOPIC, ...NOTIFY_TOPICS, EMAIL_TOPIC];

/** What one scrape reads from the database (the same on every replica). */
export interface DbSnapshot {
  pool: Map<string, number>;
  allocationsActive: number;
  /** currency → { sum of balances, billing accounts }. */
  balances: Map<string, { cents: number; accounts: number }>;
  usage: {
    recordsApplied: number;
    filesApplied: number;
    nodes: number;
    nodesFailing: number;
    /** ignoredFiles of the last SUCCEEDED aggregation run (-1: none yet). */
    ignoredFiles: number;
  };
  /** topic → { PENDING, FAILED }. */
  outbox: Map<string, { pending: number; failed: number }>;
  /** Age of the oldest PENDING event (0: none). */
  outboxOldestPendingSeconds: number;
  jobs: JobRunTotals;
  ledger: LedgerHealth;
}

interface SnapshotRow {
  m: string;
  k: string;
  v: string | number | null;
  w: string | number | null;
}

/**
 * Every figure but the job runs and the ledger in one statement. Each part is cheap: pool_vm
 * and aggregator_node_state are small (operator's VMs, grid nodes); active allocations come
 * from the partial unique index on ACTIVE rows; pending outbox events from the partial
 * `outbox_pending_index`. Records applied is the aggregator's own running total
 * (`aggregator_node_state.records_consumed_total`, kept in the apply transaction), not a count
 * of `consumed_record`; FAILED outbox events from the partial `outbox_failed_index`. The
 * billing sum reads one row per user (it grows with users, not with usage or ticks). Ignored
 * files come from the last aggregation run's summary (the job_run (job, started_at) index).
 */
const SNAPSHOT_SQL = sql<SnapshotRow>`
select 'pool' as m,
       case when active_allocation_id is not null then 'allocated'
            when status = 'AVAILABLE' then 'free'
            when status = 'MAINTENANCE' then 'maintenance'
            else 'retired' end as k,
       count(*)::float8 as v, null::float8 as w
  from pool_vm group by 2
union all
select 'active', '', count(*)::float8, null from vm_allocation where status = 'ACTIVE'
union all
select 'balance', currency, coalesce(sum(credit_balance_cents), 0)::float8, count(*)::float8
  from billing group by currency
union all
select 'usage', '', coalesce(sum(records_consumed_total), 0)::float8, coalesce(sum(files_total), 0)::float8
  from aggregator_node_state
union all
select 'nodes', '', count(*)::float8, (count(*) filter (where last_error is not null))::float8
  from aggregator_node_state
union all
select 'ignored', '', coalesce((select (summary->>'ignoredFiles')::float8 from job_run
                                 where job = ${AGGREGATE_JOB} and status = 'SUCCEEDED' and summary->>'ignoredFiles' is not null
                                 order by started_at desc, id desc limit 1), -1), null
union all
select 'outbox_pending', topic, count(*)::float8,
       extract(epoch from (now() - min(created_at)))::float8
  from outbox where status = 'PENDING' group by topic
union all
select 'outbox_failed', topic, count(*)::float8, null from outbox where status = 'FAILED' group by topic`;

/** Reads the snapshot: three statements, one after the other (one connection at a time). */
export async function loadDbSnapshot(em: EntityManager, jobRuns: JobRunCounter): Promise<DbSnapshot> {
  const rows = await query(em, SNAPSHOT_SQL);
  const jobs = await jobRuns.read(em);
  const ledger = await loadLedgerHealth(em);
  const snapshot: DbSnapshot = {
    pool: new Map(POOL_STATES.map((s) => [s, 0])),
    allocationsActive: 0,
    balances: new Map(),
    usage: { recordsApplied: 0, filesApplied: 0, nodes: 0, nodesFailing: 0, ignoredFiles: -1 },
    outbox: new Map(KNOWN_TOPICS.map((t) => [t, { pending: 0, failed: 0 }])),
    outboxOldestPendingSeconds: 0,
    jobs,
    ledger,
  };
  const topic = (name: string) => {
    let entry = snapshot.outbox.get(name);
    if (!entry) {
      entry = { pending: 0, failed: 0 };
      snapshot.outbox.set(name, entry);
    }
    return entry;
  };
  for (const row of rows) {
    const v = Number(row.v ?? 0);
    const w = Number(row.w ?? 0);
    switch (row.m) {
      case 'pool':
        snapshot.pool.set(row.k, v);
        break;
      case 'active':
        snapshot.allocationsActive = v;
        break;
      case 'balance':
        snapshot.balances.set(row.k, { cents: v, accounts: w });
        break;
      case 'usage':
        snapshot.usage.recordsApplied = v;
        snapshot.usage.filesApplied = w;
        break;
      case 'nodes':
        snapshot.usage.nodes = v;
        snapshot.usage.nodesFailing = w;
        break;
      case 'ignored':
        snapshot.usage.ignoredFiles = v;
        break;
      case 'outbox_pending':
        topic(row.k).pending = v;
        snapshot.outboxOldestPendingSeconds = Math.max(snapshot.outboxOldestPendingSeconds, w);
        break;
      case 'outbox_failed':
        topic(row.k).failed = v;
        break;
    }
  }
  return snapshot;
}

type Sample<T extends string> = { labels: LabelValues<T>; value: number };

/**
 * A gauge whose samples come from the scrape's database snapshot: no samples at all when the
 * database could not be read (rather than zeros or the previous scrape's values), which
 * `hero_metrics_db_up` then reports.
 */
class SnapshotGauge<T extends string> extends Gauge<T> {
  constructor(
    config: { name: string; help: string; labelNames?: readonly T[]; registry: Registry },
    private readonly snapshot: () => Promise<DbSnapshot | null>,
    private readonly pick: (s: DbSnapshot) => Sample<T>[],
  ) {
    super({
      name: config.name,
      help: config.help,
      labelNames: config.labelNames ?? [],
      registers: [config.registry],
      // Every replica reports the same value: aggregate with max, never sum.
      aggregator: 'max',
    });
  }

  override async get(): Promise<MetricObjectWithValues<MetricValue<T>>> {
    const base = await super.get();
    const s = await this.snapshot();
    return { ...base, values: s ? this.pick(s) : [] };
  }
}

export interface DbMetricsOptions {
  /** Where the failures are logged (once per failing scrape). */
  onError?: (err: unknown) => void;
}

/**
 * Registers the database-derived gauges on `registry`. They are read at scrape time with one
 * round of queries shared by every gauge of the scrape, so every process that exposes them
 * (api replicas, workers) reports the same figures: aggregate them with max(), not sum().
 */
export function registerDbMetrics(
  registry: Registry,
  em: () => EntityManager,
  options: DbMetricsOptions = {},
): void {
  const jobRuns = new JobRunCounter();
  let pending: Promise<DbSnapshot | null> | null = null;
  let lastRead = { up: 0, seconds: 0 };
  const snapshot = () => {
    pending ??= (async () => {
      const started = performance.now();
      let s: DbSnapshot | null = null;
      try {
        s = await loadDbSnapshot(em(), jobRuns);
      } catch (err) {
        options.onError?.(err);
      }
      lastRead = { up: s ? 1 : 0, seconds: (performance.now() - started) / 1000 };
      return s;
    })().finally(() => {
      // Every gauge of this scrape asked in the same tick; the next scrape reads again.
      setImmediate(() => {
        pending = null;
      });
    });
    return pending;
  };
  new Gauge({
    name: 'hero_metrics_db_up',
    help: '1 when this scrape read the database-derived series, 0 when the database failed (those series are then absent).',
    registers: [registry],
    async collect() {
      await snapshot();
      this.set(lastRead.up);
    },
  });
  new Gauge({
    name: 'hero_metrics_db_read_seconds',
    help: 'How long this scrape took to read the database-derived series.',
    registers: [registry],
    async collect() {
      await snapshot();
      this.set(lastRead.seconds);
    },
  });

  const gauge = <T extends string>(
    name: string,
    help: string,
    labelNames: readonly T[],
    pick: (s: DbSnapshot) => Sample<T>[],
  ) => new SnapshotGauge<T>({ name, help, labelNames, registry }, snapshot, pick);
  const one = (value: number) => [{ labels: {}, value }];

  gauge(
    'hero_pool_vms',
    'Pool VMs by state: free (AVAILABLE, unallocated), allocated, maintenance, retired.',
    ['status'],
    (s) => [...s.pool].map(([status, value]) => ({ labels: { status }, value })),
  );
  gauge('hero_allocations_active', 'ACTIVE VM allocations.', [], (s) => one(s.allocationsActive));
  gauge('hero_balance_total_cents', 'Sum of all credit balances, in cents, by currency.', ['currency'], (s) =>
    [...s.balances].map(([currency, b]) => ({ labels: { currency }, value: b.cents })),
  );
  gauge('hero_balance_accounts', 'Billing accounts (users with a balance), by currency.', ['currency'], (s) =>
    [...s.balances].map(([currency, b]) => ({ labels: { currency }, value: b.accounts })),
  );
  gauge(
    'hero_usage_records_applied',
    'Usage records debited since the start (sum of the aggregator nodes’ records_consumed_total).',
    [],
    (s) => one(s.usage.recordsApplied),
  );
  gauge('hero_usage_files_applied', 'Usage files applied since the start, over every node.', [], (s) =>
    one(s.usage.filesApplied),
  );
  gauge('hero_usage_nodes', 'Grid nodes the aggregator knows.', [], (s) => one(s.usage.nodes));
  gauge(
    'hero_usage_nodes_failing',
    'Nodes whose last aggregation failed (halted until a run applies them).',
    [],
    (s) => one(s.usage.nodesFailing),
  );
  gauge(
    'hero_usage_ignored_files',
    'Files and folders under nodes/ in the billing repository that are not read as usage (misnamed, misplaced, a badly named node directory), at the last successful aggregation (-1: none yet).',
    [],
    (s) => one(s.usage.ignoredFiles),
  );
  gauge('hero_outbox_backlog', 'Outbox events waiting for delivery (PENDING), by type.', ['type'], (s) =>
    [...s.outbox].map(([type, o]) => ({ labels: { type }, value: o.pending })),
  );
  gauge(
    'hero_outbox_failed',
    'Outbox events given up after OUTBOX_MAX_ATTEMPTS (FAILED: never delivered), by type.',
    ['type'],
    (s) => [...s.outbox].map(([type, o]) => ({ labels: { type }, value: o.failed })),
  );
  gauge(
    'hero_outbox_oldest_pending_age_seconds',
    'Age of the oldest PENDING outbox event (0: none).',
    [],
    (s) => one(s.outboxOldestPendingSeconds),
  );
  gauge(
    'hero_job_runs',
    'Job runs recorded in job_run (every replica, scheduled and manual), by job and status.',
    ['job_name', 'status'],
    (s) =>
      [...s.jobs.runs].flatMap(([job_name, byStatus]) =>
        [...byStatus].map(([status, value]: [JobRunStatus, number]) => ({
          labels: { job_name, status },
          value,
        })),
      ),
  );
  gauge(
    'hero_job_last_success_timestamp_seconds',
    'When the latest SUCCEEDED run of each job finished (Unix time; 0: never).',
    ['job_name'],
    (s) =>
      [...s.jobs.lastSuccess].map(([job_name, at]) => ({
        labels: { job_name },
        value: at ? at.getTime() / 1000 : 0,
      })),
  );
  gauge(
    'hero_ledger_drift_users',
    'Users whose balance differs from the sum of their ledger rows, at the last reconciliation (-1: never run).',
    [],
    (s) => one(s.ledger.usersDrifted ?? -1),
  );
  gauge(
    'hero_ledger_drift_cents',
    'Sum of |balance - ledger| over all users, at the last reconciliation (-1: never run).',
    [],
    (s) => one(s.ledger.totalDriftCents ?? -1),
  );
  gauge(
    'hero_ledger_last_check_timestamp_seconds',
    'When the last reconciliation finished (0: never).',
    [],
    (s) => one(s.ledger.lastCheckedAt ? s.ledger.lastCheckedAt.getTime() / 1000 : 0),
  );
}
