import { randomUUID } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../testing/database.ts';
import { createTestUser, creditUser, errorCodeOf, testCatalog } from '../testing/factories.ts';
import { adjustBalance } from './ledger.ts';
import { recordPayment, refundPayment } from './payments.ts';
import { purchasePlan } from './plans.ts';
import {
  monthBounds,
  monthlyStatement,
  monthOf,
  neutralizeFormula,
  paymentReceipt,
  STATEMENT_CSV_COLUMNS,
  statementCsv,
  statementMonths,
} from './statements.ts';

const t = useTestDatabase();

/**
 * Usage as the aggregator applies it: consumed records and one USAGE ledger row per node, in one
 * transaction (so `applied_at` = the ledger row's `created_at`).
 */
async function consumeUsage(
  userId: string,
  node: string,
  records: { resource: string; cents: number; file: string; commit: string | null }[],
  at?: Date,
) {
  const total = records.reduce((s, r) => s + r.cents, 0);
  // One statement: one transaction, so one now() for both tables when no time is given.
  await t.query(
    `with consumed as (
       insert into consumed_record (idempotency_key, user_id, node_name, file_path, commit_sha, resource,
                                    quantity, cost_cents, applied_at)
       select gen_random_uuid()::text, $1, $2, f, c, r, 1, cents, coalesce($4::timestamptz, now())
         from unnest($5::text[], $6::text[], $7::text[], $8::bigint[]) as t(f, c, r, cents)
     ), moved as (
       update billing set credit_balance_cents = credit_balance_cents - $3 where user_id = $1
       returning credit_balance_cents, currency
     )
     insert into ledger_entry (user_id, kind, amount_cents, balance_after_cents, currency, reference, created_at)
     select $1, 'USAGE', -$3::bigint, credit_balance_cents, currency, 'usage:' || $2, coalesce($4::timestamptz, now())
       from moved`,
    [
      userId,
      node,
      total,
      at ?? null,
      records.map((r) => r.file),
      records.map((r) => r.commit),
      records.map((r) => r.resource),
      records.map((r) => r.cents),
    ],
  );
}

/** A ledger row at a chosen time (tests only: the ledger writes now()). */
async function ledgerRowAt(userId: string, kind: string, cents: number, at: Date, note = 'test') {
  await t.query(
    `with moved as (update billing set credit_balance_cents = credit_balance_cents + $3 where user_id = $1
                    returning credit_balance_cents, currency)
     insert into ledger_entry (user_id, kind, amount_cents, balance_after_cents, currency, note, created_at)
     select $1, $2, $3::bigint, credit_balance_cents, currency, $5, $4 from moved`,
    [userId, kind, cents, at, note],
  );
}

async function ledgerSum(userId: string, from: Date, to: Date): Promise<number> {
  const [row] = await t.query(
    `select coalesce(sum(amount_cents), 0)::text as s from ledger_entry
      where user_id = $1 and created_at >= $2 and created_at < $3`,
    [userId, from, to],
  );
  return Number(row.s);
}

async function balanceOf(userId: string): Promise<number> {
  const [row] = await t.query('select credit_balance_cents::text as b from billing where user_id = $1', [
    userId,
  ]);
  return Number(row.b);
}

/** The CSV read back by an independent RFC 4180 parser (csv-parse); every line ends with CRLF. */
function parseCsv(text: string): string[][] {
  if (!text.endsWith('\r\n')) throw new Error('CSV does not end with CRLF');
  return parse(text, { record_delimiter: '\r\n' });
}

function csvRecords(text: string): Record<string, string>[] {
  const [header, ...body] = parseCsv(text);
  expect(header).toEqual([...STATEMENT_CSV_COLUMNS]);
  return body.map((cells) => Object.fromEntries(header.map((h, i) => [h, cells[i]])));
}

describe('monthBounds', () => {
  it('is the UTC calendar month, end exclusive', () => {
    expect(monthBounds('2026-02')).toEqual({
      from: new Date('2026-02-01T00:00:00.000Z'),
      to: new Date('2026-03-01T00:00:00.000Z'),
    });
    expect(monthBounds('2026-12').to).toEqual(new Date('2027-01-01T00:00:00.000Z'));
    expect(monthOf(new Date('2026-11-30T23:59:59.999Z'))).toBe('2026-11');
  });

  it('refuses anything that is not YYYY-MM', () => {
    for (const bad of ['2026-13', '2026-00', '2026-1', '26-11', '2026-11-01', '', '1999-12', ' 2026-11'])
      expect(() => monthBounds(bad), bad).toThrow(/month: must be a month as YYYY-MM/);
  });
});

describe('monthlyStatement', () => {
  it('adds up to the ledger to the cent: payments, refund, purchase, adjustment, usage from two nodes', async () => {
    const em = t.em();
    const user = await createTestUser(em);
    const paid = await recordPayment(em.fork(), { userId: user.id, amountCents: 10_000, currency: 'EUR' });
    await creditUser(em, user.id, 2_345);
    await refundPayment(em.fork(), { paymentId: paid.payment.id, amountCents: 1_001, note: 'partial' });
    await purchasePlan(em.fork(), testCatalog(), { userId: user.id, planCode: 'basic', periods: 3 });
    await adjustBalance(em.fork(), { userId: user.id, amountCents: -17, note: 'rounding fix' });
    await consumeUsage(user.id, 'node-a', [
      { resource: 'cpu', cents: 101, file: 'nodes/node-a/2026/12/03/06.toml', commit: 'a'.repeat(40) },
      { resource: 'cpu', cents: 7, file: 'nodes/node-a/2026/12/03/06.toml', commit: 'a'.repeat(40) },
      { resource: 'ram', cents: 33, file: 'nodes/node-a/2026/12/03/06.toml', commit: 'a'.repeat(40) },
    ]);
    await consumeUsage(user.id, 'node-b', [
      { resource: 'cpu', cents: 250, file: 'nodes/node-b/2026/12/03/06.toml', commit: 'b'.repeat(40) },
    ]);

    const month = monthOf(new Date());
    const s = await monthlyStatement(t.em(), user.id, month);
    const ledger = await ledgerSum(user.id, s.from, s.to);
    const byKind = Object.fromEntries(s.groups.map((g) => [g.kind, g.totalCents]));
    expect(byKind).toEqual({ PAYMENT: 12_345, REFUND: -1_001, PLAN_PURCHASE: -2_848, ADJUSTMENT: -17 });
    expect(s.usage.totalCents).toBe(-391);
    expect(s.usage.unattributedCents).toBe(0);
    expect(s.openingBalanceCents).toBe(0);
    expect(s.netChangeCents).toBe(ledger);
    expect(s.closingBalanceCents).toBe(await balanceOf(user.id));
    expect(s.closingBalanceCents).toBe(12_345 - 1_001 - 2_848 - 17 - 391);
    expect(s.currency).toBe('EUR');
    expect(
      s.groups.flatMap((g) => g.lines).every((l) => l.currency === 'EUR' && Number.isInteger(l.amountCents)),
    ).toBe(true);

    // Usage by resource and node, each with its origins.
    expect(
      s.usage.groups.map((g) => [g.resource, g.nodeName, g.records, g.amountCents, g.origins.length]),
    ).toEqual([
      ['cpu', 'node-a', 2, -108, 1],
      ['cpu', 'node-b', 1, -250, 1],
      ['ram', 'node-a', 1, -33, 1],
    ]);
    expect(s.usage.groups[0].origins[0]).toMatchObject({
      nodeName: 'node-a',
      commitSha: 'a'.repeat(40),
      filePath: 'nodes/node-a/2026/12/03/06.toml',
      records: 2,
      amountCents: -108,
      currency: 'EUR',
    });

    // Payment and refund lines name their payment (for the receipt); the purchase says what it was.
    const payment = s.groups[0].lines.find((l) => l.amountCents === 10_000);
    expect(payment?.paymentId).toBe(paid.payment.id);
    expect(s.groups[1].lines[0].paymentId).not.toBeNull();
    expect(s.groups[2].lines[0].description).toBe('Basic × 3');
    expect(s.groups[3].lines[0].description).toBe('rounding fix');

    // The CSV read back: its rows sum to the ledger; every usage row names commit and file.
    const csv = csvRecords(statementCsv(s));
    const opening = csv.find((r) => r.section === 'OPENING_BALANCE');
    const closing = csv.find((r) => r.section === 'CLOSING_BALANCE');
    const lines = csv.filter((r) => !r.section.endsWith('_BALANCE'));
    const sum = lines.reduce((acc, r) => acc + Number(r.amount_cents), 0);
    expect(sum).toBe(ledger);
    expect(Number(opening?.amount_cents) + sum).toBe(Number(closing?.amount_cents));
    expect(Number(closing?.amount_cents)).toBe(await balanceOf(user.id));
    const usageRows = lines.filter((r) => r.section === 'USAGE');
    expect(usageRows).toHaveLength(3);
    for (const r of usageRows) {
      expect(r.commit).toMatch(/^[ab]{40}$/);
      expect(r.file).toMatch(/^nodes\/node-[ab]\//);
      expect(r.currency).toBe('EUR');
    }
    expect(lines.every((r) => r.currency === 'EUR')).toBe(true);
  });

  it('carries the closing balance over as the next opening, and counts rows by UTC month bounds', async () => {
    const user = await createTestUser(t.em());
    await ledgerRowAt(user.id, 'PAYMENT', 1_000, new Date('2026-09-15T12:00:00Z'));
    await ledgerRowAt(user.id, 'ADJUSTMENT', 1, new Date('2026-10-31T23:59:59.999Z'));
    await ledgerRowAt(user.id, 'ADJUSTMENT', 20, new Date('2026-11-01T00:00:00.000Z'));
    await ledgerRowAt(user.id, 'ADJUSTMENT', -300, new Date('2026-11-30T23:59:59.999Z'));
    await ledgerRowAt(user.id, 'ADJUSTMENT', 4_000, new Date('2026-12-01T00:00:00.000Z'));
    await consumeUsage(
      user.id,
      'node-a',
      [{ resource: 'cpu', cents: 5, file: 'nodes/node-a/x.toml', commit: null }],
      new Date('2026-11-15T00:00:00Z'),
    );

    const oct = await monthlyStatement(t.em(), user.id, '2026-10');
    const nov = await monthlyStatement(t.em(), user.id, '2026-11');
    const dec = await monthlyStatement(t.em(), user.id, '2026-12');
    expect([oct.openingBalanceCents, oct.closingBalanceCents]).toEqual([1_000, 1_001]);
    expect(nov.openingBalanceCents).toBe(oct.closingBalanceCents);
    expect(nov.groups[3].lines.map((l) => l.amountCents)).toEqual([20, -300]);
    expect(nov.usage.totalCents).toBe(-5);
    expect(nov.closingBalanceCents).toBe(1_001 + 20 - 300 - 5);
    expect(dec.openingBalanceCents).toBe(nov.closingBalanceCents);
    expect(dec.ledgerEntries).toBe(1);
    // A record consumed before commits were kept: its origin says so (null), its file still.
    expect(nov.usage.groups[0].origins[0]).toMatchObject({
      commitSha: null,
      filePath: 'nodes/node-a/x.toml',
    });
    expect(csvRecords(statementCsv(nov)).find((r) => r.section === 'USAGE')?.commit).toBe('');

    const months = await statementMonths(t.em(), user.id, new Date('2026-12-03T00:00:00Z'));
    expect(months).toEqual(['2026-12', '2026-11', '2026-10', '2026-09']);
  });

  it('shows usage the ledger debited without records as unattributed, so the sum still holds', async () => {
    const user = await createTestUser(t.em());
    await ledgerRowAt(user.id, 'USAGE', -42, new Date('2026-08-10T00:00:00Z'));
    const s = await monthlyStatement(t.em(), user.id, '2026-08');
    expect(s.usage).toMatchObject({ totalCents: -42, unattributedCents: -42, groups: [] });
    const csv = csvRecords(statementCsv(s));
    expect(csv.find((r) => r.section === 'USAGE_UNATTRIBUTED')?.amount_cents).toBe('-42');
  });

  it('answers an empty month, NOT_FOUND for an unknown user, BAD_USER_INPUT for a bad month', async () => {
    const user = await createTestUser(t.em());
    const s = await monthlyStatement(t.em(), user.id, '2031-01');
    expect(s).toMatchObject({ openingBalanceCents: 0, closingBalanceCents: 0, ledgerEntries: 0 });
    expect(await errorCodeOf(monthlyStatement(t.em(), randomUUID(), '2026-11'))).toBe('NOT_FOUND');
    expect(await errorCodeOf(monthlyStatement(t.em(), 'nope', '2026-11'))).toBe('NOT_FOUND');
    expect(await errorCodeOf(monthlyStatement(t.em(), user.id, '2026-13'))).toBe('BAD_USER_INPUT');
  });
});

describe('statementCsv', () => {
  it('quotes per RFC 4180 and neutralizes formulas in text fields', async () => {
    const user = await createTestUser(t.em());
    const hostile = ['=HYPERLINK("http://evil","x")', '+1+2', '-3', '@SUM(A1)', '\tx', 'a,"b"\nc'];
    for (const note of hostile)
      await ledgerRowAt(user.id, 'ADJUSTMENT', 1, new Date('2026-07-02T00:00:00Z'), note);
    await consumeUsage(
      user.id,
      '=node',
      [{ resource: '@cpu', cents: 3, file: '+nodes/x.toml', commit: '-c' }],
      new Date('2026-07-03T00:00:00Z'),
    );
    const text = statementCsv(await monthlyStatement(t.em(), user.id, '2026-07'));
    const rows = csvRecords(text);
    const descriptions = rows.filter((r) => r.section === 'ADJUSTMENT').map((r) => r.description);
    expect(descriptions).toEqual([
      `'=HYPERLINK("http://evil","x")`,
      "'+1+2",
      "'-3",
      "'@SUM(A1)",
      "'\tx",
      'a,"b"\nc',
    ]);
    const usage = rows.find((r) => r.section === 'USAGE');
    expect(usage).toMatchObject({ resource: "'@cpu", node: "'=node", file: "'+nodes/x.toml", commit: "'-c" });
    // Amounts stay numbers (a debit's minus sign is not a formula).
    expect(usage?.amount_cents).toBe('-3');
    // No cell of the file starts with a formula character.
    for (const cells of parseCsv(text))
      for (const [i, cell] of cells.entries())
        if (
          i !== STATEMENT_CSV_COLUMNS.indexOf('amount_cents') &&
          i !== STATEMENT_CSV_COLUMNS.indexOf('quantity')
        )
          expect(cell).not.toMatch(/^[=+\-@\t\r]/);
    expect(neutralizeFormula('plain')).toBe('plain');
  });
});

describe('paymentReceipt', () => {
  it('shows a payment with its refunds and the balance after it; another user’s is NOT_FOUND', async () => {
    const user = await createTestUser(t.em());
    const other = await createTestUser(t.em());
    const paid = await recordPayment(t.em(), {
      userId: user.id,
      amountCents: 5_000,
      currency: 'EUR',
      providerRef: `r-${randomUUID()}`,
    });
    const refund = await refundPayment(t.em(), { paymentId: paid.payment.id, amountCents: 1_200 });
    const receipt = await paymentReceipt(t.em(), user.id, paid.payment.id);
    expect(receipt).toMatchObject({
      id: paid.payment.id,
      kind: 'CREDIT',
      amountCents: 5_000,
      currency: 'EUR',
      balanceAfterCents: 5_000,
      netCents: 3_800,
      refundOfId: null,
    });
    expect(receipt.refunds.map((r) => [r.id, r.amountCents])).toEqual([[refund.payment.id, 1_200]]);
    const refundReceipt = await paymentReceipt(t.em(), user.id, refund.payment.id);
    expect(refundReceipt).toMatchObject({
      kind: 'REFUND',
      refundOfId: paid.payment.id,
      balanceAfterCents: 3_800,
    });

    expect(await errorCodeOf(paymentReceipt(t.em(), other.id, paid.payment.id))).toBe('NOT_FOUND');
    expect(await errorCodeOf(paymentReceipt(t.em(), user.id, randomUUID()))).toBe('NOT_FOUND');
    expect(await errorCodeOf(paymentReceipt(t.em(), user.id, 'x'))).toBe('NOT_FOUND');
  });
});
