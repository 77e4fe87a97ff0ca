import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { allocate, createUser, REFRESH_POOL, refreshPool } from './support/factories.ts';
import { graphql, member } from './support/graphql.ts';

let db: TestDatabase;
let api: ApiProcess;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startApi({ databaseUrl: db.url, env: { VM_POOL_JSON: '[]' } });
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

const poolIds = async () =>
  (await api.admin(graphql('{ pool { id status } }'))).data.pool as { id: string; status: string }[];

describe('refreshPool', () => {
  it('accepts a bare array and reports sizes and changes', async () => {
    const result = await refreshPool(api, [
      { id: 'a-1', name: 'A 1', host: '10.0.0.1', status: 'AVAILABLE', cockpitUrl: 'https://c.test/a-1' },
      { id: 'a-2', name: 'A 2', host: '10.0.0.2' },
    ]);
    expect(result).toEqual({ prevPoolSize: 0, poolSize: 2, added: ['a-1', 'a-2'], updated: [], retired: [] });
  });

  it('accepts { pool: [...] }, updates changed VMs only and retires unlisted ones', async () => {
    const result = await refreshPool(api, {
      pool: [
        { id: 'a-1', name: 'A 1', host: '10.0.0.1', status: 'AVAILABLE', cockpitUrl: 'https://c.test/a-1' },
        { id: 'a-3', name: 'A 3', ip: '10.0.0.3', region: 'eu' },
      ],
    });
    expect(result).toEqual({ prevPoolSize: 2, poolSize: 2, added: ['a-3'], updated: [], retired: ['a-2'] });
    expect(await poolIds()).toEqual([
      { id: 'a-1', status: 'AVAILABLE' },
      { id: 'a-2', status: 'RETIRED' },
      { id: 'a-3', status: 'AVAILABLE' },
    ]);
  });

  it('accepts the vms input form too', async () => {
    const res = await api.admin(REFRESH_POOL, {
      input: {
        vms: [
          { id: 'a-1', name: 'A 1 renamed', host: '10.0.0.1', cockpitUrl: 'https://c.test/a-1' },
          { id: 'a-3', name: 'A 3', host: '10.0.0.3', region: 'eu' },
        ],
      },
    });
    expect(member(res.data.refreshPool, 'RefreshPoolSuccess').result).toMatchObject({
      poolSize: 2,
      added: [],
      updated: ['a-1'],
      retired: [],
    });
  });

  it('refuses an invalid manifest whole, lists every problem, and leaves the pool unchanged', async () => {
    const before = await db.query('select * from pool_vm order by id');
    const res = await api.admin(REFRESH_POOL, {
      input: {
        manifest: [
          { id: 'b-1', name: 'ok' },
          { id: 'b-1', name: 'duplicate' },
          { id: 'b-2', cockpitUrl: 'javascript:alert(1)' },
          { id: 'b-3', status: 'BROKEN' },
          { id: 'b-4', colour: 'blue' },
        ],
      },
    });
    const result = member(res.data.refreshPool, 'ValidationError');
    expect(result.code).toBe('BAD_USER_INPUT');
    const paths = result.problems.map((p) => p.path);
    expect(paths).toEqual(['[1].id', '[2].cockpitUrl', '[3].status', '[4].colour']);
    expect(result.problems[0].message).toMatch(/duplicate id "b-1"/);
    expect(result.problems[1].message).toMatch(/http/);
    expect(result.problems[2].message).toMatch(/AVAILABLE/);
    expect(result.problems[3].message).toBe('unknown field');
    expect(await db.query('select * from pool_vm order by id')).toEqual(before);
  });

  it('refuses a manifest that is neither an array nor { pool }', async () => {
    const res = await api.admin(REFRESH_POOL, { input: { manifest: { vms: [] } } });
    expect(member(res.data.refreshPool, 'ValidationError').problems[0].message).toMatch(
      /unknown field\(s\): vms/,
    );
  });

  it('a RETIRED VM is never allocated again; its active allocation stays visible until released', async () => {
    await refreshPool(api, [{ id: 'r-1', name: 'R 1', cockpitUrl: 'https://c.test/r-1' }]);
    const user = await createUser(api);
    const first = await allocate(api, user.token);
    expect(first.__typename).toBe('AllocateVmSuccess');
    // Retire r-1 by leaving it out; add r-2 in maintenance: nothing is allocatable.
    const result = await refreshPool(api, [{ id: 'r-2', name: 'R 2', status: 'MAINTENANCE' }]);
    expect(result.retired).toContain('r-1');

    const mine = await api.asUser(
      user.token,
      graphql('{ me { allocations { status poolVm { id status } } } }'),
    );
    expect(mine.data.me.allocations).toEqual([
      { status: 'ACTIVE', poolVm: { id: 'r-1', status: 'RETIRED' } },
    ]);
    const listed = await api.admin(
      graphql('{ allocations(status: ACTIVE) { edges { node { poolVm { id } } } } }'),
    );
    expect(listed.data.allocations.edges.map((e) => e.node.poolVm.id)).toEqual(['r-1']);

    const other = await createUser(api);
    const second = await allocate(api, other.token);
    expect(second).toMatchObject({ __typename: 'PoolExhaustedError', code: 'POOL_EXHAUSTED' });

    // Released: the retired VM still never comes back.
    const id = member(first, 'AllocateVmSuccess').allocation.id;
    const rel = await api.asUser(
      user.token,
      graphql('mutation($id: ID!) { releaseMyAllocation(id: $id) { __typename } }'),
      { id },
    );
    expect(rel.data.releaseMyAllocation.__typename).toBe('ReleaseMyAllocationSuccess');
    expect((await allocate(api, other.token)).__typename).toBe('PoolExhaustedError');
  });
});

describe('pool provisioner status', () => {
  it('reports the provisioner and pool occupancy', async () => {
    const res = await api.admin(graphql('{ provisioner { name isDemo poolSize free allocated } }'));
    expect(res.data.provisioner).toEqual({ name: 'pool', isDemo: false, poolSize: 1, free: 0, allocated: 0 });
  });
});

describe('boot manifest', () => {
  it('an empty boot manifest leaves a pool managed through refreshPool as it is when the api restarts', async () => {
    const own = await createTestDatabase();
    const first = await startApi({ databaseUrl: own.url, env: { VM_POOL_JSON: '[]' } });
    try {
      await refreshPool(first, [{ id: 'kept-1' }, { id: 'kept-2' }]);
    } finally {
      await first.stop();
    }
    const second = await startApi({ databaseUrl: own.url, env: { VM_POOL_JSON: '[]' } });
    try {
      const pool = (await second.admin(graphql('{ pool { id status } }'))).data.pool;
      expect(pool).toEqual([
        { id: 'kept-1', status: 'AVAILABLE' },
        { id: 'kept-2', status: 'AVAILABLE' },
      ]);
      // A non-empty boot manifest is still reconciled at start-up.
      await second.stop();
      const third = await startApi({
        databaseUrl: own.url,
        env: { VM_POOL_JSON: JSON.stringify([{ id: 'kept-2' }]) },
      });
      const after = (await third.admin(graphql('{ pool { id status } }'))).data.pool;
      await third.stop();
      expect(after).toEqual([
        { id: 'kept-1', status: 'RETIRED' },
        { id: 'kept-2', status: 'AVAILABLE' },
      ]);
    } finally {
      await second.stop();
      await own.drop();
    }
  });
});

describe("the original system's manifest shape", () => {
  const file = (name: string) => path.resolve(import.meta.dirname, '..', name);
  const SEED_SHAPED = file('test/fixtures/pool-seed-shape.json');
  const CAMEL_CASE = file('examples/pool.json');
  const POOL = graphql('{ pool { id name host region status cockpitUrl } }');

  it('snake_case fields and statuses in any case load through refreshPool as their camelCase twin', async () => {
    const results = [];
    const pools = [];
    for (const manifest of [CAMEL_CASE, SEED_SHAPED]) {
      const own = await createTestDatabase();
      const fresh = await startApi({ databaseUrl: own.url, env: { VM_POOL_JSON: '[]' } });
      try {
        results.push(await refreshPool(fresh, JSON.parse(readFileSync(manifest, 'utf8'))));
        pools.push((await fresh.admin(POOL)).data.pool);
      } finally {
        await fresh.stop();
        await own.drop();
      }
    }
    expect(results[0]).toMatchObject({ prevPoolSize: 0, poolSize: 4, retired: [] });
    expect(results[1]).toEqual(results[0]);
    expect(pools[1]).toEqual(pools[0]);
    expect(pools[0]).toContainEqual({
      id: 'vm-eu-001',
      name: 'eu-west node 7 / vm 1',
      host: '10.20.7.11',
      region: 'eu-west',
      status: 'AVAILABLE',
      cockpitUrl: 'https://cockpit.node7.grid.example.net/vm-eu-001',
    });
    expect(pools[0]).toContainEqual(expect.objectContaining({ id: 'vm-eu-003', status: 'MAINTENANCE' }));
  });

  it('and through VM_POOL_FILE at boot', async () => {
    const pools = [];
    for (const manifest of [CAMEL_CASE, SEED_SHAPED]) {
      const own = await createTestDatabase();
      const booted = await startApi({ databaseUrl: own.url, env: { VM_POOL_FILE: manifest } });
      try {
        pools.push((await booted.admin(POOL)).data.pool);
      } finally {
        await booted.stop();
        await own.drop();
      }
    }
    expect(pools[0]).toHaveLength(4);
    expect(pools[1]).toEqual(pools[0]);
  });
});
