import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import {
  allocate,
  createUser,
  PURCHASE_PLAN,
  poolOf,
  purchasePlan,
  RECORD_PAYMENT,
  recordPayment,
  type TestUser,
} from './support/factories.ts';
import { codeOf, graphql, member } from './support/graphql.ts';
import { balanceOf as balanceOfUser, ledgerSumOf } from './support/money.ts';
import { outcomeLine, spawnTs } from './support/process.ts';

const DAY_MS = 86_400_000;

/** Prices chosen so that the discounts do not come out whole: the rounding rule is exercised. */
const PLANS = {
  plans: [
    { code: 'basic', name: 'Basic', vmQuota: 1, periodDays: 30, priceCents: 999 },
    { code: 'team', name: 'Team', vmQuota: 3, periodDays: 30, priceCents: 2_499 },
    {
      code: 'odd',
      name: 'Odd ladder',
      vmQuota: 2,
      periodDays: 7,
      priceCents: 333,
      discounts: [
        { periods: 1, percent: 0 },
        { periods: 2, percent: 12.5 },
      ],
    },
  ],
  discounts: [
    { periods: 1, percent: 0 },
    { periods: 3, percent: 5 },
    { periods: 12, percent: 15 },
  ],
};

let db: TestDatabase;
let api: ApiProcess;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startApi({
    databaseUrl: db.url,
    env: { VM_POOL_JSON: JSON.stringify(poolOf(20, 'bill')), PLANS_JSON: JSON.stringify(PLANS) },
  });
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

const REFUND = graphql(`mutation($input: RefundPaymentInput!) { refundPayment(input: $input) { __typename
  ... on RefundPaymentSuccess { result { payment { id kind amountCents refundOfId providerRef } billing { creditBalanceCents } } }
  ... on RefundExceedsPaymentError { refundableCents }
  ... on Error { code message } } }`);

const balanceOf = (userId: string) => balanceOfUser(db, userId);
const ledgerOf = (userId: string) =>
  db.query<{ kind: string; amount_cents: string; balance_after_cents: string; reference: string | null }>(
    'select kind, amount_cents::text, balance_after_cents::text, reference from ledger_entry where user_id = $1 order by id',
    [userId],
  );
const ledgerSum = (userId: string) => ledgerSumOf(db, userId);

/** Everything about a user that a refused operation must leave alone. */
async function snapshot(userId: string) {
  return {
    balance: await balanceOf(userId),
    ledger: await ledgerOf(userId),
    payments: await db.query('select id from payment_event where user_id = $1 order by id', [userId]),
    user: await db.query('select vm_quota, vm_quota_period_end from users where id = $1', [userId]),
    purchases: await db.query('select id from plan_purchase where user_id = $1', [userId]),
  };
}

describe('payments', () => {
  let user: TestUser;
  beforeAll(async () => {
    user = await createUser(api);
  });

  it('recordPayment credits the balance with a PAYMENT ledger row carrying the balance after it', async () => {
    const res = await api.admin(RECORD_PAYMENT, {
      input: { userId: user.id, amountCents: 2_500, currency: 'eur', providerRef: 'bank-0001', note: 'wire' },
    });
    const result = member(res.data.recordPayment, 'RecordPaymentSuccess');
    expect(result.result.payment).toMatchObject({
      amountCents: 2_500,
      currency: 'EUR',
      provider: 'manual',
      providerRef: 'bank-0001',
      kind: 'CREDIT',
      refundedCents: 0,
    });
    expect(result.result.billing).toEqual({ creditBalanceCents: 2_500, currency: 'EUR' });
    expect(await ledgerOf(user.id)).toEqual([
      {
        kind: 'PAYMENT',
        amount_cents: '2500',
        balance_after_cents: '2500',
        reference: result.result.payment.id,
      },
    ]);
    const listed = await api.admin(
      graphql(
        `query($u: ID) { payments(userId: $u) { edges { node { id user { id } amountCents note } } } }`,
      ),
      { u: user.id },
    );
    expect(listed.data.payments.edges.map((e: { node: unknown }) => e.node)).toEqual([
      { id: result.result.payment.id, user: { id: user.id }, amountCents: 2_500, note: 'wire' },
    ]);
  });

  it('refuses a payment in another currency, a repeated provider reference and bad amounts, changing nothing', async () => {
    const before = await snapshot(user.id);
    const usd = (
      await api.admin(RECORD_PAYMENT, { input: { userId: user.id, amountCents: 100, currency: 'USD' } })
    ).data.recordPayment;
    expect(usd).toMatchObject({ __typename: 'CurrencyMismatchError', code: 'CURRENCY_MISMATCH' });
    expect(member(usd, 'CurrencyMismatchError').message).toMatch(/kept in EUR.*USD is refused/);

    const dup = (
      await api.admin(RECORD_PAYMENT, {
        input: { userId: user.id, amountCents: 100, currency: 'EUR', providerRef: 'bank-0001' },
      })
    ).data.recordPayment;
    expect(dup).toMatchObject({ __typename: 'DuplicatePaymentError', code: 'DUPLICATE_PAYMENT' });

    const bad = (
      await api.admin(RECORD_PAYMENT, {
        input: { userId: user.id, amountCents: 0, currency: 'EURO', provider: 'Not Valid!' },
      })
    ).data.recordPayment;
    expect(
      member(bad, 'ValidationError')
        .problems.map((p) => p.path)
        .sort(),
    ).toEqual(['amountCents', 'currency', 'provider']);

    const unknown = (
      await api.admin(RECORD_PAYMENT, {
        input: { userId: '00000000-0000-4000-8000-000000000000', amountCents: 100, currency: 'EUR' },
      })
    ).data.recordPayment;
    expect(codeOf(unknown)).toBe('NOT_FOUND');
    expect(await snapshot(user.id)).toEqual(before);
  });

  it('refunds never add up to more than the payment, and a full refund cannot be repeated', async () => {
    const payer = await createUser(api);
    const { paymentId } = await recordPayment(api, payer.id, 1_000);
    const partial = member(
      (await api.admin(REFUND, { input: { paymentId, amountCents: 300 } })).data.refundPayment,
      'RefundPaymentSuccess',
    );
    expect(partial.result.payment).toMatchObject({ kind: 'REFUND', amountCents: 300, refundOfId: paymentId });
    expect(partial.result.billing.creditBalanceCents).toBe(700);

    const before = await snapshot(payer.id);
    const tooMuch = (await api.admin(REFUND, { input: { paymentId, amountCents: 701 } })).data.refundPayment;
    expect(tooMuch).toMatchObject({ __typename: 'RefundExceedsPaymentError', refundableCents: 700 });
    expect(await snapshot(payer.id)).toEqual(before);

    const rest = member(
      (await api.admin(REFUND, { input: { paymentId } })).data.refundPayment,
      'RefundPaymentSuccess',
    );
    expect(rest.result.payment.amountCents).toBe(700);
    expect(rest.result.billing.creditBalanceCents).toBe(0);
    const again = (await api.admin(REFUND, { input: { paymentId } })).data.refundPayment;
    expect(again).toMatchObject({ code: 'REFUND_EXCEEDS_PAYMENT', refundableCents: 0 });
    expect(member(again, 'RefundExceedsPaymentError').message).toMatch(/refunded in full already/);

    const listed = await api.admin(
      graphql(`query($u: ID) { payments(userId: $u) { edges { node { kind refundedCents } } } }`),
      {
        u: payer.id,
      },
    );
    expect(listed.data.payments.edges.find((e) => e.node.kind === 'CREDIT')?.node.refundedCents).toBe(1_000);
    expect(
      (await ledgerOf(payer.id)).map((r) => [r.kind, Number(r.amount_cents), Number(r.balance_after_cents)]),
    ).toEqual([
      ['PAYMENT', 1_000, 1_000],
      ['REFUND', -300, 700],
      ['REFUND', -700, 0],
    ]);
  });

  it('ten concurrent full refunds of one payment: exactly one goes through', async () => {
    const payer = await createUser(api);
    const { paymentId } = await recordPayment(api, payer.id, 4_000);
    const results = await Promise.all(
      Array.from({ length: 10 }, () => api.admin(REFUND, { input: { paymentId } })),
    );
    const types = results.map((r) => r.data.refundPayment.__typename);
    expect(types.filter((t) => t === 'RefundPaymentSuccess')).toHaveLength(1);
    expect(types.filter((t) => t === 'RefundExceedsPaymentError')).toHaveLength(9);
    expect(await balanceOf(payer.id)).toBe(0);
    expect(await ledgerSum(payer.id)).toBe(0);
  });

  it('adjustBalance writes an ADJUSTMENT row with its reason; a ledger row can be neither changed nor deleted', async () => {
    const res = await api.admin(
      graphql(`mutation($id: ID!) { adjustBalance(input: { userId: $id, amountCents: -250, note: "goodwill reversal" }) {
         __typename ... on AdjustBalanceSuccess { entry { kind amountCents balanceAfterCents note } } } }`),
      { id: user.id },
    );
    expect(member(res.data.adjustBalance, 'AdjustBalanceSuccess').entry).toEqual({
      kind: 'ADJUSTMENT',
      amountCents: -250,
      balanceAfterCents: 2_250,
      note: 'goodwill reversal',
    });
    const noReason = await api.admin(
      graphql(`mutation($id: ID!) { adjustBalance(input: { userId: $id, amountCents: 0, note: " " }) {
         __typename ... on ValidationError { problems { path } } } }`),
      { id: user.id },
    );
    expect(member(noReason.data.adjustBalance, 'ValidationError').problems.map((p) => p.path)).toEqual([
      'amountCents',
      'note',
    ]);
    await expect(
      db.query('update ledger_entry set amount_cents = 0 where user_id = $1', [user.id]),
    ).rejects.toThrow(/append-only/);
    await expect(db.query('delete from ledger_entry where user_id = $1', [user.id])).rejects.toThrow(
      /append-only/,
    );
    expect(await ledgerSum(user.id)).toBe(await balanceOf(user.id));
  });
});

describe('plans', () => {
  it('lists the catalog with its ladders', async () => {
    const res = await api.asUser(
      (await createUser(api)).token,
      graphql('{ plans { code vmQuota periodDays priceCents currency discounts { periods percent } } }'),
    );
    expect(res.data.plans).toEqual([
      {
        code: 'basic',
        vmQuota: 1,
        periodDays: 30,
        priceCents: 999,
        currency: 'EUR',
        discounts: PLANS.discounts,
      },
      {
        code: 'team',
        vmQuota: 3,
        periodDays: 30,
        priceCents: 2_499,
        currency: 'EUR',
        discounts: PLANS.discounts,
      },
      {
        code: 'odd',
        vmQuota: 2,
        periodDays: 7,
        priceCents: 333,
        currency: 'EUR',
        discounts: PLANS.plans[2].discounts,
      },
    ]);
  });

  it.each([
    // plan, periods, subtotal, percent, discount = floor(subtotal × percent / 100), price
    ['basic', 1, 999, 0, 0, 999],
    ['basic', 2, 1_998, 0, 0, 1_998],
    ['basic', 3, 2_997, 5, 149, 2_848], // 149.85 → 149
    ['basic', 11, 10_989, 5, 549, 10_440], // 549.45 → 549
    ['basic', 12, 11_988, 15, 1_798, 10_190], // 1798.2 → 1798
    ['team', 3, 7_497, 5, 374, 7_123], // 374.85 → 374
    ['team', 12, 29_988, 15, 4_498, 25_490], // 4498.2 → 4498
    ['odd', 2, 666, 12.5, 83, 583], // 83.25 → 83
    ['odd', 5, 1_665, 12.5, 208, 1_457], // 208.125 → 208
  ])(
    'quotePlan(%s, %i): subtotal %i, percent %s, discount %i, price %i',
    async (code, periods, subtotal, percent, discount, price) => {
      const res = await api.admin(
        graphql(`query($c: String!, $p: Int!) { quotePlan(planCode: $c, periods: $p) { __typename
         ... on QuotePlanSuccess { quote { periods unitPriceCents subtotalCents discountPercent discountCents priceCents currency } } } }`),
        { c: code, p: periods },
      );
      expect(member(res.data.quotePlan, 'QuotePlanSuccess').quote).toMatchObject({
        periods,
        subtotalCents: subtotal,
        discountPercent: percent,
        discountCents: discount,
        priceCents: price,
        currency: 'EUR',
      });
    },
  );

  it('quotePlan refuses an unknown plan and a period count out of range', async () => {
    const q = graphql(
      `query($c: String!, $p: Int!) { quotePlan(planCode: $c, periods: $p) { __typename ... on Error { code message } } }`,
    );
    expect(codeOf((await api.admin(q, { c: 'gold', p: 1 })).data.quotePlan)).toBe('NOT_FOUND');
    expect(codeOf((await api.admin(q, { c: 'basic', p: 0 })).data.quotePlan)).toBe('BAD_USER_INPUT');
    expect(codeOf((await api.admin(q, { c: 'basic', p: 121 })).data.quotePlan)).toBe('BAD_USER_INPUT');
  });

  it('a short balance gets INSUFFICIENT_CREDIT and nothing changes', async () => {
    const buyer = await createUser(api);
    await recordPayment(api, buyer.id, 2_847);
    const before = await snapshot(buyer.id);
    const result = await purchasePlan(api, buyer.token, 'basic', 3);
    expect(result).toMatchObject({
      __typename: 'InsufficientCreditError',
      code: 'INSUFFICIENT_CREDIT',
      balanceCents: 2_847,
      priceCents: 2_848,
    });
    expect(await snapshot(buyer.id)).toEqual(before);
  });

  it('a purchase sets quota and period end; allocations under it expire at the period end; early renewal extends and re-dates them', async () => {
    const buyer = await createUser(api, { plan: false });
    await recordPayment(api, buyer.id, 40_000);
    const started = Date.now();
    const first = member(await purchasePlan(api, buyer.token, 'team', 3), 'PurchasePlanSuccess');
    const end1 = new Date(first.result.purchase.periodEnd).getTime();
    expect(end1 - new Date(first.result.purchase.periodStart).getTime()).toBe(90 * DAY_MS);
    expect(end1).toBeGreaterThanOrEqual(started + 90 * DAY_MS - 1_000);
    expect(end1).toBeLessThanOrEqual(Date.now() + 90 * DAY_MS);
    expect(first.result.user).toEqual({ vmQuota: 3, vmQuotaPeriodEnd: first.result.purchase.periodEnd });
    expect(first.result.billing.creditBalanceCents).toBe(40_000 - 7_123);

    const allocations = [];
    for (let i = 0; i < 3; i++) allocations.push(await allocate(api, buyer.token));
    for (const a of allocations) {
      expect(a.__typename).toBe('AllocateVmSuccess');
      if ('allocation' in a) expect(new Date(a.allocation.expiresAt).getTime()).toBe(end1);
    }
    expect((await allocate(api, buyer.token)).__typename).toBe('QuotaExceededError');

    // Renewing early: the new period starts at the current end, and every ACTIVE VM follows it.
    const second = member(await purchasePlan(api, buyer.token, 'team', 12), 'PurchasePlanSuccess');
    expect(new Date(second.result.purchase.periodStart).getTime()).toBe(end1);
    const end2 = new Date(second.result.purchase.periodEnd).getTime();
    expect(end2 - end1).toBe(360 * DAY_MS);
    expect(second.result.allocationsRedated).toBe(3);
    const mine = await api.asUser(
      buyer.token,
      graphql('{ me { allocations(status: ACTIVE) { expiresAt } billing { creditBalanceCents } } }'),
    );
    expect(
      mine.data.me.allocations.map((a: { expiresAt: string }) => new Date(a.expiresAt).getTime()),
    ).toEqual([end2, end2, end2]);
    expect(mine.data.me.billing.creditBalanceCents).toBe(40_000 - 7_123 - 25_490);
    const ledger = await ledgerOf(buyer.id);
    expect(ledger.map((r) => [r.kind, Number(r.amount_cents), Number(r.balance_after_cents)])).toEqual([
      ['PAYMENT', 40_000, 40_000],
      ['PLAN_PURCHASE', -7_123, 32_877],
      ['PLAN_PURCHASE', -25_490, 7_387],
    ]);
    expect(ledger[1].reference).toBe(first.result.purchase.id);
  });

  it('a lapsed period restarts from now, not from the old end', async () => {
    const buyer = await createUser(api);
    await recordPayment(api, buyer.id, 999);
    await db.query(`update users set vm_quota_period_end = now() - interval '10 days' where id = $1`, [
      buyer.id,
    ]);
    const before = Date.now();
    const result = member(await purchasePlan(api, buyer.token, 'basic', 1), 'PurchasePlanSuccess');
    expect(new Date(result.result.purchase.periodStart).getTime()).toBeGreaterThanOrEqual(before - 1_000);
    expect(result.result.billing.creditBalanceCents).toBe(0);
  });

  it('20 concurrent purchases by one user with credit for exactly one: one succeeds, 19 INSUFFICIENT_CREDIT', async () => {
    const buyer = await createUser(api);
    await recordPayment(api, buyer.id, 10_190);
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        api.asUser(buyer.token, PURCHASE_PLAN, { code: 'basic', periods: 12 }),
      ),
    );
    const types = results.map((r) => r.data?.purchasePlan?.__typename ?? JSON.stringify(r.errors));
    expect(types.filter((t) => t === 'PurchasePlanSuccess')).toHaveLength(1);
    expect(types.filter((t) => t === 'InsufficientCreditError')).toHaveLength(19);
    expect(await balanceOf(buyer.id)).toBe(0);
    expect(await db.query('select id from plan_purchase where user_id = $1', [buyer.id])).toHaveLength(1);
    expect((await ledgerOf(buyer.id)).map((r) => r.kind)).toEqual(['PAYMENT', 'PLAN_PURCHASE']);
  });

  it('purchasePlan is for users: an admin secret alone is refused', async () => {
    const res = await api.admin(PURCHASE_PLAN, { code: 'basic', periods: 1 });
    expect(res.status).toBe(401);
    expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });
});

const PLAN_STATUS =
  graphql(`query PlanStatusOf { me { autoRenew planStatus { planCode planName periodEnd autoRenew
  renewal { periods priceCents currency } } } }`);
const SET_AUTO_RENEW =
  graphql(`mutation SetAutoRenewTo($enabled: Boolean!) { setAutoRenew(enabled: $enabled) {
  __typename ... on SetAutoRenewSuccess { user { id autoRenew } } ... on Error { code message } } }`);
const AUTO_RENEW_OF = graphql('query AutoRenewOfUser($id: ID!) { user(id: $id) { autoRenew } }');
const SET_PERIOD_END = graphql(`mutation SetPeriodEnd($userId: ID!, $vmQuota: Int!, $periodEnd: DateTime) {
  setUserQuota(userId: $userId, vmQuota: $vmQuota, periodEnd: $periodEnd) { __typename } }`);

describe('auto-renew', () => {
  it('planStatus and setAutoRenew: NO_PLAN_TO_RENEW before a purchase, then on; the operator sees it', async () => {
    const user = await createUser(api, { plan: false });
    const before = (await api.asUser(user.token, PLAN_STATUS)).data.me;
    expect(before).toEqual({
      autoRenew: false,
      planStatus: { planCode: null, planName: null, periodEnd: null, autoRenew: false, renewal: null },
    });
    const refused = (await api.asUser(user.token, SET_AUTO_RENEW, { enabled: true })).data.setAutoRenew;
    expect(refused).toMatchObject({ __typename: 'NoPlanToRenewError', code: 'NO_PLAN_TO_RENEW' });
    expect((await api.admin(AUTO_RENEW_OF, { id: user.id })).data.user?.autoRenew).toBe(false);

    await recordPayment(api, user.id, 10_000);
    expect((await purchasePlan(api, user.token, 'team', 3)).__typename).toBe('PurchasePlanSuccess');
    const on = (await api.asUser(user.token, SET_AUTO_RENEW, { enabled: true })).data.setAutoRenew;
    expect(member(on, 'SetAutoRenewSuccess').user).toEqual({ id: user.id, autoRenew: true });
    const after = (await api.asUser(user.token, PLAN_STATUS)).data.me.planStatus;
    // One period at the catalog price, not the 3-period purchase's discounted one.
    expect(after).toMatchObject({
      planCode: 'team',
      planName: 'Team',
      autoRenew: true,
      renewal: { periods: 1, priceCents: 2_499, currency: 'EUR' },
    });
    expect((await api.admin(AUTO_RENEW_OF, { id: user.id })).data.user?.autoRenew).toBe(true);
  });

  it('the auto-release worker (--once) renews a covered period and warns about one that will lapse; a bad catalog stops it', async () => {
    const soon = new Date(Date.now() + 10 * 3_600_000);
    const renewing = await createUser(api, { plan: false });
    const lapsing = await createUser(api, { plan: false });
    for (const u of [renewing, lapsing]) {
      await recordPayment(api, u.id, 1_998);
      await purchasePlan(api, u.token, 'basic', 1);
      // An operator moves the end into the renewal window (72 h).
      await api.admin(SET_PERIOD_END, { userId: u.id, vmQuota: 1, periodEnd: soon.toISOString() });
    }
    await api.asUser(renewing.token, SET_AUTO_RENEW, { enabled: true });
    const allocation = (await allocate(api, renewing.token)) as { allocation?: { id: string } };
    const env = { DATABASE_URL: db.url, PLANS_JSON: JSON.stringify(PLANS) };
    for (let run = 0; run < 2; run++) {
      const once = spawnTs('workers/src/main.ts', ['auto-release', '--once'], env);
      expect(await once.exited).toBe(0);
      const { summary } = outcomeLine(once.lines);
      expect(summary.plansRenewed).toBe(run === 0 ? 1 : 0);
    }
    const newEnd = new Date(soon.getTime() + 30 * DAY_MS);
    const ends = await db.query<{ id: string; vm_quota_period_end: Date }>(
      'select id, vm_quota_period_end from users where id = any($1::uuid[])',
      [[renewing.id, lapsing.id]],
    );
    expect(Object.fromEntries(ends.map((r) => [r.id, r.vm_quota_period_end.getTime()]))).toEqual({
      [renewing.id]: newEnd.getTime(),
      [lapsing.id]: soon.getTime(),
    });
    expect(await balanceOf(renewing.id)).toBe(0);
    expect(await balanceOf(lapsing.id)).toBe(999);
    const [moved] = await db.query<{ expires_at: Date }>(
      'select expires_at from vm_allocation where id = $1',
      [allocation.allocation?.id],
    );
    expect(moved.expires_at.getTime()).toBe(newEnd.getTime());
    const events = await db.query<{ topic: string; user_id: string; reason: string | null }>(
      `select topic, payload->>'userId' as user_id, payload->>'reason' as reason from outbox
        where topic like 'plan.%' and payload->>'userId' = any($1::text[]) order by topic desc, id`,
      [[renewing.id, lapsing.id]],
    );
    expect(events).toEqual([
      { topic: 'plan.renewed', user_id: renewing.id, reason: null },
      { topic: 'plan.expiring', user_id: lapsing.id, reason: 'AUTO_RENEW_OFF' },
    ]);

    const bad = spawnTs('workers/src/main.ts', ['auto-release', '--once'], {
      ...env,
      PLANS_JSON: '[{"code":"X"}]',
    });
    expect(await bad.exited).toBe(1);
    expect(bad.lines.join('\n')).toMatch(/PLANS_JSON: /);
  });
});

describe('reconciliation', () => {
  it('finds no drift when every change went through the ledger, and reports a tampered balance without fixing it', async () => {
    const RECONCILE =
      graphql(`mutation { reconcileBalancesNow { usersChecked usersDrifted totalDriftCents chainBreaks
      drifted { userId user { email } balanceCents ledgerCents driftCents } } }`);
    const clean = (await api.admin(RECONCILE)).data.reconcileBalancesNow;
    expect(clean.usersChecked).toBeGreaterThan(5);
    expect(clean).toMatchObject({ usersDrifted: 0, totalDriftCents: 0, chainBreaks: 0, drifted: [] });

    const victim = await createUser(api);
    await recordPayment(api, victim.id, 500);
    // A balance changed behind the ledger's back (as a bad manual SQL fix would).
    await db.query('update billing set credit_balance_cents = credit_balance_cents + 77 where user_id = $1', [
      victim.id,
    ]);
    const drift = (await api.admin(RECONCILE)).data.reconcileBalancesNow;
    expect(drift).toMatchObject({
      usersDrifted: 1,
      totalDriftCents: 77,
      drifted: [
        {
          userId: victim.id,
          user: { email: victim.email },
          balanceCents: 577,
          ledgerCents: 500,
          driftCents: 77,
        },
      ],
    });
    // Ledger rows name their user too (the admin tables show the email, not the id).
    const ledger = await api.admin(
      graphql(
        'query LedgerUser($userId: ID) { ledger(userId: $userId) { edges { node { userId user { email } } } } }',
      ),
      { userId: victim.id },
    );
    expect(ledger.data.ledger.edges.map((e) => e.node)).toEqual([
      { userId: victim.id, user: { email: victim.email } },
    ]);
    expect(await balanceOf(victim.id)).toBe(577);

    const overview = await api.admin(
      graphql('{ overview { ledger { lastCheckedAt lastRunStatus usersDrifted totalDriftCents } } }'),
    );
    expect(overview.data.overview.ledger).toMatchObject({
      lastRunStatus: 'SUCCEEDED',
      usersDrifted: 1,
      totalDriftCents: 77,
    });
    const runs = await db.query<{ trigger: string; status: string; summary: { usersDrifted: number } }>(
      `select trigger, status, summary from job_run where job = 'reconcile' order by id`,
    );
    expect(runs.map((r) => [r.trigger, r.status, r.summary.usersDrifted])).toEqual([
      ['MANUAL', 'SUCCEEDED', 0],
      ['MANUAL', 'SUCCEEDED', 1],
    ]);
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(metrics).toMatch(/^hero_ledger_drift_users 1$/m);
    expect(metrics).toMatch(/^hero_ledger_drift_cents 77$/m);

    // Put it right through the ledger's own path: a correcting adjustment cannot fix a drift
    // (it moves balance and ledger together), so the test repairs the balance the way it broke.
    await db.query('update billing set credit_balance_cents = credit_balance_cents - 77 where user_id = $1', [
      victim.id,
    ]);
    expect((await api.admin(RECONCILE)).data.reconcileBalancesNow.usersDrifted).toBe(0);
  });

  it('the reconcile worker (--once) records the same check as a job run, with a drift in its summary', async () => {
    const victim = await createUser(api);
    await recordPayment(api, victim.id, 300);
    await db.query('update billing set credit_balance_cents = 1 where user_id = $1', [victim.id]);
    const once = spawnTs('workers/src/main.ts', ['reconcile', '--once'], { DATABASE_URL: db.url });
    expect(await once.exited).toBe(0);
    const outcome = outcomeLine(once.lines);
    expect(outcome).toMatchObject({
      job: 'reconcile',
      status: 'SUCCEEDED',
      summary: {
        usersDrifted: 1,
        totalDriftCents: 299,
        chainBreaks: 0,
        drifted: [{ userId: victim.id, balanceCents: 1, ledgerCents: 300, driftCents: -299 }],
      },
    });
    expect(once.lines.join('\n')).toMatch(/ledger drift: balances differ from the sum of their ledger rows/);
    expect(await balanceOf(victim.id)).toBe(1);
    await db.query('update billing set credit_balance_cents = 300 where user_id = $1', [victim.id]);
  });
});
