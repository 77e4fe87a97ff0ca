import { monthlyStatement, monthOf } from '@hero/core/billing/statements';
import { createOrm, type MikroORM } from '@hero/core/db/orm';
import { type AggregateSummary, aggregateUsage } from '@hero/core/usage/aggregate-usage';
import { ForgeSource } from '@hero/core/usage/sources/forge-source';
import { GitSource } from '@hero/core/usage/sources/git-source';
import type { UsageSource } from '@hero/core/usage/sources/usage-source';
import {
  formatUsageBatch,
  IGNORED_FILE_NAME,
  IGNORED_NODE_DIRECTORY,
  IGNORED_OUTSIDE_NODE,
  IGNORED_SUBDIRECTORY,
} from '@hero/core/usage/usage-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { type FakeForge, startFakeForge } from './support/forge/fake-forge.ts';
import {
  balancesOf,
  batchFile,
  createBareRepo,
  createUsageUsers,
  expectedDebits,
  type UsageUser,
  usageRecord,
} from './support/usage.ts';

let db: TestDatabase;
let orm: MikroORM;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await createOrm({ databaseUrl: db.url, poolMax: 6 });
});
afterAll(async () => {
  await orm?.close();
  await db?.drop();
});

/** A billing repository the aggregator reads through one of its sources. */
interface Harness {
  source: UsageSource;
  /** One commit per file, as nodes push. */
  write(files: [string, string][]): Promise<void>;
  close(): Promise<void>;
  /** The fake forge behind a forge source (fault injection). */
  forge?: FakeForge;
}

async function gitHarness(): Promise<Harness> {
  const repo = await createBareRepo();
  const source = new GitSource({ url: repo.dir, branch: 'main', cacheDir: repo.dir });
  return {
    source,
    write: async (files) => {
      for (const [p, text] of files) await source.putFile(p, Buffer.from(text), `usage: ${p}`);
    },
    close: () => repo.remove(),
  };
}

/** The forge source against a local Forgejo-compatible server (test/support/forge), written through its contents API. */
async function forgeHarness(): Promise<Harness> {
  const forge = await startFakeForge();
  const source = new ForgeSource({
    url: forge.rootUrl,
    token: forge.token,
    repo: `${forge.owner}/${forge.repo}`,
    branch: 'main',
    retries: 2,
    retryBaseMs: 20,
    timeoutMs: 10_000,
  });
  return {
    source,
    forge,
    write: async (files) => {
      for (const [p, text] of files) await source.putFile(p, Buffer.from(text), `usage: ${p}`);
    },
    close: () => forge.stop(),
  };
}

const harnesses: Record<string, () => Promise<Harness>> = { git: gitHarness, forge: forgeHarness };

const balances = (users: UsageUser[]) => balancesOf(db, users);

const nodeState = async (node: string) =>
  (
    await db.query<{
      last_commit_sha: string | null;
      last_error: string | null;
      records_consumed_total: string;
    }>(
      'select last_commit_sha, last_error, records_consumed_total::text from aggregator_node_state where node_name = $1',
      [node],
    )
  )[0];

describe.each(Object.keys(harnesses))('aggregation from the %s source', (kind) => {
  let h: Harness;
  const run = (): Promise<AggregateSummary> =>
    aggregateUsage(orm.em.fork(), { source: h.source, batchSize: 3 });
  const node = (name: string) => `${kind}-${name}-${Math.random().toString(36).slice(2, 7)}`;

  beforeAll(async () => {
    h = await harnesses[kind]();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('keeps the commit each record was read at: every statement usage line names commit and file', async () => {
    const [user] = await createUsageUsers(db, 1, 10_000);
    const A = node('a');
    const B = node('b');
    const first = [usageRecord(A, user.id, 11), usageRecord(A, user.id, 2)];
    await h.write([
      batchFile(A, '2026-11-23-10', first),
      batchFile(B, '2026-11-23-10', [usageRecord(B, user.id, 7)]),
    ]);
    await run();
    const firstHead = await h.source.head();
    // The node rewrites its hour with one more record: only that one is new, read at the new commit.
    const later = usageRecord(A, user.id, 30);
    await h.write([batchFile(A, '2026-11-23-10', [...first, later])]);
    await run();
    const secondHead = await h.source.head();
    expect(secondHead).not.toBe(firstHead);

    const consumed = await db.query<{ idempotency_key: string; commit_sha: string; file_path: string }>(
      'select idempotency_key, commit_sha, file_path from consumed_record where user_id = $1 order by idempotency_key',
      [user.id],
    );
    expect(consumed).toHaveLength(4);
    for (const r of consumed) {
      expect(r.commit_sha).toBe(r.idempotency_key === later.idempotencyKey ? secondHead : firstHead);
      expect(r.file_path).toMatch(new RegExp(`^nodes/(${A}|${B})/usage_2026-11-23-10\\.otoml$`));
    }

    const statement = await monthlyStatement(orm.em.fork(), user.id, monthOf(new Date()));
    const origins = statement.usage.groups.flatMap((g) => g.origins);
    expect(origins.map((o) => [o.nodeName, o.commitSha, o.filePath, o.records, o.amountCents])).toEqual([
      [A, firstHead, `nodes/${A}/usage_2026-11-23-10.otoml`, 2, -13],
      [A, secondHead, `nodes/${A}/usage_2026-11-23-10.otoml`, 1, -30],
      [B, firstHead, `nodes/${B}/usage_2026-11-23-10.otoml`, 1, -7],
    ]);
    expect(statement.usage).toMatchObject({ totalCents: -50, unattributedCents: 0 });
  });

  it('debits each balance by exactly the sum of its records, once; a repeat run skips the node', async () => {
    const users = await createUsageUsers(db, 2, 10_000);
    const A = node('a');
    const records = [
      usageRecord(A, users[0].id, 24),
      usageRecord(A, users[0].id, 5),
      usageRecord(A, users[1].id, 100),
      usageRecord(A, users[1].id, 1),
      usageRecord(A, users[0].id, 0),
    ];
    await h.write([
      batchFile(A, '2026-11-23-10', records.slice(0, 3)),
      batchFile(A, '2026-11-23-11', records.slice(3)),
    ]);

    const first = await run();
    expect(first).toMatchObject({
      nodesFailed: 0,
      filesRead: 2,
      recordsSeen: 5,
      recordsApplied: 5,
      recordsDuplicate: 0,
      recordsRejected: 0,
      centsDebited: 130,
      errors: [],
    });
    const after = await balances(users);
    const sums = expectedDebits(records);
    expect(after.get(users[0].id)).toBe(10_000 - (sums.get(users[0].id) ?? 0));
    expect(after.get(users[1].id)).toBe(10_000 - (sums.get(users[1].id) ?? 0));
    const keys = await db.query<{ idempotency_key: string; node_name: string; file_path: string }>(
      'select idempotency_key, node_name, file_path from consumed_record where node_name = $1 order by idempotency_key',
      [A],
    );
    expect(keys.map((k) => k.idempotency_key)).toEqual(records.map((r) => r.idempotencyKey).sort());
    expect(keys.every((k) => k.file_path.startsWith(`nodes/${A}/usage_2026-11-23-1`))).toBe(true);
    const state = await nodeState(A);
    expect(state.last_commit_sha).toMatch(/^[0-9a-f]{40}$/);
    expect(state.records_consumed_total).toBe('5');
    expect(state.last_error).toBeNull();

    const second = await run();
    expect(second.nodesSkipped).toBe(second.nodesSeen);
    expect(second).toMatchObject({ filesRead: 0, recordsSeen: 0, recordsApplied: 0, centsDebited: 0 });
    expect(await balances(users)).toEqual(after);

    // A new file: one new record and one key already consumed. Only the new one is debited.
    const fresh = usageRecord(A, users[1].id, 7);
    await h.write([batchFile(A, '2026-11-23-12', [fresh, { ...records[2], costCents: 999 }])]);
    const third = await run();
    expect(third).toMatchObject({
      filesRead: 1,
      recordsSeen: 2,
      recordsApplied: 1,
      recordsDuplicate: 1,
      centsDebited: 7,
    });
    expect((await balances(users)).get(users[1].id)).toBe((after.get(users[1].id) ?? 0) - 7);
    expect((await nodeState(A)).last_commit_sha).not.toBe(state.last_commit_sha);
  });

  it("splits what it debited by the balances' currencies", async () => {
    const [eur, usd, usd2] = await createUsageUsers(db, 3, 10_000);
    await db.query(`update billing set currency = 'USD' where user_id = any($1::uuid[])`, [
      [usd.id, usd2.id],
    ]);
    const C = node('c');
    await h.write([
      batchFile(C, '2026-11-23-10', [
        usageRecord(C, eur.id, 12),
        usageRecord(C, usd.id, 30),
        usageRecord(C, usd2.id, 5),
        usageRecord(C, eur.id, 1),
      ]),
    ]);
    const summary = await run();
    expect(summary.centsDebited).toBe(48);
    expect(summary.debitedByCurrency).toEqual([
      { currency: 'EUR', cents: 13 },
      { currency: 'USD', cents: 35 },
    ]);
    expect((await run()).debitedByCurrency).toEqual([]);
  });

  it('reads again only a file whose blob changed (a node rewriting its current hour)', async () => {
    const [user] = await createUsageUsers(db, 1, 0);
    const B = node('b');
    const r1 = usageRecord(B, user.id, 10);
    const r2 = usageRecord(B, user.id, 20);
    await h.write([
      batchFile(B, '2026-11-23-09', [usageRecord(B, user.id, 1)]),
      batchFile(B, '2026-11-23-10', [r1]),
    ]);
    await run();
    await h.write([batchFile(B, '2026-11-23-10', [r1, r2])]);
    const summary = await run();
    expect(summary).toMatchObject({
      filesRead: 1,
      recordsSeen: 2,
      recordsApplied: 1,
      recordsDuplicate: 1,
      centsDebited: 20,
    });
    expect((await balances([user])).get(user.id)).toBe(-31);
  });

  it('reports files and node folders outside the layout, debits none of them, and goes on reporting them', async () => {
    const [user] = await createUsageUsers(db, 1, 1000);
    const C = node('layout');
    const bad = `${kind} bad ${Math.random().toString(36).slice(2, 7)}`;
    const stray = (n: string) => formatUsageBatch({ node: n, records: [usageRecord(n, user.id, 500)] });
    await h.write([
      batchFile(C, '2026-11-23-10', [usageRecord(C, user.id, 4)]),
      [`nodes/${C}/usage_2026-11-23-1.otoml`, stray(C)],
      [`nodes/${C}/sub/usage_2026-11-23-10.otoml`, stray(C)],
      [`nodes/${bad}/usage_2026-11-23-10.otoml`, stray(bad)],
      [`nodes/${C}.otoml`, stray(C)],
    ]);
    const summary = await run();
    expect(summary).toMatchObject({ nodesFailed: 0, recordsApplied: 1, centsDebited: 4 });
    expect(summary.ignoredFileList).toEqual(
      expect.arrayContaining([
        { path: `nodes/${C}/usage_2026-11-23-1.otoml`, reason: IGNORED_FILE_NAME },
        { path: `nodes/${C}/sub/usage_2026-11-23-10.otoml`, reason: IGNORED_SUBDIRECTORY },
        { path: `nodes/${bad}/`, reason: IGNORED_NODE_DIRECTORY },
        { path: `nodes/${C}.otoml`, reason: IGNORED_OUTSIDE_NODE },
      ]),
    );
    expect((await balances([user])).get(user.id)).toBe(1000 - 4);
    const [state] = await db.query<{ ignored_files: number; ignored_file_list: unknown[] }>(
      'select ignored_files, ignored_file_list from aggregator_node_state where node_name = $1',
      [C],
    );
    expect(state.ignored_files).toBe(2);
    expect(state.ignored_file_list).toHaveLength(2);
    expect(await db.query('select 1 from aggregator_node_state where node_name = $1', [bad])).toEqual([]);
    // Skipped next time (unchanged), still reported.
    const next = await run();
    expect(next.ignoredFiles).toBe(summary.ignoredFiles);
    expect((await balances([user])).get(user.id)).toBe(1000 - 4);
  });

  it('fails a node with an unparsable file (the file named), keeps the rest, rejects unknown users', async () => {
    const [user] = await createUsageUsers(db, 1, 1000);
    const good = node('good');
    const bad = node('bad');
    const ghost = '00000000-0000-4000-8000-000000000001';
    const goodRecords = [usageRecord(good, user.id, 3), usageRecord(good, ghost, 50)];
    await h.write([
      batchFile(good, '2026-11-23-10', goodRecords),
      batchFile(bad, '2026-11-23-10', [usageRecord(bad, user.id, 400)]),
      [`nodes/${bad}/usage_2026-11-23-11.otoml`, '[[records]\nthis is not toml'],
    ]);
    const summary = await run();
    expect(summary.nodesFailed).toBe(1);
    expect(summary.errors).toEqual([
      expect.stringMatching(new RegExp(`^${bad}: nodes/${bad}/usage_2026-11-23-11\\.otoml: not valid TOML`)),
    ]);
    // The good node applied its valid record; the bad node's state did not move.
    expect((await balances([user])).get(user.id)).toBeLessThanOrEqual(1000 - 3);
    const badState = await nodeState(bad);
    expect(badState.last_commit_sha).toBeNull();
    expect(badState.last_error).toContain('usage_2026-11-23-11.otoml');
    expect((await nodeState(good)).last_error).toBeNull();
    const rejected = await db.query<{ idempotency_key: string; reason: string; user_id: string }>(
      'select idempotency_key, reason, user_id from rejected_usage_record where node_name = $1',
      [good],
    );
    expect(rejected).toEqual([
      { idempotency_key: goodRecords[1].idempotencyKey, reason: `unknown user ${ghost}`, user_id: ghost },
    ]);

    // Fixing the file lets the node through on the next run; the rejected record is not stored twice.
    await h.write([batchFile(bad, '2026-11-23-11', [usageRecord(bad, user.id, 6)])]);
    const next = await run();
    expect(next.nodesFailed).toBe(0);
    expect((await nodeState(bad)).last_error).toBeNull();
    expect((await balances([user])).get(user.id)).toBe(1000 - 3 - 400 - 6);
    const again = await db.query('select 1 from rejected_usage_record where node_name = $1', [good]);
    expect(again).toHaveLength(1);
  });
});

describe('forge faults', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await forgeHarness();
  });
  afterAll(async () => {
    await h?.close();
  });
  const forge = () => h.forge as FakeForge;

  it("a 500 on node B's listing halts node B with lastError, its sha unadvanced, while node A is applied", async () => {
    const [user] = await createUsageUsers(db, 1, 1000);
    const A = `fault-a-${Date.now()}`;
    const B = `fault-b-${Date.now()}`;
    await h.write([
      batchFile(A, '2026-11-23-10', [usageRecord(A, user.id, 10)]),
      batchFile(B, '2026-11-23-10', [usageRecord(B, user.id, 100)]),
    ]);
    forge().injectFault({
      method: 'GET',
      path: `path=nodes%2F${B}`,
      status: 500,
      times: Number.POSITIVE_INFINITY,
    });
    const summary = await aggregateUsage(orm.em.fork(), { source: h.source });
    expect(summary.nodesFailed).toBe(1);
    expect(summary.errors).toEqual([
      expect.stringMatching(new RegExp(`^${B}: GET .* failed after 3 attempts: HTTP 500`)),
    ]);
    expect((await balances([user])).get(user.id)).toBe(990);
    expect(await nodeState(B)).toMatchObject({
      last_commit_sha: null,
      last_error: expect.stringContaining('HTTP 500'),
    });
    expect((await nodeState(A)).last_commit_sha).toMatch(/^[0-9a-f]{40}$/);

    // The forge recovers: the next run applies node B only.
    forge().clearFaults();
    const next = await aggregateUsage(orm.em.fork(), { source: h.source });
    expect(next).toMatchObject({ nodesFailed: 0, recordsApplied: 1, centsDebited: 100 });
    expect((await nodeState(B)).last_error).toBeNull();
    expect((await balances([user])).get(user.id)).toBe(890);
  });

  it('429 and 502 answers are retried; a node read after them is applied', async () => {
    const [user] = await createUsageUsers(db, 1, 0);
    const C = `retry-c-${Date.now()}`;
    await h.write([batchFile(C, '2026-11-23-10', [usageRecord(C, user.id, 5)])]);
    forge().injectFault({
      method: 'GET',
      path: '/raw/',
      status: 429,
      headers: { 'retry-after': '0' },
      times: 1,
    });
    forge().injectFault({ method: 'GET', path: '/git/trees/', status: 502, times: 1 });
    const summary = await aggregateUsage(orm.em.fork(), { source: h.source });
    expect(summary).toMatchObject({ nodesFailed: 0, recordsApplied: 1 });
    expect(forge().requests.filter((r) => r.status === 429 || r.status === 502)).toHaveLength(2);
  });

  it('a token the forge refuses fails the run with a clear error and changes nothing', async () => {
    const bad = new ForgeSource({
      url: forge().rootUrl,
      token: 'not-a-token',
      repo: `${forge().owner}/${forge().repo}`,
      branch: 'main',
      retryBaseMs: 20,
    });
    const before = await db.query('select count(*)::int as n from consumed_record');
    await expect(aggregateUsage(orm.em.fork(), { source: bad })).rejects.toThrow(
      /the forge refused the token \(401 user does not exist \[uid: 0, name: \]\): check FORGE_TOKEN/,
    );
    const missing = new ForgeSource({
      url: forge().rootUrl,
      token: forge().token,
      repo: 'billing/nope',
      branch: 'main',
      retryBaseMs: 20,
    });
    await expect(aggregateUsage(orm.em.fork(), { source: missing })).rejects.toThrow(
      /repository billing\/nope not found on the forge, or not visible to the token/,
    );
    expect(await db.query('select count(*)::int as n from consumed_record')).toEqual(before);
  });
});
