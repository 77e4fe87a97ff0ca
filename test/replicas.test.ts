import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { allocate, createUser, poolOf, type TestUser } from './support/factories.ts';
import { type FakeDeployer, startFakeDeployer, waitFor } from './support/fake-deployer.ts';
import { graphql } from './support/graphql.ts';
import { type SpawnedProcess, spawnTs } from './support/process.ts';
import { balancesOf, createBareRepo, createUsageUsers, seedUsage } from './support/usage.ts';

/**
 * The deployment compose describes, without Docker: a one-shot migrate, two api replicas (no
 * migrations of their own, the same boot pool manifest) and every worker daemon, all on one
 * database. Driven through both replicas at once, it behaves as one api would: no VM handed out
 * twice, sessions valid on either replica, expired allocations released and reported to the
 * deployer once, usage debited once, job runs never overlapping.
 */

let db: TestDatabase;
let repo: { dir: string; remove(): Promise<void> };
let deployer: FakeDeployer;
const apis: ApiProcess[] = [];
const workers: SpawnedProcess[] = [];
const POOL_SIZE = 20;

beforeAll(async () => {
  db = await createTestDatabase();
  repo = await createBareRepo();
  deployer = await startFakeDeployer();

  const migrate = spawnTs('scripts/migrate.ts', [], { DATABASE_URL: db.url });
  expect(await migrate.exited).toBe(0);
  expect(migrate.lines.join('\n')).toMatch(/is up to date/);

  const apiEnv = {
    MIGRATE_ON_START: '0',
    VM_POOL_JSON: JSON.stringify(poolOf(POOL_SIZE, 'rep')),
    BILLING_GIT_URL: repo.dir,
  };
  const adminSecret = `replicas-admin-secret-${Date.now()}`;
  apis.push(
    ...(await Promise.all([
      startApi({ databaseUrl: db.url, adminSecret, env: apiEnv }),
      startApi({ databaseUrl: db.url, adminSecret, env: apiEnv }),
    ])),
  );
  const workerEnv = {
    DATABASE_URL: db.url,
    LOG_LEVEL: 'warn',
    AUTO_RELEASE_INTERVAL_MS: '300',
    AGGREGATE_INTERVAL_MS: '300',
    OUTBOX_INTERVAL_MS: '200',
    OUTBOX_RETRY_BASE_MS: '200',
    DEPLOYER_URL: deployer.url,
    BILLING_GIT_URL: repo.dir,
  };
  for (const job of ['auto-release', 'aggregate', 'outbox', 'reconcile']) {
    workers.push(spawnTs('workers/src/main.ts', [job], workerEnv));
  }
}, 120_000);

afterAll(async () => {
  const codes = await Promise.all([...apis.map((a) => a.stop()), ...workers.map((w) => w.stop())]);
  await deployer?.stop();
  await repo?.remove();
  await db?.drop();
  // Every process stopped cleanly on SIGTERM.
  expect(codes).toEqual(codes.map(() => 0));
}, 60_000);

const [A, B] = [0, 1];
const api = (i: number) => apis[i % 2];

describe('two api replicas and every worker on one database', () => {
  let users: TestUser[];
  const won: { user: TestUser; allocationId: string; vmId: string }[] = [];

  it('both replicas loaded the same pool once; users and sessions work across replicas', async () => {
    const [{ n }] = await db.query<{ n: number }>(
      "select count(*)::int as n from pool_vm where id like 'rep-%' and status = 'AVAILABLE'",
    );
    expect(n).toBe(POOL_SIZE);
    users = await Promise.all(Array.from({ length: 30 }, (_, i) => createUser(api(i))));
    // A token issued through one replica is good on the other.
    for (const [i, user] of users.slice(0, 4).entries()) {
      const me = await api(i + 1).asUser(user.token, graphql('{ me { id email } }'));
      expect(me.data.me).toEqual({ id: user.id, email: user.email });
    }
  });

  it('30 concurrent allocations split over both replicas: 20 VMs, each to exactly one user', async () => {
    const results = await Promise.all(users.map((user, i) => allocate(api(i), user.token)));
    for (const [i, r] of results.entries()) {
      if (r.__typename === 'AllocateVmSuccess' && 'allocation' in r)
        won.push({ user: users[i], allocationId: r.allocation.id, vmId: r.allocation.poolVm.id });
      else expect(r).toMatchObject({ code: 'POOL_EXHAUSTED' });
    }
    expect(won).toHaveLength(POOL_SIZE);
    expect(new Set(won.map((w) => w.vmId)).size).toBe(POOL_SIZE);
    // Both replicas handed out VMs.
    const byReplica = results.map((r, i) => (r.__typename === 'AllocateVmSuccess' ? i % 2 : -1));
    expect(byReplica.filter((x) => x === A).length).toBeGreaterThan(0);
    expect(byReplica.filter((x) => x === B).length).toBeGreaterThan(0);

    const rows = await db.query<{ vm: string; n: number }>(
      "select pool_vm_id as vm, count(*)::int as n from vm_allocation where status = 'ACTIVE' group by pool_vm_id",
    );
    expect(rows).toHaveLength(POOL_SIZE);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    const pool = await db.query<{ id: string; active_allocation_id: string }>(
      "select id, active_allocation_id from pool_vm where id like 'rep-%'",
    );
    const holder = new Map(won.map((w) => [w.vmId, w.allocationId]));
    for (const vm of pool) expect(vm.active_allocation_id).toBe(holder.get(vm.id));
  });

  it('expired allocations: released once (worker and both replicas racing), reported to the deployer once each', async () => {
    const expired = won.slice(0, 8).map((w) => w.allocationId);
    await db.query(
      "update vm_allocation set expires_at = now() - interval '1 minute' where id = any($1::uuid[])",
      [expired],
    );
    // Operators pressing "Auto-release now" on both replicas while the worker ticks.
    const manual = await Promise.all(
      [A, B, A, B].map((i) =>
        api(i).admin(graphql('mutation { autoReleaseNow { rowsReleased rowsAlreadyReleased errors } }')),
      ),
    );
    for (const res of manual) {
      if (res.errors) expect(res.errors[0].extensions?.code).toBe('ALREADY_RUNNING');
      else expect(res.data.autoReleaseNow.errors).toEqual([]);
    }
    await waitFor(
      async () => {
        const [{ n }] = await db.query<{ n: number }>(
          "select count(*)::int as n from vm_allocation where id = any($1::uuid[]) and status = 'RELEASED' and release_reason = 'EXPIRED'",
          [expired],
        );
        return n === expired.length;
      },
      20_000,
      'the expired allocations to be released',
    );
    const events = await waitFor(
      async () => {
        const rows = await db.query<{ id: string; status: string }>(
          "select id::text, status from outbox where topic = 'vm.release' and payload->>'allocationId' = any($1::text[])",
          [expired],
        );
        return rows.length === expired.length && rows.every((r) => r.status === 'DONE') ? rows : null;
      },
      20_000,
      'the vm.release events to be delivered',
    );
    for (const event of events ?? []) {
      const calls = deployer.callsFor(`outbox-${event.id}`);
      expect(calls).toHaveLength(1);
      expect(calls[0].path).toBe('/admin/release-vm');
    }
    // The other twelve are untouched, and the freed VMs can be taken again through either replica.
    const [{ active }] = await db.query<{ active: number }>(
      "select count(*)::int as active from vm_allocation where status = 'ACTIVE'",
    );
    expect(active).toBe(POOL_SIZE - expired.length);
    const losers = users.filter((u) => !won.some((w) => w.user.id === u.id));
    const again = await Promise.all(losers.map((user, i) => allocate(api(i), user.token)));
    expect(again.filter((r) => r.__typename === 'AllocateVmSuccess')).toHaveLength(expired.length);
  });

  it('usage is debited exactly once with the aggregator worker and aggregateNow on both replicas', async () => {
    const payers = await createUsageUsers(db, 4, 50_000);
    const gen = await seedUsage(repo.dir, payers, {
      nodes: 3,
      filesPerNode: 3,
      recordsPerFile: 40,
      nodePrefix: 'rep',
    });
    const manual = await Promise.all(
      [A, B, A, B].map((i) =>
        api(i).admin(graphql('mutation { aggregateNow { recordsApplied nodesFailed } }')),
      ),
    );
    for (const res of manual) {
      if (res.errors) expect(res.errors[0].extensions?.code).toBe('ALREADY_RUNNING');
      else expect(res.data.aggregateNow.nodesFailed).toBe(0);
    }
    await waitFor(
      async () => {
        const [{ n }] = await db.query<{ n: number }>(
          "select count(*)::int as n from consumed_record where node_name like 'rep-%'",
        );
        return n === 3 * 3 * 40;
      },
      30_000,
      'every usage record to be consumed',
    );
    const balances = await balancesOf(db, payers);
    for (const payer of payers)
      expect(balances.get(payer.id)).toBe(50_000 - (gen.expected.get(payer.id) ?? 0));
  });

  it('no two runs of a job ever overlapped, whoever started them', async () => {
    const runs = await db.query<{ job: string; status: string; started_at: Date; finished_at: Date | null }>(
      "select job, status, started_at, finished_at from job_run where status <> 'SKIPPED' order by job, started_at",
    );
    const jobs = new Set(runs.map((r) => r.job));
    expect(jobs).toEqual(new Set(['auto-release', 'aggregate', 'outbox', 'reconcile']));
    for (let i = 1; i < runs.length; i++) {
      const [prev, next] = [runs[i - 1], runs[i]];
      if (prev.job !== next.job || prev.finished_at === null) continue;
      expect(prev.finished_at.getTime(), `${next.job} runs overlap`).toBeLessThanOrEqual(
        next.started_at.getTime(),
      );
    }
    expect(runs.filter((r) => r.status === 'FAILED')).toEqual([]);
  });
});
