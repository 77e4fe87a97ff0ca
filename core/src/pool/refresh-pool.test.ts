import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../testing/database.ts';
import { allocateTestVm, createTestUser, poolEntries } from '../testing/factories.ts';
import { parseManifest } from './manifest.ts';
import { refreshPool, seedEmptyPool, seedPool } from './refresh-pool.ts';

// refreshPool retires every VM a manifest leaves out, so each test states the whole pool and
// the tests of this file run one after the other.
const t = useTestDatabase();

const statuses = async (ids: string[]) =>
  Object.fromEntries(
    (await t.query('select id, status from pool_vm where id = any($1) order by id', [ids])).map((r) => [
      r.id,
      r.status,
    ]),
  );

describe('refreshPool', () => {
  it('seedEmptyPool loads a starter pool into a pool that never held a VM, and only then', async () => {
    const entries = poolEntries(2, 'starter');
    expect(await seedEmptyPool(t.em(), entries)).toEqual(['starter-001', 'starter-002']);
    expect(await seedEmptyPool(t.em(), poolEntries(1, 'again'))).toEqual([]);
    expect(await t.query("select 1 from pool_vm where id like 'again-%'")).toEqual([]);
  });

  it('adds listed VMs and retires unlisted ones, reporting sizes', async () => {
    const entries = poolEntries(3, 'a');
    const result = await refreshPool(t.em(), entries);
    expect(result).toEqual({
      prevPoolSize: 2,
      poolSize: 3,
      added: ['a-001', 'a-002', 'a-003'],
      updated: [],
      retired: ['starter-001', 'starter-002'],
    });
  });

  it('reports only VMs whose fields changed as updated; an identical manifest changes nothing', async () => {
    const entries = poolEntries(3, 'a');
    const changed = [
      entries[0],
      { ...entries[1], cockpitUrl: 'https://cockpit.test/moved' },
      { ...entries[2], status: 'MAINTENANCE' as const },
    ];
    expect(await refreshPool(t.em(), changed)).toMatchObject({
      added: [],
      updated: ['a-002', 'a-003'],
      retired: [],
    });
    expect(await refreshPool(t.em(), changed)).toEqual({
      prevPoolSize: 3,
      poolSize: 3,
      added: [],
      updated: [],
      retired: [],
    });
    const [row] = await t.query("select cockpit_url from pool_vm where id = 'a-002'");
    expect(row.cockpit_url).toBe('https://cockpit.test/moved');
  });

  it('brings a retired VM back when it is listed again', async () => {
    const result = await refreshPool(t.em(), poolEntries(1, 'starter'));
    expect(result.updated).toEqual(['starter-001']);
    expect(await statuses(['starter-001', 'a-001'])).toEqual({
      'starter-001': 'AVAILABLE',
      'a-001': 'RETIRED',
    });
  });

  it('leaves the allocation of a retired VM ACTIVE until it is released', async () => {
    const entries = poolEntries(1, 'held');
    await refreshPool(t.em(), entries);
    const user = await createTestUser(t.em());
    const allocation = await allocateTestVm(t.em(), user.id);
    expect(allocation.poolVm.id).toBe('held-001');
    expect((await refreshPool(t.em(), [])).retired).toEqual(['held-001']);
    const [row] = await t.query('select status from vm_allocation where id = $1', [allocation.id]);
    expect(row.status).toBe('ACTIVE');
    expect(await statuses(['held-001'])).toEqual({ 'held-001': 'RETIRED' });
  });

  it('applies concurrent refreshes one after the other: the pool is one of the manifests, whole', async () => {
    const x = poolEntries(4, 'x');
    const y = poolEntries(3, 'y');
    await Promise.all([refreshPool(t.em(), x), refreshPool(t.em(), y)]);
    const live = (await t.query("select id from pool_vm where status <> 'RETIRED' order by id")).map(
      (r) => r.id,
    );
    expect([x.map((e) => e.id), y.map((e) => e.id)]).toContainEqual(live);
  });

  it('takes a parsed manifest in the original snake_case form', async () => {
    const entries = parseManifest([
      { id: 'snake-1', cockpit_url: 'https://cockpit.test/s1', status: 'Available' },
    ]);
    const result = await refreshPool(t.em(), entries);
    expect(result.added).toEqual(['snake-1']);
    const [row] = await t.query("select name, status, cockpit_url from pool_vm where id = 'snake-1'");
    expect(row).toMatchObject({ status: 'AVAILABLE', cockpit_url: 'https://cockpit.test/s1' });
  });

  it('seedPool adds what is missing and leaves existing VMs as they are', async () => {
    const added = await seedPool(t.em(), [
      { ...poolEntries(1, 'snake')[0], id: 'snake-1', name: 'renamed?' },
      ...poolEntries(1, 'fresh'),
    ]);
    expect(added).toEqual(['fresh-001']);
    const [row] = await t.query("select name from pool_vm where id = 'snake-1'");
    expect(row.name).not.toBe('renamed?');
  });
});
