import type { EntityManager } from '@mikro-orm/postgresql';
import { execute, firstRow, sql } from '../db/sql.ts';
import { User } from '../entities/user.entity.ts';
import { NoPlanToRenewError } from '../errors.ts';
import { lockLiveUser } from './lock-user.ts';

/**
 * A user's auto-renew opt-in (the one writer of `users.auto_renew`), under the user lock so a
 * renewal in progress sees the flag either before or after, never half. Turning it on needs a
 * purchased plan to renew (NO_PLAN_TO_RENEW otherwise, nothing changed); off is always allowed.
 */
export async function setAutoRenew(
  em: EntityManager,
  input: { userId: string; enabled: boolean },
): Promise<User> {
  return em.transactional(async (tx) => {
    await lockLiveUser(tx, input.userId);
    if (input.enabled) {
      const plan = await firstRow(
        tx,
        sql<{ id: string }>`select id from plan_purchase where user_id = ${input.userId} limit 1`,
      );
      if (!plan) throw new NoPlanToRenewError();
    }
    await execute(tx, sql`update users set auto_renew = ${input.enabled} where id = ${input.userId}`);
    return tx.findOneOrFail(User, { id: input.userId }, { refresh: true });
  });
}
