import { describe, expect, it } from 'vitest';
import { JobAlreadyRunningError } from '../errors.ts';
import { ALLOCATION_EXPIRING_TOPIC } from '../outbox/enqueue.ts';
import { PoolProvisioner } from '../provisioners/pool-provisioner.ts';
import type { Provisioner } from '../provisioners/provisioner.ts';
import { useTestDatabase } from '../testing/database.ts';
import { addPoolVms, allocateTestVm, createTestUser, holdJobLock } from '../testing/factories.ts';
import { AUTO_RELEASE_JOB, autoRelease, autoReleaseNow, enqueueExpiryWarnings } from './auto-release.ts';
import { type ExpiryWarningWindow, expiryWarningWindow } from './expiry.ts';

/** The 24 h expiry-warning window from `now`. */
const warningWindow = (now: Date) => expiryWarningWindow(24, now) as ExpiryWarningWindow;

const t = useTestDatabase({ poolMax: 8 });
const HOUR_MS = 3_600_000;
const pool = new PoolProvisioner();
const provisionerFor = (name: string): Provisioner | null => (name === 'pool' ? pool : null);

/** `count` ACTIVE allocations expiring at `expiresAt`; their ids. */
async function allocationsExpiringAt(expiresAt: Date, count = 1): Promise<string[]> {
  await addPoolVms(t.em(), count);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const user = await createTestUser(t.em());
    ids.push((await allocateTestVm(t.em(), user.id)).id);
  }
  await t.query('update vm_allocation set expires_at = $1 where id = any($2::uuid[])', [expiresAt, ids]);
  return ids;
}

const statusOf = async (ids: string[]) =>
  (await t.query('select status from vm_allocation where id = any($1::uuid[]) order by id', [ids])).map(
    (r) => r.status,
  );

/**
 * Each test runs at its own instant, far from the others', and only sees rows expiring before
 * it: rows of earlier tests are in the past of later tests, so every test puts its `now` after
 * all of theirs and releases them first. The counts below are therefore read per test's rows.
 */
describe('autoRelease', () => {
  it('releases rows expired strictly before now, reason EXPIRED, and leaves the boundary row', async () => {
    const now = new Date(Date.now() + 100 * HOUR_MS);
    const [expired] = await allocationsExpiringAt(new Date(now.getTime() - 1));
    const [boundary] = await allocationsExpiringAt(now);
    const summary = await autoRelease(t.em(), { provisionerFor, now });
    expect(summary.rowsReleased).toBeGreaterThanOrEqual(1);
    expect(await statusOf([expired])).toEqual(['RELEASED']);
    expect(await statusOf([boundary])).toEqual(['ACTIVE']);
    const [row] = await t.query('select release_reason from vm_allocation where id = $1', [expired]);
    expect(row.release_reason).toBe('EXPIRED');
  });

  it('a second run finds nothing left to do', async () => {
    const now = new Date(Date.now() + 200 * HOUR_MS);
    await allocationsExpiringAt(new Date(now.getTime() - HOUR_MS), 3);
    const first = await autoRelease(t.em(), { provisionerFor, now });
    expect(first.rowsReleased).toBeGreaterThanOrEqual(3);
    const second = await autoRelease(t.em(), { provisionerFor, now });
    expect(second).toMatchObject({ rowsExamined: 0, rowsReleased: 0, errors: [] });
  });

  it('walks every batch: more expired rows than the batch size are all released', async () => {
    const now = new Date(Date.now() + 300 * HOUR_MS);
    await autoRelease(t.em(), { provisionerFor, now }); // earlier tests' rows
    const ids = await allocationsExpiringAt(new Date(now.getTime() - HOUR_MS), 7);
    const summary = await autoRelease(t.em(), { provisionerFor, now, batchSize: 2 });
    expect(summary).toMatchObject({ rowsExamined: 7, rowsExpired: 7, rowsReleased: 7, errors: [] });
    expect(new Set(await statusOf(ids))).toEqual(new Set(['RELEASED']));
  });

  it('reports a row of an unknown provisioner and goes on with the others', async () => {
    const now = new Date(Date.now() + 400 * HOUR_MS);
    await autoRelease(t.em(), { provisionerFor, now });
    const [orphan, fine] = await allocationsExpiringAt(new Date(now.getTime() - HOUR_MS), 2);
    await t.query("update vm_allocation set provisioner = 'gone' where id = $1", [orphan]);
    const summary = await autoRelease(t.em(), { provisionerFor, now });
    expect(summary.errors).toEqual([`allocation ${orphan}: unknown provisioner "gone"`]);
    expect(summary).toMatchObject({ rowsExamined: 2, rowsExpired: 2, rowsReleased: 1 });
    expect(await statusOf([orphan])).toEqual(['ACTIVE']);
    expect(await statusOf([fine])).toEqual(['RELEASED']);
  });

  it('stops at once when the signal is aborted', async () => {
    const now = new Date(Date.now() + 500 * HOUR_MS);
    await autoRelease(t.em(), { provisionerFor, now });
    const ids = await allocationsExpiringAt(new Date(now.getTime() - HOUR_MS), 2);
    const controller = new AbortController();
    controller.abort();
    const summary = await autoRelease(t.em(), { provisionerFor, now, signal: controller.signal });
    expect(summary.rowsExamined).toBe(0);
    expect(await statusOf(ids)).toEqual(['ACTIVE', 'ACTIVE']);
  });

  it('writes one expiry warning per allocation entering the window, once', async () => {
    const now = new Date(Date.now() + 600 * HOUR_MS);
    await autoRelease(t.em(), { provisionerFor, now });
    const [soon] = await allocationsExpiringAt(new Date(now.getTime() + 2 * HOUR_MS));
    const [later] = await allocationsExpiringAt(new Date(now.getTime() + 30 * HOUR_MS));
    const first = await autoRelease(t.em(), { provisionerFor, now, expiryWarningHours: 24 });
    expect(first.expiryWarnings).toBe(1);
    const events = await t.query(
      'select payload, dedupe_key from outbox where topic = $1 and payload->>$2 = any($3)',
      [ALLOCATION_EXPIRING_TOPIC, 'allocationId', [soon, later]],
    );
    expect(events).toHaveLength(1);
    expect(events[0].payload.allocationId).toBe(soon);
    expect(await enqueueExpiryWarnings(t.em(), warningWindow(now))).toBe(0);
  });

  it('warns again when the allocation is re-dated to a new end', async () => {
    const now = new Date(Date.now() + 700 * HOUR_MS);
    await autoRelease(t.em(), { provisionerFor, now });
    const [id] = await allocationsExpiringAt(new Date(now.getTime() + HOUR_MS));
    expect(await enqueueExpiryWarnings(t.em(), warningWindow(now))).toBe(1);
    await t.query('update vm_allocation set expires_at = $1 where id = $2', [
      new Date(now.getTime() + 2 * HOUR_MS),
      id,
    ]);
    expect(await enqueueExpiryWarnings(t.em(), warningWindow(now))).toBe(1);
    expect(await enqueueExpiryWarnings(t.em(), warningWindow(now))).toBe(0);
  });
});

describe('autoReleaseNow', () => {
  it('records a MANUAL job run with the summary', async () => {
    const summary = await autoReleaseNow(t.em(), { provisionerFor });
    expect(summary.errors).toEqual([]);
    const [run] = await t.query(
      "select trigger, status, summary from job_run where job = $1 and trigger = 'MANUAL' order by id desc limit 1",
      [AUTO_RELEASE_JOB],
    );
    expect(run).toMatchObject({ trigger: 'MANUAL', status: 'SUCCEEDED' });
    expect(run.summary).toMatchObject({ rowsReleased: summary.rowsReleased });
  });

  it('answers ALREADY_RUNNING while a scheduled run holds the lock', async () => {
    const tick = await holdJobLock(t.em(), AUTO_RELEASE_JOB);
    await expect(autoReleaseNow(t.em(), { provisionerFor })).rejects.toBeInstanceOf(JobAlreadyRunningError);
    tick.release();
    expect((await tick.done).status).toBe('SUCCEEDED');
  });
});
