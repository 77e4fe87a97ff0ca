import type { EntityManager } from '@mikro-orm/postgresql';
import { firstRow, nativeText, sql } from '../db/sql.ts';
import type { UserStatus } from '../entities/user.entity.ts';
import { AccountDeletedError, NotFoundError } from '../errors.ts';
import { isUuid } from '../lib/ids.ts';

/** What a holder of the user lock reads of the user row. */
export interface LockedUser {
  vm_quota: number;
  vm_quota_period_end: Date | null;
  /** Read under the lock, so a suspension or deletion committed first is seen. */
  status: UserStatus;
  /** Unverified accounts neither pay nor get a VM. */
  email_verified: boolean;
}

type LockedRow = {
  vm_quota: number;
  vm_quota_period_end: Date | string | null;
  status: UserStatus;
  email_verified: boolean;
};

/**
 * NO KEY UPDATE, not UPDATE: it still queues those changes, but lets the foreign-key checks of
 * concurrent ledger inserts for the user (KEY SHARE) through, which would otherwise deadlock
 * with a payment or usage batch holding the billing row.
 */
const lockUserQuery = (userId: string) =>
  sql<LockedRow>`select vm_quota, vm_quota_period_end, status, email_verified_at is not null as email_verified from users where id = ${userId} for no key update`;

/**
 * The user-row lock every change to a user's allocations, quota or plan period takes first, so
 * a user's concurrent requests queue instead of overrunning the quota. Call it inside a
 * transaction; undefined when there is no such user.
 */
export async function lockUser(tx: EntityManager, userId: string): Promise<LockedUser | undefined> {
  if (!isUuid(userId)) return undefined;
  const row = await firstRow(tx, lockUserQuery(userId));
  return row ? lockedUser(row) : undefined;
}

/**
 * lockUser for a change of the user: no such user is NotFoundError, a deleted one (a tombstone
 * nothing changes) AccountDeletedError.
 */
export async function lockLiveUser(tx: EntityManager, userId: string): Promise<LockedUser> {
  const locked = await lockUser(tx, userId);
  if (!locked) throw new NotFoundError('User', userId);
  if (locked.status === 'deleted') throw new AccountDeletedError(userId);
  return locked;
}

/** A locked row as read: the pool may hand timestamps back as text. */
export function lockedUser(row: LockedRow): LockedUser {
  const end = row.vm_quota_period_end;
  return {
    vm_quota: row.vm_quota,
    vm_quota_period_end: end === null ? null : new Date(end),
    status: row.status,
    email_verified: row.email_verified,
  };
}

/** The statement `lockUser` runs, for the allocation hot path on a native connection ($1: the user id). */
export const LOCK_USER_SQL = nativeText(lockUserQuery(''));
