import { describe, expect, it } from 'vitest';
import { runWith, usageError } from '../testing.ts';

/** billing adjust against a stub client (end to end against a real api: test/cli-billing.test.ts). */

const ID = '0b7e3c2a-5d4f-4e6a-9c1b-2f3e4d5a6b7c';
const byEmail = { users: { edges: [{ node: { id: ID, email: 'ada@example.org' } }] } };

const entry = {
  id: 'l-1',
  userId: ID,
  user: { email: 'ada@example.org' },
  kind: 'ADJUSTMENT',
  amountCents: -250,
  balanceAfterCents: 1000,
  currency: 'EUR',
  note: 'double-charged usage',
  createdAt: '2026-12-03T10:00:00.000Z',
};

describe('billing adjust', () => {
  it('sends the signed amount and the reason, and prints the row and the balance after it', async () => {
    const res = await runWith(
      [
        'billing',
        'adjust',
        '--user',
        'ada@example.org',
        '--amount-cents=-250',
        '--reason',
        'double-charged usage',
      ],
      byEmail,
      { adjustBalance: { __typename: 'AdjustBalanceSuccess', entry } },
    );
    expect(res.error).toBeUndefined();
    expect(res.sent[1].variables).toEqual({
      input: { userId: ID, amountCents: -250, note: 'double-charged usage' },
    });
    expect(res.out).toMatch(/^kind {2,}ADJUSTMENT$/m);
    expect(res.out).toMatch(new RegExp(`^user {2,}${ID} \\(ada@example\\.org\\)$`, 'm'));
    expect(res.out).toMatch(/^amount {2,}-250 \(-2\.50 EUR\)$/m);
    expect(res.out).toMatch(/^balance {2,}1000 \(10\.00 EUR\)$/m);
    expect(res.out).toMatch(/^reason {2,}double-charged usage$/m);

    const json = await runWith(
      ['billing', 'adjust', '--user', ID, '--amount-cents', '250', '--reason', 'x', '--json'],
      { adjustBalance: { __typename: 'AdjustBalanceSuccess', entry } },
    );
    expect(json.sent[0].variables).toMatchObject({ input: { amountCents: 250 } });
    expect(JSON.parse(json.out)).toEqual(entry);
  });

  it('a refusal exits 1 with the code and the problems', async () => {
    const long = 'x'.repeat(1001);
    const res = await runWith(['billing', 'adjust', '--user', ID, '--amount-cents', '5', '--reason', long], {
      adjustBalance: {
        __typename: 'ValidationError',
        code: 'BAD_USER_INPUT',
        message: 'Invalid adjustment',
        problems: [{ path: 'note', message: 'must say why, in 1 to 1000 characters' }],
      },
    });
    expect(res.error?.exitCode).toBe(1);
    expect(res.error?.message).toBe('the balance was not adjusted: BAD_USER_INPUT (1 problem):');
    expect(res.error?.details).toEqual(['  note: must say why, in 1 to 1000 characters']);
    const unknown = await runWith(
      ['billing', 'adjust', '--user', ID, '--amount-cents', '5', '--reason', 'x'],
      {
        adjustBalance: { __typename: 'NotFoundError', code: 'NOT_FOUND', message: `User ${ID} not found` },
      },
    );
    expect(unknown.error?.message).toBe(`the balance was not adjusted: NOT_FOUND: User ${ID} not found`);
  });

  it('an amount that is 0 or not whole cents, or no reason, is a usage error', () => {
    const base = ['billing', 'adjust', '--user', ID];
    for (const amount of ['0', '12.50', '+5', 'ten'])
      expect(usageError([...base, `--amount-cents=${amount}`, '--reason', 'x'])).toMatch(
        /--amount-cents must be a whole number of cents, not 0/,
      );
    expect(usageError([...base, '--amount-cents', '-5', '--reason', 'x'])).toMatch(
      /--amount-cents needs a value \(one starting with "-" is written --amount-cents=<value>\)/,
    );
    expect(usageError([...base, '--amount-cents', '5'])).toMatch(/--reason <text> is required/);
    expect(usageError([...base, '--amount-cents', '5', '--reason', ' '])).toMatch(
      /--reason <text> is required/,
    );
  });
});
