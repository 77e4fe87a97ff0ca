import { EntityRepository } from '@mikro-orm/postgresql';
import { nativePool } from '../db/native-pool.ts';
import type { User } from '../entities/user.entity.ts';

export class UserRepository extends EntityRepository<User> {
  /**
   * The id of the user a bearer token belongs to. Runs on every authenticated request, so it is
   * one plain statement on the driver and no entity (resolvers that need the user load it).
   */
  async idForTokenHash(apiTokenHash: string): Promise<{ id: string } | null> {
    const pool = await nativePool(this.getEntityManager());
    const res = await pool.query<{ id: string }>('select id from users where api_token_hash = $1 limit 1', [
      apiTokenHash,
    ]);
    return res.rows[0] ? { id: res.rows[0].id } : null;
  }
}
