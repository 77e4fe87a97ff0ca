import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { ApiClient } from '@hero/cli/client';
import { runCommand } from '@hero/cli/run';
import { createOrm, type MikroORM } from '@hero/core/db/orm';
import { aggregateUsage } from '@hero/core/usage/aggregate-usage';
import { GitSource } from '@hero/core/usage/sources/git-source';
import { formatUsageBatch } from '@hero/core/usage/usage-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { runCli } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { graphql } from './support/graphql.ts';
import { outcomeLine, spawnTs } from './support/process.ts';
import {
  balancesOf,
  createBareRepo,
  createUsageUsers,
  seedUsage,
  type UsageUser,
  usageRecord,
} from './support/usage.ts';

/**
 * The aggregator as operators run it: worker processes (`workers/src/main.ts aggregate`), the
 * api's `aggregateNow`, and `hero-admin aggregate` / `usage push`, on a git billing repository.
 */

let db: TestDatabase;
let orm: MikroORM;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await createOrm({ databaseUrl: db.url, poolMax: 8 });
  dir = await mkdtemp(path.join(tmpdir(), 'hero-aggregate-'));
});
afterAll(async () => {
  await orm?.close();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Balances equal start minus the expected sums, to the cent, and no key is consumed twice (it is the primary key). */
async function expectExactDebits(
  users: UsageUser[],
  start: number,
  expected: Map<string, number>,
  prefix: string,
) {
  const balances = await balancesOf(db, users);
  for (const user of users) expect(balances.get(user.id), user.id).toBe(start - (expected.get(user.id) ?? 0));
  const [{ n, cents }] = await db.query<{ n: number; cents: string }>(
    `select count(*)::int as n, coalesce(sum(cost_cents), 0)::text as cents from consumed_record where node_name like $1 || '%'`,
    [prefix],
  );
  const total = [...expected.values()].reduce((a, b) => a + b, 0);
  expect(Number(cents)).toBe(total);
  return n;
}

const worker = (gitDir: string, args: string[], env: Record<string, string> = {}) =>
  spawnTs('workers/src/main.ts', ['aggregate', ...args], {
    DATABASE_URL: db.url,
    BILLING_GIT_URL: gitDir,
    LOG_LEVEL: 'warn',
    ...env,
  });

describe('aggregator worker, aggregateNow and the CLI on a git billing repository', () => {
  let api: ApiProcess;
  let repo: { dir: string; remove(): Promise<void> };
  let users: UsageUser[];

  beforeAll(async () => {
    repo = await createBareRepo();
    users = await createUsageUsers(db, 3, 5_000);
    api = await startApi({ databaseUrl: db.url, env: { VM_POOL_JSON: '[]', BILLING_GIT_URL: repo.dir } });
  });
  afterAll(async () => {
    await api?.stop();
    await repo?.remove();
  });

  it('worker --once debits; a second --once skips every node; the admin feeds show it', async () => {
    const gen = await seedUsage(repo.dir, users, {
      nodes: 3,
      filesPerNode: 4,
      recordsPerFile: 50,
      nodePrefix: 'w',
    });

    const first = worker(repo.dir, ['--once']);
    expect(await first.exited).toBe(0);
    const outcome = outcomeLine(first.lines);
    expect(outcome).toMatchObject({ job: 'aggregate', status: 'SUCCEEDED', trigger: 'MANUAL' });
    expect(outcome.summary).toMatchObject({
      nodesSeen: 3,
      nodesFailed: 0,
      filesRead: 12,
      recordsApplied: 600,
      recordsDuplicate: 0,
    });
    await expectExactDebits(users, 5_000, gen.expected, 'w-');

    const second = worker(repo.dir, ['--once']);
    expect(await second.exited).toBe(0);
    expect(outcomeLine(second.lines).summary).toMatchObject({
      nodesSeen: 3,
      nodesSkipped: 3,
      filesRead: 0,
      recordsApplied: 0,
    });

    const feeds = await api.admin(
      graphql(`query AggregatorFeeds($userId: ID!) {
      aggregatorState { nodeName lastCommitSha lastRunAt lastSuccessAt recordsConsumedTotal filesTotal lastError }
      consumedRecords(nodeName: "w-01", first: 2) { edges { node { idempotencyKey userId nodeName filePath costCents resource quantity periodStart } } }
      billing(first: 3, userId: $userId) { edges { node { creditBalanceCents currency user { id email } } } }
      overview { totalUsers consumedRecords rejectedRecords aggregator { lastRunAt lastRunStatus failingNodes { nodeName } } }
      jobRuns(job: "aggregate", first: 1) { edges { node { status summary progress } } }
    }`),
      { userId: users[0].id },
    );
    expect(feeds.errors).toBeUndefined();
    expect(feeds.data.aggregatorState).toEqual(
      ['w-01', 'w-02', 'w-03'].map((nodeName) => ({
        nodeName,
        lastCommitSha: expect.stringMatching(/^[0-9a-f]{40}$/),
        lastRunAt: expect.any(String),
        lastSuccessAt: expect.any(String),
        recordsConsumedTotal: 200,
        filesTotal: 4,
        lastError: null,
      })),
    );
    const consumed = feeds.data.consumedRecords.edges.map((e) => e.node);
    expect(consumed).toHaveLength(2);
    expect(consumed[0]).toMatchObject({
      nodeName: 'w-01',
      filePath: expect.stringMatching(/^nodes\/w-01\/usage_/),
    });
    expect(feeds.data.billing.edges[0].node).toEqual({
      creditBalanceCents: 5_000 - (gen.expected.get(users[0].id) ?? 0),
      currency: 'EUR',
      user: { id: users[0].id, email: users[0].email },
    });
    expect(feeds.data.overview).toMatchObject({
      totalUsers: 3,
      consumedRecords: 600,
      rejectedRecords: 0,
      aggregator: { lastRunStatus: 'SUCCEEDED', failingNodes: [] },
    });
    expect(feeds.data.jobRuns.edges[0].node).toMatchObject({
      status: 'SUCCEEDED',
      progress: { nodesTotal: 3, nodesDone: 3 },
    });
  });

  it('hero-admin usage push writes a batch the way a node does; aggregate --once debits it', async () => {
    const record = usageRecord('pushed', users[1].id, 42);
    const file = path.join(dir, 'usage_2026-11-23-10.otoml');
    await writeFile(file, formatUsageBatch({ node: 'pushed', period: '2026-11-23-10', records: [record] }));
    const push = await runCli(null, ['usage', 'push', '--node', 'pushed', '--file', file], {
      BILLING_GIT_URL: repo.dir,
    });
    expect(push.stderr).toBe('');
    expect(push.code).toBe(0);
    expect(push.stdout).toMatch(/path\s+nodes\/pushed\/usage_2026-11-23-10\.otoml/);
    expect(push.stdout).toMatch(/records\s+1/);

    const before = (await balancesOf(db, users)).get(users[1].id) ?? 0;
    const run = await runCli(api, ['aggregate', '--once']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/recordsApplied\s+1\n/);
    expect(run.stdout).toMatch(/centsDebited\s+42\n/);
    expect((await balancesOf(db, users)).get(users[1].id)).toBe(before - 42);

    // A batch the aggregator would refuse is not written: every problem listed, exit 1.
    const bad = path.join(dir, 'usage_2026-11-23-11.otoml');
    await writeFile(
      bad,
      formatUsageBatch({ node: 'pushed', records: [{ ...record, idempotencyKey: 'x', costCents: -1 }] }),
    );
    const refused = await runCli(null, ['usage', 'push', '--node', 'pushed', '--file', bad], {
      BILLING_GIT_URL: repo.dir,
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/1 record\(s\) would be rejected; nothing was written/);
    expect(refused.stderr).toMatch(/cost_cents: must be >= 0/);
    const again = await runCli(api, ['aggregate', '--once', '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ filesRead: 0, recordsApplied: 0 });

    // No usage source configured: a clear configuration error.
    const none = await runCli(null, ['usage', 'push', '--node', 'pushed', '--file', file], {});
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no billing repository configured/);
  });

  it('hero-admin aggregate draws a progress bar on a terminal from the running job', async () => {
    await seedUsage(repo.dir, users, {
      nodes: 6,
      filesPerNode: 10,
      recordsPerFile: 2500,
      nodePrefix: 'bar',
    });
    let drawn = '';
    const terminal = Object.assign(new PassThrough(), { isTTY: true, columns: 160 });
    terminal.on('data', (c: Buffer) => {
      drawn += c.toString('utf8');
    });
    let out = '';
    const client = new ApiClient({ url: api.url, adminSecret: api.adminSecret, timeoutMs: 60_000 });
    try {
      await runCommand(
        { name: 'aggregate' },
        { client, json: false, io: { out: (t) => (out += t), err: () => {}, progress: terminal } },
      );
    } finally {
      await client.close();
    }
    expect(out).toMatch(/recordsApplied\s+150000\n/);
    // The bar showed the RUNNING run's progress (nodes done of 6+ and records applied so far).
    expect(drawn).toMatch(/aggregating \|.*\| \d+\/\d+ nodes \| \d+ files \| \d+ records applied/);
  });

  it('two aggregator processes and aggregateNow at once: every record applied exactly once', async () => {
    const gen = await seedUsage(repo.dir, users, {
      nodes: 4,
      filesPerNode: 5,
      recordsPerFile: 400,
      nodePrefix: 'race',
    });
    const before = await balancesOf(db, users);
    const a = worker(repo.dir, ['--once']);
    const b = worker(repo.dir, ['--once']);
    const now = api.admin(graphql('mutation { aggregateNow { recordsApplied } }'));
    const [codeA, codeB, answer] = await Promise.all([a.exited, b.exited, now]);
    expect([codeA, codeB]).toEqual([0, 0]);
    const applied =
      [outcomeLine(a.lines), outcomeLine(b.lines)]
        .filter((o) => o.status === 'SUCCEEDED')
        .reduce((sum, o) => sum + o.summary.recordsApplied, 0) +
      (answer.data?.aggregateNow?.recordsApplied ?? 0);
    expect(applied).toBe(8_000);
    if (!answer.data?.aggregateNow) expect(answer.errors?.[0]?.extensions?.code).toBe('ALREADY_RUNNING');
    const after = await balancesOf(db, users);
    for (const u of users)
      expect(after.get(u.id)).toBe((before.get(u.id) ?? 0) - (gen.expected.get(u.id) ?? 0));
  });
});

describe('exactly once without the run lock', () => {
  it('three aggregations racing on the same repository (no lock) debit every record once', async () => {
    const repo = await createBareRepo();
    try {
      const users = await createUsageUsers(db, 5, 0);
      const gen = await seedUsage(repo.dir, users, {
        nodes: 3,
        filesPerNode: 6,
        recordsPerFile: 300,
        nodePrefix: 'free',
      });
      const run = () =>
        aggregateUsage(orm.em.fork(), {
          source: new GitSource({ url: repo.dir, branch: 'main', cacheDir: dir }),
          batchSize: 250,
        });
      const summaries = await Promise.all([run(), run(), run()]);
      expect(summaries.reduce((s, x) => s + x.recordsApplied, 0)).toBe(gen.records);
      expect(summaries.reduce((s, x) => s + x.centsDebited, 0)).toBe(
        [...gen.expected.values()].reduce((a, b) => a + b, 0),
      );
      expect(await expectExactDebits(users, 0, gen.expected, 'free-')).toBe(gen.records);
    } finally {
      await repo.remove();
    }
  });
});

describe('graceful stop', () => {
  it('SIGTERM while the daemon applies a backlog: exit 0, the run recorded, every consumed key debited once; the next run finishes it', async () => {
    const repo = await createBareRepo();
    try {
      const users = await createUsageUsers(db, 50, 0);
      const gen = await seedUsage(repo.dir, users, {
        nodes: 8,
        filesPerNode: 10,
        recordsPerFile: 1000,
        nodePrefix: 'term',
      });
      const consumedCents = async () =>
        (
          await db.query<{ n: number; cents: string }>(
            `select count(*)::int as n, coalesce(sum(cost_cents), 0)::text as cents from consumed_record where node_name like 'term-%'`,
          )
        )[0];
      const daemon = worker(repo.dir, [], { AGGREGATE_BATCH_SIZE: '1000', LOG_LEVEL: 'info' });
      await daemon.waitForLine(/aggregate worker started/, 60_000);
      // Stop it once part of the backlog is in.
      while ((await consumedCents()).n < 10_000) await new Promise((r) => setTimeout(r, 20));
      expect(await daemon.stop(25_000)).toBe(0);
      const partial = await consumedCents();
      expect(partial.n).toBeLessThan(gen.records);
      // What was consumed was debited, no more and no less.
      const balances = await balancesOf(db, users);
      const debited = -[...balances.values()].reduce((a, b) => a + b, 0);
      expect(debited).toBe(Number(partial.cents));
      const [{ running, succeeded }] = await db.query<{ running: number; succeeded: number }>(
        `select count(*) filter (where status = 'RUNNING')::int as running,
                count(*) filter (where status = 'SUCCEEDED' and trigger = 'SCHEDULE')::int as succeeded
           from job_run where job = 'aggregate'`,
      );
      expect(running).toBe(0);
      expect(succeeded).toBeGreaterThanOrEqual(1);

      const rest = worker(repo.dir, ['--once']);
      expect(await rest.exited).toBe(0);
      expect(await expectExactDebits(users, 0, gen.expected, 'term-')).toBe(gen.records);
    } finally {
      await repo.remove();
    }
  }, 120_000);
});

describe('crash safety', () => {
  it('kill -9 at random points while applying 100,000 records, restarted each time: exact balances, no key twice', async () => {
    const repo = await createBareRepo();
    try {
      const users = await createUsageUsers(db, 200, 1_000_000);
      const gen = await seedUsage(repo.dir, users, {
        nodes: 10,
        filesPerNode: 20,
        recordsPerFile: 500,
        nodePrefix: 'crash',
      });
      expect(gen.records).toBe(100_000);
      const consumed = async () =>
        (
          await db.query<{ n: number }>(
            `select count(*)::int as n from consumed_record where node_name like 'crash-%'`,
          )
        )[0].n;

      let kills = 0;
      let lastCount = -1;
      for (let attempt = 0; attempt < 30 && kills < 5; attempt++) {
        // Small batches: many transactions, so a kill lands between and inside them.
        const proc = worker(repo.dir, ['--once'], { AGGREGATE_BATCH_SIZE: '700' });
        const start = await consumed();
        const target = start + 3_000 + Math.floor(Math.random() * 12_000);
        let killed = false;
        while (proc.child.exitCode === null) {
          const n = await consumed();
          if (n >= target) {
            proc.child.kill('SIGKILL');
            killed = true;
            break;
          }
          await new Promise((r) => setTimeout(r, 20));
        }
        await proc.exited;
        if (killed) kills++;
        const n = await consumed();
        expect(n).toBeGreaterThanOrEqual(lastCount);
        lastCount = n;
        if (!killed) break; // the run finished before the target
      }
      expect(kills).toBeGreaterThanOrEqual(5);
      // Restart until a run completes (no kill).
      const final = worker(repo.dir, ['--once'], { AGGREGATE_BATCH_SIZE: '700' });
      expect(await final.exited).toBe(0);
      expect(outcomeLine(final.lines).status).toBe('SUCCEEDED');
      expect(await expectExactDebits(users, 1_000_000, gen.expected, 'crash-')).toBe(100_000);
      const [{ nodes }] = await db.query<{ nodes: number }>(
        `select count(*)::int as nodes from aggregator_node_state where node_name like 'crash-%' and last_commit_sha is not null and last_error is null`,
      );
      expect(nodes).toBe(10);
      // The abandoned RUNNING rows of the killed runs were closed by a later run.
      const [{ running }] = await db.query<{ running: number }>(
        `select count(*)::int as running from job_run where job = 'aggregate' and status = 'RUNNING'`,
      );
      expect(running).toBe(0);
    } finally {
      await repo.remove();
    }
  }, 240_000);
});
