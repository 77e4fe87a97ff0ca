import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { JobAlreadyRunningError, JobFailedError, UsageSourceUnavailableError } from '../errors.ts';
import { type RunHandle, runWithJobLock } from '../jobs/run-with-job-lock.ts';
import type { Logger } from '../lib/logger.ts';
import type { UsageSource } from './sources/usage-source.ts';
import { type ParsedUsageFile, parseUsageFile, type UsageRecord, usageFileNode } from './usage-format.ts';

export interface AggregateSummary {
  /** Node directories under `nodes/` at the branch head. */
  nodesSeen: number;
  /** Nodes whose latest commit was already applied: nothing read. */
  nodesSkipped: number;
  /** Nodes halted for this tick (forge error, unreadable file); their position did not move. */
  nodesFailed: number;
  filesRead: number;
  /** Records in the files read (applied, duplicate and rejected). */
  recordsSeen: number;
  /** Records debited by this run. */
  recordsApplied: number;
  /** Records whose idempotency key was already consumed: not debited again. */
  recordsDuplicate: number;
  /** Records that cannot be applied (kept in rejected_usage_record with the reason). */
  recordsRejected: number;
  centsDebited: number;
  /** One line per failed node (capped), e.g. `node-b: HTTP 500 …`. */
  errors: string[];
}

export interface AggregateProgress {
  nodesDone: number;
  nodesTotal: number;
  filesRead: number;
  recordsApplied: number;
  recordsSeen: number;
}

export interface AggregateOptions {
  source: UsageSource;
  /** Records per apply transaction. */
  batchSize?: number;
  /** Aborted: stop after the batch in hand (the node's position is not advanced). */
  signal?: AbortSignal;
  log?: Logger;
  onProgress?: (progress: AggregateProgress) => void;
}

export const AGGREGATE_JOB = 'aggregate';
export const DEFAULT_AGGREGATE_BATCH_SIZE = 5000;
const MAX_ERROR_LINES = 100;
/** Deadlock / serialization failure: the batch is retried (two aggregators on the same keys). */
const RETRYABLE_SQLSTATES = new Set(['40P01', '40001']);
const MAX_BATCH_ATTEMPTS = 5;

export function emptyAggregateSummary(): AggregateSummary {
  return {
    nodesSeen: 0,
    nodesSkipped: 0,
    nodesFailed: 0,
    filesRead: 0,
    recordsSeen: 0,
    recordsApplied: 0,
    recordsDuplicate: 0,
    recordsRejected: 0,
    centsDebited: 0,
    errors: [],
  };
}

interface NodeStateRow {
  node_name: string;
  last_commit_sha: string | null;
}

/**
 * One aggregation pass over the billing repository, pinned to the branch head it starts from.
 *
 * Per node: skipped when the latest commit touching `nodes/<node>` equals the stored
 * `lastCommitSha`; otherwise only files whose blob sha changed since they were last applied
 * are read, parsed and applied in set-based batches, each its own transaction: one statement
 * inserts the consumed keys (`ON CONFLICT DO NOTHING RETURNING`) and debits every balance by
 * the sum of the rows it inserted, so a key is debited exactly once whoever applies it and
 * however often. A file's blob sha is recorded with its last batch; the node's commit only
 * after the whole node. A failing node is halted for the tick with `lastError`; the others go on.
 */
export async function aggregateUsage(
  em: EntityManager,
  options: AggregateOptions,
): Promise<AggregateSummary> {
  const { source, signal } = options;
  const log = options.log;
  const batchSize = options.batchSize ?? DEFAULT_AGGREGATE_BATCH_SIZE;
  const summary = emptyAggregateSummary();
  const errorLines: string[] = [];

  const head = await source.head(signal);
  if (!head) {
    log?.info({ source: source.description }, 'billing repository is empty: nothing to aggregate');
    return summary;
  }
  const nodes = (await source.listNodes(head, signal)).sort((a, b) => a.name.localeCompare(b.name));
  const names = nodes.map((n) => n.name);
  const states = new Map(
    (
      await sql<NodeStateRow>`select node_name, last_commit_sha from aggregator_node_state
                               where node_name = any(${names}::text[])`.execute(em.getKysely())
    ).rows.map((r) => [r.node_name, r]),
  );
  const progress = () =>
    options.onProgress?.({
      nodesDone: summary.nodesSkipped + summary.nodesFailed + nodesApplied,
      nodesTotal: nodes.length,
      filesRead: summary.filesRead,
      recordsApplied: summary.recordsApplied,
      recordsSeen: summary.recordsSeen,
    });
  let nodesApplied = 0;
  const knownUsers = new Set<string>();

  for (const node of nodes) {
    if (signal?.aborted) break;
    summary.nodesSeen++;
    const nodeLog = log?.child({ node: node.name });
    try {
      const commit = await source.nodeCommit(node, head, signal);
      if (states.get(node.name)?.last_commit_sha === commit) {
        await em.execute(
          'update aggregator_node_state set last_run_at = now(), last_error = null where node_name = ?',
          [node.name],
        );
        summary.nodesSkipped++;
        progress();
        continue;
      }
      await em.execute(
        'insert into aggregator_node_state (node_name) values (?) on conflict (node_name) do nothing',
        [node.name],
      );
      const listed = (await source.listFiles(node, head, signal))
        .filter((f) => usageFileNode(f.path) === node.name)
        .sort((a, b) => a.path.localeCompare(b.path));
      const applied = new Map(
        (
          await em.execute<{ path: string; blob_sha: string }[]>(
            'select path, blob_sha from usage_file_state where node_name = ?',
            [node.name],
          )
        ).map((r) => [r.path, r.blob_sha]),
      );
      const changed = listed.filter((f) => applied.get(f.path) !== f.blobSha);
      nodeLog?.debug({ commit, files: listed.length, changed: changed.length }, 'node changed');

      const batcher = new NodeBatcher(em, {
        node: node.name,
        commit: head,
        batchSize,
        knownUsers,
        onBatch: (r) => {
          summary.recordsApplied += r.applied;
          summary.recordsDuplicate += r.duplicate;
          summary.recordsRejected += r.rejected;
          summary.centsDebited += r.cents;
          progress();
        },
      });
      let interrupted = false;
      try {
        for await (const { file, content } of source.readFiles(changed, head, signal)) {
          if (signal?.aborted) {
            interrupted = true;
            break;
          }
          const parsed = parseUsageFile(content.toString('utf8'), { node: node.name, path: file.path });
          summary.filesRead++;
          summary.recordsSeen += parsed.records.length + parsed.rejected.length;
          await batcher.add(file.path, file.blobSha, parsed, signal);
        }
        if (!interrupted && !signal?.aborted) await batcher.flush();
      } finally {
        // The batch in flight always ends (committed or rolled back) before the node does.
        await batcher.settle();
      }
      if (interrupted || signal?.aborted) {
        nodeLog?.info('stopped before the node was applied whole; the next tick goes on from here');
        break;
      }
      await em.execute(
        `update aggregator_node_state
            set last_commit_sha = ?, last_run_at = now(), last_success_at = now(), last_error = null,
                files_total = (select count(*) from usage_file_state where node_name = ?)
          where node_name = ?`,
        [commit, node.name, node.name],
      );
      nodesApplied++;
      progress();
    } catch (err) {
      if (signal?.aborted && (err as Error).name === 'AbortError') break;
      summary.nodesFailed++;
      const message = (err as Error).message ?? String(err);
      errorLines.push(`${node.name}: ${message}`);
      nodeLog?.warn({ err: message }, 'node failed for this tick');
      await em.execute(
        `insert into aggregator_node_state (node_name, last_run_at, last_error) values (?, now(), ?)
         on conflict (node_name) do update set last_run_at = now(), last_error = excluded.last_error`,
        [node.name, message],
      );
      progress();
    }
  }
  summary.errors =
    errorLines.length > MAX_ERROR_LINES
      ? [...errorLines.slice(0, MAX_ERROR_LINES), `…and ${errorLines.length - MAX_ERROR_LINES} more`]
      : errorLines;
  return summary;
}

interface BatchResult {
  applied: number;
  duplicate: number;
  rejected: number;
  cents: number;
}

interface PendingFile {
  path: string;
  blobSha: string;
  records: number;
}

export interface Batch {
  records: UsageRecord[];
  /** The file each record comes from (same index). */
  paths: string[];
  rejected: (ParsedUsageFile['rejected'][number] & { path: string })[];
  /** Files whose last records are in this batch: recorded as applied with it. */
  files: PendingFile[];
}

const emptyBatch = (): Batch => ({ records: [], paths: [], rejected: [], files: [] });

/**
 * Gathers a node's records into batches of about `batchSize` (whole files where they fit; a
 * bigger file is split, its blob sha recorded with its last part) and applies them one
 * transaction each, the next batch being parsed while the previous one is applied.
 */
export class NodeBatcher {
  private pending = emptyBatch();
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly em: EntityManager,
    private readonly opts: {
      node: string;
      commit: string;
      batchSize: number;
      knownUsers: Set<string>;
      onBatch(result: BatchResult): void;
    },
  ) {}

  async add(path: string, blobSha: string, parsed: ParsedUsageFile, signal?: AbortSignal): Promise<void> {
    const { records, rejected } = parsed;
    const size = this.opts.batchSize;
    for (let at = 0; at < records.length || at === 0; at += size) {
      const part = records.slice(at, at + size);
      const last = at + size >= records.length;
      for (const r of part) {
        this.pending.records.push(r);
        this.pending.paths.push(path);
      }
      if (last) {
        for (const r of rejected) this.pending.rejected.push({ ...r, path });
        this.pending.files.push({ path, blobSha, records: records.length + rejected.length });
      }
      if (this.pending.records.length >= size) await this.flush();
      if (!last && signal?.aborted) return;
    }
  }

  /** Starts applying what is pending once the previous batch is done; rethrows that batch's failure. */
  async flush(): Promise<void> {
    await this.inFlight;
    const batch = this.pending;
    if (batch.records.length === 0 && batch.rejected.length === 0 && batch.files.length === 0) return;
    this.pending = emptyBatch();
    const applying = applyBatch(this.em, { ...this.opts, batch }).then((r) => this.opts.onBatch(r));
    applying.catch(() => {}); // surfaced by the next flush() or settle()
    this.inFlight = applying;
  }

  /** Waits for the batch in flight; rethrows its failure. */
  async settle(): Promise<void> {
    await this.inFlight;
  }
}

interface ApplyBatchInput {
  node: string;
  commit: string;
  knownUsers: Set<string>;
  batch: Batch;
}

async function applyBatch(em: EntityManager, input: ApplyBatchInput): Promise<BatchResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await em.transactional((tx) => applyBatchOnce(tx, input));
    } catch (err) {
      const code =
        (err as { code?: string; cause?: { code?: string } }).code ??
        (err as { cause?: { code?: string } }).cause?.code;
      if (code && RETRYABLE_SQLSTATES.has(code) && attempt < MAX_BATCH_ATTEMPTS) continue;
      throw err;
    }
  }
}

function fingerprint(path: string, record: unknown, reason: string): string {
  return createHash('sha256')
    .update(`${path}\0${JSON.stringify(record)}\0${reason}`)
    .digest('hex');
}

function recordForRejection(r: UsageRecord): Record<string, unknown> {
  return {
    idempotency_key: r.idempotencyKey,
    user_id: r.userId,
    allocation_id: r.allocationId,
    node_name: r.nodeName,
    resource: r.resource,
    quantity: r.quantity,
    cost_cents: r.costCents,
    period_start: r.periodStart.toISOString(),
    period_end: r.periodEnd.toISOString(),
  };
}

/**
 * One batch, one transaction: consumed keys inserted and balances debited by the rows actually
 * inserted (one statement), rejected records kept, finished files recorded. Committed without
 * waiting for the WAL flush (`synchronous_commit = off`): a database crash may lose the last
 * batches whole (keys, debits and file states together), and the next run applies them again;
 * exactly-once holds because they are one transaction.
 */
async function applyBatchOnce(tx: EntityManager, input: ApplyBatchInput): Promise<BatchResult> {
  const db = tx.getKysely();
  const { batch, node } = input;
  await sql`set local synchronous_commit = off`.execute(db);
  // Unknown users: looked up once per run (a user is not deleted while their records are applied).
  const unseen = [...new Set(batch.records.map((r) => r.userId))].filter((u) => !input.knownUsers.has(u));
  if (unseen.length > 0) {
    const found = await sql<{
      id: string;
    }>`select id::text from users where id = any(${unseen}::uuid[])`.execute(db);
    for (const row of found.rows) input.knownUsers.add(row.id);
  }
  const rejected = [...batch.rejected];
  const order: number[] = [];
  for (let i = 0; i < batch.records.length; i++) {
    const r = batch.records[i];
    if (input.knownUsers.has(r.userId)) order.push(i);
    else {
      rejected.push({
        idempotencyKey: r.idempotencyKey,
        userId: r.userId,
        reason: `unknown user ${r.userId}`,
        record: recordForRejection(r),
        path: batch.paths[i],
      });
    }
  }
  // Same order in every transaction: two aggregators on overlapping keys wait instead of deadlocking.
  const keyOf = (i: number) => batch.records[i].idempotencyKey;
  order.sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));

  let applied = 0;
  let cents = 0;
  if (order.length > 0) {
    const n = order.length;
    const keys = new Array<string>(n);
    const users = new Array<string>(n);
    const paths = new Array<string>(n);
    const resources = new Array<string>(n);
    const quantities = new Array<number>(n);
    const costs = new Array<number>(n);
    const starts = new Array<string>(n);
    const ends = new Array<string>(n);
    const allocations = new Array<string | null>(n);
    for (let j = 0; j < n; j++) {
      const i = order[j];
      const r = batch.records[i];
      keys[j] = r.idempotencyKey;
      users[j] = r.userId;
      paths[j] = batch.paths[i];
      resources[j] = r.resource;
      quantities[j] = r.quantity;
      costs[j] = r.costCents;
      starts[j] = r.periodStart.toISOString();
      ends[j] = r.periodEnd.toISOString();
      allocations[j] = r.allocationId;
    }
    const result = await sql<{ applied: number; cents: string }>`
      with input as (
        select * from unnest(${keys}::text[], ${users}::uuid[], ${paths}::text[], ${resources}::text[],
                             ${quantities}::float8[], ${costs}::bigint[], ${starts}::timestamptz[],
                             ${ends}::timestamptz[], ${allocations}::uuid[])
          as t(idempotency_key, user_id, file_path, resource, quantity, cost_cents, period_start, period_end,
               allocation_id)
      ), inserted as (
        insert into consumed_record (idempotency_key, user_id, node_name, file_path, resource, quantity, cost_cents,
                                     period_start, period_end, allocation_id)
        select idempotency_key, user_id, ${node}, file_path, resource, quantity, cost_cents,
               period_start, period_end, allocation_id
          from input
        on conflict (idempotency_key) do nothing
        returning user_id, cost_cents
      ), debited as (
        insert into billing (user_id, credit_balance_cents)
        select user_id, -sum(cost_cents) from inserted group by user_id order by user_id
        on conflict (user_id) do update
          set credit_balance_cents = billing.credit_balance_cents + excluded.credit_balance_cents,
              updated_at = now()
        returning user_id
      ), node_total as (
        update aggregator_node_state
           set records_consumed_total = records_consumed_total + (select count(*) from inserted)
         where node_name = ${node}
        returning node_name
      )
      select (select count(*) from inserted)::int as applied,
             (select coalesce(sum(cost_cents), 0) from inserted)::text as cents,
             (select count(*) from debited)::int as debited,
             (select count(*) from node_total)::int as node_rows`.execute(db);
    applied = result.rows[0].applied;
    cents = Number(result.rows[0].cents);
  }

  if (rejected.length > 0) {
    await sql`
      insert into rejected_usage_record (idempotency_key, user_id, node_name, file_path, reason, record, fingerprint)
      select k, u, ${node}, p, reason, record, fp
        from unnest(${rejected.map((r) => r.idempotencyKey)}::text[], ${rejected.map((r) => r.userId)}::text[],
                    ${rejected.map((r) => r.path)}::text[], ${rejected.map((r) => r.reason)}::text[],
                    ${rejected.map((r) => JSON.stringify(r.record))}::jsonb[],
                    ${rejected.map((r) => fingerprint(r.path, r.record, r.reason))}::text[])
          as t(k, u, p, reason, record, fp)
      on conflict (fingerprint) do nothing`.execute(db);
  }

  if (batch.files.length > 0) {
    await sql`
      insert into usage_file_state (node_name, path, blob_sha, commit_sha, records)
      select ${node}, p, b, ${input.commit}, n
        from unnest(${batch.files.map((f) => f.path)}::text[], ${batch.files.map((f) => f.blobSha)}::text[],
                    ${batch.files.map((f) => f.records)}::int[]) as t(p, b, n)
      on conflict (node_name, path) do update
        set blob_sha = excluded.blob_sha, commit_sha = excluded.commit_sha, records = excluded.records,
            applied_at = now()`.execute(db);
  }
  return { applied, duplicate: order.length - applied, rejected: rejected.length, cents };
}

/**
 * `aggregateNow`: one aggregation under the job's run lock (shared with the aggregator
 * workers), recorded as a MANUAL job run.
 */
export async function aggregateNow(
  em: EntityManager,
  options: Omit<AggregateOptions, 'source' | 'signal' | 'onProgress'> & { source: UsageSource | null },
): Promise<AggregateSummary> {
  const source = options.source;
  if (!source) throw new UsageSourceUnavailableError();
  const outcome = await runWithJobLock(
    em,
    { job: AGGREGATE_JOB, trigger: 'MANUAL', log: options.log },
    (runEm: EntityManager, run: RunHandle) =>
      aggregateUsage(runEm, { ...options, source, onProgress: (p) => run.progress({ ...p }) }),
  );
  if (outcome.status === 'SKIPPED') throw new JobAlreadyRunningError(AGGREGATE_JOB);
  if (outcome.status === 'FAILED') throw new JobFailedError(AGGREGATE_JOB, outcome.runId, outcome.error);
  return outcome.summary;
}
