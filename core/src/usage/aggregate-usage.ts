import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { lockBalances, postUsageDebits } from '../billing/ledger.ts';
import {
  PG_DEADLOCK_DETECTED,
  PG_SERIALIZATION_FAILURE,
  PG_UNIQUE_VIOLATION,
  withNativeTransaction,
} from '../db/native-pool.ts';
import { execute, rows, sql } from '../db/sql.ts';
import { UsageSourceUnavailableError } from '../errors.ts';
import { type RunHandle, runJobNow } from '../jobs/run-with-job-lock.ts';
import type { Logger } from '../lib/logger.ts';
import { DEFAULT_AGGREGATE_BATCH_SIZE } from './batch-size.ts';
import { encodeBinaryCopy } from './copy-binary.ts';
import { ParsePool } from './parse-pool.ts';
import type { UsageFileRef, UsageSource } from './sources/usage-source.ts';
import {
  IGNORED_NODE_DIRECTORY,
  IGNORED_OUTSIDE_NODE,
  type IgnoredFile,
  ignoredReason,
  NODE_NAME,
  type ParsedUsageFile,
  storableText,
  type UsageRecord,
} from './usage-format.ts';

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
  /**
   * Summed exactly (BigInt); below 2^53 by the run bound (AGGREGATE_BOUNDS.runCents). Across
   * currencies when balances are kept in several: `debitedByCurrency` splits it.
   */
  centsDebited: number;
  /** `centsDebited` per balance currency, by currency code. */
  debitedByCurrency: { currency: string; cents: number }[];
  /**
   * Files and folders under `nodes/` at the branch head that are not read as usage (misnamed, in
   * a sub-directory, outside a node directory, a node directory breaking the naming rule): never
   * debited. Nodes skipped by this run count with what was found when they were last read.
   */
  ignoredFiles: number;
  /** The first MAX_IGNORED_LISTED of them, with the reason. */
  ignoredFileList: IgnoredFile[];
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
  /** AGGREGATE_BOUNDS unless given (tests reach them with small numbers). */
  bounds?: Partial<AggregateBounds>;
}

/**
 * How much a batch, a balance and a run may move, so that every sum stays exact and every amount
 * fits where it goes: ledger rows and balances are read as JavaScript numbers and served as
 * GraphQL SafeInt (|n| < 2^53 ≈ 9.007e15), the database holds bigint (2^63).
 */
export interface AggregateBounds {
  /**
   * A batch is cut before its records' costs would sum past this (the records simply go in the
   * next batch): a batch's debits, per user and in all, stay far below 2^53.
   */
  batchCents: bigint;
  /**
   * No usage debit takes a balance below this: a record that would is rejected with the reason
   * (the others are applied), so a balance stays a safe integer however much usage arrives.
   */
  balanceFloorCents: bigint;
  /**
   * A run applies no further batch once it has debited this much; the nodes it did not finish
   * are not advanced and the next run goes on from there. Keeps `centsDebited` below 2^53.
   */
  runCents: bigint;
}

/**
 * 10^14 cents per batch (a thousand records at the record bound of 10^11); −10^12 cents as the
 * floor (ten billion in the billing currency, the size of the largest manual adjustment, which
 * can always bring such a balance back); 10^15 cents per run.
 */
export const AGGREGATE_BOUNDS: AggregateBounds = {
  batchCents: 10n ** 14n,
  balanceFloorCents: -(10n ** 12n),
  runCents: 10n ** 15n,
};

/** Ignored files listed in a summary and per node (the counts cover all of them). */
export const MAX_IGNORED_LISTED = 100;

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
    debitedByCurrency: [],
    ignoredFiles: 0,
    ignoredFileList: [],
    errors: [],
  };
}

interface NodeStateRow {
  node_name: string;
  last_commit_sha: string | null;
  ignored_files: number;
  ignored_file_list: IgnoredFile[];
}

/** Ignored files: all counted, the first `max` kept (paths made storable and short). */
class IgnoredFiles {
  count = 0;
  readonly list: IgnoredFile[] = [];
  constructor(private readonly max = MAX_IGNORED_LISTED) {}

  add(path: string, reason: string): void {
    this.count++;
    if (this.list.length < this.max) this.list.push({ path: storableText(path, 500), reason });
  }

  /** Another list's count and entries (a node's, into the run's). */
  merge(count: number, list: IgnoredFile[]): void {
    this.count += count;
    for (const entry of list) {
      if (this.list.length >= this.max) break;
      this.list.push(entry);
    }
  }
}

/** What a run may still debit (AggregateBounds.runCents), shared by its batches. */
export class RunBudget {
  spent = 0n;
  constructor(readonly limit: bigint) {}
  get exhausted(): boolean {
    return this.spent >= this.limit;
  }
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
 *
 * Anything under `nodes/` that is not a usage file of a well-named node is counted and listed
 * (summary, node state), never read. Amounts are bounded per record (usage-format.ts) and per
 * batch, balance and run (AggregateBounds), and summed exactly (BigInt or SQL).
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
  const bounds = { ...AGGREGATE_BOUNDS, ...options.bounds };
  const budget = new RunBudget(bounds.runCents);
  let centsDebited = 0n;
  const byCurrency = new Map<string, bigint>();
  const ignored = new IgnoredFiles();

  const head = await source.head(signal);
  if (!head) {
    log?.info({ source: source.description }, 'billing repository is empty: nothing to aggregate');
    return summary;
  }
  const listing = await source.listNodes(head, signal);
  // Nothing is read from a folder whose name breaks the rule, nor from files beside the folders.
  for (const path of [...listing.others].sort()) ignored.add(path, IGNORED_OUTSIDE_NODE);
  const nodes = listing.nodes
    .filter((n) => {
      if (!NODE_NAME.test(n.name)) ignored.add(`nodes/${n.name}/`, IGNORED_NODE_DIRECTORY);
      return NODE_NAME.test(n.name);
    })
    .sort((a, b) => a.name.localeCompare(b.name));
  const names = nodes.map((n) => n.name);
  const states = new Map(
    (
      await rows(
        em,
        sql<NodeStateRow>`select node_name, last_commit_sha, ignored_files, ignored_file_list
                            from aggregator_node_state
                           where node_name = any(${names}::text[])`,
      )
    ).map((r) => [r.node_name, r]),
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
  const recordFailure = async (node: string, failure: string) => {
    // Whatever the input put in the message, it must not be what makes the write fail.
    const message = storableText(failure, 2000);
    summary.nodesFailed++;
    errorLines.push(`${node}: ${message}`);
    log?.warn({ node, err: message }, 'node failed for this tick');
    await execute(
      em,
      sql`insert into aggregator_node_state (node_name, last_run_at, last_error) values (${node}, now(), ${message})
          on conflict (node_name) do update set last_run_at = now(), last_error = excluded.last_error`,
    );
    progress();
  };

  for (const node of nodes) {
    if (signal?.aborted || budget.exhausted) break;
    summary.nodesSeen++;
    const nodeLog = log?.child({ node: node.name });
    /**
     * `failed`: set by the first failing batch (the node's later batches are skipped);
     * `deferred`: the run's budget ran out before a batch (the node is finished by a later run).
     */
    const outcome: BatchOutcome = { failed: null, deferred: false };
    /** The node's ignored files as listed by this run; null: not listed (kept as last recorded). */
    let nodeIgnored: IgnoredFiles | null = null;
    /** A read or parse failure: the batches already queued still apply (whole files with their blob shas). */
    let readError: string | null = null;
    let commit: string | null = null;
    let interrupted = false;
    const stored = states.get(node.name);
    try {
      commit = await source.nodeCommit(node, head, signal);
      if (stored?.last_commit_sha === commit) {
        await execute(
          em,
          sql`update aggregator_node_state set last_run_at = now(), last_error = null where node_name = ${node.name}`,
        );
        ignored.merge(stored.ignored_files, stored.ignored_file_list);
        summary.nodesSkipped++;
        progress();
        continue;
      }
      const listedIgnored = new IgnoredFiles();
      const listed = (await source.listFiles(node, head, signal))
        .filter((f) => {
          const reason = ignoredReason(f.path, node.name);
          if (reason !== null) listedIgnored.add(f.path, reason);
          return reason === null;
        })
        .sort((a, b) => a.path.localeCompare(b.path));
      nodeIgnored = listedIgnored;
      await execute(
        em,
        sql`insert into aggregator_node_state (node_name, ignored_files, ignored_file_list)
            values (${node.name}, ${listedIgnored.count}, ${JSON.stringify(listedIgnored.list)}::jsonb)
            on conflict (node_name) do update
              set ignored_files = excluded.ignored_files, ignored_file_list = excluded.ignored_file_list`,
      );
      if (listedIgnored.count > 0) {
        nodeLog?.warn(
          { ignoredFiles: listedIgnored.count, first: listedIgnored.list.slice(0, 5) },
          'files under the node directory that are not usage files were not read',
        );
      }
      const applied = new Map(
        (
          await rows(
            em,
            sql<{ path: string; blob_sha: string }>`select path, blob_sha from usage_file_state
                                                     where node_name = ${node.name}`,
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
        bounds,
        budget,
        onBatch: (r) => {
          summary.recordsApplied += r.applied;
          summary.recordsDuplicate += r.duplicate;
          summary.recordsRejected += r.rejected;
          centsDebited += r.cents;
          for (const [currency, cents] of r.byCurrency) {
            byCurrency.set(currency, (byCurrency.get(currency) ?? 0n) + cents);
          }
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
          if (signal?.aborted || outcome.failed || outcome.deferred) break;
          const parsed = parser.parse(content, { node: node.name, path: file.path });
          parsed.catch(() => {}); // awaited in order by takeOne
          ahead.push({ file, parsed });
          if (ahead.length > PARSE_AHEAD) await takeOne();
        }
        while (ahead.length > 0 && !signal?.aborted && !outcome.failed && !outcome.deferred) await takeOne();
      } finally {
        ahead.length = 0;
      }
      interrupted = Boolean(signal?.aborted);
      if (!interrupted && !outcome.failed && !outcome.deferred) await batcher.flush();
    } catch (err) {
      if (signal?.aborted && (err as Error).name === 'AbortError') {
        interrupted = true;
      } else {
        readError = (err as Error).message ?? String(err);
      }
    }
    if (nodeIgnored) ignored.merge(nodeIgnored.count, nodeIgnored.list);
    else if (stored) ignored.merge(stored.ignored_files, stored.ignored_file_list);
    const nodeCommit = commit;
    const nodeReadError = readError;
    // After the node's last batch: advance its position, or record why it failed.
    await lane.enqueue(node.name, async () => {
      const failure = outcome.failed ?? nodeReadError;
      if (failure) return recordFailure(node.name, failure);
      if (interrupted || outcome.deferred || nodeCommit === null) {
        nodeLog?.info('stopped before the node was applied whole; the next tick goes on from here');
        return;
      }
      await execute(
        em,
        sql`update aggregator_node_state
               set last_commit_sha = ${nodeCommit}, last_run_at = now(), last_success_at = now(), last_error = null,
                   files_total = (select count(*) from usage_file_state where node_name = ${node.name})
             where node_name = ${node.name}`,
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
  // Nodes a stopped run did not reach: their ignored files as last recorded.
  for (const node of nodes.slice(summary.nodesSeen)) {
    const stored = states.get(node.name);
    if (stored) ignored.merge(stored.ignored_files, stored.ignored_file_list);
  }
  summary.centsDebited = Number(centsDebited);
  summary.debitedByCurrency = [...byCurrency]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([currency, cents]) => ({ currency, cents: Number(cents) }));
  summary.ignoredFiles = ignored.count;
  summary.ignoredFileList = ignored.list;
  if (ignored.count > 0) {
    log?.warn(
      { ignoredFiles: ignored.count, first: ignored.list.slice(0, 5) },
      'files or folders under nodes/ are not usage files and were not read',
    );
  }
  if (budget.exhausted) {
    errorLines.push(
      `run stopped after debiting ${centsDebited} cents (at most ${bounds.runCents} per run): the next run goes on from there`,
    );
    log?.warn({ centsDebited: String(centsDebited) }, 'run debit bound reached: the next run goes on');
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
  cents: bigint;
  /** `cents` per balance currency. */
  byCurrency: Map<string, bigint>;
}

/** A node's batches so far: the first failure, or the run's budget running out. */
export interface BatchOutcome {
  failed: string | null;
  deferred?: boolean;
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
  /** The cost of the pending batch's records. */
  private pendingCents = 0n;

  constructor(
    private readonly em: EntityManager,
    private readonly opts: {
      node: string;
      commit: string;
      batchSize: number;
      knownUsers: Set<string>;
      lane: ApplyLanes;
      outcome: BatchOutcome;
      /** AGGREGATE_BOUNDS unless given. */
      bounds?: AggregateBounds;
      /** The run's; none: no run bound. */
      budget?: RunBudget;
      onBatch(result: BatchResult): void;
    },
  ) {}

  /** Whether `r` still goes in the pending batch (a batch always takes its first record). */
  private fits(r: UsageRecord): boolean {
    const count = this.pending.records.length;
    if (count === 0) return true;
    if (count >= this.opts.batchSize) return false;
    const limit = (this.opts.bounds ?? AGGREGATE_BOUNDS).batchCents;
    return this.pendingCents + BigInt(r.costCents) <= limit;
  }

  /** `fresh`: the file was never applied before (no recorded blob sha for its path). */
  async add(
    path: string,
    blobSha: string,
    parsed: ParsedUsageFile,
    options: { fresh?: boolean; signal?: AbortSignal } = {},
  ): Promise<void> {
    const { records, rejected } = parsed;
    const signal = options.signal;
    let at = 0;
    for (;;) {
      if (options.fresh === false) this.pending.fresh = false;
      // Records go in while the batch has room in count and in cents.
      while (at < records.length && this.fits(records[at])) {
        const r = records[at++];
        this.pending.records.push(r);
        this.pending.paths.push(path);
        this.pendingCents += BigInt(r.costCents);
      }
      const last = at >= records.length;
      if (last) {
        for (const r of rejected) this.pending.rejected.push({ ...r, path });
        this.pending.files.push({ path, blobSha, records: records.length + rejected.length });
      }
      if (!last || this.pending.records.length >= this.opts.batchSize) await this.flush();
      if (last || signal?.aborted) return;
    }
  }

  /** Queues what is pending as one batch. */
  async flush(): Promise<void> {
    const batch = this.pending;
    if (batch.records.length === 0 && batch.rejected.length === 0 && batch.files.length === 0) return;
    this.pending = emptyBatch();
    this.pendingCents = 0n;
    const { outcome, budget } = this.opts;
    const floor = (this.opts.bounds ?? AGGREGATE_BOUNDS).balanceFloorCents;
    await this.opts.lane.enqueue(this.opts.node, async () => {
      if (outcome.failed || outcome.deferred) return;
      if (budget?.exhausted) {
        outcome.deferred = true;
        return;
      }
      try {
        const result = await applyBatch(this.em, { ...this.opts, floor, batch });
        if (budget) budget.spent += result.cents;
        this.opts.onBatch(result);
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
  /** AggregateBounds.balanceFloorCents. */
  floor: bigint;
}

/** A batch would take a balance below the floor: it is applied again, record by record for those users. */
class BalanceFloorReached extends Error {}

async function applyBatch(em: EntityManager, input: ApplyBatchInput): Promise<BatchResult> {
  // The bulk path runs on the ORM's own pg pool (a connection of DB_POOL_MAX): binary COPY needs
  // the driver's client, which a MikroORM/Kysely transaction does not expose.
  let checkFloor = false;
  for (let attempt = 1; ; attempt++) {
    try {
      return await withNativeTransaction(
        em,
        (client) => applyBatchOnce(client, input, checkFloor),
        ensureStage,
      );
    } catch (err) {
      // Rare (a balance near the floor): the set-based debit refused; again, checking each record.
      if (err instanceof BalanceFloorReached && !checkFloor) {
        checkFloor = true;
        attempt--;
        continue;
      }
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
  'idempotency_key, user_id, node_name, file_path, resource, quantity, cost_cents, period_start, period_end, allocation_id, commit_sha';

async function ensureStage(client: PoolClient): Promise<void> {
  if (staged.has(client)) return;
  await client.query(
    `create temp table if not exists usage_stage (
       idempotency_key text not null, user_id uuid not null, node_name text not null, file_path text not null,
       resource text not null, quantity double precision not null, cost_cents bigint not null,
       period_start timestamptz, period_end timestamptz, allocation_id uuid, commit_sha text
     ) on commit delete rows`,
  );
  staged.add(client);
}

/** The batch's applicable records in binary COPY format, columns as RECORD_COLUMNS. */
function encodeRecords(node: string, commit: string, batch: Batch, order: number[]): Buffer {
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
    { type: 'text', values: order.map(() => commit) },
  ]);
}

async function copyInto(client: PoolClient, table: string, payload: Buffer): Promise<void> {
  const stream = client.query(copyFrom(`copy ${table} (${RECORD_COLUMNS}) from stdin (format binary)`));
  await pipeline(Readable.from([payload]), stream);
}

/** The batch's debits, through the ledger's one writer; a refused floor retries the batch checked. */
async function debit(
  client: PoolClient,
  node: string,
  users: string[],
  cents: bigint[],
  floorCents: bigint,
): Promise<Map<string, bigint>> {
  const result = await postUsageDebits(client, { node, users, cents, floorCents });
  if (result === 'BELOW_FLOOR') throw new BalanceFloorReached();
  return result.debitedByCurrency;
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
async function applyBatchOnce(
  client: PoolClient,
  input: ApplyBatchInput,
  checkFloor: boolean,
): Promise<BatchResult> {
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
  let order: number[] = [];
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

  if (checkFloor && order.length > 0) order = await keepAboveFloor(client, input, order, rejected);

  let applied = 0;
  let cents = 0n;
  let byCurrency = new Map<string, bigint>();
  if (order.length > 0) {
    const payload = encodeRecords(node, input.commit, batch, order);
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
      const byUser = new Map<string, bigint>();
      for (const i of order) {
        const r = batch.records[i];
        const cost = BigInt(r.costCents);
        byUser.set(r.userId, (byUser.get(r.userId) ?? 0n) + cost);
        cents += cost;
      }
      applied = order.length;
      byCurrency = await debit(client, node, [...byUser.keys()], [...byUser.values()], input.floor);
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
        cents += BigInt(row.cents);
      }
      if (result.rows.length > 0) {
        byCurrency = await debit(
          client,
          node,
          result.rows.map((r) => r.user_id),
          result.rows.map((r) => BigInt(r.cents)),
          input.floor,
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
  return { applied, duplicate: order.length - applied, rejected: rejected.length, cents, byCurrency };
}

/**
 * The records of `order` that keep every balance at or above the floor, in file order; the others
 * go to `rejected` with the reason. Locks the balances (billing's lockBalances).
 * Records whose key is already consumed are kept: they are not debited anyway.
 */
async function keepAboveFloor(
  client: PoolClient,
  input: ApplyBatchInput,
  order: number[],
  rejected: Batch['rejected'],
): Promise<number[]> {
  const { batch, floor } = input;
  const users = [...new Set(order.map((i) => batch.records[i].userId))];
  const balances = await lockBalances(client, users);
  const consumed = new Set(
    (
      await client.query<{ key: string }>(
        'select idempotency_key as key from consumed_record where idempotency_key = any($1::text[])',
        [order.map((i) => batch.records[i].idempotencyKey)],
      )
    ).rows.map((r) => r.key),
  );
  const kept: number[] = [];
  for (const i of order) {
    const r = batch.records[i];
    const balance = balances.get(r.userId);
    if (consumed.has(r.idempotencyKey) || balance === undefined) {
      kept.push(i);
      continue;
    }
    const after = balance - BigInt(r.costCents);
    if (after < floor) {
      rejected.push({
        idempotencyKey: r.idempotencyKey,
        userId: r.userId,
        reason: `debiting ${r.costCents} cents would take the balance of user ${r.userId} below ${floor} cents, the lowest usage may take it to`,
        record: recordForRejection(r),
        path: batch.paths[i],
      });
      continue;
    }
    balances.set(r.userId, after);
    consumed.add(r.idempotencyKey);
    kept.push(i);
  }
  return kept;
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
  return runJobNow(em, AGGREGATE_JOB, options.log, (runEm: EntityManager, run: RunHandle) =>
    aggregateUsage(runEm, { ...options, source, onProgress: (p) => run.progress({ ...p }) }),
  );
}
