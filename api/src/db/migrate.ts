import type { MikroORM } from '@mikro-orm/postgresql';
import { createOrm } from './orm.ts';

/** Arbitrary, fixed key: every process migrating the same database waits for the same lock. */
const MIGRATION_LOCK_KEY = 727_001;

/**
 * Applies pending migrations under a session advisory lock, so several replicas starting at
 * once migrate exactly once. Returns the names of the migrations applied.
 */
export async function migrate(orm: MikroORM): Promise<string[]> {
  const em = orm.em.fork();
  return em.transactional(async (tx) => {
    await tx.execute('select pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY]);
    const applied = await orm.migrator.up();
    return applied.map((m) => m.name);
  });
}

export async function migrateDatabase(databaseUrl: string): Promise<string[]> {
  const orm = await createOrm({ databaseUrl, poolMax: 2 });
  try {
    return await migrate(orm);
  } finally {
    await orm.close();
  }
}
