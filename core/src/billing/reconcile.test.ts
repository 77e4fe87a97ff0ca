import { describe, expect, it } from 'vitest';
import { JobAlreadyRunningError } from '../errors.ts';
import { useTestDatabase } from '../testing/database.ts';
import { createTestUser, creditUser, holdJobLock, uniqueTag } from '../testing/factories.ts';
import { adjustBalance, checkLedger, checkUsageLedger, postLedgerEntry } from './ledger.ts';
import { RECONCILE_JOB, reconcileBalances, reconcileBalancesNow } from './reconcile.ts';

// The checks read the whole database: the tests of this file run in order, each adding to
// what the ones before left, and compare against what they added.
const t = useTestDatabase();

/** A usage debit as the aggregator writes it: a consumed record and a USAGE ledger row. */
async function usage(userId: string, costCents: number, debitCents = costCents) {
  await t.query(
    `insert into consumed_record (idempotency_key, user_id, node_name, file_path, cost_cents)
     values ($1, $2, 'node-a', 'usage.toml', $3)`,
    [`k-${uniqueTag()}`, userId, costCents],
  );
  await t
    .em()
    .transactional((tx) => postLedgerEntry(tx, { userId, kind: 'USAGE', amountCents: -debitCents }));
}

describe('checkLedger and checkUsageLedger', () => {
  it('find nothing when every change went through the ledger', async () => {
    const a = await createTestUser(t.em());
    const b = await createTestUser(t.em());
    await creditUser(t.em(), a.id, 1000);
    await adjustBalance(t.em(), { userId: b.id, amountCents: -40, note: 'fee' });
    await usage(a.id, 250);
    const check = await checkLedger(t.em());
    expect(check).toMatchObject({
      usersChecked: 2,
      usersDrifted: 0,
      totalDriftCents: 0,
      chainBreaks: 0,
      drifted: [],
    });
    expect(await checkUsageLedger(t.em())).toMatchObject({
      usageUsersChecked: 1,
      usageUsersDrifted: 0,
      usageTotalDriftCents: 0,
    });
  });

  it('report a balance changed behind the ledger, largest drift first', async () => {
    const small = await createTestUser(t.em());
    const large = await createTestUser(t.em());
    await t.query('update billing set credit_balance_cents = credit_balance_cents + 5 where user_id = $1', [
      small.id,
    ]);
    await t.query('update billing set credit_balance_cents = credit_balance_cents - 700 where user_id = $1', [
      large.id,
    ]);
    const check = await checkLedger(t.em());
    expect(check).toMatchObject({ usersDrifted: 2, totalDriftCents: 705, chainBreaks: 0 });
    expect(check.drifted).toEqual([
      { userId: large.id, balanceCents: -700, ledgerCents: 0, driftCents: -700 },
      { userId: small.id, balanceCents: 5, ledgerCents: 0, driftCents: 5 },
    ]);
    expect((await checkLedger(t.em(), 1)).drifted).toHaveLength(1);
  });

  it('count a doubled ledger row as a chain break and a drift', async () => {
    const user = await createTestUser(t.em());
    for (const cents of [100, 200, 300]) await creditUser(t.em(), user.id, cents);
    const before = await checkLedger(t.em());
    // The ledger is append-only (a trigger refuses updates and deletes): a copy of the last row
    // is the damage a replayed insert would do.
    await t.query(
      `insert into ledger_entry (user_id, kind, amount_cents, balance_after_cents, currency, reference, note)
       select user_id, kind, amount_cents, balance_after_cents, currency, reference, note
         from ledger_entry where user_id = $1 order by id desc limit 1`,
      [user.id],
    );
    const after = await checkLedger(t.em());
    expect(after.chainBreaks).toBe(before.chainBreaks + 1);
    expect(after.usersDrifted).toBe(before.usersDrifted + 1);
    expect(after.drifted.find((d) => d.userId === user.id)).toMatchObject({
      balanceCents: 600,
      ledgerCents: 900,
      driftCents: -300,
    });
  });

  it('count a first ledger row that does not start from zero as a chain break', async () => {
    const user = await createTestUser(t.em());
    const before = await checkLedger(t.em());
    await t.query('update billing set credit_balance_cents = 5 where user_id = $1', [user.id]);
    await creditUser(t.em(), user.id, 100);
    const after = await checkLedger(t.em());
    expect(after.chainBreaks).toBe(before.chainBreaks + 1);
    expect(after.drifted.find((d) => d.userId === user.id)).toMatchObject({
      balanceCents: 105,
      driftCents: 5,
    });
  });

  it('report usage debited differently from the consumed records', async () => {
    const user = await createTestUser(t.em());
    await creditUser(t.em(), user.id, 10_000);
    await usage(user.id, 300, 330);
    const check = await checkUsageLedger(t.em());
    expect(check.usageUsersDrifted).toBe(1);
    expect(check.usageDrifted).toEqual([
      { userId: user.id, ledgerUsageCents: 330, consumedCents: 300, driftCents: 30 },
    ]);
  });
});

describe('reconcileBalances', () => {
  it('combines both checks and changes nothing', async () => {
    const [before] = await t.query(
      'select count(*)::int as n, sum(credit_balance_cents)::text as s from billing',
    );
    const summary = await reconcileBalances(t.em());
    expect(summary).toMatchObject({ usersDrifted: 4, usageUsersDrifted: 1 });
    expect(
      await t.query('select count(*)::int as n, sum(credit_balance_cents)::text as s from billing'),
    ).toEqual([before]);
  });

  it('as "run now", records the summary on a MANUAL job run and refuses to overlap a tick', async () => {
    const summary = await reconcileBalancesNow(t.em());
    const [run] = await t.query("select status, summary from job_run where job = $1 and trigger = 'MANUAL'", [
      RECONCILE_JOB,
    ]);
    expect(run.status).toBe('SUCCEEDED');
    expect(run.summary).toMatchObject({ usersDrifted: summary.usersDrifted });

    const tick = await holdJobLock(t.em(), RECONCILE_JOB);
    await expect(reconcileBalancesNow(t.em())).rejects.toBeInstanceOf(JobAlreadyRunningError);
    tick.release();
    await tick.done;
  });
});
