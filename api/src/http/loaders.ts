import { countLiveSessions } from '@hero/core/auth/sessions';
import { User } from '@hero/core/entities/user.entity';
import { isUuid } from '@hero/core/lib/ids';
import type { EntityManager } from '@mikro-orm/postgresql';
import DataLoader from 'dataloader';

/** Per-request batch loaders: a page of rows that each name a user costs one query, not one per row. */
export interface Loaders {
  /** Users by id (null: no such user). */
  user: DataLoader<string, User | null>;
  /** Live sessions per user id. */
  activeSessions: DataLoader<string, number>;
}

export function createLoaders(em: EntityManager): Loaders {
  return {
    user: new DataLoader(async (ids) => {
      const valid = ids.filter(isUuid);
      const users = valid.length > 0 ? await em.find(User, { id: { $in: valid } }) : [];
      const byId = new Map(users.map((u) => [u.id, u]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    activeSessions: new DataLoader((ids) => countLiveSessions(em, ids)),
  };
}
