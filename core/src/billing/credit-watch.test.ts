import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { autoRelease } from '../allocation/auto-release.ts';
import { PoolProvisioner } from '../provisioners/pool-provisioner.ts';
import type { Provisioner } from '../provisioners/provisioner.ts';
import { useTestDatabase } from '../testing/database.ts';
import { addPoolVms, allocateTestVm, createTestUser, creditUser } from '../testing/factories.ts';
import type { CreditPolicy } from './credit-policy.ts';
import { creditStatus, RUNWAY_WINDOW_DAYS, runway, watchCredit } from './credit-watch.ts';
import { postLedgerEntry } from './ledger.ts';

const t = useTestDatabase({ poolMax: 8 });
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const pool = new PoolProvisioner();
const provisionerFor = (name: string): Provisioner | null => (name === 'pool' ? pool : null);
const policy: CreditPolicy = { runwayDays: 3, floorCents: 200, graceHours: 72 };

/** A usage debit, as the aggregator's batches post them (a USAGE ledger row). */
async function useCents(userId: string, cents: number): Promise<void> {
  await t.em().transactional((tx) => postLedgerEntry(tx, { userId, kind: 'USAGE', amountCents: -cents }));
}

interface OutboxRow {
  id: string;
  topic: string;
  payload: Record<string, any>;
  dedupe_key: string;
}

/** The notification events about a user, in the order written. */
const eventsOf = (userId: string, topic?: string) =>
  t.query<OutboxRow>(
    `select id::text, topic, payload, dedupe_key from outbox
      where payload->>'userId' = $1 and ($2::text is null or topic = $2) order by id`,
    [userId, topic ?? null],
  ) as Promise<OutboxRow[]>;

const allocationOf = async (id: string) =>
  (await t.query('select status, release_reason from vm_allocation where id = $1', [id]))[0];

const watch = (now: Date, p: CreditPolicy = policy) => watchCredit(t.em(), { ...p, now, provisionerFor });

/** A user with a VM, `credit` cents paid in, then `usage` cents used. */
async function userWithVm(credit: number, usage: number) {
  await addPoolVms(t.em(), 1);
  const user = await createTestUser(t.em(), { periodEnd: new Date(Date.now() + 400 * DAY_MS) });
  if (credit > 0) await creditUser(t.em(), user.id, credit);
  const allocation = await allocateTestVm(t.em(), user.id);
  if (usage > 0) await useCents(user.id, usage);
  return { user, allocation };
}

/** When the user's current negative episode began, from the ledger. */
async function negativeSinceOf(userId: string): Promise<Date> {
  const status = await creditStatus(t.em(), userId, policy);
  if (!status?.negativeSince) throw new Error('not negative');
  return status.negativeSince;
}

describe('runway', () => {
  it('is the balance over the usage of the last 7 days per day, exactly', () => {
    const now = new Date('2026-12-04T00:00:00.000Z');
    expect(RUNWAY_WINDOW_DAYS).toBe(7);
    // 700 cents a week = 100 a day: 1000 cents last 10 days.
    expect(runway(1000, 700, now)).toEqual({ days: 10, runsOutAt: new Date(now.getTime() + 10 * DAY_MS) });
    // 1 cent at 3 cents a week: 7/3 days, rounded down to the millisecond.
    expect(runway(1, 3, now)).toEqual({ days: 7 / 3, runsOutAt: new Date(now.getTime() + 201_600_000) });
    // Large balances stay exact (BigInt milliseconds).
    expect(runway(10 ** 12, 7 * 10 ** 6, now)?.runsOutAt?.getTime()).toBe(now.getTime() + 10 ** 6 * DAY_MS);
    // Beyond what a date can say: the days, no instant.
    expect(runway(10 ** 12, 7, now)).toEqual({ days: 10 ** 12, runsOutAt: null });
    expect(runway(0, 5, now)).toEqual({ days: 0, runsOutAt: null });
    expect(runway(-40, 5, now)).toEqual({ days: 0, runsOutAt: null });
    expect(runway(500, 0, now)).toBeNull();
  });

  it('creditStatus reads the usage of the window from the ledger; older usage no longer counts', async () => {
    const user = await createTestUser(t.em());
    await creditUser(t.em(), user.id, 2000);
    await useCents(user.id, 700);
    const now = new Date();
    const status = await creditStatus(t.em(), user.id, policy, now);
    expect(status).toMatchObject({
      balanceCents: 1300,
      currency: 'EUR',
      usageCentsInWindow: 700,
      dailyUsageCents: 100,
      runwayDays: 13,
      runsOutAt: new Date(now.getTime() + 13 * DAY_MS),
      low: false,
      lowReason: null,
      negative: false,
      negativeSince: null,
      releaseAt: null,
    });
    // Eight days on, the debit is out of the window: no usage, no runway.
    const later = await creditStatus(t.em(), user.id, policy, new Date(now.getTime() + 8 * DAY_MS));
    expect(later).toMatchObject({ usageCentsInWindow: 0, runwayDays: null, runsOutAt: null, low: false });
    // A new account money never moved on is not low, although its balance is 0.
    const fresh = await createTestUser(t.em());
    expect(await creditStatus(t.em(), fresh.id, policy)).toMatchObject({ balanceCents: 0, low: false });
    expect(await creditStatus(t.em(), 'not-a-uuid', policy)).toBeNull();
  });
});

describe('watchCredit', () => {
  it('balance.low fires once per episode, and again after the balance recovered and went low again', async () => {
    const user = await createTestUser(t.em());
    await creditUser(t.em(), user.id, 10_000);
    await watch(new Date());
    expect(await eventsOf(user.id, 'balance.low')).toEqual([]);

    // Below the 200-cent floor.
    await useCents(user.id, 9_900);
    const first = await watch(new Date());
    expect(first.lowEvents).toBeGreaterThanOrEqual(1);
    await watch(new Date());
    await watch(new Date());
    let low = await eventsOf(user.id, 'balance.low');
    expect(low).toHaveLength(1);
    expect(low[0].payload).toMatchObject({
      userId: user.id,
      email: user.email,
      balanceCents: 100,
      currency: 'EUR',
      reason: 'FLOOR',
    });
    expect(low[0].dedupe_key).toBe(`balance.low:${user.id}:${Date.parse(low[0].payload.lowSince)}`);

    // A top-up: 10,100 cents at 9,900 a week lasts 7.1 days, above the 3-day runway: recovered.
    await creditUser(t.em(), user.id, 10_000);
    expect((await watch(new Date())).lowRecovered).toBeGreaterThanOrEqual(1);
    expect(await eventsOf(user.id, 'balance.low')).toHaveLength(1);

    // More usage: 1,100 cents at 18,900 a week lasts 0.41 days (< 3), though above the floor.
    await useCents(user.id, 9_000);
    await watch(new Date());
    await watch(new Date());
    low = await eventsOf(user.id, 'balance.low');
    expect(low).toHaveLength(2);
    expect(low[1].payload).toMatchObject({
      balanceCents: 1_100,
      reason: 'RUNWAY',
      runwayDays: (1_100 * 7) / 18_900,
    });
    expect(low[1].dedupe_key).not.toBe(low[0].dedupe_key);
  });

  it('balance.negative fires below zero (not at exactly zero), once, with the release time; every VM gets a warning', async () => {
    const { user, allocation } = await userWithVm(500, 500);
    await watch(new Date());
    expect(await eventsOf(user.id, 'balance.negative')).toEqual([]);
    expect((await creditStatus(t.em(), user.id, policy))?.low).toBe(true);

    await useCents(user.id, 1);
    await watch(new Date());
    await watch(new Date());
    const since = await negativeSinceOf(user.id);
    const negative = await eventsOf(user.id, 'balance.negative');
    expect(negative).toHaveLength(1);
    expect(negative[0].payload).toEqual({
      userId: user.id,
      email: user.email,
      balanceCents: -1,
      currency: 'EUR',
      negativeSince: since.toISOString(),
      releaseAt: new Date(since.getTime() + 72 * HOUR_MS).toISOString(),
      graceHours: 72,
    });
    const warnings = (await eventsOf(user.id, 'allocation.expiring')).filter(
      (e) => e.payload.reason === 'CREDIT_EXHAUSTED',
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0].payload).toMatchObject({
      allocationId: allocation.id,
      reason: 'CREDIT_EXHAUSTED',
      expiresAt: new Date(since.getTime() + 72 * HOUR_MS).toISOString(),
      releaseAt: new Date(since.getTime() + 72 * HOUR_MS).toISOString(),
    });
    expect(await creditStatus(t.em(), user.id, policy)).toMatchObject({
      negative: true,
      negativeSince: since,
      releaseAt: new Date(since.getTime() + 72 * HOUR_MS),
    });
  });

  it('after the grace the VMs are released with CREDIT_EXHAUSTED through the provisioner, the warning written first', async () => {
    const { user, allocation } = await userWithVm(100, 300);
    await watch(new Date());
    const since = await negativeSinceOf(user.id);
    // One millisecond before the grace ends (rounded down): still held.
    await watch(new Date(since.getTime() + 72 * HOUR_MS - 1));
    expect(await allocationOf(allocation.id)).toEqual({ status: 'ACTIVE', release_reason: null });

    const summary = await watch(new Date(since.getTime() + 72 * HOUR_MS + 1));
    expect(summary.creditReleased).toBeGreaterThanOrEqual(1);
    expect(await allocationOf(allocation.id)).toEqual({
      status: 'RELEASED',
      release_reason: 'CREDIT_EXHAUSTED',
    });
    const [release] = await t.query<OutboxRow>(
      `select id::text, topic, payload, dedupe_key from outbox where topic = 'vm.release' and payload->>'allocationId' = $1`,
      [allocation.id],
    );
    expect(release.payload).toMatchObject({ reason: 'CREDIT_EXHAUSTED', userId: user.id });
    const [warning] = (await eventsOf(user.id, 'allocation.expiring')).filter(
      (e) => e.payload.reason === 'CREDIT_EXHAUSTED',
    );
    expect(Number(warning.id)).toBeLessThan(Number(release.id));
    // The pool VM is free again.
    const [vm] = await t.query('select active_allocation_id from pool_vm where id = $1', [
      allocation.poolVm.id,
    ]);
    expect(vm.active_allocation_id).toBeNull();
  });

  it('a top-up that brings the balance back to zero ends the grace; the next negative episode gets a new one', async () => {
    const { user, allocation } = await userWithVm(100, 300);
    await watch(new Date());
    const firstSince = await negativeSinceOf(user.id);
    // A top-up that leaves it negative does not end the grace.
    await creditUser(t.em(), user.id, 100);
    expect(await negativeSinceOf(user.id)).toEqual(firstSince);
    await creditUser(t.em(), user.id, 100); // back to exactly 0
    await watch(new Date());
    expect(await creditStatus(t.em(), user.id, policy)).toMatchObject({
      balanceCents: 0,
      negative: false,
      releaseAt: null,
    });
    await sleep(30);
    await useCents(user.id, 50);
    await watch(new Date());
    const secondSince = await negativeSinceOf(user.id);
    expect(secondSince.getTime()).toBeGreaterThan(firstSince.getTime() + 20);

    // The first grace would be over: nothing released, the second one runs.
    const afterFirst = new Date(firstSince.getTime() + 72 * HOUR_MS + 5);
    await watch(afterFirst);
    expect(await allocationOf(allocation.id)).toEqual({ status: 'ACTIVE', release_reason: null });
    const negative = await eventsOf(user.id, 'balance.negative');
    expect(negative.map((e) => e.payload.negativeSince)).toEqual([
      firstSince.toISOString(),
      secondSince.toISOString(),
    ]);
    const warnings = (await eventsOf(user.id, 'allocation.expiring')).filter(
      (e) => e.payload.reason === 'CREDIT_EXHAUSTED',
    );
    expect(warnings).toHaveLength(2);

    await watch(new Date(secondSince.getTime() + 72 * HOUR_MS + 1));
    expect(await allocationOf(allocation.id)).toEqual({
      status: 'RELEASED',
      release_reason: 'CREDIT_EXHAUSTED',
    });
  });

  it('a top-up committing while the release waits for the balance lock wins: the VM stays', async () => {
    const { user, allocation } = await userWithVm(100, 300);
    await watch(new Date());
    const since = await negativeSinceOf(user.id);
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    // A payment in flight: its ledger row is written (the balance row locked), not committed yet.
    const payment = t.em().transactional(async (tx) => {
      await postLedgerEntry(tx, { userId: user.id, kind: 'PAYMENT', amountCents: 1_000 });
      locked();
      await held;
    });
    await isLocked;
    const watching = watch(new Date(since.getTime() + 72 * HOUR_MS + 1));
    await sleep(300);
    release();
    await payment;
    const summary = await watching;
    expect(summary.creditReleaseSkipped).toBeGreaterThanOrEqual(1);
    expect(await allocationOf(allocation.id)).toEqual({ status: 'ACTIVE', release_reason: null });
  });

  it('two watchers at once write each event once and release each VM once', async () => {
    const { user, allocation } = await userWithVm(100, 300);
    await Promise.all([watch(new Date()), watch(new Date()), watch(new Date())]);
    expect(await eventsOf(user.id, 'balance.negative')).toHaveLength(1);
    expect(await eventsOf(user.id, 'balance.low')).toHaveLength(1);
    const since = await negativeSinceOf(user.id);
    const due = new Date(since.getTime() + 72 * HOUR_MS + 1);
    const runs = await Promise.all([watch(due), watch(due), watch(due)]);
    expect(runs.flatMap((r) => r.errors)).toEqual([]);
    expect(await allocationOf(allocation.id)).toEqual({
      status: 'RELEASED',
      release_reason: 'CREDIT_EXHAUSTED',
    });
    const releases = await t.query(
      `select 1 from outbox where topic = 'vm.release' and payload->>'allocationId' = $1`,
      [allocation.id],
    );
    expect(releases).toHaveLength(1);
    const warnings = (await eventsOf(user.id, 'allocation.expiring')).filter(
      (e) => e.payload.reason === 'CREDIT_EXHAUSTED',
    );
    expect(warnings).toHaveLength(1);
  });

  it('grace 0 never releases: balance.negative says no release time, and no VM is warned', async () => {
    const noRelease = { ...policy, graceHours: 0 };
    const { user, allocation } = await userWithVm(100, 300);
    await watch(new Date(), noRelease);
    const since = await negativeSinceOf(user.id);
    await watch(new Date(since.getTime() + 1000 * HOUR_MS), noRelease);
    expect(await allocationOf(allocation.id)).toEqual({ status: 'ACTIVE', release_reason: null });
    const [negative] = await eventsOf(user.id, 'balance.negative');
    expect(negative.payload).toMatchObject({ releaseAt: null, graceHours: 0 });
    expect(
      (await eventsOf(user.id, 'allocation.expiring')).filter((e) => e.payload.reason === 'CREDIT_EXHAUSTED'),
    ).toEqual([]);
    expect(await creditStatus(t.em(), user.id, noRelease)).toMatchObject({ negative: true, releaseAt: null });
  });

  it('runs as part of autoRelease when given a credit policy, with its summary', async () => {
    const { user } = await userWithVm(100, 300);
    const summary = await autoRelease(t.em(), {
      provisionerFor,
      creditPolicy: policy,
      expiryWarningHours: 0,
    });
    expect(summary.credit).toMatchObject({ errors: [] });
    expect(summary.credit?.negativeEvents).toBeGreaterThanOrEqual(1);
    expect(await eventsOf(user.id, 'balance.negative')).toHaveLength(1);
    // Without one, autoRelease does as before.
    expect((await autoRelease(t.em(), { provisionerFor, expiryWarningHours: 0 })).credit).toBeUndefined();
  });
});
