import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { createApiToken } from '../auth/api-tokens.ts';
import { type Invitation, issueInvitation } from '../auth/invitations.ts';
import { openBillingAccount } from '../billing/ledger.ts';
import { User } from '../entities/user.entity.ts';
import { EmailTakenError, parseInput, ValidationError } from '../errors.ts';

/** A user's email: valid, at most 320 characters, stored trimmed and lower-cased. */
export const emailSchema = z
  .email('must be a valid email address')
  .max(320)
  .transform((e) => e.trim().toLowerCase());

export const displayNameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters');

export const createUserSchema = z.object({ email: emailSchema, displayName: displayNameSchema });

/** The email as it is stored and compared (the schema's transform without its checks). */
export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

export interface CreateUserInput {
  email: string;
  displayName: string;
  currency?: string;
}

export interface CreateUserResult {
  user: User;
  /** The user's first API token (named CREATED_BY_OPERATOR_TOKEN_NAME): returned once, stored hashed. */
  token: string;
  /** The set-password link (when asked for with `invite`): returned once; email it after the commit. */
  invitation: Invitation | null;
}

export interface NewUser {
  /** Validated and normalized (createUserSchema). */
  email: string;
  displayName: string;
  currency?: string;
  /** argon2id hash (auth/passwords.ts); none: the user cannot sign in with a password. */
  passwordHash?: string | null;
  /** The plan the account starts with (a sign-up trial); none: quota 0 and no plan period. */
  plan?: { vmQuota: number; periodEnd: Date } | null;
  /** Whether the email counts as the user's already; false: no payment and no VM until verified. */
  emailVerified: boolean;
}

/**
 * Inserts a user with an empty billing account, in one transaction (a savepoint when `em` is in
 * one already). An email registered already, even by a concurrent call: EmailTakenError.
 * A new account holds no VM until it has a plan period (a purchase, an operator's quota, or the
 * sign-up trial given here as `plan`).
 */
export async function insertUser(em: EntityManager, data: NewUser): Promise<User> {
  try {
    return await em.transactional(async (tx) => {
      const created = tx.create(User, {
        email: data.email,
        displayName: data.displayName,
        passwordHash: data.passwordHash ?? null,
        vmQuota: data.plan?.vmQuota ?? 0,
        vmQuotaPeriodEnd: data.plan?.periodEnd ?? null,
        emailVerifiedAt: data.emailVerified ? new Date() : null,
        createdAt: new Date(),
      });
      openBillingAccount(tx, created, data.currency ?? 'EUR');
      return created;
    });
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException && isEmailConflict(err)) {
      throw new EmailTakenError();
    }
    throw err;
  }
}

function isEmailConflict(err: UniqueConstraintViolationException): boolean {
  const constraint = (err as { constraint?: string }).constraint;
  return constraint === 'users_email_unique' || (!constraint && /users_email_unique/.test(err.message));
}

/** The name of the API token createUser makes. */
export const CREATED_BY_OPERATOR_TOKEN_NAME = 'created by operator';

/**
 * Creates a user with an empty billing account and a fresh API token; with `invite`, also a
 * single-use set-password link (auth/invitations.ts) in the same transaction. The caller sends
 * the invitation email after this returns.
 */
export async function createUser(
  em: EntityManager,
  input: CreateUserInput,
  options: { invite?: { webUrl: string } } = {},
): Promise<CreateUserResult> {
  const data = parseInput(
    createUserSchema,
    { email: input.email.trim(), displayName: input.displayName },
    'Invalid user',
  );
  try {
    return await em.transactional(async (tx) => {
      // An operator made the account for this address: it counts as verified.
      const user = await insertUser(tx, { ...data, currency: input.currency, emailVerified: true });
      const { token } = await createApiToken(tx, {
        userId: user.id,
        name: CREATED_BY_OPERATOR_TOKEN_NAME,
        createdBy: 'OPERATOR',
      });
      const invitation = options.invite ? await issueInvitation(tx, user.id, options.invite.webUrl) : null;
      return { user, token, invitation };
    });
  } catch (err) {
    if (err instanceof EmailTakenError) {
      throw new ValidationError([{ path: 'email', message: 'is already registered' }], 'Invalid user');
    }
    throw err;
  }
}
