import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { allocate, createUser, poolOf, type TestUser } from './support/factories.ts';

let db: TestDatabase;
let api: ApiProcess;
let alice: TestUser;
let bob: TestUser;
let aliceAllocationId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startApi({ databaseUrl: db.url, env: { VM_POOL_JSON: JSON.stringify(poolOf(4)) } });
  alice = await createUser(api);
  bob = await createUser(api);
  const a = await allocate(api, alice.token);
  if (a.__typename !== 'AllocateVmSuccess') throw new Error('setup allocation failed');
  aliceAllocationId = (a as any).allocation.id;
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

/** Every admin operation of the schema, with arguments that would work. */
const ADMIN_OPERATIONS: [string, string, () => Record<string, unknown>][] = [
  ['pool', '{ pool { id } }', () => ({})],
  ['users', '{ users { edges { node { id email } } } }', () => ({})],
  ['allocations', '{ allocations { edges { node { id } } } }', () => ({})],
  ['provisioner', '{ provisioner { name } }', () => ({})],
  [
    'refreshPool',
    'mutation($m: JSON) { refreshPool(input: { manifest: $m }) { __typename } }',
    () => ({ m: poolOf(4) }),
  ],
  [
    'createUser',
    'mutation($e: String!) { createUser(input: { email: $e, displayName: "X" }) { __typename } }',
    () => ({ e: `gate-${Math.random().toString(36).slice(2)}@example.org` }),
  ],
  [
    'setUserQuota',
    'mutation($id: ID!) { setUserQuota(userId: $id, vmQuota: 1) { __typename } }',
    () => ({ id: bob.id }),
  ],
  [
    'releaseAllocation',
    'mutation($id: ID!) { releaseAllocation(id: $id, reason: ADMIN) { __typename } }',
    () => ({ id: '00000000-0000-4000-8000-000000000000' }),
  ],
  ['billing', '{ billing { edges { node { creditBalanceCents } } } }', () => ({})],
  ['payments', '{ payments { edges { node { id } } } }', () => ({})],
  ['ledger', '{ ledger { edges { node { id } } } }', () => ({})],
  ['overview', '{ overview { totalUsers ledger { usersDrifted } } }', () => ({})],
  [
    'recordPayment',
    'mutation($id: ID!) { recordPayment(input: { userId: $id, amountCents: 100, currency: "EUR" }) { __typename } }',
    () => ({ id: bob.id }),
  ],
  [
    'refundPayment',
    'mutation { refundPayment(input: { paymentId: "00000000-0000-4000-8000-000000000000" }) { __typename } }',
    () => ({}),
  ],
  [
    'adjustBalance',
    'mutation($id: ID!) { adjustBalance(input: { userId: $id, amountCents: 1, note: "gate" }) { __typename } }',
    () => ({ id: bob.id }),
  ],
  ['reconcileBalancesNow', 'mutation { reconcileBalancesNow { usersChecked } }', () => ({})],
];

describe('admin gating', () => {
  it.each(ADMIN_OPERATIONS)(
    '%s: missing secret 401, wrong secret 403, user token 401, right secret works',
    async (_name, query, vars) => {
      const missing = await api.gql(query, vars());
      expect(missing.status).toBe(401);
      expect(missing.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
      expect(missing.data).toBeNull();

      const wrong = await api.gql(query, vars(), { 'x-admin-secret': `${api.adminSecret}x` });
      expect(wrong.status).toBe(403);
      expect(wrong.errors?.[0].extensions?.code).toBe('FORBIDDEN');
      expect(wrong.data).toBeNull();

      const asUser = await api.asUser(alice.token, query, vars());
      expect(asUser.status).toBe(401);
      expect(asUser.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
      expect(asUser.data).toBeNull();

      const right = await api.admin(query, vars());
      expect(right.status).toBe(200);
      expect(right.errors).toBeUndefined();
      expect(right.data).not.toBeNull();
    },
  );

  it('a wrong secret changes nothing', async () => {
    const before = await db.query('select count(*)::int as n from users');
    await api.gql(
      'mutation { createUser(input: { email: "sneaky@example.org", displayName: "S" }) { __typename } }',
      {},
      { 'x-admin-secret': 'not-the-secret-at-all' },
    );
    expect(await db.query('select count(*)::int as n from users')).toEqual(before);
  });
});

describe('user access', () => {
  it('user operations need a valid bearer token', async () => {
    for (const query of ['{ me { id } }', 'mutation { allocateVm { __typename } }']) {
      const none = await api.gql(query);
      expect(none.status).toBe(401);
      expect(none.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
      const bad = await api.gql(query, {}, { authorization: 'Bearer hero_not-a-real-token' });
      expect(bad.status).toBe(401);
      expect(bad.errors?.[0].message).toMatch(/invalid or revoked/);
    }
  });

  it("a user sees only their own allocations and cannot release another user's", async () => {
    const bobsView = await api.asUser(bob.token, '{ me { id allocations { id } } }');
    expect(bobsView.data.me).toEqual({ id: bob.id, allocations: [] });

    const res = await api.asUser(
      bob.token,
      'mutation($id: ID!) { releaseMyAllocation(id: $id) { __typename ... on Error { code } } }',
      { id: aliceAllocationId },
    );
    expect(res.data.releaseMyAllocation).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    const [row] = await db.query('select status, released_at from vm_allocation where id = $1', [
      aliceAllocationId,
    ]);
    expect(row).toEqual({ status: 'ACTIVE', released_at: null });
    expect(await db.query('select count(*)::int as n from outbox')).toEqual([{ n: 0 }]);

    const alicesView = await api.asUser(alice.token, '{ me { allocations { id status } } }');
    expect(alicesView.data.me.allocations).toEqual([{ id: aliceAllocationId, status: 'ACTIVE' }]);
  });

  it('a garbage allocation id reads as not found', async () => {
    const res = await api.asUser(
      alice.token,
      'mutation { releaseMyAllocation(id: "not-a-uuid") { __typename ... on Error { code message } } }',
    );
    expect(res.data.releaseMyAllocation.code).toBe('NOT_FOUND');
  });
});
