import { type Operation, sourceOf } from '@hero/graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { ADMIN_SIGN_IN, allocate, createUser, poolOf, type TestUser } from './support/factories.ts';
import { graphql, member } from './support/graphql.ts';

let db: TestDatabase;
let api: ApiProcess;
let alice: TestUser;
let bob: TestUser;
let aliceAllocationId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  // X-Forwarded-For from the test (127.0.0.1) names the client: two addresses can be simulated.
  api = await startApi({
    databaseUrl: db.url,
    env: { VM_POOL_JSON: JSON.stringify(poolOf(4)), TRUSTED_PROXIES: '127.0.0.1' },
  });
  alice = await createUser(api);
  bob = await createUser(api);
  const a = await allocate(api, alice.token);
  if (a.__typename !== 'AllocateVmSuccess') throw new Error('setup allocation failed');
  aliceAllocationId = a.allocation.id;
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

/** Every admin operation of the schema, with arguments that would work. */
const ADMIN_OPERATIONS: [string, Operation, () => Record<string, unknown>][] = [
  ['pool', graphql('{ pool { id } }'), () => ({})],
  ['users', graphql('{ users { edges { node { id email } } } }'), () => ({})],
  ['allocations', graphql('{ allocations { edges { node { id } } } }'), () => ({})],
  ['provisioner', graphql('{ provisioner { name } }'), () => ({})],
  [
    'refreshPool',
    graphql('mutation($m: JSON) { refreshPool(input: { manifest: $m }) { __typename } }'),
    () => ({ m: poolOf(4) }),
  ],
  [
    'createUser',
    graphql('mutation($e: String!) { createUser(input: { email: $e, displayName: "X" }) { __typename } }'),
    () => ({ e: `gate-${Math.random().toString(36).slice(2)}@example.org` }),
  ],
  [
    'setUserQuota',
    graphql('mutation($id: ID!) { setUserQuota(userId: $id, vmQuota: 1) { __typename } }'),
    () => ({ id: bob.id }),
  ],
  [
    'releaseAllocation',
    graphql('mutation($id: ID!) { releaseAllocation(id: $id, reason: ADMIN) { __typename } }'),
    () => ({ id: '00000000-0000-4000-8000-000000000000' }),
  ],
  [
    'extendAllocation',
    graphql(
      'mutation($id: ID!, $at: DateTime!) { extendAllocation(id: $id, expiresAt: $at, reason: "gate") { __typename } }',
    ),
    () => ({ id: '00000000-0000-4000-8000-000000000000', at: '2030-01-01T00:00:00Z' }),
  ],
  [
    'VmAllocation.extensions',
    graphql('{ allocations(first: 1) { edges { node { extensions { reason } } } } }'),
    () => ({}),
  ],
  ['billing', graphql('{ billing { edges { node { creditBalanceCents } } } }'), () => ({})],
  ['payments', graphql('{ payments { edges { node { id } } } }'), () => ({})],
  ['ledger', graphql('{ ledger { edges { node { id } } } }'), () => ({})],
  ['overview', graphql('{ overview { totalUsers ledger { usersDrifted } } }'), () => ({})],
  [
    'recordPayment',
    graphql(
      'mutation($id: ID!) { recordPayment(input: { userId: $id, amountCents: 100, currency: "EUR" }) { __typename } }',
    ),
    () => ({ id: bob.id }),
  ],
  [
    'refundPayment',
    graphql(
      'mutation { refundPayment(input: { paymentId: "00000000-0000-4000-8000-000000000000" }) { __typename } }',
    ),
    () => ({}),
  ],
  [
    'adjustBalance',
    graphql(
      'mutation($id: ID!) { adjustBalance(input: { userId: $id, amountCents: 1, note: "gate" }) { __typename } }',
    ),
    () => ({ id: bob.id }),
  ],
  ['reconcileBalancesNow', graphql('mutation { reconcileBalancesNow { usersChecked } }'), () => ({})],
  [
    'createUserApiToken',
    graphql('mutation($id: ID!) { createUserApiToken(userId: $id, name: "gate") { __typename } }'),
    () => ({ id: bob.id }),
  ],
  [
    'revokeUserApiToken',
    graphql('mutation($id: ID!) { revokeUserApiToken(userId: $id, id: $id) { __typename } }'),
    () => ({ id: bob.id }),
  ],
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
      graphql(
        'mutation { createUser(input: { email: "sneaky@example.org", displayName: "S" }) { __typename } }',
      ),
      {},
      { 'x-admin-secret': 'not-the-secret-at-all' },
    );
    expect(await db.query('select count(*)::int as n from users')).toEqual(before);
  });
});

describe('user access', () => {
  it('user operations need a valid bearer token', async () => {
    for (const query of [graphql('{ me { id } }'), graphql('mutation { allocateVm { __typename } }')]) {
      const none = await api.gql(query);
      expect(none.status).toBe(401);
      expect(none.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
      const bad = await api.gql(query, {}, { authorization: 'Bearer hero_not-a-real-token' });
      expect(bad.status).toBe(401);
      expect(bad.errors?.[0].message).toMatch(/invalid or revoked/);
    }
  });

  it("a user sees only their own allocations and cannot release another user's", async () => {
    const bobsView = await api.asUser(bob.token, graphql('{ me { id allocations { id } } }'));
    expect(bobsView.data.me).toEqual({ id: bob.id, allocations: [] });

    const res = await api.asUser(
      bob.token,
      graphql('mutation($id: ID!) { releaseMyAllocation(id: $id) { __typename ... on Error { code } } }'),
      { id: aliceAllocationId },
    );
    expect(res.data.releaseMyAllocation).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    const [row] = await db.query('select status, released_at from vm_allocation where id = $1', [
      aliceAllocationId,
    ]);
    expect(row).toEqual({ status: 'ACTIVE', released_at: null });
    expect(
      await db.query("select count(*)::int as n from outbox where payload->>'allocationId' = $1", [
        aliceAllocationId,
      ]),
    ).toEqual([{ n: 0 }]);

    const alicesView = await api.asUser(alice.token, graphql('{ me { allocations { id status } } }'));
    expect(alicesView.data.me.allocations).toEqual([{ id: aliceAllocationId, status: 'ACTIVE' }]);
  });

  it('a garbage allocation id reads as not found', async () => {
    const res = await api.asUser(
      alice.token,
      graphql(
        'mutation { releaseMyAllocation(id: "not-a-uuid") { __typename ... on Error { code message } } }',
      ),
    );
    expect(member(res.data.releaseMyAllocation, 'NotFoundError').code).toBe('NOT_FOUND');
  });
});

describe('wrong admin secrets are rate-limited per client address', () => {
  const USERS = graphql('{ users { edges { cursor } } }');

  /** POST /graphql from `ip` (X-Forwarded-For via the trusted 127.0.0.1); status, headers, body. */
  async function from(ip: string, headers: Record<string, string>, query: Operation = USERS, variables = {}) {
    const res = await fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': ip, ...headers },
      body: JSON.stringify({ query: sourceOf(query), variables }),
    });
    return {
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      body: (await res.json()) as any,
    };
  }

  it('300 wrong secrets from one address: 403 up to AUTH_RATE_LIMIT_IP (30), then 429 with Retry-After; other addresses are not affected', async () => {
    const attacker = '203.0.113.66';
    const elsewhere = '198.51.100.7';
    const statuses: number[] = [];
    for (let i = 0; i < 300; i++) {
      const res = await from(attacker, { 'x-admin-secret': `wrong-secret-number-${i}` });
      statuses.push(res.status);
      if (res.status === 429) {
        const seconds = Number(res.retryAfter);
        expect(Number.isInteger(seconds) && seconds >= 1 && seconds <= 900, String(res.retryAfter)).toBe(
          true,
        );
        expect(res.body.errors).toEqual([
          {
            message: `Too many attempts: try again in ${seconds} seconds`,
            extensions: { code: 'RATE_LIMITED', retryAfterSeconds: seconds },
          },
        ]);
      } else {
        expect(res.body.errors[0].extensions.code).toBe('FORBIDDEN');
      }
      // Meanwhile the right secret from another address works as ever.
      if (i % 60 === 59) {
        const right = await from(elsewhere, { 'x-admin-secret': api.adminSecret });
        expect(right.status).toBe(200);
        expect(right.body.errors).toBeUndefined();
      }
    }
    expect(statuses.slice(0, 30)).toEqual(Array(30).fill(403));
    expect(statuses.slice(30)).toEqual(Array(270).fill(429));
    const [row] = await db.query<{ attempts: number }>(
      'select attempts from auth_rate_limit where bucket = $1 order by window_start desc limit 1',
      [`ip:${attacker}`],
    );
    expect(row.attempts).toBe(300);

    // The right secret from the limited address is refused too (a lucky guess is not told apart),
    // and is not counted; adminSignIn shares the bucket.
    const lucky = await from(attacker, { 'x-admin-secret': api.adminSecret });
    expect(lucky.status).toBe(429);
    expect(lucky.body.errors[0].extensions.code).toBe('RATE_LIMITED');
    const signIn = await from(attacker, {}, ADMIN_SIGN_IN, { secret: api.adminSecret });
    expect(signIn.body.data.adminSignIn.code).toBe('RATE_LIMITED');
    expect(
      (await db.query('select attempts from auth_rate_limit where bucket = $1', [`ip:${attacker}`]))[0],
    ).toEqual({ attempts: 301 });

    // No secret at all, or an admin session opened elsewhere: the limited address is not shut out.
    expect((await from(attacker, {}, graphql('{ passwordRules { minLength } }'))).status).toBe(200);
    const session = (await from(elsewhere, {}, ADMIN_SIGN_IN, { secret: api.adminSecret })).body.data
      .adminSignIn.session.token as string;
    const viaSession = await from(attacker, { authorization: `Bearer ${session}` });
    expect(viaSession.status).toBe(200);
    expect(viaSession.body.data.users.edges.length).toBeGreaterThan(0);

    // The right secret does not count: another address using it all along is never limited.
    for (let i = 0; i < 40; i++)
      expect((await from(elsewhere, { 'x-admin-secret': api.adminSecret })).status).toBe(200);
  });
});

describe('wrong admin secrets over HTTP Basic (GraphiQL in production) count the same', () => {
  let prod: ApiProcess;
  beforeAll(async () => {
    prod = await startApi({
      databaseUrl: db.url,
      env: { NODE_ENV: 'production', AUTH_RATE_LIMIT_IP: '3', TRUSTED_PROXIES: '127.0.0.1' },
    });
  });
  afterAll(async () => {
    await prod?.stop();
  });

  const page = (ip: string, password: string) =>
    fetch(`${prod.url}/graphql`, {
      headers: {
        accept: 'text/html',
        'x-forwarded-for': ip,
        authorization: `Basic ${Buffer.from(`operator:${password}`).toString('base64')}`,
      },
    });

  it('3 wrong passwords answer 401, the 4th 429; the right one from that address too, from another the page', async () => {
    const guesser = '203.0.113.90';
    for (let i = 0; i < 3; i++) {
      const res = await page(guesser, `guess-${i}`);
      expect(res.status).toBe(401);
      await res.body?.cancel();
    }
    const limited = await page(guesser, 'guess-3');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    await limited.body?.cancel();
    const lucky = await page(guesser, prod.adminSecret);
    expect(lucky.status).toBe(429);
    await lucky.body?.cancel();
    const other = await page('198.51.100.90', prod.adminSecret);
    expect(other.status).toBe(200);
    expect(await other.text()).toContain('hero-onboarding GraphiQL');
  });
});
