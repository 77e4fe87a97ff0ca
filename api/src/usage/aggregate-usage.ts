import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import {
  PG_DEADLOCK_DETECTED,
  PG_SERIALIZATION_FAILURE,
  PG_UNIQUE_VIOLATION,
  withNativeTransaction,
} from '../db/native-pool.ts';
import { JobAlreadyRunningError, JobFailedError, UsageSourceUnavailableError } from '../errors.ts';
import { type RunHandle, runWithJobLock } from '../jobs/run-with-job-lock.ts';
import type { Logger } from '../lib/logger.ts';
import { DEFAULT_AGGREGATE_BATCH_SIZE } from './batch-size.ts';
import { encodeBinaryCopy } from './copy-binary.ts';
import { ParsePool } from './parse-pool.ts';
import type { UsageFileRef, UsageSource } from './sources/usage-source.ts';
import { type ParsedUsageFile, type UsageRecord, usageFileNode } from './usage-format.ts';

export { DEFAULT_AGGREGATE_BATCH_SIZE };

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
  /** Database connections applying batches at once (of different nodes). */
  applyConnections?: number;
  /** Aborted: stop after the batch in hand (the node's position is not advanced). */
  signal?: AbortSignal;
  log?: Logger;
  onProgress?: (progress: AggregateProgress) => void;
}

export const AGGREGATE_JOB = 'aggregate';
export const DEFAULT_APPLY_CONNECTIONS = 1;
/** Files parsed ahead of the one being batched. */
const PARSE_AHEAD = 3;
const MAX_ERROR_LINES = 100;
/** Deadlock / serialization failure: the batch is retried (two aggregators on the same keys). */
const RETRYABLE_SQLSTATES = new Set([PG_DEADLOCK_DETECTED, PG_SERIALIZATION_FAILURE]);
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
 * are read, parsed (on a worker thread, a few files ahead) and applied in set-based batches,
 * each its own transaction in which the consumed keys are inserted and every balance is
 * debited by the sum of the keys actually inserted, so a key is debited exactly once whoever
 * applies it and however often (see applyBatchOnce). Batches are applied while the next files
 * are read. A file's blob sha is recorded with its last batch; the node's commit only after
 * the whole node. A failing node is halted for the tick with `lastError`; the others go on.
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
  // Batches are applied while the next files (and nodes) are read and parsed: the database and
  // the parser work side by side; `applyConnections` nodes are applied at once (a node's batches
  // always one after the other, in file order).
  const lane = new ApplyLanes(options.applyConnections ?? DEFAULT_APPLY_CONNECTIONS);
  const parser = new ParsePool();
  const recordFailure = async (node: string, message: string) => {
    summary.nodesFailed++;
    errorLines.push(`${node}: ${message}`);
    log?.warn({ node, err: message }, 'node failed for this tick');
    await em.execute(
      `insert into aggregator_node_state (node_name, last_run_at, last_error) values (?, now(), ?)
       on conflict (node_name) do update set last_run_at = now(), last_error = excluded.last_error`,
      [node, message],
    );
    progress();
  };

  for (const node of nodes) {
    if (signal?.aborted) break;
    summary.nodesSeen++;
    const nodeLog = log?.child({ node: node.name });
    /** `failed`: set by the first failing batch (the node's later batches are skipped). */
    const outcome: { failed: string | null } = { failed: null };
    /** A read or parse failure: the batches already queued still apply (whole files with their blob shas). */
    let readError: string | null = null;
    let commit: string | null = null;
    let interrupted = false;
    try {
      commit = await source.nodeCommit(node, head, signal);
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
        lane,
        outcome,
        onBatch: (r) => {
          summary.recordsApplied += r.applied;
          summary.recordsDuplicate += r.duplicate;
          summary.recordsRejected += r.rejected;
          summary.centsDebited += r.cents;
          progress();
        },
      });
      // Files are parsed on the worker thread a few ahead of the one being batched.
      const ahead: { file: UsageFileRef; parsed: Promise<ParsedUsageFile> }[] = [];
      const takeOne = async () => {
        const next = ahead.shift() as (typeof ahead)[number];
        const parsed = await next.parsed;
        summary.filesRead++;
        summary.recordsSeen += parsed.records.length + parsed.rejected.length;
        await batcher.add(next.file.path, next.file.blobSha, parsed, {
          fresh: !applied.has(next.file.path),
          signal,
        });
      };
      try {
        for await (const { file, content } of source.readFiles(changed, head, signal)) {
          if (signal?.aborted || outcome.failed) break;
          const parsed = parser.parse(content, { node: node.name, path: file.path });
          parsed.catch(() => {}); // awaited in order by takeOne
          ahead.push({ file, parsed });
          if (ahead.length > PARSE_AHEAD) await takeOne();
        }
        while (ahead.length > 0 && !signal?.aborted && !outcome.failed) await takeOne();
      } finally {
        ahead.length = 0;
      }
      interrupted = Boolean(signal?.aborted);
      if (!interrupted && !outcome.failed) await batcher.flush();
    } catch (err) {
      if (signal?.aborted && (err as Error).name === 'AbortError') {
        interrupted = true;
      } else {
        readError = (err as Error).message ?? String(err);
      }
    }
    const nodeCommit = commit;
    const nodeReadError = readError;
    // After the node's last batch: advance its position, or record why it failed.
    await lane.enqueue(node.name, async () => {
      const failure = outcome.failed ?? nodeReadError;
      if (failure) return recordFailure(node.name, failure);
      if (interrupted || nodeCommit === null) {
        nodeLog?.info('stopped before the node was applied whole; the next tick goes on from here');
        return;
      }
      await em.execute(
        `update aggregator_node_state
            set last_commit_sha = ?, last_run_at = now(), last_success_at = now(), last_error = null,
                files_total = (select count(*) from usage_file_state where node_name = ?)
          where node_name = ?`,
        [nodeCommit, node.name, node.name],
      );
      nodesApplied++;
      progress();
    });
    if (interrupted) break;
  }
  try {
    await lane.drain();
  } finally {
    await parser.close();
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
  /** Every file in the batch is read for the first time: its keys are most likely all new. */
  fresh: boolean;
}

const emptyBatch = (): Batch => ({ records: [], paths: [], rejected: [], files: [], fresh: true });

/**
 * Runs apply jobs on up to `width` database connections at once while the caller goes on
 * reading: jobs with the same key (a node) run one after the other, in the order given; jobs
 * of different keys run side by side. `enqueue` waits only while `maxQueued` jobs wait for a
 * connection (so the reader stays at most that far ahead). A job must handle its own errors;
 * one that throws anyway is kept and rethrown by `drain`.
 */
export class ApplyLanes {
  private running = 0;
  private waiting = 0;
  private readonly slotWaiters: (() => void)[] = [];
  private readonly queueWaiters: (() => void)[] = [];
  private readonly chains = new Map<string, Promise<void>>();
  private error: unknown = null;

  constructor(
    private readonly width = 1,
    private readonly maxQueued = Math.max(2, width + 1),
  ) {}

  private async slot(): Promise<void> {
    while (this.running >= this.width) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    this.running++;
  }

  private release(): void {
    this.running--;
    this.slotWaiters.shift()?.();
  }

  async enqueue(key: string, job: () => Promise<void>): Promise<void> {
    while (this.waiting >= this.maxQueued)
      await new Promise<void>((resolve) => this.queueWaiters.push(resolve));
    this.waiting++;
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(async () => {
      await this.slot();
      this.waiting--;
      this.queueWaiters.shift()?.();
      try {
        await job();
      } catch (err) {
        this.error ??= err;
      } finally {
        this.release();
      }
    });
    this.chains.set(key, next);
  }

  async drain(): Promise<void> {
    await Promise.all(this.chains.values());
    if (this.error) throw this.error;
  }
}

/**
 * Gathers a node's records into batches of about `batchSize` (whole files where they fit; a
 * bigger file is split, its blob sha recorded with its last part) and queues them on the apply
 * lane, one transaction each. The first batch that fails marks the node failed; its later
 * batches are skipped.
 */
export class NodeBatcher {
  private pending = emptyBatch();

  constructor(
    private readonly em: EntityManager,
    private readonly opts: {
      node: string;
      commit: string;
      batchSize: number;
      knownUsers: Set<string>;
      lane: ApplyLanes;
      outcome: { failed: string | null };
      onBatch(result: BatchResult): void;
    },
  ) {}

  /** `fresh`: the file was never applied before (no recorded blob sha for its path). */
  async add(
    path: string,
    blobSha: string,
    parsed: ParsedUsageFile,
    options: { fresh?: boolean; signal?: AbortSignal } = {},
  ): Promise<void> {
    const { records, rejected } = parsed;
    const signal = options.signal;
    if (options.fresh === false) this.pending.fresh = false;
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

  /** Queues what is pending as one batch. */
  async flush(): Promise<void> {
    const batch = this.pending;
    if (batch.records.length === 0 && batch.rejected.length === 0 && batch.files.length === 0) return;
    this.pending = emptyBatch();
    const { outcome } = this.opts;
    await this.opts.lane.enqueue(this.opts.node, async () => {
      if (outcome.failed) return;
      try {
        this.opts.onBatch(await applyBatch(this.em, { ...this.opts, batch }));
      } catch (err) {
        outcome.failed = (err as Error).message ?? String(err);
      }
    });
  }
}

interface ApplyBatchInput {
  node: string;
  commit: string;
  knownUsers: Set<string>;
  batch: Batch;
}

async function applyBatch(em: EntityManager, input: ApplyBatchInput): Promise<BatchResult> {
  // The bulk path runs on the ORM's own pg pool (a connection of DB_POOL_MAX): binary COPY needs
  // the driver's client, which a MikroORM/Kysely transaction does not expose.
  for (let attempt = 1; ; attempt++) {
    try {
      return await withNativeTransaction(em, (client) => applyBatchOnce(client, input), ensureStage);
    } catch (err) {
      const code = (err as { code?: string }).code;
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

/** Connections of the pool that already have the session's staging table. */
const staged = new WeakSet<object>();

const RECORD_COLUMNS =
  'idempotency_key, user_id, node_name, file_path, resource, quantity, cost_cents, period_start, period_end, allocation_id';

async function ensureStage(client: PoolClient): Promise<void> {
  if (staged.has(client)) return;
  await client.query(
    `create temp table if not exists usage_stage (
       idempotency_key text not null, user_id uuid not null, node_name text not null, file_path text not null,
       resource text not null, quantity double precision not null, cost_cents bigint not null,
       period_start timestamptz, period_end timestamptz, allocation_id uuid
     ) on commit delete rows`,
  );
  staged.add(client);
}

/** The batch's applicable records in binary COPY format, columns as RECORD_COLUMNS. */
function encodeRecords(node: string, batch: Batch, order: number[]): Buffer {
  const pick = <T>(f: (r: UsageRecord, i: number) => T) => order.map((i) => f(batch.records[i], i));
  return encodeBinaryCopy(order.length, [
    { type: 'text', values: pick((r) => r.idempotencyKey) },
    { type: 'uuid', values: pick((r) => r.userId) },
    { type: 'text', values: order.map(() => node) },
    { type: 'text', values: pick((_r, i) => batch.paths[i]) },
    { type: 'text', values: pick((r) => r.resource) },
    { type: 'float8', values: pick((r) => r.quantity) },
    { type: 'int8', values: pick((r) => r.costCents) },
    { type: 'timestamptz', values: pick((r) => r.periodStart.getTime()) },
    { type: 'timestamptz', values: pick((r) => r.periodEnd.getTime()) },
    { type: 'uuid', values: pick((r) => r.allocationId) },
  ]);
}

async function copyInto(client: PoolClient, table: string, payload: Buffer): Promise<void> {
  const stream = client.query(copyFrom(`copy ${table} (${RECORD_COLUMNS}) from stdin (format binary)`));
  await pipeline(Readable.from([payload]), stream);
}

/**
 * Debits each user by `cents` (parallel arrays), locking the balances in user order first, so
 * batches applied side by side wait for each other and never deadlock. Throws when a user has
 * no billing row (a debit would be lost).
 */
async function debitBalances(
  client: PoolClient,
  node: string,
  users: string[],
  cents: number[],
): Promise<void> {
  // One USAGE ledger row per user and batch, with the balance after it (see api/src/billing/ledger.ts).
  const res = await client.query<{ users: number; debited: number }>(
    `with sums as (
       select user_id, sum(cents)::bigint as cents from unnest($1::uuid[], $2::bigint[]) as t(user_id, cents)
        group by user_id
     ), locked as (
       select b.user_id from billing b where b.user_id in (select user_id from sums)
        order by b.user_id for no key update
     ), debited as (
       update billing b set credit_balance_cents = b.credit_balance_cents - sums.cents, updated_at = now()
         -- count(*): every lock is taken (in order) before the first row is updated
         from sums where b.user_id = sums.user_id and (select count(*) from locked) >= 0
       returning b.user_id, b.credit_balance_cents, b.currency, sums.cents
     ), ledger as (
       insert into ledger_entry (user_id, kind, amount_cents, balance_after_cents, currency, reference)
       select user_id, 'USAGE', -cents, credit_balance_cents, currency, $3 from debited
     )
     select (select count(*) from sums)::int as users, (select count(*) from debited)::int as debited`,
    [users, cents, `usage:${node}`],
  );
  if (res.rows[0].debited !== res.rows[0].users) {
    const missing = await client.query<{ id: string }>(
      `select u::text as id from unnest($1::uuid[]) as u
        where not exists (select 1 from billing b where b.user_id = u) limit 5`,
      [users],
    );
    throw new Error(
      `no billing row for user ${missing.rows.map((r) => r.id).join(', ')}: the batch was not applied`,
    );
  }
}

/**
 * One batch, one transaction. Records of files read for the first time are copied (binary COPY)
 * straight into consumed_record; if any key was consumed before, the COPY fails on the primary
 * key, the transaction goes back to a savepoint, and the records are copied into a session
 * staging table instead, from which `INSERT … ON CONFLICT DO NOTHING RETURNING` takes only the
 * new keys. Either way balances are debited by exactly the keys inserted, in the same
 * transaction, together with the rejected records and the finished files' blob shas.
 * Committed without waiting for the WAL flush (`synchronous_commit = off`): a database crash
 * may lose the last batches whole (keys, debits and file states together) and the next run
 * applies them again; exactly-once holds because each batch is one transaction.
 */
async function applyBatchOnce(client: PoolClient, input: ApplyBatchInput): Promise<BatchResult> {
  const { batch, node } = input;
  await client.query('set local synchronous_commit = off');
  // Unknown users: looked up once per run (a user is not deleted while their records are applied).
  const unseen = [...new Set(batch.records.map((r) => r.userId))].filter((u) => !input.knownUsers.has(u));
  if (unseen.length > 0) {
    const found = await client.query<{ id: string }>(
      'select id::text from users where id = any($1::uuid[])',
      [unseen],
    );
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

  let applied = 0;
  let cents = 0;
  if (order.length > 0) {
    const payload = encodeRecords(node, batch, order);
    let direct = false;
    if (batch.fresh) {
      // New files: their keys are almost surely new, so they are copied straight into
      // consumed_record (its primary key still refuses any key seen before). A key that was
      // consumed already makes the COPY fail: back to the savepoint, and the staged path below
      // inserts only the new keys.
      await client.query('savepoint direct_copy');
      try {
        await copyInto(client, 'consumed_record', payload);
        await client.query('release savepoint direct_copy');
        direct = true;
      } catch (err) {
        if ((err as { code?: string }).code !== PG_UNIQUE_VIOLATION) throw err;
        await client.query('rollback to savepoint direct_copy');
      }
    }
    if (direct) {
      const byUser = new Map<string, number>();
      for (const i of order) {
        const r = batch.records[i];
        byUser.set(r.userId, (byUser.get(r.userId) ?? 0) + r.costCents);
        cents += r.costCents;
      }
      applied = order.length;
      await debitBalances(client, node, [...byUser.keys()], [...byUser.values()]);
    } else {
      await copyInto(client, 'usage_stage', payload);
      // Only the keys this statement inserts are debited (ON CONFLICT DO NOTHING RETURNING).
      const result = await client.query<{ user_id: string; cents: string; n: number }>(
        `with inserted as (
           insert into consumed_record (${RECORD_COLUMNS})
           select ${RECORD_COLUMNS} from usage_stage
           on conflict (idempotency_key) do nothing
           returning user_id, cost_cents
         )
         select user_id::text, sum(cost_cents)::text as cents, count(*)::int as n from inserted group by user_id`,
      );
      for (const row of result.rows) {
        applied += row.n;
        cents += Number(row.cents);
      }
      if (result.rows.length > 0) {
        await debitBalances(
          client,
          node,
          result.rows.map((r) => r.user_id),
          result.rows.map((r) => Number(r.cents)),
        );
      }
    }
    await client.query(
      'update aggregator_node_state set records_consumed_total = records_consumed_total + $2 where node_name = $1',
      [node, applied],
    );
  }

  if (rejected.length > 0) {
    await client.query(
      `insert into rejected_usage_record (idempotency_key, user_id, node_name, file_path, reason, record, fingerprint)
       select k, u, $1, p, reason, record, fp
         from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::text[])
           as t(k, u, p, reason, record, fp)
       on conflict (fingerprint) do nothing`,
      [
        node,
        rejected.map((r) => r.idempotencyKey),
        rejected.map((r) => r.userId),
        rejected.map((r) => r.path),
        rejected.map((r) => r.reason),
        rejected.map((r) => JSON.stringify(r.record)),
        rejected.map((r) => fingerprint(r.path, r.record, r.reason)),
      ],
    );
  }

  if (batch.files.length > 0) {
    await client.query(
      `insert into usage_file_state (node_name, path, blob_sha, commit_sha, records)
       select $1, p, b, $2, n from unnest($3::text[], $4::text[], $5::int[]) as t(p, b, n)
       on conflict (node_name, path) do update
         set blob_sha = excluded.blob_sha, commit_sha = excluded.commit_sha, records = excluded.records,
             applied_at = now()`,
      [
        node,
        input.commit,
        batch.files.map((f) => f.path),
        batch.files.map((f) => f.blobSha),
        batch.files.map((f) => f.records),
      ],
    );
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
