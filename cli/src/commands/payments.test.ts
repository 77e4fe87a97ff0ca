import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../args.ts';
import { UsageError } from '../errors.ts';
import { runWith, tableRows, usageError } from '../testing.ts';
import { currencyCode } from './payments.ts';

/**
 * The payments commands against a stub client (the end-to-end runs against a real api are in
 * test/cli-billing.test.ts): what is parsed, sent and printed, and what fails.
 */

const U1 = '0b7e3c2a-5d4f-4e6a-9c1b-2f3e4d5a6b7c';

const payment = {
  id: 'pay-1',
  kind: 'CREDIT',
  amountCents: 1250,
  currency: 'EUR',
  provider: 'manual',
  providerRef: 'ref-1',
  refundOfId: null,
  refundedCents: 0,
  note: null,
  createdAt: '2026-11-23T10:00:00.000Z',
  user: { id: U1, email: 'ada@example.org' },
};

describe('payments record', () => {
  const argv = ['payments', 'record', '--user', U1, '--amount-cents', '1250', '--currency', 'eur'];

  it('sends the input and prints the payment and the new balance', async () => {
    const res = await runWith(argv, {
      recordPayment: {
        __typename: 'RecordPaymentSuccess',
        result: { payment, billing: { creditBalanceCents: 3250, currency: 'EUR' } },
      },
    });
    expect(res.error).toBeUndefined();
    expect(res.sent[0].variables).toEqual({
      input: {
        userId: U1,
        amountCents: 1250,
        currency: 'EUR',
        provider: null,
        providerRef: null,
        note: null,
      },
    });
    expect(res.out).toBe(
      'id        pay-1\n' +
        'kind      CREDIT\n' +
        `user      ${U1} (ada@example.org)\n` +
        'amount    1250 (12.50 EUR)\n' +
        'currency  EUR\n' +
        'provider  manual\n' +
        'ref       ref-1\n' +
        'note      -\n' +
        'created   2026-11-23 10:00:00Z\n' +
        'balance   3250 (32.50 EUR)\n',
    );
  });

  it('--user by email: looks the user up, then credits the id it found', async () => {
    const res = await runWith(
      ['payments', 'record', '--user', 'Ada@Example.org', '--amount-cents', '1250', '--currency', 'EUR'],
      { users: { edges: [{ node: { id: U1, email: 'ada@example.org' } }] } },
      {
        recordPayment: {
          __typename: 'RecordPaymentSuccess',
          result: { payment, billing: { creditBalanceCents: 3250, currency: 'EUR' } },
        },
      },
    );
    expect(res.error).toBeUndefined();
    expect(res.sent.map((s) => s.variables)).toEqual([
      { email: 'ada@example.org' },
      { input: expect.objectContaining({ userId: U1, amountCents: 1250 }) },
    ]);
    expect(res.out).toContain(`user      ${U1} (ada@example.org)\n`);
  });

  it('--user with an unknown email: nothing is recorded', async () => {
    const res = await runWith(
      ['payments', 'record', '--user', 'nobody@example.org', '--amount-cents', '1250', '--currency', 'EUR'],
      { users: { edges: [] } },
    );
    expect(res.error?.message).toBe('no user with the email nobody@example.org');
    expect(res.sent).toHaveLength(1);
    expect(res.out).toBe('');
  });

  it('a refused payment fails with the code and the message', async () => {
    const res = await runWith(argv, {
      recordPayment: {
        __typename: 'CurrencyMismatchError',
        code: 'CURRENCY_MISMATCH',
        message: 'the balance is in CHF, not EUR',
      },
    });
    expect(res.out).toBe('');
    expect(res.error?.exitCode).toBe(1);
    expect(res.error?.message).toBe(
      'the payment was not recorded: CURRENCY_MISMATCH: the balance is in CHF, not EUR',
    );
  });

  it('a ValidationError lists its problems one a line', async () => {
    const res = await runWith(argv, {
      recordPayment: {
        __typename: 'ValidationError',
        code: 'BAD_USER_INPUT',
        message: 'The input is invalid: …',
        problems: [
          { path: 'providerRef', message: 'too long' },
          { path: 'note', message: 'too long' },
        ],
      },
    });
    expect(res.error?.message).toBe('the payment was not recorded: BAD_USER_INPUT (2 problems):');
    expect(res.error?.details).toEqual(['  providerRef: too long', '  note: too long']);
  });
});

describe('payments refund', () => {
  it('sends no amount for "everything left" and prints the refund event', async () => {
    const refund = { ...payment, id: 'pay-2', kind: 'REFUND', refundOfId: 'pay-1', amountCents: 250 };
    const res = await runWith(['payments', 'refund', '--payment', 'pay-1'], {
      refundPayment: {
        __typename: 'RefundPaymentSuccess',
        result: { payment: refund, billing: { creditBalanceCents: -5, currency: 'EUR' } },
      },
    });
    expect(res.sent[0].variables).toEqual({
      input: { paymentId: 'pay-1', amountCents: null, note: null },
    });
    expect(res.out).toMatch(/^kind\s+REFUND$/m);
    expect(res.out).toMatch(/^refund of\s+pay-1$/m);
    expect(res.out).toMatch(/^amount\s+250 \(2\.50 EUR\)$/m);
    expect(res.out).toMatch(/^balance\s+-5 \(-0\.05 EUR\)$/m);
  });

  it('--json prints the result object', async () => {
    const result = { payment, billing: { creditBalanceCents: 0, currency: 'EUR' } };
    const res = await runWith(['payments', 'refund', '--payment', 'pay-1', '--json'], {
      refundPayment: { __typename: 'RefundPaymentSuccess', result },
    });
    expect(JSON.parse(res.out)).toEqual(result);
  });
});

describe('payments list', () => {
  it('prints a table; a refund has nothing refunded', async () => {
    const refund = { ...payment, id: 'pay-2', kind: 'REFUND', refundOfId: 'pay-1', amountCents: 250 };
    const res = await runWith(['payments', 'list', '--user', U1], {
      payments: {
        edges: [{ node: refund }, { node: { ...payment, refundedCents: 250 } }],
        pageInfo: { hasNextPage: false, endCursor: null },
      },
    });
    expect(res.sent[0].variables).toEqual({ userId: U1, first: 50, after: null });
    const rows = tableRows(res.out);
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
    expect(rows[1]).toEqual([
      'pay-2',
      '2026-11-23 10:00:00Z',
      'ada@example.org',
      'REFUND',
      '250 (2.50 EUR)',
      'EUR',
      'manual',
      'ref-1',
      '-',
    ]);
    expect(rows[2][8]).toBe('250 (2.50 EUR)');
  });
});

describe('payments record and refund: the command line', () => {
  const record = ['payments', 'record', '--user', U1, '--currency', 'EUR'];

  it('parses payments record with every option', () => {
    expect(
      parseCommandLine([
        ...record,
        '--amount-cents',
        '1250',
        '--ref',
        'pi_123',
        '--provider',
        'stripe',
        '--note',
        'first month',
        '--json',
      ]),
    ).toEqual({
      kind: 'run',
      command: {
        name: 'payments record',
        user: { id: U1 },
        amountCents: 1250,
        currency: 'EUR',
        providerRef: 'pi_123',
        provider: 'stripe',
        note: 'first month',
      },
      json: true,
    });
  });

  it('payments record: the optional options stay unset, the currency is upper-cased', () => {
    const parsed = parseCommandLine([
      'payments',
      'record',
      '--user',
      U1,
      '--amount-cents=1',
      '--currency',
      'chf',
    ]);
    expect(parsed).toEqual({
      kind: 'run',
      command: {
        name: 'payments record',
        user: { id: U1 },
        amountCents: 1,
        currency: 'CHF',
        provider: undefined,
        providerRef: undefined,
        note: undefined,
      },
      json: false,
    });
  });

  it('payments record: a missing or malformed --amount-cents is a usage error before any request', () => {
    expect(usageError(record)).toMatch(/^payments record: --amount-cents <n> is required/);
    for (const bad of ['12.50', '0', '1e3', 'abc', '+5', ' 5', '1,000', '0x10', '99999999999999999999'])
      expect(usageError([...record, `--amount-cents=${bad}`])).toBe(
        `payments record: --amount-cents must be a whole positive number of cents, e.g. 1250 for 12.50 (got "${bad}") (see hero-admin payments record --help)`,
      );
    expect(usageError([...record, '--amount-cents=-5'])).toMatch(
      /--amount-cents must be a whole positive number of cents.*\(got "-5"\)/,
    );
    // `-5` as a separate word looks like an option: said so, not "takes no value"
    expect(usageError([...record, '--amount-cents', '-5'])).toMatch(
      /^payments record: --amount-cents needs a value \(one starting with "-" is written --amount-cents=<value>\)/,
    );
    expect(usageError([...record, '--amount-cents'])).toMatch(/--amount-cents needs a value/);
  });

  it('payments record: the other required options and the currency code', () => {
    expect(usageError(['payments', 'record', '--amount-cents', '100', '--currency', 'EUR'])).toMatch(
      /--user <email\|id> is required/,
    );
    expect(usageError(['payments', 'record', '--user', U1, '--amount-cents', '100'])).toMatch(
      /--currency <ISO code> is required/,
    );
    for (const bad of ['EURO', 'E1R', '€', 'eu'])
      expect(usageError([...record.slice(0, 4), '--amount-cents', '100', '--currency', bad])).toMatch(
        /--currency must be a three-letter ISO 4217 currency code such as EUR/,
      );
    expect(usageError([...record, '--amount-cents', '100', '--ref', ' '])).toMatch(
      /--ref <providerRef> is required/,
    );
  });

  it('parses payments refund, with and without an amount', () => {
    expect(parseCommandLine(['payments', 'refund', '--payment', 'p-1'])).toEqual({
      kind: 'run',
      command: { name: 'payments refund', paymentId: 'p-1', amountCents: undefined, note: undefined },
      json: false,
    });
    expect(
      parseCommandLine(['payments', 'refund', '--payment', 'p-1', '--amount-cents', '500', '--note', 'x']),
    ).toMatchObject({ command: { paymentId: 'p-1', amountCents: 500, note: 'x' } });
    expect(usageError(['payments', 'refund'])).toMatch(/--payment <paymentId> is required/);
    expect(usageError(['payments', 'refund', '--payment', 'p-1', '--amount-cents', '5.5'])).toMatch(
      /--amount-cents must be a whole positive number of cents/,
    );
    expect(usageError(['payments', 'refund', '--payment', 'p-1', '--amount-cents', '0'])).toMatch(
      /--amount-cents must be a whole positive number of cents/,
    );
  });

  it('currencyCode', () => {
    expect(currencyCode('currency', 'usd')).toBe('USD');
    expect(() => currencyCode('currency', 'euro')).toThrow(UsageError);
  });
});
