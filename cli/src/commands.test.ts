import { describe, expect, it } from 'vitest';
import { parseCommandLine } from './args.ts';
import type { ApiClient } from './client.ts';
import { runCommand } from './commands.ts';
import { CliError } from './errors.ts';

/**
 * The billing commands against a stub client (the end-to-end runs against a real api are in
 * test/cli-billing.test.ts): what is sent, what is printed, what fails.
 */

interface Sent {
  query: string;
  variables: Record<string, unknown>;
}

async function runWith(argv: string[], answer: unknown) {
  const invocation = parseCommandLine(argv);
  if (invocation.kind !== 'run') throw new Error('expected a command');
  const sent: Sent[] = [];
  const client = {
    request: async (query: string, variables: Record<string, unknown> = {}) => {
      sent.push({ query, variables });
      return answer;
    },
  } as unknown as ApiClient;
  let out = '';
  let err = '';
  const io = {
    out: (t: string) => {
      out += t;
    },
    err: (t: string) => {
      err += t;
    },
  };
  let error: CliError | undefined;
  try {
    await runCommand(invocation.command, { client, json: invocation.json, io });
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    error = e;
  }
  return { sent, out, err, error };
}

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
  user: { id: 'u-1', email: 'ada@example.org' },
};

describe('payments record', () => {
  const argv = ['payments', 'record', '--user', 'u-1', '--amount-cents', '1250', '--currency', 'eur'];

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
        userId: 'u-1',
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
        'user      u-1 (ada@example.org)\n' +
        'amount    1250 (12.50 EUR)\n' +
        'currency  EUR\n' +
        'provider  manual\n' +
        'ref       ref-1\n' +
        'note      -\n' +
        'created   2026-11-23 10:00:00Z\n' +
        'balance   3250 (32.50 EUR)\n',
    );
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
    const res = await runWith(['payments', 'list', '--user', 'u-1'], {
      payments: {
        edges: [{ node: refund }, { node: { ...payment, refundedCents: 250 } }],
        pageInfo: { hasNextPage: false, endCursor: null },
      },
    });
    expect(res.sent[0].variables).toEqual({ userId: 'u-1', first: 50, after: null });
    const rows = res.out
      .trimEnd()
      .split('\n')
      .map((l) => l.split(/ {2,}/));
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

describe('plans list', () => {
  it('prints price and discounts', async () => {
    const res = await runWith(['plans', 'list'], {
      plans: [
        {
          code: 'basic',
          name: 'Basic',
          vmQuota: 1,
          periodDays: 30,
          priceCents: 1000,
          currency: 'EUR',
          discounts: [
            { periods: 1, percent: 0 },
            { periods: 3, percent: 5 },
            { periods: 12, percent: 15 },
          ],
        },
      ],
    });
    expect(res.out).toBe(
      'CODE   NAME   VM QUOTA  PERIOD DAYS  PRICE             CURRENCY  DISCOUNTS\n' +
        'basic  Basic  1         30           1000 (10.00 EUR)  EUR       1:0% 3:5% 12:15%\n',
    );
  });
});

/** No usage drift, as reconcileBalancesNow answers it. */
const NO_USAGE_DRIFT = {
  usageUsersChecked: 2,
  usageUsersDrifted: 0,
  usageTotalDriftCents: 0,
  usageDrifted: [],
};
const USAGE_LINES = 'usageUsersChecked     2\nusageUsersDrifted     0\nusageTotalDriftCents  0\n';

describe('reconcile', () => {
  it('no drift: the summary, exit 0', async () => {
    const res = await runWith(['reconcile'], {
      reconcileBalancesNow: {
        usersChecked: 3,
        usersDrifted: 0,
        totalDriftCents: 0,
        chainBreaks: 0,
        drifted: [],
        ...NO_USAGE_DRIFT,
      },
    });
    expect(res.error).toBeUndefined();
    expect(res.out).toBe(
      `usersChecked     3\nusersDrifted     0\ntotalDriftCents  0\nchainBreaks      0\n${USAGE_LINES}`,
    );
    expect(res.sent[0].query).toMatch(/usageDrifted \{ userId ledgerUsageCents consumedCents driftCents \}/);
  });

  it('usage drift: one line per user whose usage debits differ from their records, then exit 1', async () => {
    const summary = {
      usersChecked: 3,
      usersDrifted: 0,
      totalDriftCents: 0,
      chainBreaks: 0,
      drifted: [],
      usageUsersChecked: 3,
      usageUsersDrifted: 2,
      usageTotalDriftCents: 7,
      usageDrifted: [{ userId: 'u-1', ledgerUsageCents: 100, consumedCents: 95, driftCents: 5 }],
    };
    const res = await runWith(['reconcile'], { reconcileBalancesNow: summary });
    expect(res.out).toBe(
      'usersChecked     3\nusersDrifted     0\ntotalDriftCents  0\nchainBreaks      0\n' +
        'usageUsersChecked     3\nusageUsersDrifted     2\nusageTotalDriftCents  7\n' +
        'u-1 usage ledger 100 consumed 95 drift 5\n' +
        '(1 more user with usage drift not listed)\n',
    );
    expect(res.error?.exitCode).toBe(1);
    expect(res.error?.message).toBe(
      '2 users whose usage debits on the ledger differ from their consumed usage records (total drift 7 cents)',
    );
  });

  it('drift: one line per drifted user, then a failure (exit 1), also with --json', async () => {
    const summary = {
      usersChecked: 3,
      usersDrifted: 2,
      totalDriftCents: 150,
      chainBreaks: 0,
      drifted: [
        { userId: 'u-1', balanceCents: 1000, ledgerCents: 900, driftCents: 100 },
        { userId: 'u-2', balanceCents: 0, ledgerCents: -50, driftCents: 50 },
      ],
      ...NO_USAGE_DRIFT,
    };
    const res = await runWith(['reconcile'], { reconcileBalancesNow: summary });
    expect(res.out).toBe(
      'usersChecked     3\nusersDrifted     2\ntotalDriftCents  150\nchainBreaks      0\n' +
        'u-1 balance 1000 ledger 900 drift 100\n' +
        'u-2 balance 0 ledger -50 drift 50\n' +
        USAGE_LINES,
    );
    expect(res.error?.exitCode).toBe(1);
    expect(res.error?.message).toBe(
      '2 users with a balance that differs from the ledger (total drift 150 cents)',
    );
    const json = await runWith(['reconcile', '--json'], { reconcileBalancesNow: summary });
    expect(JSON.parse(json.out)).toEqual(summary);
    expect(json.error?.exitCode).toBe(1);
  });

  it('says how many drifted users the API did not list', async () => {
    const res = await runWith(['reconcile'], {
      reconcileBalancesNow: {
        usersChecked: 50,
        usersDrifted: 22,
        totalDriftCents: 2200,
        chainBreaks: 1,
        drifted: [{ userId: 'u-1', balanceCents: 100, ledgerCents: 0, driftCents: 100 }],
        ...NO_USAGE_DRIFT,
      },
    });
    expect(res.out).toMatch(
      /^u-1 balance 100 ledger 0 drift 100\n\(21 more drifted users not listed\)\nusageUsersChecked /m,
    );
    expect(res.error?.message).toMatch(/^22 users with a balance/);
  });
});

describe('aggregate', () => {
  const summary = {
    nodesSeen: 2,
    nodesSkipped: 0,
    nodesFailed: 0,
    filesRead: 1,
    recordsSeen: 3,
    recordsApplied: 2,
    recordsDuplicate: 0,
    recordsRejected: 1,
    centsDebited: 30,
    ignoredFiles: 3,
    ignoredFileList: [
      { path: 'nodes/node x/', reason: 'not a node directory name' },
      { path: 'nodes/n-1/usage_2026-11-23-1.otoml', reason: 'not named usage_<YYYY-MM-DD-HH>.otoml' },
    ],
    errors: [],
  };

  it('prints the ignored files with their reason after the counters, and how many are not listed', async () => {
    const res = await runWith(['aggregate', '--once'], { aggregateNow: summary });
    expect(res.error).toBeUndefined();
    expect(res.sent[0].query).toMatch(/ignoredFiles ignoredFileList \{ path reason \}/);
    expect(res.out).toMatch(/^centsDebited\s+30\nignoredFiles\s+3\nerrors\s+0\n/m);
    expect(res.out).toMatch(
      /\n {2}ignored nodes\/node x\/: not a node directory name\n {2}ignored nodes\/n-1\/usage_2026-11-23-1\.otoml: not named usage_<YYYY-MM-DD-HH>\.otoml\n {2}\(1 more ignored file not listed\)\n$/,
    );
    const json = await runWith(['aggregate', '--once', '--json'], { aggregateNow: summary });
    expect(JSON.parse(json.out)).toEqual(summary);
  });
});
