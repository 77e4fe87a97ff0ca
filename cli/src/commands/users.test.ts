import { describe, expect, it } from 'vitest';
import { runWith, tableRows, usageError } from '../testing.ts';

/** The users commands against a stub client (end to end against a real api: test/cli.test.ts). */

const ID = '0b7e3c2a-5d4f-4e6a-9c1b-2f3e4d5a6b7c';
const byEmail = { users: { edges: [{ node: { id: ID, email: 'ada@example.org' } }] } };
const noneByEmail = { users: { edges: [] } };

describe('users list', () => {
  const user = {
    id: ID,
    email: 'ada@example.org',
    displayName: 'Ada',
    status: 'ACTIVE',
    emailVerified: true,
    vmQuota: 2,
    vmQuotaPeriodEnd: '2026-12-31T23:59:59.000Z',
    createdAt: '2026-12-01T10:00:00.000Z',
    billing: { creditBalanceCents: -150, currency: 'EUR' },
  };

  it('sends the search, follows pages up to --limit and prints one row per user', async () => {
    const res = await runWith(
      ['users', 'list', '--search', ' ada ', '--limit', '150'],
      {
        users: {
          edges: Array.from({ length: 100 }, () => ({ node: user })),
          pageInfo: { hasNextPage: true, endCursor: 'c100' },
        },
      },
      {
        users: {
          edges: [{ node: { ...user, emailVerified: false, vmQuotaPeriodEnd: null } }],
          pageInfo: { hasNextPage: false, endCursor: 'c101' },
        },
      },
    );
    expect(res.error).toBeUndefined();
    expect(res.sent.map((s) => s.variables)).toEqual([
      { search: 'ada', status: null, first: 100, after: null },
      { search: 'ada', status: null, first: 50, after: 'c100' },
    ]);
    const table = tableRows(res.out);
    expect(table).toHaveLength(102);
    expect(table[0]).toEqual([
      'ID',
      'EMAIL',
      'STATUS',
      'EMAIL VERIFIED',
      'BALANCE',
      'VM QUOTA',
      'PERIOD END',
      'CREATED',
    ]);
    expect(table[1]).toEqual([
      ID,
      'ada@example.org',
      'ACTIVE',
      'yes',
      '-150 (-1.50 EUR)',
      '2',
      '2026-12-31 23:59:59Z',
      '2026-12-01 10:00:00Z',
    ]);
    expect(table[101].slice(3, 7)).toEqual(['no', '-150 (-1.50 EUR)', '2', '-']);
  });

  it('without a search sends none; no match prints so; --json prints the users', async () => {
    const empty = await runWith(['users', 'list', '--search', 'zz'], {
      users: { edges: [], pageInfo: { hasNextPage: false, endCursor: null } },
    });
    expect(empty.out).toBe('no users match\n');
    const json = await runWith(['users', 'list', '--json'], {
      users: { edges: [{ node: user }], pageInfo: { hasNextPage: false, endCursor: null } },
    });
    expect(json.sent[0].variables).toEqual({ search: null, status: null, first: 50, after: null });
    expect(JSON.parse(json.out)).toEqual([user]);
  });

  it('--status sends the status, in any case; none of that status prints so', async () => {
    const res = await runWith(['users', 'list', '--status', 'suspended'], {
      users: { edges: [], pageInfo: { hasNextPage: false, endCursor: null } },
    });
    expect(res.error).toBeUndefined();
    expect(res.sent[0].variables).toEqual({ search: null, status: 'SUSPENDED', first: 50, after: null });
    expect(res.out).toBe('no users match\n');
  });

  it('a blank search or a bad limit is a usage error', () => {
    expect(usageError(['users', 'list', '--search', ' '])).toMatch(/--search <text> is required/);
    expect(usageError(['users', 'list', '--limit', '0'])).toMatch(/--limit must be a positive whole number/);
    expect(usageError(['users', 'list', '--status', 'frozen'])).toMatch(
      /--status must be one of ACTIVE, SUSPENDED, DELETED \(got "frozen"\)/,
    );
  });
});

describe('users show', () => {
  const user = {
    id: ID,
    email: 'ada@example.org',
    displayName: 'Ada',
    status: 'SUSPENDED',
    suspendedAt: '2026-12-02T09:00:00.000Z',
    suspendedReason: 'chargeback',
    deletedAt: null,
    emailVerified: false,
    createdAt: '2026-12-01T10:00:00.000Z',
    activeSessions: 0,
    vmQuota: 1,
    vmQuotaPeriodEnd: '2026-12-31T23:59:59.000Z',
    billing: { creditBalanceCents: 1250, currency: 'EUR' },
    allocations: [{ id: 'a-1', poolVm: { id: 'vm-1' }, expiresAt: '2026-12-31T23:59:59.000Z' }],
  };

  it('looks the email up, asks for that id, and prints the user and the active VMs', async () => {
    const res = await runWith(['users', 'show', '--user', 'Ada@Example.org'], byEmail, { user });
    expect(res.error).toBeUndefined();
    expect(res.sent.map((s) => s.variables)).toEqual([{ email: 'ada@example.org' }, { id: ID }]);
    expect(res.out).toMatch(/^status {2,}SUSPENDED$/m);
    expect(res.out).toMatch(/^reason {2,}chargeback$/m);
    expect(res.out).toMatch(/^email verified {2,}no$/m);
    expect(res.out).toMatch(/^balance {2,}1250 \(12\.50 EUR\)$/m);
    expect(res.out).toMatch(/^vm quota {2,}1$/m);
    expect(res.out).toMatch(/^period end {2,}2026-12-31 23:59:59Z$/m);
    expect(res.out).toMatch(/^active vms {2,}1$/m);
    expect(res.out).toMatch(/^a-1 {2,}vm-1 {2,}2026-12-31 23:59:59Z$/m);
    expect(res.out).not.toMatch(/^deleted at/m);
  });

  it('an id the API does not know exits 1 naming it; an unknown email before asking', async () => {
    const unknown = await runWith(['users', 'show', '--user', ID], { user: null });
    expect(unknown.error?.exitCode).toBe(1);
    expect(unknown.error?.message).toBe(`no user with the id ${ID}`);
    expect(unknown.out).toBe('');
    const noEmail = await runWith(['users', 'show', '--user', 'nobody@example.org'], noneByEmail);
    expect(noEmail.error?.message).toBe('no user with the email nobody@example.org');
    expect(noEmail.sent).toHaveLength(1);
  });

  it('--json prints the user as the API answered it', async () => {
    const res = await runWith(['users', 'show', '--user', ID, '--json'], { user });
    expect(JSON.parse(res.out)).toEqual(user);
  });
});

describe('users set-quota', () => {
  const answer = (vmQuotaPeriodEnd: string | null) => ({
    setUserQuota: {
      __typename: 'SetUserQuotaSuccess',
      user: { id: ID, email: 'ada@example.org', vmQuota: 3, vmQuotaPeriodEnd },
    },
  });

  it('sends the quota and the period end in UTC, and prints them', async () => {
    const res = await runWith(
      [
        'users',
        'set-quota',
        '--user',
        'ada@example.org',
        '--quota',
        '3',
        '--until',
        '2027-01-01T01:00:00+01:00',
      ],
      byEmail,
      answer('2027-01-01T00:00:00.000Z'),
    );
    expect(res.error).toBeUndefined();
    expect(res.sent[1].variables).toEqual({ userId: ID, vmQuota: 3, periodEnd: '2027-01-01T00:00:00.000Z' });
    expect(res.out).toMatch(/^vm quota {2,}3$/m);
    expect(res.out).toMatch(/^period end {2,}2027-01-01 00:00:00Z$/m);
  });

  it('--clear sends a null period end; 0 is a quota', async () => {
    const res = await runWith(['users', 'set-quota', '--user', ID, '--quota', '0', '--clear'], answer(null));
    expect(res.sent[0].variables).toEqual({ userId: ID, vmQuota: 0, periodEnd: null });
    expect(res.out).toMatch(/^period end {2,}-$/m);
  });

  it('a refusal exits 1 with the code and its problems', async () => {
    const res = await runWith(['users', 'set-quota', '--user', ID, '--quota', '20000', '--clear'], {
      setUserQuota: {
        __typename: 'ValidationError',
        code: 'BAD_USER_INPUT',
        message: 'Invalid quota',
        problems: [{ path: 'vmQuota', message: 'must be a whole number from 0 to 10000' }],
      },
    });
    expect(res.error?.exitCode).toBe(1);
    expect(res.error?.message).toBe('the quota was not set: BAD_USER_INPUT (1 problem):');
    expect(res.error?.details).toEqual(['  vmQuota: must be a whole number from 0 to 10000']);
    const deleted = await runWith(['users', 'set-quota', '--user', ID, '--quota', '1', '--clear'], {
      setUserQuota: {
        __typename: 'AccountDeletedError',
        code: 'ACCOUNT_DELETED',
        message: 'The account is deleted',
      },
    });
    expect(deleted.error?.message).toBe('the quota was not set: ACCOUNT_DELETED: The account is deleted');
  });

  it('refuses a bad quota, a date without offset, and --until with --clear (or neither)', () => {
    const base = ['users', 'set-quota', '--user', ID];
    expect(usageError([...base, '--quota=-1', '--clear'])).toMatch(
      /--quota must be a whole number, 0 or more/,
    );
    expect(usageError([...base, '--quota', '1', '--until', '2027-01-01'])).toMatch(
      /--until must be an ISO 8601 date-time with its offset/,
    );
    expect(usageError([...base, '--quota', '1', '--until', '2027-01-01T00:00Z', '--clear'])).toMatch(
      /give --until <date-time> or --clear, not both/,
    );
    expect(usageError([...base, '--quota', '1'])).toMatch(/--until <date-time> or --clear is required/);
    expect(usageError(['users', 'set-quota', '--user', ID, '--clear'])).toMatch(/--quota <n> is required/);
  });
});
