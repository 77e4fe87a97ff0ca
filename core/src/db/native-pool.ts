import type { EntityManager, PostgreSqlConnection } from '@mikro-orm/postgresql';
import type { Pool, PoolClient } from 'pg';

/**
 * The `pg` pool behind the ORM (the same DB_POOL_MAX connections), for the few hot paths where
 * the ORM's per-statement cost shows (allocation, bulk usage apply): plain parameterized
 * statements, no unit of work. Everything else goes through the EntityManager.
 */
export function nativePool(em: { getConnection(): unknown }): Promise<Pool> {
  return (em.getConnection() as PostgreSqlConnection).getNativeClient();
}

/** SQLSTATEs the hot paths act on. */
export const PG_UNIQUE_VIOLATION = '23505';
export const PG_DEADLOCK_DETECTED = '40P01';
export const PG_SERIALIZATION_FAILURE = '40001';

/**
 * Runs `work` in a transaction on a connection of the native pool: committed when it resolves,
 * rolled back when it throws (the connection is discarded if even the rollback fails).
 * `prepare` runs on the same connection first, outside the transaction, so a rollback cannot
 * undo it (e.g. a session's temp table).
 */
export async function withNativeTransaction<T>(
  em: EntityManager,
  work: (client: PoolClient) => Promise<T>,
  prepare?: (client: PoolClient) => Promise<void>,
): Promise<T> {
  const client = await (await nativePool(em)).connect();
  let broken = false;
  try {
    await prepare?.(client);
    await client.query('begin');
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => {
      broken = true;
    });
    throw err;
  } finally {
    client.release(broken);
  }
}
