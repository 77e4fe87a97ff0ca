import type { EntityManager } from '@mikro-orm/postgresql';
import { redateForPeriod } from '../allocation/redate-for-period.ts';
import { execute, sql } from '../db/sql.ts';
import { User } from '../entities/user.entity.ts';
import { NotFoundError, type Problem, ValidationError } from '../errors.ts';
import { isUuid } from '../lib/ids.ts';
import { lockLiveUser } from './lock-user.ts';

export interface SetUserQuotaInput {
  userId: string;
  vmQuota: number;
  /**
   * The plan period end: the user's ACTIVE allocations are re-dated to it, and new ones expire
   * then. `null` clears it (running allocations keep their end).
   */
  periodEnd: Date | null;
}

/**
 * The one writer of a user's quota and plan period end (an operator's setUserQuota, a plan
 * purchase). Call it inside a transaction, holding `lockUser`.
 */
export async function writeUserQuota(
  tx: EntityManager,
  userId: string,
  quota: { vmQuota: number; periodEnd: Date | null },
): Promise<void> {
  await execute(
    tx,
    sql`update users set vm_quota = ${quota.vmQuota}, vm_quota_period_end = ${quota.periodEnd} where id = ${userId}`,
  );
}

export async function setUserQuota(em: EntityManager, input: SetUserQuotaInput): Promise<User> {
  const problems: Problem[] = [];
  if (!Number.isInteger(input.vmQuota) || input.vmQuota < 0 || input.vmQuota > 10_000) {
    problems.push({ path: 'vmQuota', message: 'must be a whole number from 0 to 10000' });
  }
  if (input.periodEnd && Number.isNaN(input.periodEnd.getTime())) {
    problems.push({ path: 'periodEnd', message: 'must be a valid date-time' });
  }
  if (problems.length > 0) throw new ValidationError(problems, 'Invalid quota');
  if (!isUuid(input.userId)) throw new NotFoundError('User', input.userId);
  return em.transactional(async (tx) => {
    await lockLiveUser(tx, input.userId);
    await writeUserQuota(tx, input.userId, { vmQuota: input.vmQuota, periodEnd: input.periodEnd });
    // All of a plan's VMs end with its period, whichever way the period changed (as purchasePlan).
    if (input.periodEnd) await redateForPeriod(tx, input.userId, input.periodEnd);
    return tx.findOneOrFail(User, { id: input.userId }, { refresh: true });
  });
}
