import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { generateToken, hashToken } from '../auth/tokens.ts';
import { Billing } from '../entities/billing.entity.ts';
import { User } from '../entities/user.entity.ts';
import { parseInput, ValidationError } from '../errors.ts';

const createUserSchema = z.object({
  email: z
    .email('must be a valid email address')
    .max(320)
    .transform((e) => e.trim().toLowerCase()),
  displayName: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
});

export interface CreateUserInput {
  email: string;
  displayName: string;
  currency?: string;
}

export interface CreateUserResult {
  user: User;
  /** The user's API bearer token: returned once, stored hashed. */
  token: string;
}

/** Creates a user with an empty billing account and a fresh API token. */
export async function createUser(em: EntityManager, input: CreateUserInput): Promise<CreateUserResult> {
  const data = parseInput(
    createUserSchema,
    { email: input.email.trim(), displayName: input.displayName },
    'Invalid user',
  );
  const token = generateToken();
  try {
    const user = await em.transactional(async (tx) => {
      const created = tx.create(User, {
        email: data.email,
        displayName: data.displayName,
        apiTokenHash: hashToken(token),
        vmQuota: 1,
        createdAt: new Date(),
      });
      tx.create(Billing, { user: created, creditBalanceCents: 0, currency: input.currency ?? 'EUR' });
      return created;
    });
    return { user, token };
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException) {
      throw new ValidationError([{ path: 'email', message: 'is already registered' }], 'Invalid user');
    }
    throw err;
  }
}
