import { setTimeout as delay } from 'node:timers/promises';
import { renewDuePlans } from '@hero/core/billing/auto-renew';
import { adjustBalance, checkLedger } from '@hero/core/billing/ledger';
import { recordPayment, refundPayment } from '@hero/core/billing/payments';
import { type PlanCatalog, parsePlanCatalog, purchasePlan } from '@hero/core/billing/plans';
import { handleStripeWebhook } from '@hero/core/billing/stripe-webhook';
import { createOrm, type MikroORM } from '@hero/core/db/orm';
import { AccountDeletedError, InsufficientCreditError, RefundExceedsPaymentError } from '@hero/core/errors';
import { createLogger } from '@hero/core/lib/logger';
import { provisionerNamed } from '@hero/core/provisioners/registry';
import { aggregateUsage } from '@hero/core/usage/aggregate-usage';
import { GitSource } from '@hero/core/usage/sources/git-source';
import type { UsageRecordInput } from '@hero/core/usage/usage-format';
import { deleteUser } from '@hero/core/users/account-lifecycle';
import { createUser } from '@hero/core/users/create-user';
import { setAutoRenew } from '@hero/core/users/set-auto-renew';
import fc from 'fast-check';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitWithFastImport } from '../scripts/lib/usage-fixture.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { type BareRepo, batchFile, createBareRepo, usageRecord } from './support/usage.ts';

/**
 * The ledger invariant under random sequences of every kind of money movement (fast-check):
 * payments, refunds, plan purchases, auto-renewals (and auto-renew switched on and off), manual
 * adjustments, aggregated usage and account deletions (money keeps coming in for a deleted
 * account: its ledger stays under the tombstone), run in small
 * concurrent groups against the real domain functions and a real database. After each sequence:
 * every balance equals the sum of its ledger and the model's expectation (built from what each
 * operation reported), each user has exactly as many ledger rows as changes that succeeded (no
 * lost or doubled row), every row's balance-after follows from the one before, and no payment is
 * refunded beyond its amount, and no period is renewed twice.
 */

const USERS_PER_RUN = 4;

let db: TestDatabase;
let orm: MikroORM;
let repo: BareRepo;
let source: GitSource;
let catalog: PlanCatalog;
let run = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await createOrm({ databaseUrl: db.url, poolMax: 8 });
  repo = await createBareRepo();
  source = new GitSource({ url: repo.dir, branch: 'main', cacheDir: repo.dir });
  catalog = parsePlanCatalog(
    {
      plans: [
        { code: 'small', name: 'Small', vmQuota: 1, periodDays: 30, priceCents: 700 },
        { code: 'large', name: 'Large', vmQuota: 4, periodDays: 30, priceCents: 2_333 },
      ],
    },
    'EUR',
  );
});
afterAll(async () => {
  await orm?.close(true);
  await repo?.remove();
  await db?.drop();
});

type Op =
  | { kind: 'pay'; user: number; cents: number }
  | { kind: 'refund'; payment: number; cents: number | null }
  | { kind: 'purchase'; user: number; plan: 'small' | 'large'; periods: number }
  | { kind: 'adjust'; user: number; cents: number }
  | { kind: 'renew' }
  | { kind: 'autoRenew'; user: number; enabled: boolean }
  | { kind: 'usage'; records: { user: number; cents: number; repeat: number | null }[] }
  | { kind: 'delete'; user: number };

const userIndex = fc.integer({ min: 0, max: USERS_PER_RUN - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('pay' as const),
      user: userIndex,
      cents: fc.integer({ min: 1, max: 6_000 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('refund' as const),
      payment: fc.nat(),
      cents: fc.option(fc.integer({ min: 1, max: 3_000 }), { nil: null }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('purchase' as const),
      user: userIndex,
      plan: fc.constantFrom('small' as const, 'large' as const),
      periods: fc.integer({ min: 1, max: 13 }),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'renew' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('autoRenew' as const), user: userIndex, enabled: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('adjust' as const),
      user: userIndex,
      cents: fc.integer({ min: -500, max: 500 }).filter((c) => c !== 0),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('delete' as const), user: userIndex }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('usage' as const),
      records: fc.array(
        fc.record({
          user: userIndex,
          cents: fc.integer({ min: 0, max: 400 }),
          // Some records repeat an earlier key (a node re-sending): applied once only.
          repeat: fc.option(fc.nat(), { nil: null, freq: 4 }),
        }),
        { minLength: 1, maxLength: 8 },
      ),
    }),
  },
);

/** Operations in groups; the operations of a group run at the same time. */
const scenarioArb = fc.array(fc.array(opArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 8 });

interface Model {
  balance: Map<string, number>;
  ledgerRows: Map<string, number>;
  payments: string[];
  usageKeys: UsageRecordInput[];
  applied: Set<string>;
  renewals: Map<string, number>;
}

/** Every plan period ends within this window (decades): each renew op finds every auto-renewing user due. */
const RENEW_ALL_HOURS = 24 * 365 * 100;

const add = (map: Map<string, number>, key: string, n: number) => map.set(key, (map.get(key) ?? 0) + n);

async function runScenario(groups: Op[][]): Promise<void> {
  run++;
  const node = `prop-${run}`;
  const users: string[] = [];
  const emails: string[] = [];
  const deleted = new Set<string>();
  for (let i = 0; i < USERS_PER_RUN; i++) {
    const { user } = await createUser(orm.em.fork(), {
      email: `prop-${run}-${i}@example.org`,
      displayName: 'P',
    });
    users.push(user.id);
    emails.push(user.email);
  }
  const model: Model = {
    balance: new Map(),
    ledgerRows: new Map(),
    payments: [],
    usageKeys: [],
    applied: new Set(),
    renewals: new Map(),
  };
  for (const u of users) {
    model.balance.set(u, 0);
    model.ledgerRows.set(u, 0);
  }
  // Every user starts with a plan (a payment and a purchase), half of them with auto-renew on.
  for (const [i, u] of users.entries()) {
    const paid = await recordPayment(orm.em.fork(), { userId: u, amountCents: 700, currency: 'EUR' });
    model.payments.push(paid.payment.id);
    await purchasePlan(orm.em.fork(), catalog, { userId: u, planCode: 'small', periods: 1 });
    add(model.ledgerRows, u, 2);
    if (i % 2 === 0) await setAutoRenew(orm.em.fork(), { userId: u, enabled: true });
  }
  let hour = 0;
  // Usage files are committed and aggregated one at a time (one billing repository).
  let usageChain: Promise<void> = Promise.resolve();

  const apply = async (op: Op): Promise<void> => {
    switch (op.kind) {
      case 'pay': {
        const r = await recordPayment(orm.em.fork(), {
          userId: users[op.user],
          amountCents: op.cents,
          currency: 'EUR',
        });
        model.payments.push(r.payment.id);
        add(model.balance, users[op.user], op.cents);
        add(model.ledgerRows, users[op.user], 1);
        return;
      }
      case 'refund': {
        if (model.payments.length === 0) return;
        const paymentId = model.payments[op.payment % model.payments.length];
        try {
          const r = await refundPayment(orm.em.fork(), { paymentId, amountCents: op.cents ?? undefined });
          add(model.balance, r.payment.user.id, -r.payment.amountCents);
          add(model.ledgerRows, r.payment.user.id, 1);
        } catch (err) {
          if (!(err instanceof RefundExceedsPaymentError)) throw err;
        }
        return;
      }
      case 'purchase': {
        try {
          const r = await purchasePlan(orm.em.fork(), catalog, {
            userId: users[op.user],
            planCode: op.plan,
            periods: op.periods,
          });
          expect(r.balanceCents).toBeGreaterThanOrEqual(0);
          add(model.balance, users[op.user], -r.quote.priceCents);
          add(model.ledgerRows, users[op.user], 1);
        } catch (err) {
          if (err instanceof AccountDeletedError) return;
          if (!(err instanceof InsufficientCreditError)) throw err;
          expect(err.balanceCents).toBeLessThan(err.priceCents);
        }
        return;
      }
      case 'adjust': {
        await adjustBalance(orm.em.fork(), {
          userId: users[op.user],
          amountCents: op.cents,
          note: 'property test',
        });
        add(model.balance, users[op.user], op.cents);
        add(model.ledgerRows, users[op.user], 1);
        return;
      }
      case 'renew': {
        const r = await renewDuePlans(orm.em.fork(), { catalog, windowHours: RENEW_ALL_HOURS });
        expect(r.errors).toEqual([]);
        // Users of earlier runs are due too (their ledgers are checked by checkLedger below).
        for (const renewal of r.renewed.filter((x) => users.includes(x.userId))) {
          add(model.balance, renewal.userId, -renewal.priceCents);
          add(model.ledgerRows, renewal.userId, 1);
          add(model.renewals, renewal.userId, 1);
        }
        return;
      }
      case 'autoRenew': {
        try {
          await setAutoRenew(orm.em.fork(), { userId: users[op.user], enabled: op.enabled });
        } catch (err) {
          if (!(err instanceof AccountDeletedError)) throw err;
        }
        return;
      }
      case 'delete': {
        // Moves no money: the balance (forced, whatever it is) and the ledger stay with the tombstone.
        try {
          await deleteUser(
            orm.em.fork(),
            { userId: users[op.user], confirmEmail: emails[op.user], force: true },
            { provisionerFor: provisionerNamed },
          );
          deleted.add(users[op.user]);
        } catch (err) {
          if (!(err instanceof AccountDeletedError)) throw err;
        }
        return;
      }
      case 'usage': {
        const records = op.records.map((r) =>
          r.repeat !== null && model.usageKeys.length > 0
            ? model.usageKeys[r.repeat % model.usageKeys.length]
            : usageRecord(node, users[r.user], r.cents),
        );
        const step = usageChain.then(async () => {
          const h = hour++;
          const name = `2026-11-${String(1 + Math.floor(h / 24)).padStart(2, '0')}-${String(h % 24).padStart(2, '0')}`;
          await commitWithFastImport(repo.dir, [
            { message: `usage ${node} ${name}`, files: [batchFile(node, name, records)] },
          ]);
          const summary = await aggregateUsage(orm.em.fork(), { source });
          expect(summary.nodesFailed).toBe(0);
          const fresh = new Map<string, UsageRecordInput>();
          for (const r of records) if (!model.applied.has(r.idempotencyKey)) fresh.set(r.idempotencyKey, r);
          expect(summary.recordsApplied).toBe(fresh.size);
          const debitedUsers = new Set<string>();
          for (const r of fresh.values()) {
            model.applied.add(r.idempotencyKey);
            model.usageKeys.push(r);
            add(model.balance, r.userId, -r.costCents);
            debitedUsers.add(r.userId);
          }
          for (const u of debitedUsers) add(model.ledgerRows, u, 1);
        });
        usageChain = step.catch(() => {});
        return step;
      }
    }
  };

  for (const group of groups) await Promise.all(group.map(apply));

  const rows = await db.query<{
    user_id: string;
    balance: string;
    ledger: string;
    rows: number;
    last_after: string | null;
  }>(
    `select b.user_id, b.credit_balance_cents::text as balance,
            coalesce(sum(l.amount_cents), 0)::text as ledger, count(l.id)::int as rows,
            (array_agg(l.balance_after_cents order by l.id desc))[1]::text as last_after
       from billing b left join ledger_entry l on l.user_id = b.user_id
      where b.user_id = any($1::uuid[]) group by b.user_id`,
    [users],
  );
  for (const row of rows) {
    const expected = model.balance.get(row.user_id);
    expect({ user: row.user_id, balance: Number(row.balance) }).toEqual({
      user: row.user_id,
      balance: expected,
    });
    expect(Number(row.ledger)).toBe(expected);
    expect(row.rows).toBe(model.ledgerRows.get(row.user_id));
    expect(row.last_after === null ? 0 : Number(row.last_after)).toBe(expected);
  }
  const overRefunded = await db.query(
    `select p.id from payment_event p join payment_event r on r.refund_of = p.id
      where p.user_id = any($1::uuid[]) group by p.id, p.amount_cents having sum(r.amount_cents) > p.amount_cents`,
    [users],
  );
  expect(overRefunded).toEqual([]);
  await expectRenewedOnce(users, model.renewals);
  // Later runs' renewers would find these users due again (and take longer each run).
  for (const u of users.filter((x) => !deleted.has(x)))
    await setAutoRenew(orm.em.fork(), { userId: u, enabled: false });
  const check = await checkLedger(orm.em.fork());
  expect({ drifted: check.usersDrifted, chainBreaks: check.chainBreaks }).toEqual({
    drifted: 0,
    chainBreaks: 0,
  });
}

/**
 * No period renewed twice: each renewal purchase renews a distinct period end and starts at it
 * (it extended the period it was due for), and there are as many as the renewers reported.
 */
async function expectRenewedOnce(users: string[], expected: Map<string, number>): Promise<void> {
  const renewals = await db.query<{ user_id: string; n: number; distinct_ends: number; misplaced: number }>(
    `select user_id, count(*)::int as n, count(distinct renews_period_end)::int as distinct_ends,
            count(*) filter (where period_start <> renews_period_end)::int as misplaced
       from plan_purchase where user_id = any($1::uuid[]) and renews_period_end is not null group by user_id`,
    [users],
  );
  for (const u of users) {
    const row = renewals.find((r) => r.user_id === u) ?? { n: 0, distinct_ends: 0, misplaced: 0 };
    expect({ user: u, renewals: row.n, distinct: row.distinct_ends, misplaced: row.misplaced }).toEqual({
      user: u,
      renewals: expected.get(u) ?? 0,
      distinct: expected.get(u) ?? 0,
      misplaced: 0,
    });
  }
  const events = await db.query<{ dedupe_key: string; n: number }>(
    `select dedupe_key, count(*)::int as n from outbox where topic = 'plan.renewed'
      and payload->>'userId' = any($1::text[]) group by dedupe_key`,
    [users],
  );
  const total = [...expected.values()].reduce((a, b) => a + b, 0);
  expect(events.length).toBe(total);
}

describe('ledger invariant', () => {
  it('balance = sum of ledger = model after random concurrent payments, refunds, purchases, renewals, adjustments and usage', async () => {
    await fc.assert(fc.asyncProperty(scenarioArb, runScenario), { numRuns: 30, endOnFailure: true });
    // The generated scenarios did exercise every path (not just the cheap ones).
    const kinds = await db.query<{ kind: string }>('select distinct kind from ledger_entry order by kind');
    expect(kinds.map((k) => k.kind)).toEqual(['ADJUSTMENT', 'PAYMENT', 'PLAN_PURCHASE', 'REFUND', 'USAGE']);
    const [tombstones] = await db.query<{ n: number }>(
      "select count(*)::int as n from users where status = 'deleted'",
    );
    expect(tombstones.n).toBeGreaterThan(0);
    const [renewals] = await db.query<{ n: number }>(
      'select count(*)::int as n from plan_purchase where renews_period_end is not null',
    );
    expect(renewals.n).toBeGreaterThan(0);
  }, 180_000);

  it('one user: 20 concurrent top-up webhooks (each delivered twice), purchases, usage batches and renewals', async () => {
    const secret = 'whsec_ledger_invariant';
    const log = createLogger({ name: 'ledger-invariant', level: 'silent', pretty: false });
    const { user } = await createUser(orm.em.fork(), { email: 'one-user@example.org', displayName: 'One' });
    const userId = user.id;
    await recordPayment(orm.em.fork(), { userId, amountCents: 7_700, currency: 'EUR' });
    await purchasePlan(orm.em.fork(), catalog, { userId, planCode: 'small', periods: 1 });
    await setAutoRenew(orm.em.fork(), { userId, enabled: true });
    let balance = 7_000;
    let ledgerRows = 2;
    let renewals = 0;
    const node = 'one-user';
    let hour = 0;
    let usageChain: Promise<void> = Promise.resolve();

    const topUp = (i: number) => {
      const payload = JSON.stringify({
        id: `evt_oneuser_${i}`,
        object: 'event',
        type: 'checkout.session.completed',
        data: {
          object: {
            object: 'checkout.session',
            id: `cs_oneuser_${i}`,
            payment_status: 'paid',
            amount_total: 2_000,
            currency: 'eur',
            client_reference_id: userId,
            payment_intent: `pi_oneuser_${i}`,
          },
        },
      });
      const deliver = async () => {
        const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret });
        const res = await handleStripeWebhook(
          orm.em.fork(),
          { secret, log },
          Buffer.from(payload),
          signature,
        );
        expect(res.status).toBe(200);
        return res.body;
      };
      // Stripe retrying while the first delivery is in flight: applied once.
      return Promise.all([deliver(), deliver()]).then((answers) => {
        expect(answers.filter((a) => a.duplicate === true)).toHaveLength(1);
        balance += 2_000;
        ledgerRows++;
      });
    };
    const purchase = async () => {
      try {
        const r = await purchasePlan(orm.em.fork(), catalog, { userId, planCode: 'small', periods: 1 });
        balance -= r.quote.priceCents;
        ledgerRows++;
      } catch (err) {
        if (!(err instanceof InsufficientCreditError)) throw err;
      }
    };
    const usage = () => {
      const records = [usageRecord(node, userId, 37), usageRecord(node, userId, 5)];
      const step = usageChain.then(async () => {
        const h = hour++;
        const name = `2026-12-${String(1 + Math.floor(h / 24)).padStart(2, '0')}-${String(h % 24).padStart(2, '0')}`;
        await commitWithFastImport(repo.dir, [
          { message: `usage ${node} ${name}`, files: [batchFile(node, name, records)] },
        ]);
        const summary = await aggregateUsage(orm.em.fork(), { source });
        expect(summary.recordsApplied).toBe(2);
        balance -= 42;
        ledgerRows++;
      });
      usageChain = step.catch(() => {});
      return step;
    };
    const renew = async () => {
      const r = await renewDuePlans(orm.em.fork(), { catalog, windowHours: RENEW_ALL_HOURS });
      expect(r.errors).toEqual([]);
      for (const renewal of r.renewed.filter((x) => x.userId === userId)) {
        balance -= renewal.priceCents;
        ledgerRows++;
        renewals++;
      }
    };
    const ops = Array.from({ length: 20 }, (_, i) => [() => topUp(i), purchase, usage, renew]).flat();
    // A fixed interleaving, not the listed order, started over half a second so that renewals
    // meet periods that purchases and earlier renewals have moved.
    const shuffled = fc.sample(fc.shuffledSubarray(ops, { minLength: ops.length }), {
      numRuns: 1,
      seed: 7,
    })[0];
    await Promise.all(shuffled.map((op, i) => delay(i * 6).then(op)));
    // One more, alone: the period the concurrent ones left is renewed exactly once more.
    const before = renewals;
    await renew();
    expect(renewals).toBe(before + 1);

    const [row] = await db.query<{
      balance: string;
      ledger: string;
      rows: number;
      payments: number;
      events: number;
    }>(
      `select b.credit_balance_cents::text as balance,
              (select coalesce(sum(amount_cents), 0)::text from ledger_entry where user_id = b.user_id) as ledger,
              (select count(*)::int from ledger_entry where user_id = b.user_id) as rows,
              (select count(*)::int from payment_event where user_id = b.user_id) as payments,
              (select count(*)::int from webhook_event where user_id = b.user_id) as events
         from billing b where b.user_id = $1`,
      [userId],
    );
    // The opening payment and purchase are in the ledger too: 7700 − 700.
    expect({ balance: Number(row.balance), ledger: Number(row.ledger), rows: row.rows }).toEqual({
      balance,
      ledger: balance,
      rows: ledgerRows,
    });
    expect({ payments: row.payments, events: row.events }).toEqual({ payments: 21, events: 20 });
    await expectRenewedOnce([userId], new Map([[userId, renewals]]));
  }, 120_000);
});
