import { EntityRepository } from '@mikro-orm/postgresql';
import type { User } from '../entities/user.entity.ts';

export class UserRepository extends EntityRepository<User> {
  /**
   * The id of the user a bearer token belongs to. Runs on every authenticated request, so it is
   * one plain statement and no entity (resolvers that need the user load it).
   */
  async idForTokenHash(apiTokenHash: string): Promise<{ id: string } | null> {
    const rows = await this.getEntityManager().execute<{ id: string }[]>(
      'select id from users where api_token_hash = ? limit 1',
      [apiTokenHash],
    );
    return rows[0] ? { id: rows[0].id } : null;
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
