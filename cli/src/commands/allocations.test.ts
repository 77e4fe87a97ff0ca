import { describe, expect, it } from 'vitest';
import { runWith, tableRows, usageError } from '../testing.ts';

/** allocations extend against a stub client (end to end against a real api: test/cli.test.ts). */
describe('allocations extend', () => {
  const argv = ['allocations', 'extend', '--allocation', 'a-1', '--until', '2026-12-24T19:00:00+01:00'];

  it('sends the end in UTC and the reason, and prints the new and previous end', async () => {
    const res = await runWith([...argv, '--reason', 'goodwill'], {
      extendAllocation: {
        __typename: 'ExtendAllocationSuccess',
        result: {
          allocation: {
            id: 'a-1',
            userId: 'u-1',
            user: { email: 'ada@example.org' },
            poolVm: { id: 'vm-1' },
            status: 'ACTIVE',
            expiresAt: '2026-12-24T18:00:00.000Z',
          },
          extension: {
            id: 'x-1',
            previousExpiresAt: '2026-12-20T18:00:00.000Z',
            expiresAt: '2026-12-24T18:00:00.000Z',
            reason: 'goodwill',
            createdAt: '2026-12-03T10:00:00.000Z',
          },
        },
      },
    });
    expect(res.error).toBeUndefined();
    expect(res.sent[0].variables).toEqual({
      id: 'a-1',
      expiresAt: '2026-12-24T18:00:00.000Z',
      reason: 'goodwill',
    });
    expect(res.out).toMatch(/^user\s+u-1 \(ada@example\.org\)$/m);
    expect(res.out).toMatch(/^expires at\s+2026-12-24 18:00:00Z$/m);
    expect(res.out).toMatch(/^was\s+2026-12-20 18:00:00Z$/m);
  });

  it('a refused extension fails with the code and the message', async () => {
    const res = await runWith([...argv, '--reason', 'late'], {
      extendAllocation: {
        __typename: 'AllocationNotActiveError',
        code: 'ALLOCATION_NOT_ACTIVE',
        message: 'Allocation a-1 was released',
      },
    });
    expect(res.error?.exitCode).toBe(1);
    expect(res.error?.message).toBe(
      'the allocation was not extended: ALLOCATION_NOT_ACTIVE: Allocation a-1 was released',
    );
  });
});

describe('allocations list', () => {
  const ID = '0b7e3c2a-5d4f-4e6a-9c1b-2f3e4d5a6b7c';
  const allocation = {
    id: 'a-1',
    userId: ID,
    user: { email: 'ada@example.org' },
    poolVm: { id: 'vm-1' },
    provisioner: 'static',
    status: 'ACTIVE',
    allocatedAt: '2026-12-01T10:00:00.000Z',
    expiresAt: '2026-12-31T10:00:00.000Z',
    releasedAt: null,
    releaseReason: null,
    cockpitUrl: null,
  };

  it("--user by email filters by the user's id; each row shows the email and the id", async () => {
    const res = await runWith(
      ['allocations', 'list', '--user', 'ada@example.org'],
      { users: { edges: [{ node: { id: ID, email: 'ada@example.org' } }] } },
      { allocations: { edges: [{ node: allocation }], pageInfo: { hasNextPage: false, endCursor: null } } },
    );
    expect(res.error).toBeUndefined();
    expect(res.sent[1].variables).toMatchObject({ userId: ID, status: null });
    const rows = tableRows(res.out);
    expect(rows[0].slice(0, 4)).toEqual(['ID', 'USER EMAIL', 'USER ID', 'POOL VM']);
    expect(rows[1].slice(0, 4)).toEqual(['a-1', 'ada@example.org', ID, 'vm-1']);
    const json = await runWith(['allocations', 'list', '--json'], {
      allocations: { edges: [{ node: allocation }], pageInfo: { hasNextPage: false, endCursor: null } },
    });
    expect(JSON.parse(json.out)[0]).toMatchObject({ userId: ID, user: { email: 'ada@example.org' } });
  });
});

describe('allocations release', () => {
  const released = {
    id: 'a-1',
    userId: 'u-1',
    user: { email: 'ada@example.org' },
    poolVm: { id: 'vm-1' },
    status: 'RELEASED',
    allocatedAt: '2026-12-01T10:00:00.000Z',
    expiresAt: '2026-12-31T10:00:00.000Z',
    releasedAt: '2026-12-03T10:00:00.000Z',
    releaseReason: 'ADMIN',
  };

  it('sends the id and prints the allocation as the API answers it', async () => {
    const res = await runWith(['allocations', 'release', '--allocation', ' a-1 '], {
      releaseAllocation: { __typename: 'ReleaseAllocationSuccess', allocation: released },
    });
    expect(res.error).toBeUndefined();
    expect(res.sent[0].variables).toEqual({ id: 'a-1' });
    expect(res.out).toMatch(/^status\s+RELEASED$/m);
    expect(res.out).toMatch(/^released at\s+2026-12-03 10:00:00Z$/m);
    expect(res.out).toMatch(/^reason\s+ADMIN$/m);
    const json = await runWith(['allocations', 'release', '--allocation', 'a-1', '--json'], {
      releaseAllocation: { __typename: 'ReleaseAllocationSuccess', allocation: released },
    });
    expect(JSON.parse(json.out)).toEqual(released);
  });

  it('an unknown allocation exits 1 with NOT_FOUND; no --allocation is a usage error', async () => {
    const res = await runWith(['allocations', 'release', '--allocation', 'nope'], {
      releaseAllocation: {
        __typename: 'NotFoundError',
        code: 'NOT_FOUND',
        message: 'Allocation nope not found',
      },
    });
    expect(res.error?.exitCode).toBe(1);
    expect(res.error?.message).toBe('the allocation was not released: NOT_FOUND: Allocation nope not found');
    expect(usageError(['allocations', 'release'])).toMatch(/--allocation <allocationId> is required/);
  });
});
