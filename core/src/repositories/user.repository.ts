import { EntityRepository } from '@mikro-orm/postgresql';
import { nativePool } from '../db/native-pool.ts';
import type { User } from '../entities/user.entity.ts';

export const USER_ORDERS = ['CREATED_DESC', 'CREATED_ASC', 'EMAIL_ASC'] as const;
export type UserOrder = (typeof USER_ORDERS)[number];

/** Each order is total (ties broken by id; emails are unique), so offset cursors stay stable. */
const USER_ORDER_BY = {
  CREATED_DESC: [{ createdAt: 'desc' }, { id: 'desc' }],
  CREATED_ASC: [{ createdAt: 'asc' }, { id: 'asc' }],
  EMAIL_ASC: [{ email: 'asc' }],
} as const satisfies Record<UserOrder, unknown>;

export class UserRepository extends EntityRepository<User> {
  /** Admin's user list; `email` filters by exact (normalized) email. */
  page(filter: { email?: string }, order: UserOrder, limit: number, offset: number): Promise<User[]> {
    return this.find(filter.email ? { email: filter.email } : {}, {
      orderBy: [...USER_ORDER_BY[order]],
      limit,
      offset,
    });
  }

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
