import type { EntityManager } from '@mikro-orm/postgresql';
import { User, type UserStatus } from '../entities/user.entity.ts';
import { ValidationError } from '../errors.ts';

export const USER_ORDERS = ['CREATED_DESC', 'CREATED_ASC', 'EMAIL_ASC'] as const;
export type UserOrder = (typeof USER_ORDERS)[number];

/** Longer than any email or name worth typing; keeps a pasted blob out of the LIKE pattern. */
export const USER_SEARCH_MAX_LENGTH = 200;

/** Each order is total (ties broken by id; emails are unique), so offset cursors stay stable. */
const USER_ORDER_BY = {
  CREATED_DESC: [{ createdAt: 'desc' }, { id: 'desc' }],
  CREATED_ASC: [{ createdAt: 'asc' }, { id: 'asc' }],
  EMAIL_ASC: [{ email: 'asc' }],
} as const satisfies Record<UserOrder, unknown>;

/** `%`, `_` and `\` typed by an operator are literal characters, not wildcards. */
function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * The `search` filter's text, trimmed; undefined when blank. Too long: a ValidationError
 * (nothing to match, and a clear answer beats an empty list).
 */
export function normalizeUserSearch(search: string | null | undefined): string | undefined {
  const text = search?.trim();
  if (!text) return undefined;
  if (text.length > USER_SEARCH_MAX_LENGTH)
    throw new ValidationError(
      [{ path: 'search', message: `at most ${USER_SEARCH_MAX_LENGTH} characters.` }],
      'The search text is too long',
    );
  return text;
}

/**
 * Admin's user list. `email` filters by exact (normalized) email; `search` by a part of the
 * email or the display name, case-insensitive (a user picker types a few letters of either);
 * `status` by the account's status (the suspended ones under review, say).
 */
export async function pageUsers(
  em: EntityManager,
  filter: { email?: string; search?: string; status?: UserStatus },
  order: UserOrder,
  limit: number,
  offset: number,
): Promise<User[]> {
  const search = normalizeUserSearch(filter.search);
  const pattern = search === undefined ? undefined : `%${likeLiteral(search)}%`;
  return em.find(
    User,
    {
      ...(filter.email ? { email: filter.email } : {}),
      ...(filter.status ? { status: filter.status } : {}),
      ...(pattern ? { $or: [{ email: { $ilike: pattern } }, { displayName: { $ilike: pattern } }] } : {}),
    },
    { orderBy: [...USER_ORDER_BY[order]], limit, offset },
  );
}
