import { describe, expect, it } from 'vitest';
import { runWith } from '../testing.ts';

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
    expect(res.sent[0].query).toMatch(
      /usageDrifted \{\s+userId\s+user \{\s+email\s+\}\s+ledgerUsageCents\s+consumedCents\s+driftCents\s+\}/,
    );
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
      usageDrifted: [
        {
          userId: 'u-1',
          user: { email: 'ada@example.org' },
          ledgerUsageCents: 100,
          consumedCents: 95,
          driftCents: 5,
        },
      ],
    };
    const res = await runWith(['reconcile'], { reconcileBalancesNow: summary });
    expect(res.out).toBe(
      'usersChecked     3\nusersDrifted     0\ntotalDriftCents  0\nchainBreaks      0\n' +
        'usageUsersChecked     3\nusageUsersDrifted     2\nusageTotalDriftCents  7\n' +
        'u-1 (ada@example.org) usage ledger 100 consumed 95 drift 5\n' +
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
        {
          userId: 'u-1',
          user: { email: 'ada@example.org' },
          balanceCents: 1000,
          ledgerCents: 900,
          driftCents: 100,
        },
        // a user row no longer there: the id alone
        { userId: 'u-2', user: null, balanceCents: 0, ledgerCents: -50, driftCents: 50 },
      ],
      ...NO_USAGE_DRIFT,
    };
    const res = await runWith(['reconcile'], { reconcileBalancesNow: summary });
    expect(res.out).toBe(
      'usersChecked     3\nusersDrifted     2\ntotalDriftCents  150\nchainBreaks      0\n' +
        'u-1 (ada@example.org) balance 1000 ledger 900 drift 100\n' +
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
        drifted: [
          {
            userId: 'u-1',
            user: { email: 'ada@example.org' },
            balanceCents: 100,
            ledgerCents: 0,
            driftCents: 100,
          },
        ],
        ...NO_USAGE_DRIFT,
      },
    });
    expect(res.out).toMatch(
      /^u-1 \(ada@example\.org\) balance 100 ledger 0 drift 100\n\(21 more drifted users not listed\)\nusageUsersChecked /m,
    );
    expect(res.error?.message).toMatch(/^22 users with a balance/);
  });
});
