import type { EntityManager } from '@mikro-orm/postgresql';
import { User } from '../entities/user.entity.ts';

export const USER_ORDERS = ['CREATED_DESC', 'CREATED_ASC', 'EMAIL_ASC'] as const;
export type UserOrder = (typeof USER_ORDERS)[number];

/** Each order is total (ties broken by id; emails are unique), so offset cursors stay stable. */
const USER_ORDER_BY = {
  CREATED_DESC: [{ createdAt: 'desc' }, { id: 'desc' }],
  CREATED_ASC: [{ createdAt: 'asc' }, { id: 'asc' }],
  EMAIL_ASC: [{ email: 'asc' }],
} as const satisfies Record<UserOrder, unknown>;

/** Admin's user list; `email` filters by exact (normalized) email. */
export function pageUsers(
  em: EntityManager,
  filter: { email?: string },
  order: UserOrder,
  limit: number,
  offset: number,
): Promise<User[]> {
  return em.find(User, filter.email ? { email: filter.email } : {}, {
    orderBy: [...USER_ORDER_BY[order]],
    limit,
    offset,
  });
}
