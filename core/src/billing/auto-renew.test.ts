import { describe, expect, it } from 'vitest';
import { autoRelease } from '../allocation/auto-release.ts';
import { PoolProvisioner } from '../provisioners/pool-provisioner.ts';
import { useTestDatabase } from '../testing/database.ts';
import {
  addPoolVms,
  allocateTestVm,
  createTestUser,
  creditUser,
  errorCodeOf,
  testCatalog,
} from '../testing/factories.ts';
import { suspendUser, unsuspendUser } from '../users/account-lifecycle.ts';
import { setAutoRenew } from '../users/set-auto-renew.ts';
import {
  planExpiringKey,
  planRenewalWindowHours,
  planRenewedKey,
  planStatus,
  renewDuePlans,
} from './auto-renew.ts';
import { purchasePlan } from './plans.ts';

const t = useTestDatabase({ poolMax: 8 });
const DAY_MS = 86_400_000;
const catalog = testCatalog();
const pool = new PoolProvisioner();

/**
 * Each test runs at an instant of its own, a thousand days from the others', so the users of
 * other tests (sharing the database) are never due in its window.
 */
let slot = 0;
const testNow = () => new Date(Date.now() + ++slot * 1000 * DAY_MS);

/**
 * A user who bought `basic` (999 EUR, 30 days) so the period ends one day after `now`, holds
 * one VM until then and has `extraCents` left; auto-renew as asked.
 */
async function planUser(now: Date, options: { extraCents: number; autoRenew: boolean }) {
  const user = await createTestUser(t.em(), { periodEnd: null });
  await creditUser(t.em(), user.id, 999 + options.extraCents);
  const bought = await purchasePlan(t.em(), catalog, {
    userId: user.id,
    planCode: 'basic',
    periods: 1,
    now: new Date(now.getTime() - 29 * DAY_MS),
  });
  if (options.autoRenew) await setAutoRenew(t.em(), { userId: user.id, enabled: true });
  await addPoolVms(t.em(), 1);
  const allocation = await allocateTestVm(t.em(), user.id);
  return {
    id: user.id,
    email: user.email,
    periodEnd: bought.purchase.periodEnd,
    allocationId: allocation.id,
  };
}

const userState = async (userId: string) => {
  const [row] = await t.query(
    `select u.vm_quota_period_end as period_end, b.credit_balance_cents::int as balance,
            (select count(*)::int from ledger_entry l where l.user_id = u.id and l.kind = 'PLAN_PURCHASE') as purchases,
            (select count(*)::int from plan_purchase p where p.user_id = u.id and p.renews_period_end is not null) as renewals
       from users u join billing b on b.user_id = u.id where u.id = $1`,
    [userId],
  );
  return row as { period_end: Date; balance: number; purchases: number; renewals: number };
};

const outboxOf = (userId: string) =>
  t.query<{ topic: string; payload: Record<string, unknown>; dedupe_key: string }>(
    `select topic, payload, dedupe_key from outbox
      where topic like 'plan.%' and payload->>'userId' = $1 order by id`,
    [userId],
  );

const expiresAt = async (allocationId: string) =>
  (await t.query('select expires_at, status from vm_allocation where id = $1', [allocationId]))[0] as {
    expires_at: Date;
    status: string;
  };

describe('renewDuePlans', () => {
  it('does not charge a suspended user; once unsuspended the period is renewed', async () => {
    const now = testNow();
    const u = await planUser(now, { extraCents: 1000, autoRenew: true });
    const deps = { provisionerFor: () => pool };
    await suspendUser(t.em(), { userId: u.id, reason: 'review' }, deps);
    expect(await renewDuePlans(t.em(), { catalog, windowHours: 72, now })).toMatchObject({
      usersDue: 0,
      plansRenewed: 0,
    });
    expect(await userState(u.id)).toMatchObject({ balance: 1000, renewals: 0 });
    expect(await outboxOf(u.id)).toEqual([]);
    await unsuspendUser(t.em(), u.id);
    expect(await renewDuePlans(t.em(), { catalog, windowHours: 72, now })).toMatchObject({ plansRenewed: 1 });
    expect(await userState(u.id)).toMatchObject({ balance: 1, renewals: 1 });
  });

  it('covered: renewed once from the balance, period extended, VMs re-dated, one plan.renewed', async () => {
    const now = testNow();
    const u = await planUser(now, { extraCents: 1000, autoRenew: true });
    const first = await renewDuePlans(t.em(), { catalog, windowHours: 72, now });
    expect(first).toMatchObject({ usersDue: 1, plansRenewed: 1, expiringNotices: 0, errors: [] });
    const newEnd = new Date(u.periodEnd.getTime() + 30 * DAY_MS);
    expect(await userState(u.id)).toEqual({ period_end: newEnd, balance: 1, purchases: 2, renewals: 1 });
    expect(await expiresAt(u.allocationId)).toEqual({ expires_at: newEnd, status: 'ACTIVE' });
    const [purchase] = await t.query(
      'select plan_code, periods, price_cents::int as price, period_start, renews_period_end from plan_purchase where user_id = $1 and renews_period_end is not null',
      [u.id],
    );
    expect(purchase).toEqual({
      plan_code: 'basic',
      periods: 1,
      price: 999,
      period_start: u.periodEnd,
      renews_period_end: u.periodEnd,
    });
    const events = await outboxOf(u.id);
    expect(events).toEqual([
      {
        topic: 'plan.renewed',
        dedupe_key: planRenewedKey(u.id, u.periodEnd),
        payload: expect.objectContaining({
          userId: u.id,
          email: u.email,
          planCode: 'basic',
          planName: 'Basic',
          periods: 1,
          priceCents: 999,
          currency: 'EUR',
          previousPeriodEnd: u.periodEnd.toISOString(),
          periodEnd: newEnd.toISOString(),
          balanceCents: 1,
          allocationsRedated: 1,
        }),
      },
    ]);

    // The next ticks find the new end outside the window: nothing more.
    const again = await renewDuePlans(t.em(), {
      catalog,
      windowHours: 72,
      now: new Date(now.getTime() + 3_600_000),
    });
    expect(again).toMatchObject({ usersDue: 0, plansRenewed: 0 });
    expect((await userState(u.id)).renewals).toBe(1);
    expect(await outboxOf(u.id)).toHaveLength(1);
  });

  it('not covered: plan.expiring once, retried each tick, and the VM released at the period end by auto-release', async () => {
    const now = testNow();
    const u = await planUser(now, { extraCents: 998, autoRenew: true }); // one cent short of 999
    expect((await userState(u.id)).balance).toBe(998);
    const tick = (at: Date) =>
      autoRelease(t.em(), {
        provisionerFor: (name) => (name === 'pool' ? pool : null),
        now: at,
        expiryWarningHours: 72,
        renewals: { catalog },
      });
    const first = await tick(now);
    expect(first).toMatchObject({ plansRenewed: 0, planExpiringNotices: 1, errors: [] });
    const second = await tick(new Date(now.getTime() + 3_600_000));
    expect(second).toMatchObject({ plansRenewed: 0, planExpiringNotices: 0 });
    const events = await outboxOf(u.id);
    expect(events).toEqual([
      {
        topic: 'plan.expiring',
        dedupe_key: planExpiringKey(u.id, u.periodEnd),
        payload: {
          userId: u.id,
          email: u.email,
          planCode: 'basic',
          planName: 'Basic',
          periodEnd: u.periodEnd.toISOString(),
          reason: 'INSUFFICIENT_CREDIT',
          autoRenew: true,
          renewalPriceCents: 999,
          balanceCents: 998,
          currency: 'EUR',
        },
      },
    ]);
    expect(await userState(u.id)).toMatchObject({
      period_end: u.periodEnd,
      balance: 998,
      purchases: 1,
      renewals: 0,
    });
    expect((await expiresAt(u.allocationId)).status).toBe('ACTIVE');

    // Past the end: released (reason EXPIRED), no renewal after the fact.
    const after = await tick(new Date(u.periodEnd.getTime() + 1));
    expect(after.rowsReleased).toBeGreaterThanOrEqual(1);
    expect(await expiresAt(u.allocationId)).toEqual({ expires_at: u.periodEnd, status: 'RELEASED' });
    expect(await userState(u.id)).toMatchObject({ balance: 998, renewals: 0 });
    expect((await outboxOf(u.id)).map((e) => e.topic)).toEqual(['plan.expiring']);
  });

  it('credit arriving after plan.expiring: the next tick before the end renews', async () => {
    const now = testNow();
    const u = await planUser(now, { extraCents: 0, autoRenew: true });
    expect(await renewDuePlans(t.em(), { catalog, windowHours: 72, now })).toMatchObject({
      expiringNotices: 1,
    });
    await creditUser(t.em(), u.id, 999);
    const later = await renewDuePlans(t.em(), {
      catalog,
      windowHours: 72,
      now: new Date(now.getTime() + 3_600_000),
    });
    expect(later).toMatchObject({ plansRenewed: 1 });
    expect(await userState(u.id)).toMatchObject({ balance: 0, renewals: 1 });
    expect((await outboxOf(u.id)).map((e) => e.topic)).toEqual(['plan.expiring', 'plan.renewed']);
  });

  it('auto-renew off: plan.expiring (AUTO_RENEW_OFF) once, nothing debited', async () => {
    const now = testNow();
    const u = await planUser(now, { extraCents: 5_000, autoRenew: false });
    const first = await renewDuePlans(t.em(), { catalog, windowHours: 72, now });
    expect(first).toMatchObject({ usersDue: 1, plansRenewed: 0, expiringNotices: 1 });
    // Already told: not even selected again.
    const second = await renewDuePlans(t.em(), {
      catalog,
      windowHours: 72,
      now: new Date(now.getTime() + 60_000),
    });
    expect(second).toMatchObject({ usersDue: 0, expiringNotices: 0 });
    const events = await outboxOf(u.id);
    expect(events.map((e) => [e.topic, e.payload.reason, e.payload.autoRenew])).toEqual([
      ['plan.expiring', 'AUTO_RENEW_OFF', false],
    ]);
    expect(await userState(u.id)).toMatchObject({ balance: 5_000, purchases: 1, renewals: 0 });
  });

  it('outside the window nothing happens; a period ended already is not renewed', async () => {
    const now = testNow();
    const u = await planUser(now, { extraCents: 5_000, autoRenew: true });
    // The end is 24 h ahead: a 12 h window does not reach it.
    expect(await renewDuePlans(t.em(), { catalog, windowHours: 12, now })).toMatchObject({ usersDue: 0 });
    expect(
      await renewDuePlans(t.em(), { catalog, windowHours: 72, now: new Date(u.periodEnd.getTime() + 1) }),
    ).toMatchObject({
      usersDue: 0,
    });
    expect(await userState(u.id)).toMatchObject({ renewals: 0, balance: 5_000 });
  });

  it('two renewers at once and a purchase by the user: the period is renewed once, every debit in the ledger', async () => {
    const now = testNow();
    const users = await Promise.all(
      Array.from({ length: 6 }, () => planUser(now, { extraCents: 5_000, autoRenew: true })),
    );
    const manual = users[0];
    const results = await Promise.all([
      renewDuePlans(t.em(), { catalog, windowHours: 72, now }),
      renewDuePlans(t.em(), { catalog, windowHours: 72, now }),
      renewDuePlans(t.em(), { catalog, windowHours: 72, now }),
      purchasePlan(t.em(), catalog, { userId: manual.id, planCode: 'basic', periods: 1, now }),
    ]);
    const renewed = results.slice(0, 3).reduce((n, r) => n + (r as { plansRenewed: number }).plansRenewed, 0);
    expect(results.slice(0, 3).flatMap((r) => (r as { errors: string[] }).errors)).toEqual([]);
    for (const u of users.slice(1)) {
      const s = await userState(u.id);
      expect(s).toEqual({
        period_end: new Date(u.periodEnd.getTime() + 30 * DAY_MS),
        balance: 5_000 - 999,
        purchases: 2,
        renewals: 1,
      });
      expect((await outboxOf(u.id)).map((e) => e.topic)).toEqual(['plan.renewed']);
    }
    // The user's own purchase either came first (the renewal then found the end moved: skipped)
    // or after the renewal (extending further): at most one renewal, and every debit recorded.
    const m = await userState(manual.id);
    expect(m.renewals).toBeLessThanOrEqual(1);
    expect(renewed).toBe(5 + m.renewals);
    expect(m.balance).toBe(5_000 - 999 * (1 + m.renewals));
    expect(m.period_end).toEqual(new Date(manual.periodEnd.getTime() + 30 * DAY_MS * (1 + m.renewals)));
    expect((await outboxOf(manual.id)).filter((e) => e.topic === 'plan.renewed')).toHaveLength(m.renewals);
  });

  it('a plan no longer on offer is not renewed: plan.expiring PLAN_UNAVAILABLE', async () => {
    const now = testNow();
    const u = await planUser(now, { extraCents: 5_000, autoRenew: true });
    const other = { ...catalog, plans: catalog.plans.filter((p) => p.code !== 'basic') };
    expect(await renewDuePlans(t.em(), { catalog: other, windowHours: 72, now })).toMatchObject({
      plansRenewed: 0,
      expiringNotices: 1,
    });
    expect((await outboxOf(u.id))[0].payload).toMatchObject({
      reason: 'PLAN_UNAVAILABLE',
      renewalPriceCents: null,
    });
  });
});

describe('setAutoRenew and planStatus', () => {
  it('refuses auto-renew without a plan bought (NO_PLAN_TO_RENEW, nothing changed); off always works', async () => {
    const user = await createTestUser(t.em());
    expect(await errorCodeOf(setAutoRenew(t.em(), { userId: user.id, enabled: true }))).toBe(
      'NO_PLAN_TO_RENEW',
    );
    expect((await setAutoRenew(t.em(), { userId: user.id, enabled: false })).autoRenew).toBe(false);
    expect(
      await errorCodeOf(
        setAutoRenew(t.em(), { userId: '00000000-0000-4000-8000-000000000000', enabled: false }),
      ),
    ).toBe('NOT_FOUND');
    const status = await planStatus(t.em(), catalog, user.id);
    expect(status).toMatchObject({ planCode: null, planName: null, autoRenew: false, renewal: null });
  });

  it('shows the last plan bought, the period end and one period at the current price', async () => {
    const now = testNow();
    const u = await planUser(now, { extraCents: 0, autoRenew: true });
    const status = await planStatus(t.em(), catalog, u.id);
    expect(status).toMatchObject({
      planCode: 'basic',
      planName: 'Basic',
      periodEnd: u.periodEnd,
      autoRenew: true,
    });
    expect(status.renewal).toMatchObject({ periods: 1, priceCents: 999, currency: 'EUR' });
    expect((await setAutoRenew(t.em(), { userId: u.id, enabled: false })).autoRenew).toBe(false);
  });

  it('the renewal window is the expiry-warning window, 72 h when warnings are off', () => {
    expect(planRenewalWindowHours(24)).toBe(24);
    expect(planRenewalWindowHours(0)).toBe(72);
  });
});
