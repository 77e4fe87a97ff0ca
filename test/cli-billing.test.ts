import { randomUUID } from 'node:crypto';
import { tableRows } from '@hero/cli/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { runCliInProcess } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { createUser, type TestUser } from './support/factories.ts';
import { graphql } from './support/graphql.ts';

/**
 * The `hero-admin` billing commands (payments, plans, reconcile, billing adjust, ledger list) as
 * a person runs them: a child process talking over HTTP to a real api process on a database of
 * its own. The tests run in order and share the api and one user: the payment recorded first is
 * listed and refunded later (the adjustments have a user of their own).
 */

const PLANS = {
  plans: [
    { code: 'basic', name: 'Basic', vmQuota: 1, periodDays: 30, priceCents: 1000 },
    { code: 'pro', name: 'Pro', vmQuota: 3, periodDays: 30, priceCents: 2500 },
  ],
  discounts: [
    { periods: 1, percent: 0 },
    { periods: 3, percent: 5 },
    { periods: 12, percent: 15 },
  ],
};

let db: TestDatabase;
let api: ApiProcess;
let user: TestUser;
/** The user's balance before the first payment (0 for a new user). */
let opening: number;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startApi({
    databaseUrl: db.url,
    env: { VM_POOL_JSON: '[]', PLANS_JSON: JSON.stringify(PLANS) },
  });
  user = await createUser(api);
  opening = await balanceOf(user.id);
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

const cli = (args: string[], env: Record<string, string | undefined> = {}) => runCliInProcess(api, args, env);

/** The value of a `key  value` line. */
const field = (text: string, key: string) => new RegExp(`^${key} {2,}(.*)$`, 'm').exec(text)?.[1];

async function balanceOf(userId: string): Promise<number> {
  const res = await api.admin(
    graphql(
      'query($userId: ID) { billing(userId: $userId, first: 1) { edges { node { creditBalanceCents } } } }',
    ),
    { userId },
  );
  const node = res.data?.billing.edges[0]?.node;
  if (!node) throw new Error(`no billing for ${userId}: ${JSON.stringify(res)}`);
  return node.creditBalanceCents;
}

const paymentRows = async () =>
  (await db.query<{ n: string }>('select count(*) as n from payment_event'))[0].n;

/** The payment the first test records; refunded by the later ones. */
let paymentId: string;

describe('hero-admin payments', () => {
  it('payments record --user <email> credits the balance and prints the payment and the new balance', async () => {
    const res = await cli([
      'payments',
      'record',
      '--user',
      user.email.toUpperCase(),
      '--amount-cents',
      '1250',
      '--currency',
      'eur',
      '--provider',
      'bank',
      '--ref',
      'e2e-transfer-1',
      '--note',
      'first payment',
    ]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    paymentId = field(res.stdout, 'id') ?? '';
    expect(paymentId).toMatch(/\S/);
    expect(field(res.stdout, 'kind')).toBe('CREDIT');
    expect(field(res.stdout, 'user')).toBe(`${user.id} (${user.email})`);
    expect(field(res.stdout, 'amount')).toBe('1250 (12.50 EUR)');
    expect(field(res.stdout, 'currency')).toBe('EUR');
    expect(field(res.stdout, 'provider')).toBe('bank');
    expect(field(res.stdout, 'ref')).toBe('e2e-transfer-1');
    expect(field(res.stdout, 'note')).toBe('first payment');
    const expected = opening + 1250;
    expect(field(res.stdout, 'balance')).toBe(`${expected} (${(expected / 100).toFixed(2)} EUR)`);
    expect(await balanceOf(user.id)).toBe(expected);
  });

  it('--json prints the payment and the billing', async () => {
    const res = await cli([
      'payments',
      'record',
      '--user',
      user.id,
      '--amount-cents',
      '300',
      '--currency',
      'EUR',
      '--ref',
      'e2e-transfer-2',
      '--json',
    ]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const result = JSON.parse(res.stdout);
    expect(result.payment).toMatchObject({
      kind: 'CREDIT',
      amountCents: 300,
      currency: 'EUR',
      providerRef: 'e2e-transfer-2',
      refundedCents: 0,
      refundOfId: null,
      user: { id: user.id, email: user.email },
    });
    expect(result.billing).toEqual({ creditBalanceCents: opening + 1550, currency: 'EUR' });
  });

  it('the same provider reference twice is refused (DUPLICATE_PAYMENT), credited once', async () => {
    const res = await cli([
      'payments',
      'record',
      '--user',
      user.id,
      '--amount-cents',
      '300',
      '--currency',
      'EUR',
      '--ref',
      'e2e-transfer-2',
    ]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^hero-admin: the payment was not recorded: DUPLICATE_PAYMENT: \S.*\n$/);
    expect(await balanceOf(user.id)).toBe(opening + 1550);
  });

  it('a payment in another currency than the balance is refused (CURRENCY_MISMATCH)', async () => {
    const before = await paymentRows();
    const res = await cli([
      'payments',
      'record',
      '--user',
      user.id,
      '--amount-cents',
      '500',
      '--currency',
      'CHF',
    ]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^hero-admin: the payment was not recorded: CURRENCY_MISMATCH: \S.*\n$/);
    expect(res.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(await paymentRows()).toBe(before);
    expect(await balanceOf(user.id)).toBe(opening + 1550);
  });

  it('an unknown email: a clear error naming it, exit 1, nothing recorded', async () => {
    const before = await paymentRows();
    const res = await cli([
      'payments',
      'record',
      '--user',
      'someone-unknown@example.org',
      '--amount-cents',
      '500',
      '--currency',
      'EUR',
    ]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toBe('hero-admin: no user with the email someone-unknown@example.org\n');
    expect(await paymentRows()).toBe(before);
    expect(await balanceOf(user.id)).toBe(opening + 1550);

    const listed = await cli(['payments', 'list', '--user', 'someone-unknown@example.org']);
    expect(listed.code).toBe(1);
    expect(listed.stderr).toBe('hero-admin: no user with the email someone-unknown@example.org\n');
  });

  it('an unknown user id is NOT_FOUND', async () => {
    const res = await cli([
      'payments',
      'record',
      '--user',
      randomUUID(),
      '--amount-cents',
      '500',
      '--currency',
      'EUR',
    ]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^hero-admin: the payment was not recorded: NOT_FOUND: \S.*\n$/);
  });

  it('an amount that is not whole positive cents is a usage error, and nothing is sent', async () => {
    const before = await paymentRows();
    for (const amount of ['12.50', '0', 'ten']) {
      const res = await cli([
        'payments',
        'record',
        '--user',
        user.id,
        '--amount-cents',
        amount,
        '--currency',
        'EUR',
      ]);
      expect(res.code).toBe(2);
      expect(res.stdout).toBe('');
      expect(res.stderr).toBe(
        `hero-admin: payments record: --amount-cents must be a whole positive number of cents, e.g. 1250 for 12.50 (got "${amount}") (see hero-admin payments record --help)\n`,
      );
    }
    // refused before any request: even an unreachable API does not matter
    const offline = await cli(['payments', 'refund', '--payment', paymentId, '--amount-cents', '-3'], {
      HERO_API_URL: 'http://127.0.0.1:9',
      ADMIN_SECRET: undefined,
    });
    expect(offline.code).toBe(2);
    expect(offline.stderr).toMatch(/--amount-cents needs a value/);
    expect(await paymentRows()).toBe(before);
  });

  it('payments list shows the payments newest first, with the user email', async () => {
    const res = await cli(['payments', 'list', '--user', user.email]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const rows = tableRows(res.stdout);
    expect(rows[0]).toEqual([
      'ID',
      'CREATED',
      'USER EMAIL',
      'KIND',
      'AMOUNT',
      'CURRENCY',
      'PROVIDER',
      'REF',
      'REFUNDED',
    ]);
    expect(rows).toHaveLength(3);
    expect(rows[1].slice(2)).toEqual([
      user.email,
      'CREDIT',
      '300 (3.00 EUR)',
      'EUR',
      expect.any(String),
      'e2e-transfer-2',
      '0 (0.00 EUR)',
    ]);
    expect(rows[2]).toEqual([
      paymentId,
      expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/),
      user.email,
      'CREDIT',
      '1250 (12.50 EUR)',
      'EUR',
      'bank',
      'e2e-transfer-1',
      '0 (0.00 EUR)',
    ]);

    const limited = JSON.parse((await cli(['payments', 'list', '--limit', '1', '--json'])).stdout);
    expect(limited).toHaveLength(1);
    expect(limited[0]).toMatchObject({ providerRef: 'e2e-transfer-2', user: { email: user.email } });
  });

  it('payments refund --amount-cents refunds part of a payment and prints the new balance', async () => {
    const res = await cli([
      'payments',
      'refund',
      '--payment',
      paymentId,
      '--amount-cents',
      '500',
      '--note',
      'partial refund',
    ]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(field(res.stdout, 'kind')).toBe('REFUND');
    expect(field(res.stdout, 'refund of')).toBe(paymentId);
    expect(field(res.stdout, 'amount')).toBe('500 (5.00 EUR)');
    expect(field(res.stdout, 'note')).toBe('partial refund');
    const expected = opening + 1550 - 500;
    expect(field(res.stdout, 'balance')).toBe(`${expected} (${(expected / 100).toFixed(2)} EUR)`);
    expect(await balanceOf(user.id)).toBe(expected);
  });

  it('refunding more than what is left is refused (REFUND_EXCEEDS_PAYMENT), exit 1, nothing changes', async () => {
    const before = await paymentRows();
    const res = await cli(['payments', 'refund', '--payment', paymentId, '--amount-cents', '800']);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^hero-admin: the payment was not refunded: REFUND_EXCEEDS_PAYMENT: \S.*\n$/);
    expect(await paymentRows()).toBe(before);
    expect(await balanceOf(user.id)).toBe(opening + 1050);
  });

  it('payments refund without an amount refunds the rest; the list shows it refunded', async () => {
    const res = await cli(['payments', 'refund', '--payment', paymentId, '--json']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const result = JSON.parse(res.stdout);
    expect(result.payment).toMatchObject({ kind: 'REFUND', amountCents: 750, refundOfId: paymentId });
    expect(result.billing.creditBalanceCents).toBe(opening + 300);

    const rows = tableRows((await cli(['payments', 'list', '--user', user.id])).stdout);
    expect(rows).toHaveLength(5);
    const original = rows.find((r) => r[0] === paymentId);
    expect(original?.[8]).toBe('1250 (12.50 EUR)');
    const refunds = rows.filter((r) => r[3] === 'REFUND');
    expect(refunds.map((r) => [r[4], r[8]])).toEqual([
      ['750 (7.50 EUR)', '-'],
      ['500 (5.00 EUR)', '-'],
    ]);

    const nothingLeft = await cli(['payments', 'refund', '--payment', paymentId]);
    expect(nothingLeft.code).toBe(1);
    expect(nothingLeft.stderr).toMatch(
      /^hero-admin: the payment was not refunded: REFUND_EXCEEDS_PAYMENT: .*refunded in full/,
    );
  });

  it('refunding an unknown payment is NOT_FOUND', async () => {
    const res = await cli(['payments', 'refund', '--payment', randomUUID(), '--amount-cents', '1']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^hero-admin: the payment was not refunded: NOT_FOUND: \S.*\n$/);
  });
});

describe('hero-admin plans list', () => {
  it('shows the configured plans with prices and discounts', async () => {
    const res = await cli(['plans', 'list']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const rows = tableRows(res.stdout);
    expect(rows[0]).toEqual(['CODE', 'NAME', 'VM QUOTA', 'PERIOD DAYS', 'PRICE', 'CURRENCY', 'DISCOUNTS']);
    expect(rows.slice(1)).toEqual([
      ['basic', 'Basic', '1', '30', '1000 (10.00 EUR)', 'EUR', '1:0% 3:5% 12:15%'],
      ['pro', 'Pro', '3', '30', '2500 (25.00 EUR)', 'EUR', '1:0% 3:5% 12:15%'],
    ]);

    const json = JSON.parse((await cli(['plans', 'list', '--json'])).stdout);
    expect(json.map((p: { code: string }) => p.code)).toEqual(['basic', 'pro']);
    expect(json[0]).toMatchObject({ vmQuota: 1, periodDays: 30, priceCents: 1000 });
  });
});

describe('hero-admin reconcile', () => {
  it('every balance matches its ledger: 0 drifted, exit 0', async () => {
    const res = await cli(['reconcile']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(Number(field(res.stdout, 'usersChecked'))).toBeGreaterThanOrEqual(1);
    expect(field(res.stdout, 'usersDrifted')).toBe('0');
    expect(field(res.stdout, 'totalDriftCents')).toBe('0');
    expect(field(res.stdout, 'chainBreaks')).toBe('0');
    // Usage debits on the ledger against the consumed records.
    expect(field(res.stdout, 'usageUsersDrifted')).toBe('0');
    expect(field(res.stdout, 'usageTotalDriftCents')).toBe('0');
    expect(res.stdout.trimEnd().split('\n')).toHaveLength(7);
  });

  it('a balance changed behind the ledger: one line for the user, exit 1', async () => {
    await db.query('update billing set credit_balance_cents = credit_balance_cents + 42 where user_id = $1', [
      user.id,
    ]);
    try {
      const res = await cli(['reconcile']);
      expect(res.code).toBe(1);
      expect(field(res.stdout, 'usersDrifted')).toBe('1');
      const balance = opening + 300 + 42;
      expect(res.stdout).toContain(
        `\n${user.id} (${user.email}) balance ${balance} ledger ${balance - 42} drift `,
      );
      expect(res.stderr).toMatch(/^hero-admin: 1 user with a balance that differs from the ledger/);

      const json = await cli(['reconcile', '--json']);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toMatchObject({
        usersDrifted: 1,
        drifted: [
          { userId: user.id, user: { email: user.email }, balanceCents: balance, ledgerCents: balance - 42 },
        ],
      });
    } finally {
      await db.query(
        'update billing set credit_balance_cents = credit_balance_cents - 42 where user_id = $1',
        [user.id],
      );
    }
    expect((await cli(['reconcile'])).code).toBe(0);
  });

  it('usage consumed but never debited: one line naming the user by id and email, exit 1', async () => {
    const key = `cli-usage-drift-${randomUUID()}`;
    await db.query(
      `insert into consumed_record (idempotency_key, user_id, node_name, file_path, cost_cents)
       values ($1, $2, 'node-a', 'usage.toml', 9)`,
      [key, user.id],
    );
    try {
      const res = await cli(['reconcile']);
      expect(res.code).toBe(1);
      expect(field(res.stdout, 'usageUsersDrifted')).toBe('1');
      // no usage debited on the ledger, 9 cents consumed
      expect(res.stdout).toContain(`\n${user.id} (${user.email}) usage ledger 0 consumed 9 drift -9\n`);
      const json = JSON.parse((await cli(['reconcile', '--json'])).stdout);
      expect(json.usageDrifted).toEqual([
        expect.objectContaining({ userId: user.id, user: { email: user.email } }),
      ]);
    } finally {
      await db.query('delete from consumed_record where idempotency_key = $1', [key]);
    }
    expect((await cli(['reconcile'])).code).toBe(0);
  });
});

describe('hero-admin billing adjust, ledger list', () => {
  let customer: TestUser;
  beforeAll(async () => {
    customer = await createUser(api);
  });

  const ledgerRows = async () =>
    (
      await db.query<{ n: string }>('select count(*) as n from ledger_entry where user_id = $1', [
        customer.id,
      ])
    )[0].n;

  it('credits and debits with a reason; ledger list shows the ADJUSTMENT rows, users show the balance', async () => {
    const credit = await cli([
      'billing',
      'adjust',
      '--user',
      customer.email,
      '--amount-cents',
      '500',
      '--reason',
      'goodwill for the outage',
    ]);
    expect(credit.stderr).toBe('');
    expect(credit.code).toBe(0);
    const creditId = field(credit.stdout, 'id');
    expect(field(credit.stdout, 'kind')).toBe('ADJUSTMENT');
    expect(field(credit.stdout, 'user')).toBe(`${customer.id} (${customer.email})`);
    expect(field(credit.stdout, 'amount')).toBe('500 (5.00 EUR)');
    expect(field(credit.stdout, 'balance')).toBe('500 (5.00 EUR)');
    expect(field(credit.stdout, 'reason')).toBe('goodwill for the outage');

    const debit = await cli([
      'billing',
      'adjust',
      '--user',
      customer.id,
      '--amount-cents=-200',
      '--reason',
      'usage billed twice',
      '--json',
    ]);
    expect(debit.code).toBe(0);
    const debitRow = JSON.parse(debit.stdout);
    expect(debitRow).toMatchObject({ kind: 'ADJUSTMENT', amountCents: -200, balanceAfterCents: 300 });
    expect(await balanceOf(customer.id)).toBe(300);

    const listed = await cli(['ledger', 'list', '--user', customer.email, '--kind', 'adjustment']);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    const rows = tableRows(listed.stdout);
    expect(rows[0]).toEqual([
      'ID',
      'CREATED',
      'USER',
      'KIND',
      'AMOUNT',
      'BALANCE AFTER',
      'REFERENCE',
      'NOTE',
    ]);
    expect(rows.slice(1)).toEqual([
      [
        debitRow.id,
        expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/),
        customer.email,
        'ADJUSTMENT',
        '-200 (-2.00 EUR)',
        '300 (3.00 EUR)',
        '-',
        'usage billed twice',
      ],
      [
        creditId,
        expect.any(String),
        customer.email,
        'ADJUSTMENT',
        '500 (5.00 EUR)',
        '500 (5.00 EUR)',
        '-',
        'goodwill for the outage',
      ],
    ]);
    // another kind of this user's: none; every kind, everyone's: newest first, limited
    expect((await cli(['ledger', 'list', '--user', customer.id, '--kind', 'REFUND'])).stdout).toBe(
      'no ledger rows\n',
    );
    const latest = JSON.parse((await cli(['ledger', 'list', '--limit', '1', '--json'])).stdout);
    expect(latest).toEqual([expect.objectContaining({ id: debitRow.id, user: { email: customer.email } })]);

    const shown = await cli(['users', 'show', '--user', customer.email]);
    expect(field(shown.stdout, 'balance')).toBe('300 (3.00 EUR)');
    // the balance still matches its ledger
    expect((await cli(['reconcile'])).code).toBe(0);
  });

  it('an amount that is 0 or not whole cents exits 2 and changes nothing', async () => {
    const before = await ledgerRows();
    for (const amount of ['0', '12.50', 'ten']) {
      const res = await cli([
        'billing',
        'adjust',
        '--user',
        customer.id,
        `--amount-cents=${amount}`,
        '--reason',
        'x',
      ]);
      expect(res.code).toBe(2);
      expect(res.stdout).toBe('');
      expect(res.stderr).toBe(
        `hero-admin: billing adjust: --amount-cents must be a whole number of cents, not 0, negative for a debit, e.g. 1250 or -1250 (got "${amount}") (see hero-admin billing adjust --help)\n`,
      );
    }
    const kind = await cli(['ledger', 'list', '--kind', 'GIFT']);
    expect(kind.code).toBe(2);
    expect(await ledgerRows()).toBe(before);
    expect(await balanceOf(customer.id)).toBe(300);
  });

  it('an unknown user exits 1 and nothing changes: by email before asking, by id NOT_FOUND', async () => {
    const before = await ledgerRows();
    const byEmail = await cli([
      'billing',
      'adjust',
      '--user',
      'someone-unknown@example.org',
      '--amount-cents',
      '100',
      '--reason',
      'x',
    ]);
    expect(byEmail.code).toBe(1);
    expect(byEmail.stdout).toBe('');
    expect(byEmail.stderr).toBe('hero-admin: no user with the email someone-unknown@example.org\n');
    const byId = await cli([
      'billing',
      'adjust',
      '--user',
      randomUUID(),
      '--amount-cents',
      '100',
      '--reason',
      'x',
    ]);
    expect(byId.code).toBe(1);
    expect(byId.stderr).toMatch(/^hero-admin: the balance was not adjusted: NOT_FOUND: \S.*\n$/);
    const ledger = await cli(['ledger', 'list', '--user', 'someone-unknown@example.org']);
    expect(ledger.code).toBe(1);
    expect(await ledgerRows()).toBe(before);
  });
});
