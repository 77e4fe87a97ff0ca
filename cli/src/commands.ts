import { readFile } from 'node:fs/promises';
import type { AutoReleaseSummary } from '../../api/src/allocation/auto-release.ts';
import type { Plan } from '../../api/src/billing/plans.ts';
import type { Problem } from '../../api/src/errors.ts';
import type { AggregateSummary } from '../../api/src/usage/aggregate-usage.ts';
import type { Command } from './args.ts';
import { type ApiClient, validationFailure } from './client.ts';
import { CliError, printable } from './errors.ts';
import {
  formatDiscounts,
  formatDuration,
  formatKeyValues,
  formatMoney,
  formatSummary,
  formatTable,
  formatTime,
  truncate,
} from './format.ts';

export interface Output {
  /** stdout */
  out(text: string): void;
  /** stderr */
  err(text: string): void;
  /** A terminal for progress bars (stderr when it is a TTY); none: no progress shown. */
  progress?: NodeJS.WritableStream;
}

export interface CommandContext {
  client: ApiClient;
  /** Print JSON on stdout instead of tables / key-value lines. */
  json: boolean;
  io: Output;
}

const printJson = (io: Output, value: unknown) => io.out(`${JSON.stringify(value, null, 2)}\n`);

interface ValidationErrorResult {
  __typename: 'ValidationError';
  code: string;
  message: string;
  problems: Problem[];
}

// --- auto-release ---------------------------------------------------------------------------

export const AUTO_RELEASE_NOW = `mutation AutoReleaseNow {
  autoReleaseNow { rowsExamined rowsExpired rowsReleased rowsAlreadyReleased expiryWarnings errors }
}`;

/**
 * A job run's summary: its counters one per line (in the summary's own order), `errors` as a
 * count, then one line per error (what the run could not do; the run itself succeeded).
 */
function printRunSummary(io: Output, json: boolean, summary: { errors: string[] }): void {
  if (json) {
    printJson(io, summary);
    return;
  }
  const entries: [string, unknown][] = Object.entries(summary);
  const counters = entries.filter((e): e is [string, number] => typeof e[1] === 'number');
  io.out(formatKeyValues([...counters, ['errors', summary.errors.length]]));
  for (const line of summary.errors) io.out(`  ${printable(line)}\n`);
}

async function autoRelease({ client, json, io }: CommandContext): Promise<void> {
  const { autoReleaseNow: summary } = await client.request<{ autoReleaseNow: AutoReleaseSummary }>(
    AUTO_RELEASE_NOW,
  );
  printRunSummary(io, json, summary);
}

// --- aggregate ------------------------------------------------------------------------------

export const AGGREGATE_NOW = `mutation AggregateNow {
  aggregateNow {
    nodesSeen nodesSkipped nodesFailed filesRead recordsSeen recordsApplied recordsDuplicate recordsRejected
    centsDebited ignoredFiles ignoredFileList { path reason } errors
  }
}`;

export const RUNNING_AGGREGATION = `query RunningAggregation {
  jobRuns(job: "aggregate", first: 1) { edges { node { id status progress } } }
}`;

interface AggregationProgress {
  nodesDone: number;
  nodesTotal: number;
  filesRead: number;
  recordsApplied: number;
}

/** While `work` runs: polls the RUNNING aggregation's progress and draws it on a terminal. */
async function withProgressBar<T>(ctx: CommandContext, work: Promise<T>): Promise<T> {
  const stream = ctx.io.progress;
  if (!stream) return work;
  const { SingleBar, Presets } = await import('cli-progress');
  const bar = new SingleBar(
    {
      stream,
      format:
        'aggregating |{bar}| {value}/{total} nodes | {filesRead} files | {recordsApplied} records applied',
      hideCursor: true,
      clearOnComplete: true,
    },
    Presets.shades_classic,
  );
  let started = false;
  let done = false;
  const poll = async () => {
    while (!done) {
      await new Promise((r) => setTimeout(r, 300));
      if (done) break;
      try {
        const data = await ctx.client.request<{
          jobRuns: { edges: { node: { status: string; progress: AggregationProgress | null } }[] };
        }>(RUNNING_AGGREGATION);
        const run = data.jobRuns.edges[0]?.node;
        const p = run?.status === 'RUNNING' ? run.progress : null;
        if (!p || done) continue;
        const payload = { filesRead: p.filesRead, recordsApplied: p.recordsApplied };
        if (!started) {
          bar.start(p.nodesTotal, p.nodesDone, payload);
          started = true;
        } else {
          bar.setTotal(p.nodesTotal);
          bar.update(p.nodesDone, payload);
        }
      } catch {
        // Progress is a nicety: the run's own answer decides the outcome.
      }
    }
  };
  const polling = poll();
  try {
    return await work;
  } finally {
    done = true;
    await polling;
    if (started) bar.stop();
  }
}

async function aggregate(ctx: CommandContext): Promise<void> {
  const { client, json, io } = ctx;
  const { aggregateNow: summary } = await withProgressBar(
    ctx,
    client.request<{ aggregateNow: AggregateSummary }>(AGGREGATE_NOW),
  );
  printRunSummary(io, json, summary);
  if (json) return;
  // What is under nodes/ but not read as usage: reported so it is not lost without a trace.
  for (const f of summary.ignoredFileList) io.out(`  ignored ${printable(f.path)}: ${printable(f.reason)}\n`);
  const unlisted = summary.ignoredFiles - summary.ignoredFileList.length;
  if (unlisted > 0) io.out(`  (${unlisted} more ignored file${unlisted === 1 ? '' : 's'} not listed)\n`);
}

// --- pool -----------------------------------------------------------------------------------

export const REFRESH_POOL = `mutation RefreshPool($input: RefreshPoolInput!) {
  refreshPool(input: $input) {
    __typename
    ... on RefreshPoolSuccess { result { prevPoolSize poolSize added updated retired } }
    ... on ValidationError { code message problems { path message } }
  }
}`;

interface RefreshPoolPayload {
  prevPoolSize: number;
  poolSize: number;
  added: string[];
  updated: string[];
  retired: string[];
}

async function readManifest(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CliError(`cannot read ${file}: ${e.code ?? e.message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
}

async function poolRefresh({ client, json, io }: CommandContext, file: string): Promise<void> {
  const manifest = await readManifest(file);
  const { refreshPool: result } = await client.request<{
    refreshPool: { __typename: 'RefreshPoolSuccess'; result: RefreshPoolPayload } | ValidationErrorResult;
  }>(REFRESH_POOL, { input: { manifest } });
  if (result.__typename === 'ValidationError')
    throw validationFailure(`the pool manifest ${file} was refused; the pool is unchanged`, result);
  const r = result.result;
  if (json) return printJson(io, r);
  io.out(
    formatKeyValues([
      ['prevPoolSize', r.prevPoolSize],
      ['poolSize', r.poolSize],
      ['added', r.added],
      ['updated', r.updated],
      ['retired', r.retired],
    ]),
  );
}

export const POOL = `query Pool($status: PoolVmStatus) {
  pool(status: $status) { id name status allocated host region cockpitUrl updatedAt }
}`;

interface PoolVm {
  id: string;
  name: string;
  status: string;
  allocated: boolean;
  host: string | null;
  region: string | null;
  cockpitUrl: string | null;
  updatedAt: string;
}

async function poolList({ client, json, io }: CommandContext, status?: string): Promise<void> {
  const { pool } = await client.request<{ pool: PoolVm[] }>(POOL, { status: status ?? null });
  if (json) return printJson(io, pool);
  if (pool.length === 0) return io.out(status ? `no pool VMs with status ${status}\n` : 'no pool VMs\n');
  io.out(
    formatTable(
      ['id', 'name', 'status', 'allocated', 'host', 'cockpit URL'],
      pool.map((vm) => [vm.id, vm.name, vm.status, vm.allocated, vm.host, vm.cockpitUrl]),
    ),
  );
}

// --- paging ---------------------------------------------------------------------------------

interface Connection<T> {
  edges: { node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** The API answers at most 100 per page. */
const PAGE_SIZE = 100;

/** Follows a Relay connection forwards until `limit` nodes or the last page. */
export async function collectPages<T>(
  limit: number,
  fetchPage: (first: number, after: string | null) => Promise<Connection<T>>,
): Promise<T[]> {
  const nodes: T[] = [];
  let after: string | null = null;
  while (nodes.length < limit) {
    const page = await fetchPage(Math.min(PAGE_SIZE, limit - nodes.length), after);
    nodes.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor || page.edges.length === 0) break;
    after = page.pageInfo.endCursor;
  }
  return nodes.slice(0, limit);
}

// --- allocations ----------------------------------------------------------------------------

export const ALLOCATIONS = `query Allocations($status: AllocationStatus, $userId: ID, $first: Int, $after: String) {
  allocations(status: $status, userId: $userId, first: $first, after: $after) {
    edges { node {
      id userId poolVm { id } provisioner status allocatedAt expiresAt releasedAt releaseReason cockpitUrl
    } }
    pageInfo { hasNextPage endCursor }
  }
}`;

interface Allocation {
  id: string;
  userId: string;
  poolVm: { id: string };
  provisioner: string;
  status: string;
  allocatedAt: string;
  expiresAt: string;
  releasedAt: string | null;
  releaseReason: string | null;
  cockpitUrl: string | null;
}

async function allocationsList(
  { client, json, io }: CommandContext,
  command: Extract<Command, { name: 'allocations list' }>,
): Promise<void> {
  const allocations = await collectPages(command.limit, async (first, after) => {
    const data = await client.request<{ allocations: Connection<Allocation> }>(ALLOCATIONS, {
      status: command.status ?? null,
      userId: command.userId ?? null,
      first,
      after,
    });
    return data.allocations;
  });
  if (json) return printJson(io, allocations);
  if (allocations.length === 0) return io.out('no allocations\n');
  io.out(
    formatTable(
      ['id', 'user', 'pool VM', 'status', 'allocated at', 'expires at', 'released at', 'reason'],
      allocations.map((a) => [
        a.id,
        a.userId,
        a.poolVm.id,
        a.status,
        formatTime(a.allocatedAt),
        formatTime(a.expiresAt),
        formatTime(a.releasedAt),
        a.releaseReason,
      ]),
    ),
  );
}

// --- users ----------------------------------------------------------------------------------

export const CREATE_USER = `mutation CreateUser($input: CreateUserInput!) {
  createUser(input: $input) {
    __typename
    ... on CreateUserSuccess { payload { token user { id email displayName } } }
    ... on ValidationError { code message problems { path message } }
  }
}`;

interface CreateUserPayload {
  token: string;
  user: { id: string; email: string; displayName: string };
}

async function usersCreate(
  { client, json, io }: CommandContext,
  command: Extract<Command, { name: 'users create' }>,
): Promise<void> {
  const { createUser: result } = await client.request<{
    createUser: { __typename: 'CreateUserSuccess'; payload: CreateUserPayload } | ValidationErrorResult;
  }>(CREATE_USER, { input: { email: command.email, displayName: command.displayName } });
  if (result.__typename === 'ValidationError') throw validationFailure('the user was not created', result);
  const { user, token } = result.payload;
  if (json) return printJson(io, { user, token });
  io.out(
    formatKeyValues([
      ['id', user.id],
      ['email', user.email],
      ['name', user.displayName],
      ['token', token],
    ]),
  );
  io.out('The token is shown only once (the API keeps only its hash): store it now.\n');
}

// --- jobs -----------------------------------------------------------------------------------

export const JOB_RUNS = `query JobRuns($job: String, $first: Int, $after: String) {
  jobRuns(job: $job, first: $first, after: $after) {
    edges { node { id job trigger status host pid startedAt finishedAt summary error } }
    pageInfo { hasNextPage endCursor }
  }
}`;

interface JobRun {
  id: string;
  job: string;
  trigger: string;
  status: string;
  host: string;
  pid: number;
  startedAt: string;
  finishedAt: string | null;
  summary: unknown;
  error: string | null;
}

function duration(run: JobRun): string {
  if (!run.finishedAt) return run.status === 'RUNNING' ? 'running' : '-';
  return formatDuration(new Date(run.finishedAt).getTime() - new Date(run.startedAt).getTime());
}

async function jobsList(
  { client, json, io }: CommandContext,
  command: Extract<Command, { name: 'jobs list' }>,
): Promise<void> {
  const runs = await collectPages(command.limit, async (first, after) => {
    const data = await client.request<{ jobRuns: Connection<JobRun> }>(JOB_RUNS, {
      job: command.job ?? null,
      first,
      after,
    });
    return data.jobRuns;
  });
  if (json) return printJson(io, runs);
  if (runs.length === 0) return io.out(command.job ? `no runs of job ${command.job}\n` : 'no job runs\n');
  io.out(
    formatTable(
      ['id', 'job', 'trigger', 'status', 'started', 'duration', 'host/pid', 'summary / error'],
      runs.map((r) => [
        r.id,
        r.job,
        r.trigger,
        r.status,
        formatTime(r.startedAt),
        duration(r),
        `${r.host}/${r.pid}`,
        truncate(r.error ? `error: ${r.error}` : formatSummary(r.summary), 80),
      ]),
    ),
  );
}

// --- payments -------------------------------------------------------------------------------

/** A result-union member that is an error (every one implements Error { code message }). */
interface ErrorResult {
  __typename: string;
  code: string;
  message: string;
  problems?: Problem[];
}

/**
 * A refused mutation as a CliError: `<what>: CODE: message`; a ValidationError lists its
 * problems, one a line, as the other commands do.
 */
function refused(what: string, result: ErrorResult): CliError {
  if (result.__typename === 'ValidationError' && result.problems)
    return validationFailure(`${what}: ${result.code}`, result);
  return new CliError(`${what}: ${result.code}: ${printable(result.message)}`);
}

const PAYMENT_FIELDS = `id kind amountCents currency provider providerRef refundOfId refundedCents note createdAt
  user { id email }`;

/** The union members every payment mutation may answer besides its success. */
const ERROR_FIELDS = `... on Error { code message }
    ... on ValidationError { problems { path message } }`;

export const RECORD_PAYMENT = `mutation RecordPayment($input: RecordPaymentInput!) {
  recordPayment(input: $input) {
    __typename
    ... on RecordPaymentSuccess { result { payment { ${PAYMENT_FIELDS} } billing { creditBalanceCents currency } } }
    ${ERROR_FIELDS}
  }
}`;

export const REFUND_PAYMENT = `mutation RefundPayment($input: RefundPaymentInput!) {
  refundPayment(input: $input) {
    __typename
    ... on RefundPaymentSuccess { result { payment { ${PAYMENT_FIELDS} } billing { creditBalanceCents currency } } }
    ${ERROR_FIELDS}
  }
}`;

export const PAYMENTS = `query Payments($userId: ID, $first: Int, $after: String) {
  payments(userId: $userId, first: $first, after: $after) {
    edges { node { ${PAYMENT_FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
}`;

interface Payment {
  id: string;
  /** CREDIT or REFUND */
  kind: string;
  amountCents: number;
  currency: string;
  provider: string;
  providerRef: string;
  refundOfId: string | null;
  refundedCents: number;
  note: string | null;
  createdAt: string;
  user: { id: string; email: string };
}

interface PaymentResult {
  payment: Payment;
  billing: { creditBalanceCents: number; currency: string };
}

type PaymentMutationResult =
  | { __typename: 'RecordPaymentSuccess' | 'RefundPaymentSuccess'; result: PaymentResult }
  | ErrorResult;

const isSuccess = (
  r: PaymentMutationResult,
): r is { __typename: 'RecordPaymentSuccess' | 'RefundPaymentSuccess'; result: PaymentResult } =>
  'result' in r;

/** A payment or refund and the balance after it, as `key  value` lines. */
function printPaymentResult(io: Output, { payment: p, billing }: PaymentResult): void {
  io.out(
    formatKeyValues([
      ['id', p.id],
      ['kind', p.kind],
      ...(p.refundOfId ? ([['refund of', p.refundOfId]] as [string, string][]) : []),
      ['user', `${p.user.id} (${p.user.email})`],
      ['amount', formatMoney(p.amountCents, p.currency)],
      ['currency', p.currency],
      ['provider', p.provider],
      ['ref', p.providerRef],
      ['note', p.note],
      ['created', formatTime(p.createdAt)],
      ['balance', formatMoney(billing.creditBalanceCents, billing.currency)],
    ]),
  );
}

async function paymentsRecord(
  { client, json, io }: CommandContext,
  command: Extract<Command, { name: 'payments record' }>,
): Promise<void> {
  const { recordPayment: result } = await client.request<{ recordPayment: PaymentMutationResult }>(
    RECORD_PAYMENT,
    {
      input: {
        userId: command.userId,
        amountCents: command.amountCents,
        currency: command.currency,
        provider: command.provider ?? null,
        providerRef: command.providerRef ?? null,
        note: command.note ?? null,
      },
    },
  );
  if (!isSuccess(result)) throw refused('the payment was not recorded', result);
  if (json) return printJson(io, result.result);
  printPaymentResult(io, result.result);
}

async function paymentsRefund(
  { client, json, io }: CommandContext,
  command: Extract<Command, { name: 'payments refund' }>,
): Promise<void> {
  const { refundPayment: result } = await client.request<{ refundPayment: PaymentMutationResult }>(
    REFUND_PAYMENT,
    {
      input: {
        paymentId: command.paymentId,
        amountCents: command.amountCents ?? null,
        note: command.note ?? null,
      },
    },
  );
  if (!isSuccess(result)) throw refused('the payment was not refunded', result);
  if (json) return printJson(io, result.result);
  printPaymentResult(io, result.result);
}

async function paymentsList(
  { client, json, io }: CommandContext,
  command: Extract<Command, { name: 'payments list' }>,
): Promise<void> {
  const payments = await collectPages(command.limit, async (first, after) => {
    const data = await client.request<{ payments: Connection<Payment> }>(PAYMENTS, {
      userId: command.userId ?? null,
      first,
      after,
    });
    return data.payments;
  });
  if (json) return printJson(io, payments);
  if (payments.length === 0) return io.out(command.userId ? 'no payments for this user\n' : 'no payments\n');
  io.out(
    formatTable(
      ['id', 'created', 'user email', 'kind', 'amount', 'currency', 'provider', 'ref', 'refunded'],
      payments.map((p) => [
        p.id,
        formatTime(p.createdAt),
        p.user.email,
        p.kind,
        formatMoney(p.amountCents, p.currency),
        p.currency,
        p.provider,
        p.providerRef,
        // what was refunded of a payment; a refund itself has nothing refunded
        p.kind === 'REFUND' ? null : formatMoney(p.refundedCents, p.currency),
      ]),
    ),
  );
}

// --- plans ----------------------------------------------------------------------------------

export const PLANS = `query Plans {
  plans { code name vmQuota periodDays priceCents currency discounts { periods percent } }
}`;

async function plansList({ client, json, io }: CommandContext): Promise<void> {
  const { plans } = await client.request<{ plans: Plan[] }>(PLANS);
  if (json) return printJson(io, plans);
  if (plans.length === 0) return io.out('no plans (the API has no PLANS_JSON)\n');
  io.out(
    formatTable(
      ['code', 'name', 'vm quota', 'period days', 'price', 'currency', 'discounts'],
      plans.map((p) => [
        p.code,
        p.name,
        p.vmQuota,
        p.periodDays,
        formatMoney(p.priceCents, p.currency),
        p.currency,
        formatDiscounts(p.discounts),
      ]),
    ),
  );
}

// --- reconcile ------------------------------------------------------------------------------

export const RECONCILE_BALANCES_NOW = `mutation ReconcileBalancesNow {
  reconcileBalancesNow {
    usersChecked usersDrifted totalDriftCents chainBreaks
    drifted { userId balanceCents ledgerCents driftCents }
    usageUsersChecked usageUsersDrifted usageTotalDriftCents
    usageDrifted { userId ledgerUsageCents consumedCents driftCents }
  }
}`;

interface ReconcileSummary {
  usersChecked: number;
  usersDrifted: number;
  totalDriftCents: number;
  /** Ledger rows whose balance-after does not follow from the previous row (reported, not an exit 1). */
  chainBreaks: number;
  drifted: { userId: string; balanceCents: number; ledgerCents: number; driftCents: number }[];
  /** Users whose usage debits on the ledger differ from the sum of their consumed records. */
  usageUsersChecked: number;
  usageUsersDrifted: number;
  usageTotalDriftCents: number;
  usageDrifted: { userId: string; ledgerUsageCents: number; consumedCents: number; driftCents: number }[];
}

/**
 * Prints the summary (amounts in cents: drift is per user and the summary has no currency), then
 * fails (exit 1, one line on stderr) when any balance drifted, so that a script can alert on it.
 */
async function reconcile({ client, json, io }: CommandContext): Promise<void> {
  const { reconcileBalancesNow: summary } = await client.request<{
    reconcileBalancesNow: ReconcileSummary;
  }>(RECONCILE_BALANCES_NOW);
  if (json) printJson(io, summary);
  else {
    io.out(
      formatKeyValues([
        ['usersChecked', summary.usersChecked],
        ['usersDrifted', summary.usersDrifted],
        ['totalDriftCents', summary.totalDriftCents],
        ['chainBreaks', summary.chainBreaks],
      ]),
    );
    for (const d of summary.drifted)
      io.out(
        `${printable(d.userId)} balance ${d.balanceCents} ledger ${d.ledgerCents} drift ${d.driftCents}\n`,
      );
    // the API lists the first few drifted users only; the counts cover all of them
    const unlisted = summary.usersDrifted - summary.drifted.length;
    if (unlisted > 0) io.out(`(${unlisted} more drifted user${unlisted === 1 ? '' : 's'} not listed)\n`);
    io.out(
      formatKeyValues([
        ['usageUsersChecked', summary.usageUsersChecked],
        ['usageUsersDrifted', summary.usageUsersDrifted],
        ['usageTotalDriftCents', summary.usageTotalDriftCents],
      ]),
    );
    for (const d of summary.usageDrifted)
      io.out(
        `${printable(d.userId)} usage ledger ${d.ledgerUsageCents} consumed ${d.consumedCents} drift ${d.driftCents}\n`,
      );
    const unlistedUsage = summary.usageUsersDrifted - summary.usageDrifted.length;
    if (unlistedUsage > 0)
      io.out(`(${unlistedUsage} more user${unlistedUsage === 1 ? '' : 's'} with usage drift not listed)\n`);
  }
  if (summary.usersDrifted > 0) {
    const users = `${summary.usersDrifted} user${summary.usersDrifted === 1 ? '' : 's'}`;
    throw new CliError(
      `${users} with a balance that differs from the ledger (total drift ${summary.totalDriftCents} cents)`,
    );
  }
  if (summary.usageUsersDrifted > 0) {
    const users = `${summary.usageUsersDrifted} user${summary.usageUsersDrifted === 1 ? '' : 's'}`;
    throw new CliError(
      `${users} whose usage debits on the ledger differ from their consumed usage records (total drift ${summary.usageTotalDriftCents} cents)`,
    );
  }
  if (summary.chainBreaks > 0) {
    throw new CliError(
      `${summary.chainBreaks} ledger row${summary.chainBreaks === 1 ? '' : 's'} whose balance after does not follow from the row before (a lost or doubled ledger row)`,
    );
  }
}

export async function runCommand(command: Command, ctx: CommandContext): Promise<void> {
  switch (command.name) {
    case 'auto-release':
      return autoRelease(ctx);
    case 'pool refresh':
      return poolRefresh(ctx, command.file);
    case 'pool list':
      return poolList(ctx, command.status);
    case 'allocations list':
      return allocationsList(ctx, command);
    case 'users create':
      return usersCreate(ctx, command);
    case 'jobs list':
      return jobsList(ctx, command);
    case 'aggregate':
      return aggregate(ctx);
    case 'payments record':
      return paymentsRecord(ctx, command);
    case 'payments refund':
      return paymentsRefund(ctx, command);
    case 'payments list':
      return paymentsList(ctx, command);
    case 'plans list':
      return plansList(ctx);
    case 'reconcile':
      return reconcile(ctx);
    case 'usage push':
      throw new Error('usage push does not use the API (handled in run.ts)');
  }
}
