import { EntityRepository } from '@mikro-orm/postgresql';
import type { User } from '../entities/user.entity.ts';

export class UserRepository extends EntityRepository<User> {
  findByTokenHash(apiTokenHash: string): Promise<User | null> {
    return this.findOne({ apiTokenHash });
  }

  /** Locks the user row for the rest of the transaction (serializes a user's allocations). */
  async lockForAllocation(
    userId: string,
  ): Promise<{ vmQuota: number; vmQuotaPeriodEnd: Date | null } | null> {
    const rows = await this.getEntityManager().execute<
      { vm_quota: number; vm_quota_period_end: string | Date | null }[]
    >('select vm_quota, vm_quota_period_end from users where id = ? for update', [userId]);
    const row = rows[0];
    if (!row) return null;
    const end = row.vm_quota_period_end;
    return { vmQuota: row.vm_quota, vmQuotaPeriodEnd: end === null ? null : new Date(end) };
  }
}
