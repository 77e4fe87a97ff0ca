/**
 * `npm start`'s pool when none is configured: the pool provisioner with the pool managed through
 * refreshPool (VM_POOL_JSON=[]), and on the first start the example manifest loaded into the
 * empty pool, so a user can allocate at once and the operator can refresh the pool from the
 * admin UI or `hero-admin pool refresh`. Later starts keep whatever those refreshes made of it.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createOrm } from '@hero/core/db/orm';
import { parseManifest } from '@hero/core/pool/manifest';
import { seedEmptyPool } from '@hero/core/pool/refresh-pool';
import { REPO_ROOT } from './postgres.ts';

export const STARTER_POOL_FILE = path.join(REPO_ROOT, 'examples', 'pool.json');

/** Loads the example manifest into an empty pool; returns the ids added (none: not empty). */
export async function loadStarterPool(databaseUrl: string): Promise<string[]> {
  const entries = parseManifest(await readFile(STARTER_POOL_FILE, 'utf8'));
  const orm = await createOrm({ databaseUrl, poolMax: 1 });
  try {
    return await seedEmptyPool(orm.em.fork(), entries);
  } finally {
    await orm.close();
  }
}
