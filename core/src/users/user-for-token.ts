import type { EntityManager } from '@mikro-orm/postgresql';
import { nativePool } from '../db/native-pool.ts';

/**
 * The id of the user an API token (by its hash) belongs to. Runs on every authenticated
 * request, so it is one plain statement on the driver and no entity (resolvers that need the
 * user load it).
 */
export async function userIdForTokenHash(
  em: EntityManager,
  apiTokenHash: string,
): Promise<{ id: string } | null> {
  const pool = await nativePool(em);
  const res = await pool.query<{ id: string }>('select id from users where api_token_hash = $1 limit 1', [
    apiTokenHash,
  ]);
  return res.rows[0] ? { id: res.rows[0].id } : null;
}
