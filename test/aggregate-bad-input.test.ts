import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createOrm, type MikroORM } from '@hero/core/db/orm';
import { type AggregateBounds, aggregateUsage } from '@hero/core/usage/aggregate-usage';
import { GitSource } from '@hero/core/usage/sources/git-source';
import {
  formatUsageBatch,
  IGNORED_FILE_NAME,
  IGNORED_NODE_DIRECTORY,
  IGNORED_OUTSIDE_NODE,
  IGNORED_SUBDIRECTORY,
  MAX_COST_CENTS,
} from '@hero/core/usage/usage-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { graphql } from './support/graphql.ts';
import { scrape } from './support/metrics.ts';
import {
  type BareRepo,
  balancesOf,
  batchFile,
  createBareRepo,
  createUsageUsers,
  usageRecord,
} from './support/usage.ts';
import { ADMIN_COOKIE, cookieHeader, type Stack, startStack } from './support/web.ts';

/**
 * Bad input in the billing repository (a real bare git repository) read by the real api, on a
 * database of its own: a record PostgreSQL cannot store, costs far beyond any bound, files and
 * node folders outside the layout. The good records are applied, each bad thing is reported
 * with its reason, no run fails on them, sums are exact and the ledger agrees with the records.
 */

const MAX_SAFE = Number.MAX_SAFE_INTEGER; // 2^53 − 1
const NODE = 'n-1';
const MAIN = `nodes/${NODE}/usage_2026-11-23-10.otoml`;

let stack: Stack;
let repo: BareRepo;
let source: GitSource;
let orm: MikroORM;
let dir: string;

beforeAll(async () => {
  repo = await createBareRepo();
  source = new GitSource({ url: repo.dir, branch: 'main', cacheDir: repo.dir });
  stack = await startStack({ apiEnv: { BILLING_GIT_URL: repo.dir } });
  orm = await createOrm({ databaseUrl: stack.db.url, poolMax: 4 });
  dir = await mkdtemp(path.join(tmpdir(), 'hero-bad-usage-'));
});
afterAll(async () => {
  await orm?.close();
  await stack?.stop();
  await repo?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const write = async (files: [string, string][]) => {
  for (const [p, text] of files) await source.putFile(p, Buffer.from(text), `usage: ${p}`);
};

/** aggregateNow through the api: no GraphQL error, the summary. */
async function aggregateNow() {
  const res = await stack.api.admin(
    graphql(`mutation { aggregateNow {
    nodesSeen nodesSkipped nodesFailed filesRead recordsSeen recordsApplied recordsDuplicate recordsRejected
    centsDebited ignoredFiles ignoredFileList { path reason } errors } }`),
  );
  expect(res.errors).toBeUndefined();
  return res.data.aggregateNow;
}

/** Per user: the cost of the consumed records and the usage debited on the ledger, in SQL numeric (exact). */
async function usageSums(userIds: string[]) {
  return stack.db.query<{ user_id: string; consumed: string; ledger: string }>(
    `select u.id::text as user_id,
            (select coalesce(sum(cost_cents), 0) from consumed_record c where c.user_id = u.id)::text as consumed,
            (select coalesce(-sum(amount_cents), 0) from ledger_entry l
              where l.user_id = u.id and l.kind = 'USAGE')::text as ledger
       from unnest($1::uuid[]) as u(id) order by 1`,
    [userIds],
  );
}

const rejectedRows = () =>
  stack.db.query<{ file_path: string; reason: string; idempotency_key: string | null }>(
    `select file_path, reason, idempotency_key from rejected_usage_record where node_name = $1
      order by reason, idempotency_key`,
    [NODE],
  );

describe('the aggregator is neither stopped nor fooled by bad input', () => {
  it('applies the good records, reports every bad one with its reason, and later runs go on', async () => {
    const [a, b] = await createUsageUsers(stack.db, 2, 10_000);
    const good = [
      usageRecord(NODE, a.id, 24),
      usageRecord(NODE, b.id, 100),
      usageRecord(NODE, b.id, MAX_COST_CENTS),
      usageRecord(NODE, b.id, MAX_COST_CENTS),
      usageRecord(NODE, b.id, MAX_COST_CENTS),
    ];
    const nul = usageRecord(NODE, a.id, 5, { idempotencyKey: 'n-nul\u0000' });
    const huge = [0, 1, 2].map(() => usageRecord(NODE, b.id, MAX_SAFE));
    // Bad records among the good ones, in one file: [0] good, [1] NUL key, [2] 2^53−1, [3] good…
    const records = [good[0], nul, huge[0], good[1], huge[1], good[2], good[3], good[4], huge[2]];
    const [, text] = batchFile(NODE, '2026-11-23-10', records);
    expect(text).toContain('idempotency_key = "n-nul\\u0000"');
    const stray = [usageRecord(NODE, a.id, 1_000)];
    await write([
      [MAIN, text],
      batchFile(NODE, '2026-11-23-1', stray),
      [`nodes/${NODE}/usage_2026-11-23-10.toml`, formatUsageBatch({ node: NODE, records: stray })],
      [`nodes/${NODE}/old/usage_2026-11-23-09.otoml`, formatUsageBatch({ node: NODE, records: stray })],
      batchFile('node x', '2026-11-23-10', [usageRecord('node x', a.id, 2_000)]),
      batchFile('-dash', '2026-11-23-10', [usageRecord('-dash', a.id, 3_000)]),
      ['nodes/usage_2026-11-23-10.otoml', formatUsageBatch({ node: NODE, records: stray })],
    ]);

    const first = await aggregateNow();
    expect(first).toMatchObject({
      nodesSeen: 1,
      nodesFailed: 0,
      filesRead: 1,
      recordsSeen: 9,
      recordsApplied: 5,
      recordsRejected: 4,
      centsDebited: 24 + 100 + 3 * MAX_COST_CENTS,
      ignoredFiles: 6,
      errors: [],
    });
    const expectedIgnored = [
      { path: `nodes/${NODE}/usage_2026-11-23-1.otoml`, reason: IGNORED_FILE_NAME },
      { path: `nodes/${NODE}/usage_2026-11-23-10.toml`, reason: IGNORED_FILE_NAME },
      { path: `nodes/${NODE}/old/usage_2026-11-23-09.otoml`, reason: IGNORED_SUBDIRECTORY },
      { path: 'nodes/node x/', reason: IGNORED_NODE_DIRECTORY },
      { path: 'nodes/-dash/', reason: IGNORED_NODE_DIRECTORY },
      { path: 'nodes/usage_2026-11-23-10.otoml', reason: IGNORED_OUTSIDE_NODE },
    ];
    expect(first.ignoredFileList).toHaveLength(6);
    expect(first.ignoredFileList).toEqual(expect.arrayContaining(expectedIgnored));

    // Exact to the cent: balances, consumed records and ledger debits agree.
    expect(Object.fromEntries(await balancesOf(stack.db, [a, b]))).toEqual({
      [a.id]: 10_000 - 24,
      [b.id]: 10_000 - 100 - 3 * MAX_COST_CENTS,
    });
    expect(await usageSums([a.id, b.id])).toEqual(
      [
        { user_id: a.id, consumed: '24', ledger: '24' },
        {
          user_id: b.id,
          consumed: String(100 + 3 * MAX_COST_CENTS),
          ledger: String(100 + 3 * MAX_COST_CENTS),
        },
      ].sort((x, y) => x.user_id.localeCompare(y.user_id)),
    );
    const consumedKeys = await stack.db.query<{ k: string }>(
      'select idempotency_key as k from consumed_record order by 1',
    );
    expect(consumedKeys.map((r) => r.k)).toEqual(good.map((r) => r.idempotencyKey).sort());

    // Each bad record is kept with its reason: file, index, field.
    const bound = `cost_cents: must be at most ${MAX_COST_CENTS}`;
    expect(await rejectedRows()).toEqual([
      {
        file_path: MAIN,
        reason: 'records[1]: idempotency_key: must not contain a NUL character (U+0000)',
        idempotency_key: 'n-nul\\u0000',
      },
      { file_path: MAIN, reason: `records[2]: ${bound}`, idempotency_key: huge[0].idempotencyKey },
      { file_path: MAIN, reason: `records[4]: ${bound}`, idempotency_key: huge[1].idempotencyKey },
      { file_path: MAIN, reason: `records[8]: ${bound}`, idempotency_key: huge[2].idempotencyKey },
    ]);

    // The node is applied (not halted); the bad folders are not nodes.
    const state = await stack.api.admin(
      graphql(
        '{ aggregatorState { nodeName lastCommitSha lastError recordsConsumedTotal ignoredFiles ignoredFileList { path reason } } }',
      ),
    );
    expect(state.errors).toBeUndefined();
    expect(state.data.aggregatorState).toEqual([
      {
        nodeName: NODE,
        lastCommitSha: expect.stringMatching(/^[0-9a-f]{40}$/),
        lastError: null,
        recordsConsumedTotal: 5,
        ignoredFiles: 3,
        ignoredFileList: expect.arrayContaining(expectedIgnored.slice(0, 3)),
      },
    ]);

    // The admin views answer (no INTERNAL_SERVER_ERROR from an amount out of range).
    const views = await stack.api.admin(
      graphql(`query AdminViews($node: String!) {
        overview { totalBalanceCents consumedRecords rejectedRecords }
        billing(first: 10) { edges { node { creditBalanceCents user { id } } } }
        rejectedRecords(nodeName: $node, first: 10) { edges { node { reason record } } }
      }`),
      { node: NODE },
    );
    expect(views.errors).toBeUndefined();
    expect(views.data.overview).toMatchObject({ consumedRecords: 5, rejectedRecords: 4 });
    const nulRecord = views.data.rejectedRecords.edges.find((e) => /NUL/.test(e.node.reason))?.node.record;
    expect(nulRecord).toMatchObject({ idempotency_key: 'n-nul\\u0000', cost_cents: 5 });

    // Reported where operators look: the metric and the admin aggregator page.
    expect((await scrape(stack.api.url)).value('hero_usage_ignored_files')).toBe(6);
    const page = await fetch(`${stack.url}/admin/aggregator`, {
      headers: { cookie: cookieHeader(ADMIN_COOKIE, await stack.adminToken()) },
    });
    const html = (await page.text()).replace(/<!--.*?-->/g, '');
    expect(page.status).toBe(200);
    expect(html).toContain('data-testid="ignored-files"');
    expect(html).toContain('6 files or folders');
    for (const p of ['nodes/node x/', 'nodes/-dash/', `nodes/${NODE}/old/usage_2026-11-23-09.otoml`])
      expect(html).toContain(p);

    // The next run does not fail on any of it: the node is skipped, the ignored still reported.
    const second = await aggregateNow();
    expect(second).toMatchObject({
      nodesSeen: 1,
      nodesSkipped: 1,
      nodesFailed: 0,
      recordsApplied: 0,
      ignoredFiles: 6,
      errors: [],
    });

    // The node rewrites the file with one more record: read again, the bad records rejected again
    // (stored once), only the new record debited.
    const fresh = usageRecord(NODE, a.id, 7);
    await write([batchFile(NODE, '2026-11-23-10', [...records, fresh])]);
    const third = await aggregateNow();
    expect(third).toMatchObject({
      nodesFailed: 0,
      filesRead: 1,
      recordsApplied: 1,
      recordsDuplicate: 5,
      recordsRejected: 4,
      centsDebited: 7,
      ignoredFiles: 6,
      errors: [],
    });
    expect(await rejectedRows()).toHaveLength(4);
    expect((await balancesOf(stack.db, [a])).get(a.id)).toBe(10_000 - 24 - 7);

    // Reconcile compares the ledger's usage debits with the consumed records: no drift.
    const reconcile = await stack.api.admin(
      graphql(`mutation { reconcileBalancesNow {
      usersDrifted chainBreaks usageUsersChecked usageUsersDrifted usageTotalDriftCents usageDrifted { userId } } }`),
    );
    expect(reconcile.errors).toBeUndefined();
    expect(reconcile.data.reconcileBalancesNow).toEqual({
      usersDrifted: 0,
      chainBreaks: 0,
      usageUsersChecked: 2,
      usageUsersDrifted: 0,
      usageTotalDriftCents: 0,
      usageDrifted: [],
    });
    const cli = await runCli(stack.api, ['reconcile']);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/^usageUsersDrifted\s+0$/m);
  });

  it('hero-admin usage push refuses a file with a record that cannot be stored, naming file, index and field', async () => {
    const [user] = await createUsageUsers(stack.db, 1, 0);
    const file = path.join(dir, 'usage_2026-11-23-12.otoml');
    await writeFile(
      file,
      formatUsageBatch({
        node: NODE,
        records: [
          usageRecord(NODE, user.id, 1),
          usageRecord(NODE, user.id, 1, { resource: 'cpu\u0000' }),
          usageRecord(NODE, user.id, MAX_SAFE),
        ],
      }),
    );
    const before = await source.head();
    const push = await runCli(null, ['usage', 'push', '--node', NODE, '--file', file], {
      BILLING_GIT_URL: repo.dir,
    });
    expect(push.code).toBe(1);
    expect(push.stdout).toBe('');
    expect(push.stderr).toContain(`${file}: 2 record(s) would be rejected; nothing was written`);
    expect(push.stderr).toContain('records[1]: resource: must not contain a NUL character (U+0000)');
    expect(push.stderr).toContain(`records[2]: cost_cents: must be at most ${MAX_COST_CENTS}`);
    expect(await source.head()).toBe(before);
  });

  it('reconcile reports a user whose usage debits differ from their consumed records', async () => {
    const [user] = await createUsageUsers(stack.db, 1, 1_000);
    const node = 'drift-node';
    await write([
      batchFile(node, '2026-11-23-10', [usageRecord(node, user.id, 30), usageRecord(node, user.id, 12)]),
    ]);
    expect(await aggregateNow()).toMatchObject({ nodesFailed: 0, recordsApplied: 2, centsDebited: 42 });
    // A consumed record nobody debited (as a lost debit would leave it).
    await stack.db.query(
      `insert into consumed_record (idempotency_key, user_id, node_name, file_path, cost_cents)
       values ('drift-node/lost', $1, $2, 'nodes/drift-node/usage_2026-11-23-10.otoml', 8)`,
      [user.id, node],
    );
    const res = await stack.api.admin(
      graphql(`mutation { reconcileBalancesNow {
      usersDrifted usageUsersDrifted usageTotalDriftCents usageDrifted { userId ledgerUsageCents consumedCents driftCents } } }`),
    );
    expect(res.errors).toBeUndefined();
    expect(res.data.reconcileBalancesNow).toEqual({
      usersDrifted: 0,
      usageUsersDrifted: 1,
      usageTotalDriftCents: 8,
      usageDrifted: [{ userId: user.id, ledgerUsageCents: 42, consumedCents: 50, driftCents: -8 }],
    });
    const cli = await runCli(stack.api, ['reconcile']);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain(`${user.id} (${user.email}) usage ledger 42 consumed 50 drift -8`);
    expect(cli.stderr).toMatch(
      /1 user whose usage debits on the ledger differ from their consumed usage records/,
    );
    await stack.db.query("delete from consumed_record where idempotency_key = 'drift-node/lost'");
  });
});

describe('bounds per batch, balance and run', () => {
  const run = (bounds: Partial<AggregateBounds>, batchSize = 1_000) =>
    aggregateUsage(orm.em.fork(), { source, batchSize, bounds });
  const ledgerRows = (userId: string) =>
    stack.db.query<{ amount: string }>(
      "select amount_cents::text as amount from ledger_entry where user_id = $1 and kind = 'USAGE' order by id",
      [userId],
    );

  it('cuts a batch before its costs sum past the batch bound (the records go in the next batch)', async () => {
    const [user] = await createUsageUsers(stack.db, 1, 0);
    const node = 'split-node';
    await write([
      batchFile(
        node,
        '2026-11-23-10',
        [60, 60, 60, 30].map((c) => usageRecord(node, user.id, c)),
      ),
    ]);
    const summary = await run({ batchCents: 100n });
    expect(summary).toMatchObject({ nodesFailed: 0, recordsApplied: 4, centsDebited: 210 });
    // One USAGE ledger row per user and batch: 60 | 60 | 60+30.
    expect((await ledgerRows(user.id)).map((r) => r.amount)).toEqual(['-60', '-60', '-90']);
    expect((await balancesOf(stack.db, [user])).get(user.id)).toBe(-210);
  });

  it('rejects the records that would take a balance below the floor, applies the rest, counts duplicates as such', async () => {
    const [user, other] = await createUsageUsers(stack.db, 2, 0);
    const node = 'floor-node';
    const first = usageRecord(node, user.id, 60);
    await write([batchFile(node, '2026-11-23-10', [first])]);
    await run({ balanceFloorCents: -100n });
    const over = usageRecord(node, user.id, 50);
    await write([
      batchFile(node, '2026-11-23-11', [
        { ...first, costCents: 60 }, // already consumed: a duplicate, not a floor rejection
        over,
        usageRecord(node, user.id, 30),
        usageRecord(node, other.id, 100),
      ]),
    ]);
    const summary = await run({ balanceFloorCents: -100n });
    expect(summary).toMatchObject({
      nodesFailed: 0,
      recordsApplied: 2,
      recordsDuplicate: 1,
      recordsRejected: 1,
      centsDebited: 130,
      errors: [],
    });
    expect(Object.fromEntries(await balancesOf(stack.db, [user, other]))).toEqual({
      [user.id]: -90,
      [other.id]: -100,
    });
    const rejected = await stack.db.query<{ idempotency_key: string; reason: string }>(
      'select idempotency_key, reason from rejected_usage_record where node_name = $1',
      [node],
    );
    expect(rejected).toEqual([
      {
        idempotency_key: over.idempotencyKey,
        reason: `debiting 50 cents would take the balance of user ${user.id} below -100 cents, the lowest usage may take it to`,
      },
    ]);
    expect(await usageSums([user.id, other.id])).toEqual(
      expect.arrayContaining([
        { user_id: user.id, consumed: '90', ledger: '90' },
        { user_id: other.id, consumed: '100', ledger: '100' },
      ]),
    );
  });

  it('stops a run that reached the run bound; the next run goes on from there, nothing debited twice', async () => {
    const [user] = await createUsageUsers(stack.db, 1, 0);
    const node = 'budget-node';
    await write([
      batchFile(
        node,
        '2026-11-23-10',
        [40, 40, 40, 40].map((c) => usageRecord(node, user.id, c)),
      ),
    ]);
    const bounds = { batchCents: 50n, runCents: 100n };
    const first = await run(bounds);
    expect(first).toMatchObject({ nodesFailed: 0, recordsApplied: 3, centsDebited: 120 });
    expect(first.errors).toEqual([
      'run stopped after debiting 120 cents (at most 100 per run): the next run goes on from there',
    ]);
    const [state] = await stack.db.query<{ last_commit_sha: string | null; last_error: string | null }>(
      'select last_commit_sha, last_error from aggregator_node_state where node_name = $1',
      [node],
    );
    expect(state).toEqual({ last_commit_sha: null, last_error: null });
    const second = await run(bounds);
    expect(second).toMatchObject({
      nodesFailed: 0,
      recordsApplied: 1,
      recordsDuplicate: 3,
      centsDebited: 40,
      errors: [],
    });
    expect((await balancesOf(stack.db, [user])).get(user.id)).toBe(-160);
  });
});
