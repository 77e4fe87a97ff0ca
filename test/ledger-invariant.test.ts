import { adjustBalance, checkLedger } from '@hero/core/billing/ledger';
import { recordPayment, refundPayment } from '@hero/core/billing/payments';
import { type PlanCatalog, parsePlanCatalog, purchasePlan } from '@hero/core/billing/plans';
import { createOrm, type MikroORM } from '@hero/core/db/orm';
import { InsufficientCreditError, RefundExceedsPaymentError } from '@hero/core/errors';
import { aggregateUsage } from '@hero/core/usage/aggregate-usage';
import { GitSource } from '@hero/core/usage/sources/git-source';
import type { UsageRecordInput } from '@hero/core/usage/usage-format';
import { createUser } from '@hero/core/users/create-user';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitWithFastImport } from '../scripts/lib/usage-fixture.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { type BareRepo, batchFile, createBareRepo, usageRecord } from './support/usage.ts';

/**
 * The ledger invariant under random sequences of every kind of money movement (fast-check):
 * payments, refunds, plan purchases, manual adjustments and aggregated usage, run in small
 * concurrent groups against the real domain functions and a real database. After each sequence:
 * every balance equals the sum of its ledger and the model's expectation (built from what each
 * operation reported), each user has exactly as many ledger rows as changes that succeeded (no
 * lost or doubled row), every row's balance-after follows from the one before, and no payment is
 * refunded beyond its amount.
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
  | { kind: 'usage'; records: { user: number; cents: number; repeat: number | null }[] };

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
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('adjust' as const),
      user: userIndex,
      cents: fc.integer({ min: -500, max: 500 }).filter((c) => c !== 0),
    }),
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
}

const add = (map: Map<string, number>, key: string, n: number) => map.set(key, (map.get(key) ?? 0) + n);

async function runScenario(groups: Op[][]): Promise<void> {
  run++;
  const node = `prop-${run}`;
  const users: string[] = [];
  for (let i = 0; i < USERS_PER_RUN; i++) {
    const { user } = await createUser(orm.em.fork(), {
      email: `prop-${run}-${i}@example.org`,
      displayName: 'P',
    });
    users.push(user.id);
  }
  const model: Model = {
    balance: new Map(),
    ledgerRows: new Map(),
    payments: [],
    usageKeys: [],
    applied: new Set(),
  };
  for (const u of users) {
    model.balance.set(u, 0);
    model.ledgerRows.set(u, 0);
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
  const check = await checkLedger(orm.em.fork());
  expect({ drifted: check.usersDrifted, chainBreaks: check.chainBreaks }).toEqual({
    drifted: 0,
    chainBreaks: 0,
  });
}

describe('ledger invariant', () => {
  it('balance = sum of ledger = model after random concurrent payments, refunds, purchases, adjustments and usage', async () => {
    await fc.assert(fc.asyncProperty(scenarioArb, runScenario), { numRuns: 30, endOnFailure: true });
    // The generated scenarios did exercise every path (not just the cheap ones).
    const kinds = await db.query<{ kind: string }>('select distinct kind from ledger_entry order by kind');
    expect(kinds.map((k) => k.kind)).toEqual(['ADJUSTMENT', 'PAYMENT', 'PLAN_PURCHASE', 'REFUND', 'USAGE']);
  }, 180_000);
});
