import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { releaseAllocation } from '../allocation/release-allocation.ts';
import { CurrencyMismatchError, InsufficientCreditError, NotFoundError, ValidationError } from '../errors.ts';
import { ConfigError } from '../lib/env.ts';
import { useTestDatabase } from '../testing/database.ts';
import { addPoolVms, allocateTestVm, createTestUser, creditUser, testCatalog } from '../testing/factories.ts';
import {
  DEFAULT_DISCOUNTS,
  loadPlanCatalog,
  PlanCatalogError,
  parsePlanCatalog,
  purchasePlan,
  quotePlan,
} from './plans.ts';

const t = useTestDatabase({ poolMax: 8 });
const DAY_MS = 86_400_000;
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

const basic = { code: 'basic', name: 'Basic', vmQuota: 1, periodDays: 30, priceCents: 999 };

describe('parsePlanCatalog', () => {
  it('takes a bare array (default ladder) or { plans, discounts }, sorting each ladder', () => {
    expect(parsePlanCatalog([basic], 'EUR').plans[0]).toEqual({
      ...basic,
      currency: 'EUR',
      discounts: DEFAULT_DISCOUNTS,
    });
    const catalog = parsePlanCatalog(
      JSON.stringify({
        plans: [basic],
        discounts: [
          { periods: 6, percent: 10 },
          { periods: 1, percent: 0 },
        ],
      }),
      'CHF',
    );
    expect(catalog.plans[0].discounts).toEqual([
      { periods: 1, percent: 0 },
      { periods: 6, percent: 10 },
    ]);
    expect(catalog.plans[0].currency).toBe('CHF');
  });

  it('the example catalog the repository ships is valid', () => {
    const file = path.resolve(import.meta.dirname, '../../../examples/plans.json');
    const catalog = parsePlanCatalog(readFileSync(file, 'utf8'), 'EUR');
    expect(catalog.plans.map((p) => p.code)).toEqual(['starter', 'team', 'lab']);
  });

  it('lists every problem of a bad catalog', () => {
    const bad = {
      plans: [
        { ...basic, priceCents: -1, extra: true },
        { ...basic, code: 'Bad Code', periodDays: 0 },
      ],
      discounts: [
        { periods: 3, percent: 5.555 },
        { periods: 3, percent: 101 },
      ],
    };
    const err = (() => {
      try {
        parsePlanCatalog(bad, 'EUR');
      } catch (e) {
        return e as PlanCatalogError;
      }
    })();
    expect(err).toBeInstanceOf(PlanCatalogError);
    const text = err!.problems.join('\n');
    for (const where of [
      'plans.0.priceCents',
      'plans.0',
      'plans.1.code',
      'plans.1.periodDays',
      'discounts.0.percent',
      'discounts.1.percent',
      'discounts.1.periods',
    ]) {
      expect(text).toContain(where);
    }
    expect(() => parsePlanCatalog([basic, basic], 'EUR')).toThrow(/"basic" is listed twice/);
    expect(() => parsePlanCatalog('{nope', 'EUR')).toThrow(/not valid JSON/);
  });

  it('loadPlanCatalog names the variable in each problem and refuses an unreadable file', () => {
    expect(loadPlanCatalog({ DEFAULT_CURRENCY: 'EUR' }).plans).toEqual([]);
    expect(() => loadPlanCatalog({ PLANS_JSON: '[{"code":"x"}]', DEFAULT_CURRENCY: 'EUR' })).toThrow(
      ConfigError,
    );
    const problems = (config: Parameters<typeof loadPlanCatalog>[0]) => {
      try {
        loadPlanCatalog(config);
      } catch (err) {
        return (err as ConfigError).problems;
      }
      return [];
    };
    expect(problems({ PLANS_FILE: '/nonexistent/plans.json', DEFAULT_CURRENCY: 'EUR' })).toEqual([
      'PLANS_FILE: cannot read /nonexistent/plans.json: ENOENT',
    ]);
    expect(problems({ PLANS_JSON: '[]', DEFAULT_CURRENCY: 'EUR' })).toEqual([]);
    expect(problems({ PLANS_JSON: '[{"code":"x"}]', DEFAULT_CURRENCY: 'EUR' })[0]).toMatch(
      /^PLANS_JSON: plans\.0\.name: /,
    );
  });
});

describe('quotePlan', () => {
  const catalog = parsePlanCatalog([basic, { ...basic, code: 'big', priceCents: 1_000_000_000 }], 'EUR');

  it('applies the largest ladder step not above the periods, discount rounded down to the cent', () => {
    const q = (periods: number) => quotePlan(catalog, 'basic', periods);
    expect(
      [1, 2, 3, 4, 11, 12, 120].map((n) => [n, q(n).discountPercent, q(n).discountCents, q(n).priceCents]),
    ).toEqual([
      [1, 0, 0, 999],
      [2, 0, 0, 1_998],
      [3, 5, 149, 2_848],
      [4, 5, 199, 3_797],
      [11, 5, 549, 10_440],
      [12, 15, 1_798, 10_190],
      [120, 15, 17_982, 101_898],
    ]);
    for (const n of [1, 3, 7, 12, 50]) {
      const r = q(n);
      expect(r.subtotalCents).toBe(999 * n);
      expect(r.priceCents + r.discountCents).toBe(r.subtotalCents);
    }
  });

  it('stays exact for the largest prices and period counts (integer arithmetic throughout)', () => {
    const r = quotePlan(catalog, 'big', 120); // subtotal 1.2e11 cents, 15% off
    expect(r.discountCents).toBe(18_000_000_000);
    expect(r.priceCents).toBe(102_000_000_000);
  });

  it('refuses an unknown plan and periods out of range', () => {
    expect(() => quotePlan(catalog, 'gold', 1)).toThrow(NotFoundError);
    for (const bad of [0, -1, 121, 1.5])
      expect(() => quotePlan(catalog, 'basic', bad)).toThrow(ValidationError);
  });
});

describe('purchasePlan', () => {
  const catalog = testCatalog();
  const userRow = async (id: string) =>
    (await t.query('select vm_quota, vm_quota_period_end from users where id = $1', [id]))[0];
  const balanceOf = async (userId: string) =>
    Number(
      (await t.query('select credit_balance_cents from billing where user_id = $1', [userId]))[0]
        .credit_balance_cents,
    );

  it('debits the discounted price, sets quota and period end, and records the purchase', async () => {
    const user = await createTestUser(t.em());
    await creditUser(t.em(), user.id, 20_000);
    const now = new Date('2030-01-01T00:00:00Z');
    const result = await purchasePlan(t.em(), catalog, {
      userId: user.id,
      planCode: 'team',
      periods: 3,
      now,
    });
    // 3 × 4900 = 14700, 5% off rounded down to the cent: 735.
    expect(result.quote).toMatchObject({ subtotalCents: 14_700, discountCents: 735, priceCents: 13_965 });
    expect(result.balanceCents).toBe(20_000 - 13_965);
    expect(await balanceOf(user.id)).toBe(6_035);
    const end = new Date(now.getTime() + 90 * DAY_MS);
    expect(result.purchase).toMatchObject({
      planCode: 'team',
      periods: 3,
      priceCents: 13_965,
      periodStart: now,
      periodEnd: end,
    });
    expect(await userRow(user.id)).toEqual({ vm_quota: 5, vm_quota_period_end: end });
    const [ledger] = await t.query(
      "select amount_cents, reference from ledger_entry where user_id = $1 and kind = 'PLAN_PURCHASE'",
      [user.id],
    );
    expect(ledger).toEqual({ amount_cents: '-13965', reference: result.purchase.id });
  });

  it('refuses a balance short by one cent (INSUFFICIENT_CREDIT) and changes nothing', async () => {
    const user = await createTestUser(t.em(), { periodEnd: null });
    await creditUser(t.em(), user.id, 998);
    const err = await purchasePlan(t.em(), catalog, { userId: user.id, planCode: 'basic', periods: 1 }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(InsufficientCreditError);
    expect(err).toMatchObject({ balanceCents: 998, priceCents: 999, currency: 'EUR' });
    expect(await balanceOf(user.id)).toBe(998);
    expect(await userRow(user.id)).toEqual({ vm_quota: 1, vm_quota_period_end: null });
    expect(await t.query('select 1 from plan_purchase where user_id = $1', [user.id])).toEqual([]);
  });

  it('spends a balance that exactly covers the price down to zero', async () => {
    const user = await createTestUser(t.em());
    await creditUser(t.em(), user.id, 999);
    const { balanceCents } = await purchasePlan(t.em(), catalog, {
      userId: user.id,
      planCode: 'basic',
      periods: 1,
    });
    expect(balanceCents).toBe(0);
  });

  it('renewing early extends from the current end; after it ended, from now', async () => {
    const user = await createTestUser(t.em());
    await creditUser(t.em(), user.id, 10_000);
    const now = new Date('2030-03-01T00:00:00Z');
    const first = await purchasePlan(t.em(), catalog, {
      userId: user.id,
      planCode: 'basic',
      periods: 1,
      now,
    });
    const early = new Date(now.getTime() + 10 * DAY_MS);
    const renewed = await purchasePlan(t.em(), catalog, {
      userId: user.id,
      planCode: 'basic',
      periods: 1,
      now: early,
    });
    expect(renewed.purchase.periodStart).toEqual(first.purchase.periodEnd);
    expect(renewed.purchase.periodEnd).toEqual(new Date(now.getTime() + 60 * DAY_MS));
    const late = new Date(now.getTime() + 100 * DAY_MS);
    const lapsed = await purchasePlan(t.em(), catalog, {
      userId: user.id,
      planCode: 'basic',
      periods: 2,
      now: late,
    });
    expect(lapsed.purchase.periodStart).toEqual(late);
    expect(lapsed.purchase.periodEnd).toEqual(new Date(late.getTime() + 60 * DAY_MS));
  });

  it("re-dates the user's ACTIVE allocations only: not released ones, not other users'", async () => {
    await addPoolVms(t.em(), 4);
    const user = await createTestUser(t.em(), { vmQuota: 3 });
    const other = await createTestUser(t.em());
    await creditUser(t.em(), user.id, 10_000);
    const released = await allocateTestVm(t.em(), user.id);
    await releaseAllocation(t.em(), { allocationId: released.id, reason: 'USER' });
    const mine = [await allocateTestVm(t.em(), user.id), await allocateTestVm(t.em(), user.id)];
    const theirs = await allocateTestVm(t.em(), other.id);
    const result = await purchasePlan(t.em(), catalog, { userId: user.id, planCode: 'team', periods: 1 });
    expect(result.allocationsRedated).toBe(2);
    const rows = await t.query('select id, expires_at from vm_allocation where id = any($1::uuid[])', [
      [...mine.map((a) => a.id), theirs.id, released.id],
    ]);
    for (const row of rows) {
      if (row.id === theirs.id) expect(row.expires_at).toEqual(theirs.expiresAt);
      else if (row.id === released.id) expect(row.expires_at).toEqual(released.expiresAt);
      else expect(row.expires_at).toEqual(result.purchase.periodEnd);
    }
  });

  it('lets one of two concurrent purchases through when the balance covers one', async () => {
    const user = await createTestUser(t.em());
    await creditUser(t.em(), user.id, 1_500);
    const results = await Promise.allSettled([
      purchasePlan(t.em(), catalog, { userId: user.id, planCode: 'basic', periods: 1 }),
      purchasePlan(t.em(), catalog, { userId: user.id, planCode: 'basic', periods: 1 }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(InsufficientCreditError);
    expect(await balanceOf(user.id)).toBe(501);
  });

  it("refuses a catalog in another currency than the user's balance (CURRENCY_MISMATCH)", async () => {
    const user = await createTestUser(t.em(), { currency: 'CHF' });
    await creditUser(t.em(), user.id, 5_000, { currency: 'CHF' });
    const call = purchasePlan(t.em(), catalog, { userId: user.id, planCode: 'basic', periods: 1 });
    await expect(call).rejects.toBeInstanceOf(CurrencyMismatchError);
    expect(await balanceOf(user.id)).toBe(5_000);
  });

  it('answers NOT_FOUND for an unknown plan or user, and refuses bad periods before any write', async () => {
    const user = await createTestUser(t.em());
    await creditUser(t.em(), user.id, 5_000);
    await expect(
      purchasePlan(t.em(), catalog, { userId: user.id, planCode: 'gold', periods: 1 }),
    ).rejects.toBeInstanceOf(NotFoundError);
    await expect(
      purchasePlan(t.em(), catalog, { userId: UNKNOWN, planCode: 'basic', periods: 1 }),
    ).rejects.toBeInstanceOf(NotFoundError);
    await expect(
      purchasePlan(t.em(), catalog, { userId: user.id, planCode: 'basic', periods: 0 }),
    ).rejects.toBeInstanceOf(ValidationError);
    expect(await balanceOf(user.id)).toBe(5_000);
  });

  it('answers NOT_FOUND, not a raw 22P02 error, for a user id that is not a UUID', async () => {
    await expect(
      purchasePlan(t.em(), catalog, { userId: 'nope', planCode: 'basic', periods: 1 }),
    ).rejects.toBeInstanceOf(NotFoundError);
  });
});
