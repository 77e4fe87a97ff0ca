import type { EntityManager } from '@mikro-orm/postgresql';
import { execute, firstRow, rows, sql } from '../db/sql.ts';
import type { PoolVmManifestEntry } from './manifest.ts';

export interface RefreshPoolResult {
  prevPoolSize: number;
  poolSize: number;
  added: string[];
  updated: string[];
  retired: string[];
}

/** Serializes refreshes: two operators refreshing at once apply one after the other. */
const POOL_REFRESH_LOCK_KEY = 727_002;

/** The manifest entries, passed as one JSON parameter, as rows. */
const manifestRows = (entries: PoolVmManifestEntry[]) =>
  sql`jsonb_to_recordset(${JSON.stringify(entries)}::jsonb)
        as m(id text, name text, host text, region text, status text, "cockpitUrl" text)`;

async function poolSize(tx: EntityManager): Promise<number> {
  const row = await firstRow(
    tx,
    sql<{ n: number }>`select count(*)::int as n from pool_vm where status <> 'RETIRED'`,
  );
  return row?.n ?? 0;
}

/** Waits for the refresh lock, held to the end of the transaction. */
async function lockRefresh(tx: EntityManager): Promise<void> {
  await execute(tx, sql`select pg_advisory_xact_lock(${POOL_REFRESH_LOCK_KEY})`);
}

/**
 * Reconciles the pool with a manifest in one transaction: listed VMs are upserted, unlisted
 * ones become RETIRED (an active allocation on a retired VM stays until released). Entries come
 * from `parseManifest`, which refuses an invalid manifest whole before anything is touched.
 */
export async function refreshPool(
  em: EntityManager,
  entries: PoolVmManifestEntry[],
): Promise<RefreshPoolResult> {
  return em.transactional(async (tx) => {
    await lockRefresh(tx);
    const prevPoolSize = await poolSize(tx);
    const upserted = await rows(
      tx,
      sql<{
        id: string;
        inserted: boolean;
      }>`insert into pool_vm as p (id, name, host, region, status, cockpit_url)
       select id, name, host, region, status, "cockpitUrl" from ${manifestRows(entries)}
       on conflict (id) do update
          set name = excluded.name, host = excluded.host, region = excluded.region,
              status = excluded.status, cockpit_url = excluded.cockpit_url, updated_at = now()
        where (p.name, p.host, p.region, p.status, p.cockpit_url)
              is distinct from (excluded.name, excluded.host, excluded.region, excluded.status, excluded.cockpit_url)
       returning p.id, (xmax = 0) as inserted`,
    );
    const retiredRows = await rows(
      tx,
      sql<{ id: string }>`update pool_vm set status = 'RETIRED', updated_at = now()
        where status <> 'RETIRED'
          and id not in (select value ->> 'id' from jsonb_array_elements(${JSON.stringify(entries)}::jsonb))
        returning id`,
    );
    const size = await poolSize(tx);
    const sorted = (ids: string[]) => ids.sort((a, b) => a.localeCompare(b));
    return {
      prevPoolSize,
      poolSize: size,
      added: sorted(upserted.filter((r) => r.inserted).map((r) => r.id)),
      updated: sorted(upserted.filter((r) => !r.inserted).map((r) => r.id)),
      retired: sorted(retiredRows.map((r) => r.id)),
    };
  });
}

/** Adds VMs that are missing and leaves every other VM alone (the demo provisioner's seed). */
export async function seedPool(em: EntityManager, entries: PoolVmManifestEntry[]): Promise<string[]> {
  const added = await rows(
    em,
    sql<{ id: string }>`insert into pool_vm (id, name, host, region, status, cockpit_url)
     select id, name, host, region, status, "cockpitUrl" from ${manifestRows(entries)}
     on conflict (id) do nothing returning id`,
  );
  return added.map((r) => r.id);
}

/**
 * Loads `entries` into a pool that has never held a VM (no row at all, RETIRED ones included),
 * under the refresh lock; returns the ids added, none when the pool was not empty. A first
 * start's starter pool: later starts leave whatever the operator's refreshes made of it.
 */
export async function seedEmptyPool(em: EntityManager, entries: PoolVmManifestEntry[]): Promise<string[]> {
  return em.transactional(async (tx) => {
    await lockRefresh(tx);
    const row = await firstRow(
      tx,
      sql<{ empty: boolean }>`select not exists (select 1 from pool_vm) as empty`,
    );
    return row?.empty ? seedPool(tx, entries) : [];
  });
}
