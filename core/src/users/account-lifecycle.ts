import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { releaseUserAllocations } from '../allocation/release-allocation.ts';
import { deleteUserApiTokens } from '../auth/api-tokens.ts';
import { deleteUserResetTokens } from '../auth/password-reset.ts';
import { deleteUserSessions, revokeUserSessions } from '../auth/sessions.ts';
import { firstRow, sql } from '../db/sql.ts';
import { Billing } from '../entities/billing.entity.ts';
import { User, type UserStatus } from '../entities/user.entity.ts';
import {
  AccountDeletedError,
  BalanceNotZeroError,
  NotFoundError,
  parseInput,
  ValidationError,
} from '../errors.ts';
import { isUuid } from '../lib/ids.ts';
import { dropPendingEmails } from '../outbox/email-events.ts';
import { enqueueNotification, eraseEmailFromEvents } from '../outbox/notify-events.ts';
import type { Provisioner } from '../provisioners/provisioner.ts';
import { normalizeEmail } from './create-user.ts';
import { lockLiveUser } from './lock-user.ts';
import { setAutoRenew } from './set-auto-renew.ts';
import { writeUserQuota } from './set-user-quota.ts';

/**
 * Suspending and deleting accounts (the only writer of `users.status`, `suspended_at`,
 * `suspended_reason`, `deleted_at`, and of the erasure of a deleted user's personal data).
 *
 * While suspended, the account keeps everything but cannot sign in (AccountSuspendedError after
 * the right password), its sessions and API tokens are refused (the bearer lookups read the
 * status in their one statement), and allocateVm refuses it under the user lock. Money still
 * comes in: payments and top-up webhooks are credited as for anyone.
 *
 * A deleted account's row stays as a tombstone under the same id, so its ledger, payments,
 * plan purchases, consumed usage and released allocations keep their user and every balance
 * still equals the sum of its ledger.
 */

/** Which provisioner released an allocation (`provisionerNamed` in the api and the workers). */
export interface LifecycleDeps {
  provisionerFor: (name: string) => Provisioner | null;
}

export const suspendReasonSchema = z
  .string()
  .trim()
  .min(1, 'say why (it is kept with the account and sent in the user.suspended event)')
  .max(500, 'must be at most 500 characters');

export interface SuspendUserInput {
  userId: string;
  reason: string;
  /** Also release the user's ACTIVE allocations now (reason SUSPENDED). */
  releaseVms?: boolean;
}

export interface SuspendUserResult {
  user: User;
  /** Live sessions this call ended. */
  sessionsEnded: number;
  /** Allocations this call released (0 unless `releaseVms`). */
  allocationsReleased: number;
}

const refreshed = (tx: EntityManager, userId: string) =>
  tx.findOneOrFail(User, { id: userId }, { refresh: true });

/**
 * Suspends an account, in one transaction: the status and the reason, every live session ended,
 * with `releaseVms` its ACTIVE allocations released (SUSPENDED, through the provisioner, so the
 * deployer hears of it), and a `user.suspended` event. Suspending a suspended account again
 * replaces the reason (and releases, if asked) without a second event. A blank reason:
 * ValidationError; a deleted account: AccountDeletedError; nothing changes either way.
 */
export async function suspendUser(
  em: EntityManager,
  input: SuspendUserInput,
  deps: LifecycleDeps,
): Promise<SuspendUserResult> {
  const reason = parseInput(z.object({ reason: suspendReasonSchema }), input, 'Invalid suspension').reason;
  if (!isUuid(input.userId)) throw new NotFoundError('User', input.userId);
  return em.transactional(async (tx) => {
    const before = (await lockLiveUser(tx, input.userId)).status;
    const row = await firstRow(
      tx,
      sql<{ email: string; suspended_at: Date | string }>`update users
          set status = 'suspended', suspended_at = coalesce(suspended_at, now()), suspended_reason = ${reason}
        where id = ${input.userId} returning email, suspended_at`,
    );
    if (!row) throw new NotFoundError('User', input.userId);
    const sessionsEnded = await revokeUserSessions(tx, input.userId);
    const allocationsReleased = input.releaseVms
      ? await releaseUserAllocations(tx, input.userId, 'SUSPENDED', deps.provisionerFor)
      : 0;
    const suspendedAt = new Date(row.suspended_at);
    if (before === 'active') {
      await enqueueNotification(
        tx,
        'user.suspended',
        {
          userId: input.userId,
          email: row.email,
          reason,
          suspendedAt: suspendedAt.toISOString(),
          allocationsReleased,
        },
        `user.suspended:${input.userId}:${suspendedAt.getTime()}`,
      );
    }
    return { user: await refreshed(tx, input.userId), sessionsEnded, allocationsReleased };
  });
}

/**
 * Lifts a suspension: sign-in, the existing API tokens and allocation work again (sessions
 * ended by the suspension stay ended; released VMs are not given back), and a
 * `user.unsuspended` event, so a webhook receiver that heard of the suspension hears of its end.
 * An account that is not suspended is answered unchanged, without an event; a deleted one:
 * AccountDeletedError.
 */
export async function unsuspendUser(em: EntityManager, userId: string): Promise<User> {
  if (!isUuid(userId)) throw new NotFoundError('User', userId);
  return em.transactional(async (tx) => {
    await lockLiveUser(tx, userId);
    // The suspension's own values are read in the statement that clears them.
    const lifted = await firstRow(
      tx,
      sql<{ email: string; suspended_at: Date | string; unsuspended_at: Date | string }>`update users u
          set status = 'active', suspended_at = null, suspended_reason = null
         from users before
        where u.id = ${userId} and before.id = u.id and u.status = 'suspended'
        returning u.email, before.suspended_at, now() as unsuspended_at`,
    );
    if (lifted) {
      const suspendedAt = new Date(lifted.suspended_at);
      await enqueueNotification(
        tx,
        'user.unsuspended',
        {
          userId,
          email: lifted.email,
          suspendedAt: suspendedAt.toISOString(),
          unsuspendedAt: new Date(lifted.unsuspended_at).toISOString(),
        },
        `user.unsuspended:${userId}:${suspendedAt.getTime()}`,
      );
    }
    return refreshed(tx, userId);
  });
}

export interface DeleteUserInput {
  userId: string;
  /** The user's current email, typed again by the operator: a guard against the wrong id. */
  confirmEmail: string;
  /** Delete although the balance is above zero; the credit stays on the deleted account's ledger. */
  force?: boolean;
}

export interface DeleteUserResult {
  userId: string;
  deletedAt: Date;
  allocationsReleased: number;
  sessionsRemoved: number;
  apiTokensRemoved: number;
  /** The balance the tombstone keeps (its ledger is untouched). */
  balanceCents: number;
  currency: string;
}

/** What a deleted account's email becomes: not an address (no `@`), unique by its id, never typed in. */
export const tombstoneEmail = (userId: string): string => `deleted:${userId}`;
export const TOMBSTONE_DISPLAY_NAME = 'Deleted user';

/**
 * Deletes an account, in one transaction: its personal data is erased (email replaced by
 * `tombstoneEmail`, so the address is free for a new sign-up; display name, password hash and
 * forge id cleared; the email in its outbox events replaced), its sessions, API tokens and
 * reset/invitation links removed, its plan ended (quota 0, no period, auto-renew off), its
 * ACTIVE allocations released (DELETED), and a `user.deleted` event without personal data
 * written. The billing row, ledger, payments, plan purchases and consumed usage stay under the
 * same id, now a tombstone (status `deleted`) that nothing changes again.
 *
 * `confirmEmail` must be the account's email (ValidationError otherwise); a balance above zero
 * needs `force` (BalanceNotZeroError otherwise); a deleted account: AccountDeletedError.
 *
 * The user row is locked FOR UPDATE (not lockUser's NO KEY UPDATE: the email is a key column),
 * before anything else and without locking the balance, so a concurrent payment or refund
 * (which locks the balance, then checks its foreign key on the user) waits for this commit
 * instead of deadlocking with it, and is then credited to the tombstone's ledger.
 */
export async function deleteUser(
  em: EntityManager,
  input: DeleteUserInput,
  deps: LifecycleDeps,
): Promise<DeleteUserResult> {
  if (!isUuid(input.userId)) throw new NotFoundError('User', input.userId);
  return em.transactional(async (tx) => {
    const user = await firstRow(
      tx,
      sql<{ email: string; status: UserStatus }>`select email, status from users
         where id = ${input.userId} for update`,
    );
    if (!user) throw new NotFoundError('User', input.userId);
    if (user.status === 'deleted') throw new AccountDeletedError(input.userId);
    if (normalizeEmail(input.confirmEmail) !== user.email)
      throw new ValidationError(
        [{ path: 'confirmEmail', message: "does not match the user's email" }],
        'The account was not deleted',
      );
    const billing = await tx.findOneOrFail(Billing, { user: input.userId }, { refresh: true });
    const balanceCents = Number(billing.creditBalanceCents);
    if (balanceCents > 0 && !input.force) throw new BalanceNotZeroError(balanceCents, billing.currency);

    // The plan ends first: setAutoRenew, like every other change, refuses a tombstone.
    await writeUserQuota(tx, input.userId, { vmQuota: 0, periodEnd: null });
    await setAutoRenew(tx, { userId: input.userId, enabled: false });
    const tombstone = tombstoneEmail(input.userId);
    const erased = await firstRow(
      tx,
      sql<{ deleted_at: Date | string }>`update users
          set status = 'deleted', deleted_at = now(), suspended_at = null, suspended_reason = null,
              email = ${tombstone}, display_name = ${TOMBSTONE_DISPLAY_NAME}, forge_id = null,
              password_hash = null
        where id = ${input.userId} returning deleted_at`,
    );
    if (!erased) throw new NotFoundError('User', input.userId);
    // After the erasure: the releases' own events carry the tombstone, not the address.
    const allocationsReleased = await releaseUserAllocations(
      tx,
      input.userId,
      'DELETED',
      deps.provisionerFor,
    );
    const sessionsRemoved = await deleteUserSessions(tx, input.userId);
    const apiTokensRemoved = await deleteUserApiTokens(tx, input.userId);
    await deleteUserResetTokens(tx, input.userId);
    await dropPendingEmails(tx, input.userId);
    await eraseEmailFromEvents(tx, input.userId, tombstone);
    const deletedAt = new Date(erased.deleted_at);
    await enqueueNotification(
      tx,
      'user.deleted',
      {
        userId: input.userId,
        deletedAt: deletedAt.toISOString(),
        allocationsReleased,
        balanceCents,
        currency: billing.currency,
      },
      `user.deleted:${input.userId}`,
    );
    return {
      userId: input.userId,
      deletedAt,
      allocationsReleased,
      sessionsRemoved,
      apiTokensRemoved,
      balanceCents,
      currency: billing.currency,
    };
  });
}
