import type { MikroORM } from '@mikro-orm/postgresql';
import { connectOrm, type RetryInfo } from './connect.ts';
import { execute, sql } from './sql.ts';

/** Arbitrary, fixed key: every process migrating the same database waits for the same lock. */
const MIGRATION_LOCK_KEY = 727_001;

/**
 * Applies pending migrations under a session advisory lock, so several replicas starting at
 * once migrate exactly once. Returns the names of the migrations applied.
 */
export async function migrate(orm: MikroORM): Promise<string[]> {
  const em = orm.em.fork();
  return em.transactional(async (tx) => {
    await execute(tx, sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    const applied = await orm.migrator.up();
    return applied.map((m) => m.name);
  });
}

export interface MigrateDatabaseOptions {
  /** Wait this long for the database to answer, retrying with backoff (default 0: one attempt). */
  connectTimeoutMs?: number;
  onRetry?: (retry: RetryInfo) => void;
}

export async function migrateDatabase(
  databaseUrl: string,
  { connectTimeoutMs = 0, onRetry }: MigrateDatabaseOptions = {},
): Promise<string[]> {
  // timeoutMs 1: the first failure is final (0 would mean "for ever").
  const orm = await connectOrm({
    databaseUrl,
    poolMax: 2,
    timeoutMs: Math.max(1, connectTimeoutMs),
    onRetry,
  });
  try {
    return await migrate(orm);
  } finally {
    await orm.close();
  }
}
