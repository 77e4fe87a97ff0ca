import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { User } from '../entities/user.entity.ts';
import { NotFoundError, type Problem, ValidationError } from '../errors.ts';
import { isUuid } from '../lib/ids.ts';

export interface SetUserQuotaInput {
  userId: string;
  vmQuota: number;
  /** The plan period end: new allocations expire then. `null` clears it. */
  periodEnd: Date | null;
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
    const user = await tx.findOne(User, { id: input.userId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!user) throw new NotFoundError('User', input.userId);
    user.vmQuota = input.vmQuota;
    user.vmQuotaPeriodEnd = input.periodEnd;
    return user;
  });
}
