import { randomBytes } from 'node:crypto';
import { type Algorithm, hash, type Options, verify } from '@node-rs/argon2';
import { InvalidCredentialsError, ValidationError } from '../errors.ts';
import { PASSWORD_RULES, passwordProblems } from './password-rules.ts';

export { PASSWORD_RULES, PASSWORD_RULES_TEXT, passwordProblems } from './password-rules.ts';

/** `Algorithm.Argon2id` (an ambient const enum, which isolatedModules cannot read). */
const ARGON2ID = 2 as Algorithm;

/** argon2id with OWASP's first recommended setting: 19 MiB, 2 passes, 1 lane. */
export const ARGON2_OPTIONS: Options = {
  algorithm: ARGON2ID,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
};

/** A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) with a fresh random salt. */
export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

/** Whether `password` matches the stored hash; a malformed hash matches nothing. */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | null = null;

/**
 * Spends what a real verification spends, for sign-ins that have no hash to check (unknown
 * email, no password set), so the answer's timing does not say which case it was.
 */
export async function dummyVerify(password: string): Promise<void> {
  dummyHash ??= hashPassword(randomBytes(24).toString('base64url'));
  await verifyPassword(await dummyHash, password);
}

/**
 * The checks of a password change (users' and operators' alike): the current password matches
 * the stored hash, and the new one passes the rules and differs from it. Answers the new hash;
 * InvalidCredentialsError or ValidationError (path `newPassword`) otherwise, with nothing changed.
 */
export async function hashChangedPassword(
  account: { email: string; password_hash: string | null } | undefined,
  input: { currentPassword: string; newPassword: string },
): Promise<string> {
  if (
    !account?.password_hash ||
    input.currentPassword.length > 4 * PASSWORD_RULES.maxLength ||
    !(await verifyPassword(account.password_hash, input.currentPassword))
  )
    throw new InvalidCredentialsError('The current password is wrong');
  const problems = passwordProblems(input.newPassword, account.email);
  if (input.newPassword === input.currentPassword) problems.push('must differ from the current password');
  if (problems.length > 0)
    throw new ValidationError(
      problems.map((message) => ({ path: 'newPassword', message })),
      'Invalid new password',
    );
  return hashPassword(input.newPassword);
}
