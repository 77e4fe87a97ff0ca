import { autoRelease } from '@hero/core/allocation/auto-release';
import { createOrm, type MikroORM } from '@hero/core/db/orm';
import { JOB_LOCK_NAMESPACE } from '@hero/core/jobs/run-with-job-lock';
import type { Provisioner } from '@hero/core/provisioners/provisioner';
import { provisionerNamed } from '@hero/core/provisioners/registry';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { allocate, createUser, poolOf, seedAllocations } from './support/factories.ts';
import { startFakeDeployer, waitFor } from './support/fake-deployer.ts';
import { graphql } from './support/graphql.ts';
import { outcomeLine, spawnTs } from './support/process.ts';
import { TEST_WEBHOOK_SECRET, verifyStandardWebhook } from './support/standard-webhooks.ts';

let db: TestDatabase;
let orm: MikroORM;
let api: ApiProcess;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await createOrm({ databaseUrl: db.url, poolMax: 4 });
  api = await startApi({ databaseUrl: db.url, env: { VM_POOL_JSON: JSON.stringify(poolOf(4, 'ar')) } });
});
afterAll(async () => {
  await api?.stop();
  await orm?.close();
  await db?.drop();
});

const AUTO_RELEASE_NOW = graphql(`mutation { autoReleaseNow {
  rowsExamined rowsExpired rowsReleased rowsAlreadyReleased expiryWarnings errors } }`);
const JOB_RUNS =
  graphql(`query($job: String, $first: Int, $after: String) { jobRuns(job: $job, first: $first, after: $after) {
  edges { cursor node { id job trigger status host pid startedAt finishedAt summary error } }
  pageInfo { hasNextPage endCursor } } }`);

const byName = (name: string) => provisionerNamed(name);

interface AllocationState {
  id: string;
  status: string;
  release_reason: string | null;
  vm_points_here: boolean;
  release_events: number;
}

/** Each allocation of a seed prefix with its pool VM pointer and its vm.release outbox rows. */
const stateOf = (prefix: string) =>
  db.query<AllocationState>(
    `select a.id, a.status, a.release_reason,
            (p.active_allocation_id = a.id) is true as vm_points_here,
            (select count(*)::int from outbox o where o.topic = 'vm.release' and o.payload->>'allocationId' = a.id::text) as release_events
       from vm_allocation a join pool_vm p on p.id = a.pool_vm_id
      where a.pool_vm_id like $1 || '-vm-%' order by a.id`,
    [prefix],
  );

/** Every allocation is whole: released with its VM freed and one release event, or active and holding its VM. */
function expectWhole(rows: AllocationState[]) {
  for (const row of rows) {
    if (row.status === 'RELEASED') {
      expect(row).toMatchObject({ release_reason: 'EXPIRED', vm_points_here: false, release_events: 1 });
    } else {
      expect(row).toMatchObject({
        status: 'ACTIVE',
        release_reason: null,
        vm_points_here: true,
        release_events: 0,
      });
    }
  }
}

const autoReleaseRuns = () =>
  db.query<{ id: string; trigger: string; status: string; summary: any; pid: number }>(
    "select * from job_run where job = 'auto-release' order by id",
  );

describe('autoRelease (domain, real PostgreSQL)', () => {
  // An instant long past, so rows other tests leave behind (expiring around today) never count.
  const now = new Date('2020-01-01T00:00:00.000Z');

  it('boundary: expiresAt equal to now stays, a millisecond earlier is released; released rows are not examined again', async () => {
    const [atNow] = await seedAllocations(db, 1, { prefix: 'b-eq', expiresAt: now });
    const [justBefore] = await seedAllocations(db, 1, {
      prefix: 'b-1ms',
      expiresAt: new Date(now.getTime() - 1),
    });

    const first = await autoRelease(orm.em.fork(), { provisionerFor: byName, now, expiryWarningHours: 0 });
    expect(first).toEqual({
      rowsExamined: 1,
      rowsExpired: 1,
      rowsReleased: 1,
      rowsAlreadyReleased: 0,
      expiryWarnings: 0,
      errors: [],
    });
    const rows = await db.query<{ id: string; status: string; release_reason: string | null }>(
      'select id, status, release_reason from vm_allocation where id = any($1::uuid[])',
      [[atNow, justBefore]],
    );
    expect(rows.find((r) => r.id === justBefore)).toMatchObject({
      status: 'RELEASED',
      release_reason: 'EXPIRED',
    });
    expect(rows.find((r) => r.id === atNow)).toMatchObject({ status: 'ACTIVE', release_reason: null });
    expectWhole(await stateOf('b-1ms'));

    // Idempotent: the same instant again releases nothing and examines nothing.
    const again = await autoRelease(orm.em.fork(), { provisionerFor: byName, now, expiryWarningHours: 0 });
    expect(again).toMatchObject({ rowsExamined: 0, rowsReleased: 0, errors: [] });

    // A millisecond later the boundary row is expired; the released one is not read again.
    const later = await autoRelease(orm.em.fork(), {
      provisionerFor: byName,
      now: new Date(now.getTime() + 1),
      expiryWarningHours: 0,
    });
    expect(later).toMatchObject({ rowsExamined: 1, rowsReleased: 1, rowsAlreadyReleased: 0, errors: [] });
    expectWhole(await stateOf('b-eq'));
    expect((await stateOf('b-eq'))[0].status).toBe('RELEASED');
  });

  it('a row released by someone else between the scan and its release counts as already released, not as an error', async () => {
    const ids = await seedAllocations(db, 3, {
      prefix: 'b-race',
      expiresAt: new Date(now.getTime() - 60_000),
    });
    const target = ids[1];
    const provisionerFor = (name: string): Provisioner | null => {
      const real = provisionerNamed(name)!;
      return {
        ...real,
        name: real.name,
        isDemo: real.isDemo,
        allocate: real.allocate.bind(real),
        status: real.status.bind(real),
        release: async (em, id, reason, options) => {
          // An admin releases this one first, in a transaction of its own.
          if (id === target) await real.release(orm.em.fork(), id, 'ADMIN');
          return real.release(em, id, reason, options);
        },
      };
    };
    const summary = await autoRelease(orm.em.fork(), {
      provisionerFor,
      now,
      expiryWarningHours: 0,
      batchSize: 2,
    });
    expect(summary).toEqual({
      rowsExamined: 3,
      rowsExpired: 3,
      rowsReleased: 2,
      rowsAlreadyReleased: 1,
      expiryWarnings: 0,
      errors: [],
    });
    const reasons = await db.query<{ id: string; release_reason: string }>(
      'select id, release_reason from vm_allocation where id = any($1::uuid[])',
      [ids],
    );
    expect(reasons.find((r) => r.id === target)?.release_reason).toBe('ADMIN');
    expect(reasons.filter((r) => r.release_reason === 'EXPIRED')).toHaveLength(2);
  });

  it('an allocation of an unknown provisioner is reported in errors and the run goes on', async () => {
    await seedAllocations(db, 1, { prefix: 'b-unknown', expiresAt: now, provisioner: 'gone' });
    await seedAllocations(db, 1, { prefix: 'b-known', expiresAt: now });
    const summary = await autoRelease(orm.em.fork(), {
      provisionerFor: byName,
      now: new Date(now.getTime() + 1),
      expiryWarningHours: 0,
    });
    expect(summary.rowsReleased).toBe(1);
    expect(summary.errors).toEqual([expect.stringMatching(/unknown provisioner "gone"/)]);
    expect((await stateOf('b-unknown'))[0].status).toBe('ACTIVE');
    // Leave nothing expired behind for the other tests.
    await db.query(
      "update vm_allocation set expires_at = now() + interval '400 days' where provisioner = 'gone'",
    );
  });
});

describe('autoReleaseNow (api)', () => {
  it('real time: a plan period ending a few seconds ahead, then autoReleaseNow releases it with reason EXPIRED and writes the outbox row', async () => {
    const user = await createUser(api);
    const periodEnd = new Date(Date.now() + 2_500);
    const quota = await api.admin(
      graphql(`mutation($userId: ID!, $periodEnd: DateTime) { setUserQuota(userId: $userId, vmQuota: 1, periodEnd: $periodEnd) {
        __typename ... on Error { message } } }`),
      { userId: user.id, periodEnd: periodEnd.toISOString() },
    );
    expect(quota.data.setUserQuota.__typename).toBe('SetUserQuotaSuccess');
    const result = await allocate(api, user.token);
    if (result.__typename !== 'AllocateVmSuccess' || !('allocation' in result))
      throw new Error(JSON.stringify(result));
    const allocationId = result.allocation.id;
    expect(new Date(result.allocation.expiresAt).getTime()).toBe(periodEnd.getTime());

    // Not expired yet: nothing to do.
    const early = await api.admin(AUTO_RELEASE_NOW);
    expect(early.data.autoReleaseNow).toMatchObject({ rowsReleased: 0 });

    await new Promise((r) => setTimeout(r, Math.max(0, periodEnd.getTime() - Date.now()) + 200));
    const res = await api.admin(AUTO_RELEASE_NOW);
    expect(res.status).toBe(200);
    expect(res.data.autoReleaseNow).toEqual({
      rowsExamined: 1,
      rowsExpired: 1,
      rowsReleased: 1,
      rowsAlreadyReleased: 0,
      expiryWarnings: 0,
      errors: [],
    });
    const [row] = await db.query('select * from vm_allocation where id = $1', [allocationId]);
    expect(row).toMatchObject({ status: 'RELEASED', release_reason: 'EXPIRED' });
    expect(row.released_at.getTime()).toBeGreaterThanOrEqual(periodEnd.getTime());
    const events = await db.query(
      "select * from outbox where topic = 'vm.release' and payload->>'allocationId' = $1",
      [allocationId],
    );
    expect(events).toHaveLength(1);
    expect(events[0].payload).toMatchObject({
      allocationId,
      reason: 'EXPIRED',
      poolVmId: result.allocation.poolVm.id,
    });

    // The user sees it released; the VM is free again.
    const me = await api.asUser(
      user.token,
      graphql('{ me { allocations { id status releaseReason expiringSoon } } }'),
    );
    expect(me.data.me.allocations).toEqual([
      { id: allocationId, status: 'RELEASED', releaseReason: 'EXPIRED', expiringSoon: false },
    ]);

    // Both manual runs are in the history, newest first.
    const runs = await api.admin(JOB_RUNS, { job: 'auto-release', first: 2 });
    expect(runs.data.jobRuns.edges.map((e) => e.node)).toMatchObject([
      {
        job: 'auto-release',
        trigger: 'MANUAL',
        status: 'SUCCEEDED',
        summary: { rowsReleased: 1 },
        error: null,
      },
      {
        job: 'auto-release',
        trigger: 'MANUAL',
        status: 'SUCCEEDED',
        summary: { rowsReleased: 0 },
        error: null,
      },
    ]);
  });

  it('is admin-only, answers ALREADY_RUNNING (409) while the run lock is held, and 503 without a provisioner', async () => {
    const missing = await api.gql(AUTO_RELEASE_NOW);
    expect(missing.status).toBe(401);
    expect(missing.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    const wrong = await api.gql(AUTO_RELEASE_NOW, {}, { 'x-admin-secret': 'not-the-secret-at-all' });
    expect(wrong.status).toBe(403);
    expect(wrong.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const user = await createUser(api);
    const asUser = await api.asUser(user.token, AUTO_RELEASE_NOW);
    expect(asUser.data).toBeNull();
    expect(['FORBIDDEN', 'UNAUTHENTICATED']).toContain(asUser.errors?.[0].extensions?.code);
    const userRuns = await api.asUser(user.token, JOB_RUNS, {});
    expect(userRuns.data).toBeNull();

    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('select pg_advisory_lock($1, hashtext($2))', [JOB_LOCK_NAMESPACE, 'auto-release']);
      const busy = await api.admin(AUTO_RELEASE_NOW);
      expect(busy.status).toBe(409);
      expect(busy.errors?.[0].extensions?.code).toBe('ALREADY_RUNNING');
      expect(busy.errors?.[0].message).toMatch(/already running/);
    } finally {
      await holder.end();
    }
    const [last] = (await autoReleaseRuns()).slice(-1);
    expect(last).toMatchObject({
      trigger: 'MANUAL',
      status: 'SKIPPED',
      summary: { skipped: 'already running' },
    });

    const bare = await startApi({ databaseUrl: db.url });
    try {
      const unavailable = await bare.admin(AUTO_RELEASE_NOW);
      expect(unavailable.status).toBe(503);
      expect(unavailable.errors?.[0].extensions?.code).toBe('PROVISIONER_UNAVAILABLE');
    } finally {
      await bare.stop();
    }
  });
});

describe('auto-release worker processes', () => {
  it('two workers and a concurrent autoReleaseNow against 1,000 expired rows: each row released once, one run, the others skipped', async () => {
    await seedAllocations(db, 1000, { prefix: 'race' });
    const before = (await autoReleaseRuns()).length;
    const env = { DATABASE_URL: db.url, EXPIRY_WARNING_HOURS: '0' };
    const workers = [
      spawnTs('workers/src/main.ts', ['auto-release', '--once'], env),
      spawnTs('workers/src/main.ts', ['auto-release', '--once'], env),
    ];
    await waitFor(
      async () => (await autoReleaseRuns()).slice(before).some((r) => r.status === 'RUNNING'),
      60_000,
      'a RUNNING auto-release run',
    );
    const manual = await api.admin(AUTO_RELEASE_NOW);
    const codes = await Promise.all(workers.map((w) => w.exited));
    expect(codes).toEqual([0, 0]);

    const outcomes = workers.map((w) => outcomeLine(w.lines));
    const runs = (await autoReleaseRuns()).slice(before);
    expect(runs).toHaveLength(3);
    const succeeded = runs.filter((r) => r.status === 'SUCCEEDED');
    const skipped = runs.filter((r) => r.status === 'SKIPPED');
    expect(succeeded).toHaveLength(1);
    expect(skipped).toHaveLength(2);
    for (const run of skipped) expect(run.summary).toEqual({ skipped: 'already running' });
    // The manual run found the lock taken (a worker held it from the RUNNING row on).
    expect(manual.status).toBe(409);
    expect(manual.errors?.[0].extensions?.code).toBe('ALREADY_RUNNING');
    expect(outcomes.map((o) => o.status).sort()).toEqual(['SKIPPED', 'SUCCEEDED']);

    // Summaries add up: every row released exactly once.
    const total = runs.reduce((sum, r) => sum + (r.summary?.rowsReleased ?? 0), 0);
    expect(total).toBe(1000);
    expect(succeeded[0].summary).toMatchObject({ rowsExamined: 1000, rowsReleased: 1000, errors: [] });
    const state = await stateOf('race');
    expect(state).toHaveLength(1000);
    expect(state.every((r) => r.status === 'RELEASED')).toBe(true);
    expectWhole(state);
  });

  it('the daemon (AUTO_RELEASE_INTERVAL_MS=500) releases a fresh expiry within about a second; SIGTERM mid-tick leaves no half-released row', async () => {
    const daemon = spawnTs('workers/src/main.ts', ['auto-release'], {
      DATABASE_URL: db.url,
      AUTO_RELEASE_INTERVAL_MS: '500',
      AUTO_RELEASE_BATCH_SIZE: '50',
    });
    try {
      const started = JSON.parse(await daemon.waitForLine(/auto-release worker started/, 60_000));
      expect(started).toMatchObject({
        job: 'auto-release',
        intervalMs: 500,
        batchSize: 50,
        expiryWarningHours: 72,
      });

      const expiresAt = new Date(Date.now() + 1_500);
      const [id] = await seedAllocations(db, 1, { prefix: 'fresh', expiresAt });
      const released = await waitFor(
        async () =>
          (
            await db.query('select released_at from vm_allocation where id = $1 and status = $2', [
              id,
              'RELEASED',
            ])
          )[0],
        10_000,
        'the fresh expiry to be released',
      );
      const lagMs = released.released_at.getTime() - expiresAt.getTime();
      expect(lagMs).toBeGreaterThan(0);
      expect(lagMs).toBeLessThan(1_500);
      expectWhole(await stateOf('fresh'));

      // A big tick, interrupted.
      await seedAllocations(db, 1000, { prefix: 'term' });
      await waitFor(
        async () => (await stateOf('term')).some((r) => r.status === 'RELEASED'),
        30_000,
        'the tick to have released some rows',
      );
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
    expect(daemon.lines.some((l) => l.includes('auto-release worker stopped'))).toBe(true);
    const state = await stateOf('term');
    expect(state).toHaveLength(1000);
    expectWhole(state);
    const running = await db.query("select * from job_run where job = 'auto-release' and status = 'RUNNING'");
    expect(running).toEqual([]);

    // Whatever the interrupted tick left is released by the next run.
    const rest = await api.admin(AUTO_RELEASE_NOW);
    expect(rest.data.autoReleaseNow.errors).toEqual([]);
    const after = await stateOf('term');
    expect(after.every((r) => r.status === 'RELEASED')).toBe(true);
    expectWhole(after);
  });

  it('expiry warning: one allocation.expiring event per allocation entering the window, with two workers ticking at once; delivered to NOTIFY_WEBHOOK_URL', async () => {
    const inWindow = new Date(Date.now() + 48 * 3_600_000);
    const outside = new Date(Date.now() + 100 * 3_600_000);
    const [soonId] = await seedAllocations(db, 1, { prefix: 'warn-soon', expiresAt: inWindow });
    const [laterId] = await seedAllocations(db, 1, { prefix: 'warn-later', expiresAt: outside });
    const env = { DATABASE_URL: db.url, AUTO_RELEASE_INTERVAL_MS: '300' };
    const before = (await autoReleaseRuns()).length;
    const workers = [
      spawnTs('workers/src/main.ts', ['auto-release'], env),
      spawnTs('workers/src/main.ts', ['auto-release'], env),
    ];
    try {
      // Both workers have ticked several times.
      await waitFor(
        async () => {
          const pids = (await autoReleaseRuns()).slice(before).map((r) => r.pid);
          return workers.every((w) => pids.filter((p) => p === w.child.pid).length >= 3);
        },
        60_000,
        'three ticks from each worker',
      );
    } finally {
      expect(await Promise.all(workers.map((w) => w.stop()))).toEqual([0, 0]);
    }
    const events = await db.query(
      "select * from outbox where topic = 'allocation.expiring' and payload->>'allocationId' = any($1::text[])",
      [[soonId, laterId]],
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      dedupe_key: `allocation.expiring:${soonId}:${inWindow.getTime()}`,
      status: 'PENDING',
    });
    expect(events[0].payload).toMatchObject({ allocationId: soonId, poolVmId: 'warn-soon-vm-1' });
    expect(new Date(events[0].payload.expiresAt).getTime()).toBe(inWindow.getTime());
    const warned = (await autoReleaseRuns())
      .slice(before)
      .reduce((sum, r) => sum + (r.summary?.expiryWarnings ?? 0), 0);
    expect(warned).toBe(1);

    // expiringSoon on the admin allocations list.
    const list = await api.admin(
      graphql('{ allocations(status: ACTIVE, first: 100) { edges { node { id expiringSoon } } } }'),
    );
    const flags = Object.fromEntries(
      list.data.allocations.edges.map((e) => [e.node.id, e.node.expiringSoon]),
    );
    expect(flags[soonId]).toBe(true);
    expect(flags[laterId]).toBe(false);

    // The outbox worker sends it to the webhook. The earlier tests here left some 2,000
    // allocation.released events pending, which it would send first, one call each: set aside.
    await db.query(`update outbox set status = 'DONE' where status = 'PENDING' and id <> $1`, [events[0].id]);
    const webhook = await startFakeDeployer();
    const outbox = spawnTs('workers/src/main.ts', ['outbox'], {
      DATABASE_URL: db.url,
      NOTIFY_WEBHOOK_URL: `${webhook.url}/hooks/expiring`,
      NOTIFY_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      OUTBOX_INTERVAL_MS: '200',
    });
    try {
      await waitFor(async () => webhook.calls.length > 0 || null, 60_000, 'the webhook call');
      await waitFor(
        async () =>
          (await db.query('select status from outbox where id = $1', [events[0].id]))[0].status === 'DONE',
        // Not a latency claim: under a loaded CI machine the worker's tick can take seconds.
        60_000,
        'the event to be DONE',
      );
    } finally {
      expect(await outbox.stop()).toBe(0);
      await webhook.stop();
    }
    const calls = webhook.calls.filter((c) => c.body?.data?.allocationId === soonId);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      method: 'POST',
      path: '/hooks/expiring',
      body: { type: 'allocation.expiring', data: { allocationId: soonId, poolVmId: 'warn-soon-vm-1' } },
    });
    expect(calls[0].headers['idempotency-key']).toBe(`outbox-${events[0].id}`);
    expect(verifyStandardWebhook(calls[0])).toMatchObject({ type: 'allocation.expiring' });
    // Three worker processes start and stop in turn: on a loaded machine that alone can take a minute.
  }, 180_000);

  it('jobRuns pages through the history', async () => {
    const first = await api.admin(JOB_RUNS, { job: 'auto-release', first: 2 });
    expect(first.data.jobRuns.edges).toHaveLength(2);
    expect(first.data.jobRuns.pageInfo.hasNextPage).toBe(true);
    const next = await api.admin(JOB_RUNS, {
      job: 'auto-release',
      first: 2,
      after: first.data.jobRuns.pageInfo.endCursor,
    });
    const ids = [...first.data.jobRuns.edges, ...next.data.jobRuns.edges].map((e) => Number(e.node.id));
    expect(new Set(ids).size).toBe(4);
    // The two pages follow the list's own order (newest start first): two workers ticking at
    // once can start runs in another order than their ids were taken.
    const whole = await api.admin(JOB_RUNS, { job: 'auto-release', first: 4 });
    expect(whole.data.jobRuns.edges.map((e) => Number(e.node.id))).toEqual(ids);
    const none = await api.admin(JOB_RUNS, { job: 'no-such-job' });
    expect(none.data.jobRuns.edges).toEqual([]);
  });
});
