import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import {
  ALLOCATE_VM,
  allocate,
  createUser,
  poolOf,
  REFRESH_POOL,
  refreshPool,
  signUpUser,
  type TestUser,
} from './support/factories.ts';
import { graphql, member } from './support/graphql.ts';

const SET_QUOTA = graphql(`mutation($id: ID!, $q: Int!, $end: DateTime) {
  setUserQuota(userId: $id, vmQuota: $q, periodEnd: $end) { __typename ... on Error { code message } } }`);

const ADJUST = graphql(`mutation($input: AdjustBalanceInput!) {
  adjustBalance(input: $input) { __typename ... on Error { code message } } }`);

describe('allocation', () => {
  let db: TestDatabase;
  let api: ApiProcess;

  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startApi({
      databaseUrl: db.url,
      env: { VM_POOL_JSON: '[]' },
    });
  });
  afterAll(async () => {
    await api?.stop();
    await db?.drop();
  });

  it('copies cockpitUrl from the pool VM at allocation time and keeps it when the pool changes', async () => {
    await refreshPool(api, [{ id: 'c-1', name: 'C 1', cockpitUrl: 'https://cockpit.test/c-1' }]);
    const user = await createUser(api);
    const result = await allocate(api, user.token);
    expect(result).toMatchObject({
      __typename: 'AllocateVmSuccess',
      allocation: { cockpitUrl: 'https://cockpit.test/c-1', poolVm: { id: 'c-1' } },
    });
    await refreshPool(api, [{ id: 'c-1', name: 'C 1', cockpitUrl: 'https://elsewhere.test/new' }]);
    const pool = await api.admin(graphql('{ pool { id cockpitUrl allocated } }'));
    expect(pool.data.pool).toEqual([
      { id: 'c-1', cockpitUrl: 'https://elsewhere.test/new', allocated: true },
    ]);
    const me = await api.asUser(user.token, graphql('{ me { allocations { cockpitUrl } } }'));
    expect(me.data.me.allocations).toEqual([{ cockpitUrl: 'https://cockpit.test/c-1' }]);
  });

  it('a VM without cockpitUrl gives an allocation without one', async () => {
    await refreshPool(api, [{ id: 'n-1', name: 'N 1' }]);
    const user = await createUser(api);
    expect(await allocate(api, user.token)).toMatchObject({ allocation: { cockpitUrl: null } });
  });

  it('expires at the plan period end; without a plan, NO_ACTIVE_PLAN and nothing allocated', async () => {
    await refreshPool(api, poolOf(3, 'e'));
    const planned = await createUser(api);
    const periodEnd = new Date(Date.now() + 5 * 24 * 3600_000);
    periodEnd.setMilliseconds(0);
    const q = await api.admin(SET_QUOTA, { id: planned.id, q: 1, end: periodEnd.toISOString() });
    expect(q.data.setUserQuota.__typename).toBe('SetUserQuotaSuccess');
    const a = member(await allocate(api, planned.token), 'AllocateVmSuccess');
    expect(new Date(a.allocation.expiresAt).toISOString()).toBe(periodEnd.toISOString());

    const casual = await createUser(api, { plan: false });
    expect(await allocate(api, casual.token)).toMatchObject({
      __typename: 'NoActivePlanError',
      code: 'NO_ACTIVE_PLAN',
      periodEnd: null,
      message: 'You have no active plan: buy a plan (or ask an operator for a quota) to get a VM.',
    });
    expect(await db.query('select 1 from vm_allocation where user_id = $1', [casual.id])).toEqual([]);
  });

  it('refuses a user whose plan period has ended (NO_ACTIVE_PLAN, with the end)', async () => {
    await refreshPool(api, poolOf(3, 'p'));
    const user = await createUser(api);
    const ended = new Date(Date.now() - 1000).toISOString();
    await api.admin(SET_QUOTA, { id: user.id, q: 3, end: ended });
    expect(await allocate(api, user.token)).toMatchObject({
      __typename: 'NoActivePlanError',
      code: 'NO_ACTIVE_PLAN',
      periodEnd: ended,
    });
  });

  it('refuses a user whose balance is below zero (BALANCE_NEGATIVE) until credit brings it back', async () => {
    await refreshPool(api, poolOf(3, 'b'));
    const user = await createUser(api);
    const adjust = async (amountCents: number) =>
      api.admin(ADJUST, { input: { userId: user.id, amountCents, note: 'test usage beyond credit' } });
    expect((await adjust(-7)).data.adjustBalance.__typename).toBe('AdjustBalanceSuccess');
    expect(await allocate(api, user.token)).toMatchObject({
      __typename: 'BalanceNegativeError',
      code: 'BALANCE_NEGATIVE',
      balanceCents: -7,
      currency: 'EUR',
    });
    await adjust(7);
    expect(await allocate(api, user.token)).toMatchObject({ __typename: 'AllocateVmSuccess' });
  });

  it('a sign-up gets the SIGNUP_TRIAL period, or no plan when the trial is off', async () => {
    await refreshPool(api, poolOf(3, 't'));
    const trial = await signUpUser(api);
    const before = Date.now();
    const got = member(await allocate(api, trial.token), 'AllocateVmSuccess');
    // The test api offers 1 VM for 30 days (test/support/api.ts).
    const lifetime = new Date(got.allocation.expiresAt).getTime() - before;
    expect(lifetime).toBeGreaterThan(29 * 24 * 3600_000);
    expect(lifetime).toBeLessThanOrEqual(30 * 24 * 3600_000);

    const closed = await startApi({ databaseUrl: db.url, env: { VM_POOL_JSON: '[]', SIGNUP_TRIAL: 'off' } });
    try {
      const plain = await signUpUser(closed);
      expect(await allocate(closed, plain.token)).toMatchObject({ __typename: 'NoActivePlanError' });
    } finally {
      await closed.stop();
    }
  });

  it('setUserQuota validates its input and changes nothing on error', async () => {
    const user = await createUser(api);
    const bad = await api.admin(SET_QUOTA, { id: user.id, q: -1 });
    expect(bad.data.setUserQuota).toMatchObject({ __typename: 'ValidationError', code: 'BAD_USER_INPUT' });
    const missing = await api.admin(SET_QUOTA, { id: '00000000-0000-4000-8000-000000000000', q: 1 });
    expect(missing.data.setUserQuota).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    expect(await db.query('select vm_quota from users where id = $1', [user.id])).toEqual([{ vm_quota: 1 }]);
  });

  it('one user firing 20 concurrent allocations with quota 2 gets exactly 2', async () => {
    await refreshPool(api, poolOf(30, 'q'));
    const user = await createUser(api);
    await api.admin(SET_QUOTA, { id: user.id, q: 2, end: new Date(Date.now() + 3600_000).toISOString() });
    const results = await Promise.all(Array.from({ length: 20 }, () => allocate(api, user.token)));
    const ok = results.filter((r) => r.__typename === 'AllocateVmSuccess');
    expect(ok).toHaveLength(2);
    expect(results.filter((r) => r.__typename === 'QuotaExceededError')).toHaveLength(18);
    expect(
      await db.query(
        "select count(*)::int as n from vm_allocation where user_id = $1 and status = 'ACTIVE'",
        [user.id],
      ),
    ).toEqual([{ n: 2 }]);
  });

  it('answers POOL_EXHAUSTED when nothing is free', async () => {
    await refreshPool(api, [{ id: 'm-1', name: 'M', status: 'MAINTENANCE' }]);
    const user = await createUser(api);
    expect(await allocate(api, user.token)).toMatchObject({
      __typename: 'PoolExhaustedError',
      code: 'POOL_EXHAUSTED',
    });
  });
});

describe('allocation race across two API processes', () => {
  let db: TestDatabase;
  let apis: ApiProcess[];

  beforeAll(async () => {
    db = await createTestDatabase();
    const first = await startApi({
      databaseUrl: db.url,
      env: { VM_POOL_JSON: JSON.stringify(poolOf(50, 'race')) },
    });
    const second = await startApi({
      databaseUrl: db.url,
      adminSecret: first.adminSecret,
      env: { VM_POOL_JSON: JSON.stringify(poolOf(50, 'race')) },
    });
    apis = [first, second];
  });
  afterAll(async () => {
    await Promise.all((apis ?? []).map((a) => a.stop()));
    await db?.drop();
  });

  it('200 users at once against a pool of 50: exactly 50 succeed, 150 POOL_EXHAUSTED, no VM twice', async () => {
    const users: TestUser[] = [];
    for (let i = 0; i < 200; i += 20) {
      users.push(...(await Promise.all(Array.from({ length: 20 }, (_, j) => createUser(apis[(i + j) % 2])))));
    }
    const results = await Promise.all(users.map((u, i) => apis[i % 2].asUser(u.token, ALLOCATE_VM)));
    const types = results.map((r) => r.data?.allocateVm?.__typename ?? `error:${JSON.stringify(r.errors)}`);
    const count = (t: string) => types.filter((x) => x === t).length;
    expect(count('AllocateVmSuccess')).toBe(50);
    expect(count('PoolExhaustedError')).toBe(150);

    const vmIds = results
      .flatMap((r) => (r.data.allocateVm.__typename === 'AllocateVmSuccess' ? [r.data.allocateVm] : []))
      .map((a) => a.allocation.poolVm.id);
    expect(new Set(vmIds).size).toBe(50);
    expect(
      await db.query(
        "select pool_vm_id from vm_allocation where status = 'ACTIVE' group by pool_vm_id having count(*) > 1",
      ),
    ).toEqual([]);
    expect(await db.query("select count(*)::int as n from vm_allocation where status = 'ACTIVE'")).toEqual([
      { n: 50 },
    ]);
    expect(
      await db.query('select count(*)::int as n from pool_vm where active_allocation_id is not null'),
    ).toEqual([{ n: 50 }]);
    // Both processes served successful allocations.
    const perApi = [0, 1].map(
      (k) =>
        results.filter((r, i) => i % 2 === k && r.data.allocateVm.__typename === 'AllocateVmSuccess').length,
    );
    expect(perApi[0] + perApi[1]).toBe(50);
  });
});

describe('provisioners', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('with no provisioner, pool and allocation operations answer PROVISIONER_UNAVAILABLE with 503', async () => {
    const api = await startApi({ databaseUrl: db.url });
    try {
      const user = await createUser(api);
      for (const [query, asUser] of [
        [graphql('{ pool { id } }'), false],
        [graphql('mutation { refreshPool(input: { manifest: [] }) { __typename } }'), false],
        [graphql('mutation { allocateVm { __typename } }'), true],
      ] as const) {
        const res = asUser ? await api.asUser(user.token, query) : await api.admin(query);
        expect(res.status).toBe(503);
        expect(res.errors?.[0].extensions?.code).toBe('PROVISIONER_UNAVAILABLE');
        // What to set, never the contradictory "set PROVISIONER_DEMO=1" for a refresh.
        expect(res.errors?.[0].message).toMatch(/VM_POOL_FILE/);
      }
      // The manifest is validated first: its problems come back, not the 503.
      const bad = await api.admin(REFRESH_POOL, { input: { manifest: [{ id: 'x', status: 'GONE' }] } });
      expect(bad.status).toBe(200);
      expect(bad.data.refreshPool).toMatchObject({
        __typename: 'ValidationError',
        problems: [{ path: '[0].status', message: expect.stringMatching(/must be one of/) }],
      });
    } finally {
      await api.stop();
    }
  });

  it('PROVISIONER_DEMO=1 serves a fabricated pool; refresh is for the pool provisioner only', async () => {
    const api = await startApi({ databaseUrl: db.url, env: { PROVISIONER_DEMO: '1' } });
    try {
      const pool = await api.admin(graphql('{ pool { id } } '));
      expect(pool.data.pool.map((v: { id: string }) => v.id)).toContain('demo-vm-01');
      const status = await api.admin(graphql('{ provisioner { name isDemo } }'));
      expect(status.data.provisioner).toEqual({ name: 'demo', isDemo: true });
      const user = await createUser(api);
      expect(await allocate(api, user.token)).toMatchObject({
        __typename: 'AllocateVmSuccess',
        allocation: { poolVm: { id: 'demo-vm-01' } },
      });
      const refresh = await api.admin(REFRESH_POOL, { input: { manifest: [{ id: 'vm-1' }] } });
      expect(refresh.status).toBe(503);
      expect(refresh.errors?.[0].extensions?.code).toBe('PROVISIONER_UNAVAILABLE');
      // It names the provisioner that runs and the setting that gives a refreshable pool.
      const message = refresh.errors?.[0].message ?? '';
      expect(message).toMatch(/runs the demo provisioner \(PROVISIONER_DEMO=1\)/);
      expect(message).toMatch(/set VM_POOL_FILE to a pool manifest file/);
      expect(message).not.toMatch(/No provisioner is configured/);
      const bad = await api.admin(REFRESH_POOL, {
        input: { manifest: [{ id: 'x', cockpitUrl: 'ftp://x' }] },
      });
      expect(bad.data.refreshPool).toMatchObject({
        __typename: 'ValidationError',
        problems: [{ path: '[0].cockpitUrl', message: 'must be an http:// or https:// URL' }],
      });
      expect(
        (await api.admin(graphql('{ pool { id } }'))).data.pool.map((v: { id: string }) => v.id),
      ).not.toContain('vm-1');
    } finally {
      await api.stop();
    }
  });

  it('an invalid boot manifest stops the api with every problem listed', async () => {
    const { spawnTs } = await import('./support/process.ts');
    const proc = spawnTs('api/src/main.ts', [], {
      DATABASE_URL: db.url,
      ADMIN_SECRET: 'a-long-enough-admin-secret',
      API_PORT: '0',
      VM_POOL_JSON: JSON.stringify([{ id: 'x', cockpitUrl: 'ftp://nope' }, { id: 'x' }]),
    });
    expect(await proc.exited).toBe(1);
    const out = proc.lines.join('\n');
    expect(out).toMatch(/VM_POOL_JSON: \[0\]\.cockpitUrl: must be an http/);
    expect(out).toMatch(/VM_POOL_JSON: \[1\]\.id: duplicate id "x"/);
    expect(out).not.toMatch(/\n\s+at /);
  });

  it('bad configuration exits 1 with one line per problem', async () => {
    const { spawnTs } = await import('./support/process.ts');
    const proc = spawnTs('api/src/main.ts', [], {
      DATABASE_URL: 'mysql://x',
      ADMIN_SECRET: 'short',
      API_PORT: 'abc',
    });
    expect(await proc.exited).toBe(1);
    const out = proc.lines.join('\n');
    expect(out).toMatch(/DATABASE_URL: must be a postgres:\/\/ URL/);
    expect(out).toMatch(/ADMIN_SECRET: must be at least 16 characters/);
    expect(out).toMatch(/API_PORT/);
    expect(out).not.toContain('short');
  });

  it('a bad plan catalog or currency stops the api with every problem listed', async () => {
    const { spawnTs } = await import('./support/process.ts');
    const proc = spawnTs('api/src/main.ts', [], {
      DATABASE_URL: 'postgres://127.0.0.1:1/none',
      ADMIN_SECRET: 'a-long-enough-admin-secret',
      PLANS_JSON: JSON.stringify({
        plans: [{ code: 'x', name: 'X', vmQuota: 1, periodDays: 30, priceCents: -5 }],
        discounts: [{ periods: 0, percent: 5 }],
      }),
    });
    expect(await proc.exited).toBe(1);
    const out = proc.lines.join('\n');
    expect(out).toMatch(/PLANS_JSON: plans\.0\.priceCents/);
    expect(out).toMatch(/PLANS_JSON: discounts\.0\.periods/);

    const currency = spawnTs('api/src/main.ts', [], {
      DATABASE_URL: 'postgres://127.0.0.1:1/none',
      ADMIN_SECRET: 'a-long-enough-admin-secret',
      DEFAULT_CURRENCY: 'euro',
      PLANS_JSON: '[]',
      PLANS_FILE: 'examples/plans.json',
    });
    expect(await currency.exited).toBe(1);
    const lines = currency.lines.join('\n');
    expect(lines).toMatch(/DEFAULT_CURRENCY: must be a three-letter ISO 4217 code/);
    expect(lines).toMatch(/PLANS_JSON and PLANS_FILE are both set/);
  });
});
