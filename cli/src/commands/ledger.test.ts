import { describe, expect, it } from 'vitest';
import { runWith, tableRows, usageError } from '../testing.ts';

/** ledger list against a stub client (end to end against a real api: test/cli-billing.test.ts). */

const ID = '0b7e3c2a-5d4f-4e6a-9c1b-2f3e4d5a6b7c';
const row = {
  id: 'l-1',
  createdAt: '2026-12-03T10:00:00.000Z',
  userId: ID,
  user: { email: 'ada@example.org' },
  kind: 'ADJUSTMENT',
  amountCents: -250,
  balanceAfterCents: 1000,
  currency: 'EUR',
  reference: null,
  note: 'double-charged usage',
};
const page = (nodes: unknown[]) => ({
  ledger: { edges: nodes.map((node) => ({ node })), pageInfo: { hasNextPage: false, endCursor: null } },
});

describe('ledger list', () => {
  it('filters by the user found by email and by kind, and prints a table', async () => {
    const res = await runWith(
      ['ledger', 'list', '--user', 'ada@example.org', '--kind', 'adjustment', '--limit', '5'],
      { users: { edges: [{ node: { id: ID, email: 'ada@example.org' } }] } },
      page([
        row,
        { ...row, id: 'l-0', user: null, kind: 'PAYMENT', amountCents: 1250, note: null, reference: 'p-1' },
      ]),
    );
    expect(res.error).toBeUndefined();
    expect(res.sent[1].variables).toEqual({ userId: ID, kind: 'ADJUSTMENT', first: 5, after: null });
    const rows = tableRows(res.out);
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
    expect(rows[1]).toEqual([
      'l-1',
      '2026-12-03 10:00:00Z',
      'ada@example.org',
      'ADJUSTMENT',
      '-250 (-2.50 EUR)',
      '1000 (10.00 EUR)',
      '-',
      'double-charged usage',
    ]);
    // a row whose user is gone shows the id
    expect(rows[2].slice(2, 4)).toEqual([ID, 'PAYMENT']);
  });

  it('without filters sends none; no rows prints so; --json prints the rows', async () => {
    const empty = await runWith(['ledger', 'list'], page([]));
    expect(empty.sent[0].variables).toEqual({ userId: null, kind: null, first: 50, after: null });
    expect(empty.out).toBe('no ledger rows\n');
    const json = await runWith(['ledger', 'list', '--json'], page([row]));
    expect(JSON.parse(json.out)).toEqual([row]);
  });

  it('an unknown kind is a usage error; an unknown email exits 1 before the ledger is asked', async () => {
    expect(usageError(['ledger', 'list', '--kind', 'GIFT'])).toMatch(
      /--kind must be one of PAYMENT, REFUND, PLAN_PURCHASE, USAGE, ADJUSTMENT \(got "GIFT"\)/,
    );
    const res = await runWith(['ledger', 'list', '--user', 'nobody@example.org'], { users: { edges: [] } });
    expect(res.error?.message).toBe('no user with the email nobody@example.org');
    expect(res.sent).toHaveLength(1);
  });
});
