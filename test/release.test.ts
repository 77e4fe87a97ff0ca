import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { JOB_LOCK_NAMESPACE } from '@hero/core/jobs/run-with-job-lock';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { allocate, createUser, poolOf, type TestUser } from './support/factories.ts';
import { startFakeDeployer, waitFor } from './support/fake-deployer.ts';
import { graphql, member } from './support/graphql.ts';
import { outcomeLine, spawnTs } from './support/process.ts';

let db: TestDatabase;
let api: ApiProcess;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startApi({ databaseUrl: db.url, env: { VM_POOL_JSON: JSON.stringify(poolOf(8, 'rel')) } });
  [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
  await db.query('update users set vm_quota = 10');
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

const ReleasedFields = graphql(`fragment ReleasedFields on VmAllocation @_unmask {
  id status releasedAt releaseReason poolVm { id } }`);
const RELEASE_MINE = graphql(
  `mutation($id: ID!) { releaseMyAllocation(id: $id) { __typename
  ... on ReleaseMyAllocationSuccess { allocation { ...ReleasedFields } }
  ... on Error { code message } } }`,
  [ReleasedFields],
);
const RELEASE_ADMIN = graphql(
  `mutation($id: ID!, $reason: ReleaseReason) { releaseAllocation(id: $id, reason: $reason) { __typename
  ... on ReleaseAllocationSuccess { allocation { ...ReleasedFields } }
  ... on Error { code message } } }`,
  [ReleasedFields],
);

async function allocateFor(user: TestUser): Promise<{ id: string; poolVmId: string }> {
  const result = await allocate(api, user.token);
  if (result.__typename !== 'AllocateVmSuccess' || !('allocation' in result)) {
    throw new Error(`allocate failed: ${JSON.stringify(result)}`);
  }
  return { id: result.allocation.id, poolVmId: result.allocation.poolVm.id };
}

const releaseMine = async (user: TestUser, id: string) =>
  (await api.asUser(user.token, RELEASE_MINE, { id })).data.releaseMyAllocation;
const releaseAsAdmin = async (id: string, reason?: 'ADMIN' | 'EXPIRED' | 'USER') =>
  (await api.admin(RELEASE_ADMIN, { id, reason })).data.releaseAllocation;

interface OutboxRow {
  id: string;
  topic: string;
  status: string;
  attempts: number;
  payload: Record<string, unknown>;
  last_error: string | null;
  xmin: string;
}
const outboxFor = (allocationId: string) =>
  db.query<OutboxRow>(
    "select *, xmin::text from outbox where topic = 'vm.release' and payload->>'allocationId' = $1 order by id",
    [allocationId],
  );
const allocationRow = async (id: string) =>
  (
    await db.query(
      'select status, released_at, release_reason, pool_vm_id, user_id, xmin::text from vm_allocation where id = $1',
      [id],
    )
  )[0];

describe('release', () => {
  it('releaseMyAllocation sets RELEASED, releasedAt and USER, frees the VM, and writes one vm.release row in the same transaction', async () => {
    const a = await allocateFor(alice);
    const before = Date.now();
    const res = member(await releaseMine(alice, a.id), 'ReleaseMyAllocationSuccess');
    expect(res.allocation).toMatchObject({
      id: a.id,
      status: 'RELEASED',
      releaseReason: 'USER',
      poolVm: { id: a.poolVmId },
    });
    expect(Date.parse(res.allocation.releasedAt ?? '')).toBeGreaterThanOrEqual(before - 5000);

    const row = await allocationRow(a.id);
    expect(row).toMatchObject({ status: 'RELEASED', release_reason: 'USER', pool_vm_id: a.poolVmId });
    expect(row.released_at).toBeInstanceOf(Date);
    const [vm] = await db.query('select active_allocation_id from pool_vm where id = $1', [a.poolVmId]);
    expect(vm.active_allocation_id).toBeNull();

    const events = await outboxFor(a.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ topic: 'vm.release', status: 'PENDING', attempts: 0 });
    expect(events[0].payload).toEqual({
      poolVmId: a.poolVmId,
      allocationId: a.id,
      userId: alice.id,
      reason: 'USER',
      releasedAt: row.released_at.toISOString(),
    });
    // Same transaction: both rows were last written by the same transaction id.
    expect(events[0].xmin).toBe(row.xmin);
  });

  it('admin releaseAllocation(id, reason) sets RELEASED + ADMIN and writes one vm.release row', async () => {
    const a = await allocateFor(bob);
    const res = member(await releaseAsAdmin(a.id, 'ADMIN'), 'ReleaseAllocationSuccess');
    expect(res.allocation).toMatchObject({ status: 'RELEASED', releaseReason: 'ADMIN' });
    const row = await allocationRow(a.id);
    expect(row).toMatchObject({ status: 'RELEASED', release_reason: 'ADMIN' });
    const events = await outboxFor(a.id);
    expect(events).toHaveLength(1);
    expect(events[0].payload).toMatchObject({ reason: 'ADMIN', userId: bob.id, poolVmId: a.poolVmId });
    expect(events[0].xmin).toBe(row.xmin);

    // The reason defaults to ADMIN.
    const b = await allocateFor(bob);
    expect(member(await releaseAsAdmin(b.id), 'ReleaseAllocationSuccess').allocation.releaseReason).toBe(
      'ADMIN',
    );
    expect(await outboxFor(b.id)).toHaveLength(1);
  });

  it('releasing twice changes nothing and writes no second row', async () => {
    const a = await allocateFor(alice);
    const first = member(await releaseMine(alice, a.id), 'ReleaseMyAllocationSuccess');
    const rowBefore = await allocationRow(a.id);
    const again = member(await releaseMine(alice, a.id), 'ReleaseMyAllocationSuccess');
    expect(again.allocation).toEqual(first.allocation);
    const byAdmin = member(await releaseAsAdmin(a.id, 'EXPIRED'), 'ReleaseAllocationSuccess');
    expect(byAdmin.allocation).toEqual(first.allocation);
    expect(await allocationRow(a.id)).toEqual(rowBefore);
    expect(await outboxFor(a.id)).toHaveLength(1);
  });

  it("a user cannot release another user's allocation: NOT_FOUND, nothing changes", async () => {
    const a = await allocateFor(alice);
    const rowBefore = await allocationRow(a.id);
    const res = await releaseMine(bob, a.id);
    expect(res).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    expect(await allocationRow(a.id)).toEqual(rowBefore);
    expect(rowBefore.status).toBe('ACTIVE');
    expect(await outboxFor(a.id)).toHaveLength(0);
    // An unknown id reads the same.
    expect(await releaseMine(bob, '00000000-0000-4000-8000-000000000000')).toMatchObject({
      code: 'NOT_FOUND',
    });
    // The owner still can.
    expect(member(await releaseMine(alice, a.id), 'ReleaseMyAllocationSuccess').allocation.status).toBe(
      'RELEASED',
    );
  });
});

const pendingCount = async () =>
  Number((await db.query("select count(*)::int as n from outbox where status = 'PENDING'"))[0].n);

describe('outbox worker', () => {
  it('delivers vm.release to the deployer, retrying a 500 with backoff, and stops cleanly on SIGTERM', async () => {
    const pending = await db.query<OutboxRow>(
      "select *, xmin::text from outbox where status = 'PENDING' and topic = 'vm.release' order by id",
    );
    expect(pending.length).toBeGreaterThanOrEqual(4);
    const deployer = await startFakeDeployer((call) =>
      call.nthForKey === 1 ? { status: 500, body: 'deployer exploded' } : { status: 200 },
    );
    const secrets = mkdtempSync(path.join(tmpdir(), 'hero-deployer-'));
    writeFileSync(path.join(secrets, 'token'), 'deployer-token-123\n');
    const worker = spawnTs('workers/src/main.ts', ['outbox'], {
      DATABASE_URL: db.url,
      DEPLOYER_URL: deployer.url,
      DEPLOYER_TOKEN_FILE: path.join(secrets, 'token'),
      OUTBOX_INTERVAL_MS: '200',
      OUTBOX_RETRY_BASE_MS: '200',
      WORKER_HEALTH_PORT: '0',
    });
    try {
      const started = JSON.parse(await worker.waitForLine(/outbox worker started/, 60_000));
      expect(started).toMatchObject({
        msg: 'outbox worker started',
        job: 'outbox',
        intervalMs: 200,
        deployer: deployer.url,
      });
      await waitFor(async () => (await pendingCount()) === 0, 30_000, 'every outbox row delivered');

      const rows = await db.query<OutboxRow>(
        'select * from outbox where id = any($1::bigint[]) order by id',
        [pending.map((r) => r.id)],
      );
      for (const row of rows) {
        expect(row).toMatchObject({ status: 'DONE', attempts: 2, last_error: null });
        const calls = deployer.callsFor(`outbox-${row.id}`);
        expect(calls).toHaveLength(2);
        const alloc = await allocationRow(String(row.payload.allocationId));
        for (const call of calls) {
          expect(call.method).toBe('POST');
          expect(call.path).toBe('/admin/release-vm');
          expect(call.headers.authorization).toBe('Bearer deployer-token-123');
          expect(call.body).toEqual({
            pool_vm_id: alloc.pool_vm_id,
            allocation_id: row.payload.allocationId,
            user_id: alloc.user_id,
            reason: alloc.release_reason,
            released_at: alloc.released_at.toISOString(),
          });
        }
      }
      expect(deployer.calls).toHaveLength(rows.length * 2);
      // The 500 was retried, with the status and body in the error.
      expect(worker.lines.some((l) => l.includes('answered HTTP 500: deployer exploded'))).toBe(true);
      expect(worker.lines.join('\n')).not.toContain('deployer-token-123');

      const runs = await db.query("select * from job_run where job = 'outbox' order by id");
      expect(runs.length).toBeGreaterThan(0);
      expect(runs[0]).toMatchObject({ trigger: 'SCHEDULE', pid: worker.child.pid });
      expect(runs.some((r) => r.status === 'SUCCEEDED' && r.summary.delivered > 0)).toBe(true);
      expect(runs.some((r) => r.status === 'SUCCEEDED' && r.summary.retried > 0)).toBe(true);

      // Health endpoints.
      const port = JSON.parse(await worker.waitForLine(/health server listening/)).port;
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      const body = (await health.json()) as any;
      expect(body).toMatchObject({ status: 'ok', job: 'outbox', intervalMs: 200 });
      expect(body.lastRun).toMatchObject({ status: 'SUCCEEDED', trigger: 'SCHEDULE' });
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ready', database: 'ok' });
    } finally {
      const code = await worker.stop();
      await deployer.stop();
      expect(code).toBe(0);
    }
    expect(worker.lines.some((l) => l.includes('outbox worker stopped'))).toBe(true);
    const running = await db.query("select * from job_run where job = 'outbox' and status = 'RUNNING'");
    expect(running).toEqual([]);
  });

  it('without DEPLOYER_URL logs the stub line and marks the row done', async () => {
    const a = await allocateFor(alice);
    await releaseMine(alice, a.id);
    const worker = spawnTs('workers/src/main.ts', ['outbox'], {
      DATABASE_URL: db.url,
      OUTBOX_INTERVAL_MS: '200',
    });
    try {
      const line = await worker.waitForLine(/deployer-release stub/, 60_000);
      expect(JSON.parse(line).msg).toBe(`deployer-release stub: would release pool_vm_id=${a.poolVmId} here`);
      await waitFor(async () => (await outboxFor(a.id))[0].status === 'DONE', 10_000, 'the row to be DONE');
      expect((await outboxFor(a.id))[0]).toMatchObject({ status: 'DONE', attempts: 1 });
      expect(JSON.parse(await worker.waitForLine(/outbox worker started/))).toMatchObject({
        deployer: 'stub',
      });
    } finally {
      expect(await worker.stop()).toBe(0);
    }
  });

  it('--once runs one tick, prints its outcome as one JSON line and exits 0', async () => {
    const a = await allocateFor(alice);
    await releaseAsAdmin(a.id);
    const deployer = await startFakeDeployer();
    try {
      const once = spawnTs('workers/src/main.ts', ['outbox', '--once'], {
        DATABASE_URL: db.url,
        DEPLOYER_URL: deployer.url,
      });
      expect(await once.exited).toBe(0);
      const outcome = outcomeLine(once.lines);
      expect(outcome).toMatchObject({
        job: 'outbox',
        status: 'SUCCEEDED',
        trigger: 'MANUAL',
        // The release's vm.release and its allocation.released (logged: no notify webhook here).
        summary: { delivered: 2, retried: 0, failed: 0, errors: [] },
        error: null,
      });
      const [run] = await db.query('select * from job_run where id = $1', [outcome.runId]);
      expect(run).toMatchObject({
        job: 'outbox',
        trigger: 'MANUAL',
        status: 'SUCCEEDED',
        pid: once.child.pid,
      });
      expect(run.summary).toEqual(outcome.summary);
      expect(run.finished_at).toBeInstanceOf(Date);
      expect(deployer.calls).toHaveLength(1);
      expect(deployer.calls[0].body).toMatchObject({
        pool_vm_id: a.poolVmId,
        allocation_id: a.id,
        reason: 'ADMIN',
      });
      expect((await outboxFor(a.id))[0]).toMatchObject({ status: 'DONE', attempts: 1 });
    } finally {
      await deployer.stop();
    }
  });

  it('--once records "skipped: already running" while another run holds the job lock', async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('select pg_advisory_xact_lock($1, hashtext($2))', [JOB_LOCK_NAMESPACE, 'outbox']);
      const once = spawnTs('workers/src/main.ts', ['outbox', '--once'], { DATABASE_URL: db.url });
      expect(await once.exited).toBe(0);
      const outcome = outcomeLine(once.lines);
      expect(outcome).toMatchObject({ status: 'SKIPPED', summary: { skipped: 'already running' } });
      const [run] = await db.query('select * from job_run where id = $1', [outcome.runId]);
      expect(run).toMatchObject({
        status: 'SKIPPED',
        summary: { skipped: 'already running' },
        trigger: 'MANUAL',
      });
    } finally {
      await holder.query('rollback');
      await holder.end();
    }
  });

  it('marks an event FAILED after OUTBOX_MAX_ATTEMPTS and reports it in the summary', async () => {
    const a = await allocateFor(bob);
    await releaseMine(bob, a.id);
    const deployer = await startFakeDeployer(() => ({ status: 503, body: 'maintenance' }));
    try {
      const once = spawnTs('workers/src/main.ts', ['outbox', '--once'], {
        DATABASE_URL: db.url,
        DEPLOYER_URL: deployer.url,
        OUTBOX_MAX_ATTEMPTS: '1',
      });
      expect(await once.exited).toBe(0);
      const outcome = outcomeLine(once.lines);
      // allocation.released is delivered (to the log); vm.release fails for good.
      expect(outcome.summary).toMatchObject({ delivered: 1, failed: 1 });
      expect(outcome.summary.errors[0]).toMatch(/answered HTTP 503: maintenance/);
      expect((await outboxFor(a.id))[0]).toMatchObject({
        status: 'FAILED',
        attempts: 1,
        last_error: 'deployer POST /admin/release-vm answered HTTP 503: maintenance',
      });
    } finally {
      await deployer.stop();
    }
  });

  it('SIGTERM during a delivery: the delivery in hand finishes, no new event is taken, exit 0', async () => {
    const first = await allocateFor(alice);
    const second = await allocateFor(alice);
    await releaseMine(alice, first.id);
    await releaseMine(alice, second.id);
    const [firstEvent] = await outboxFor(first.id);
    const deployer = await startFakeDeployer(() => ({ status: 200, delayMs: 1500 }));
    const worker = spawnTs('workers/src/main.ts', ['outbox'], {
      DATABASE_URL: db.url,
      DEPLOYER_URL: deployer.url,
    });
    try {
      await waitFor(async () => deployer.calls.length > 0, 60_000, 'the first deployer call');
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
    } finally {
      await worker.stop();
      await deployer.stop();
    }
    expect(deployer.calls).toHaveLength(1);
    expect(deployer.calls[0].headers['idempotency-key']).toBe(`outbox-${firstEvent.id}`);
    expect((await outboxFor(first.id))[0]).toMatchObject({ status: 'DONE', attempts: 1 });
    expect((await outboxFor(second.id))[0]).toMatchObject({ status: 'PENDING', attempts: 0 });
    const runs = await db.query("select status, summary from job_run where job = 'outbox' and pid = $1", [
      worker.child.pid,
    ]);
    // The first allocation.released (logged) and the first vm.release; the rest wait.
    expect(runs).toEqual([
      { status: 'SUCCEEDED', summary: { delivered: 2, retried: 0, failed: 0, errors: [] } },
    ]);
    // Leave nothing pending for the next test.
    await db.query("update outbox set status = 'DONE' where status = 'PENDING'");
  });

  it('refuses an unknown job (exit 2, listing the known ones) and a bad configuration (exit 1)', async () => {
    const unknown = spawnTs('workers/src/main.ts', ['nope'], { DATABASE_URL: db.url });
    expect(await unknown.exited).toBe(2);
    expect(unknown.lines.filter(Boolean)).toEqual([
      'workers: unknown job "nope" (known jobs: auto-release, aggregate, reconcile, outbox)',
    ]);

    const badConfig = spawnTs('workers/src/main.ts', ['outbox'], {
      DEPLOYER_URL: 'ftp://x',
      OUTBOX_INTERVAL_MS: 'soon',
    });
    expect(await badConfig.exited).toBe(1);
    expect(badConfig.lines.filter(Boolean)).toEqual([
      'worker outbox: invalid configuration',
      expect.stringMatching(/^ {2}- DATABASE_URL: /),
      '  - DEPLOYER_URL: must be an http(s) URL',
      expect.stringMatching(/^ {2}- OUTBOX_INTERVAL_MS: /),
    ]);
  });
});
