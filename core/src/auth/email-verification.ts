import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { execute, firstRow, sql } from '../db/sql.ts';
import {
  EmailLinkInvalidError,
  EmailTakenError,
  InvalidCredentialsError,
  NotFoundError,
  ValidationError,
} from '../errors.ts';
import { isUuid } from '../lib/ids.ts';
import type { Logger } from '../lib/logger.ts';
import type { Mailer } from '../mail/mailer.ts';
import { emailChangeEmail, emailChangeNoticeEmail, emailVerificationEmail } from '../mail/templates.ts';
import { emailSchema } from '../users/create-user.ts';
import { claimLinkToken, issueLinkToken, webLink } from './link-tokens.ts';
import { PASSWORD_RULES, verifyPassword } from './passwords.ts';
import { countAttempt, ipBucket } from './rate-limit.ts';
import type { ClientInfo } from './sessions.ts';

/** A verification or email change link works this long (read the next day is still fine). */
export const EMAIL_LINK_TTL_HOURS = 24;

/** Links and rate limits, as for password reset (WEB_PUBLIC_URL, PASSWORD_RESET_RATE_LIMIT_EMAIL, AUTH_RATE_LIMIT_IP). */
export interface EmailLinkSettings {
  /** The link is `<webUrl>/verify?token=…`. */
  webUrl: string;
  /** Links asked for per user per 15-minute window (resend, email change). */
  rateLimitEmail: number;
  /** Requests and link uses per client address per window. */
  rateLimitIp: number;
}

export interface EmailLinkDeps {
  settings: EmailLinkSettings;
  client: ClientInfo;
  mailer: Mailer;
  log: Logger;
}

/** A link issued and not yet mailed: shown to nobody, only its hash is stored. */
export interface EmailVerification {
  userId: string;
  displayName: string;
  /** Where it goes: the account's email. */
  email: string;
  url: string;
  expiresInHours: number;
}

const verifyLink = (webUrl: string, token: string) => webLink(webUrl, 'verify', token);
const ipBucketOf = (client: ClientInfo) => `email-link-${ipBucket(client.ip ?? 'unknown')}`;

/**
 * Issues a single-use verification link (`hpv_…`, EMAIL_LINK_TTL_HOURS) for the user's current
 * email; earlier unused ones stop working. Call it in the transaction that creates the user
 * (signUp) and mail it after the commit (sendEmailVerification). An unknown user: NotFoundError.
 */
export async function issueEmailVerification(
  em: EntityManager,
  userId: string,
  webUrl: string,
): Promise<EmailVerification> {
  const user = isUuid(userId)
    ? await firstRow(
        em,
        sql<{
          id: string;
          email: string;
          display_name: string;
        }>`select id, email, display_name from users where id = ${userId}`,
      )
    : undefined;
  if (!user) throw new NotFoundError('User', userId);
  const link = await issueLinkToken(em, {
    userId: user.id,
    purpose: 'verify',
    prefix: 'hpv_',
    ttlMinutes: EMAIL_LINK_TTL_HOURS * 60,
    email: user.email,
    replace: true,
  });
  return {
    userId: user.id,
    displayName: user.display_name,
    email: user.email,
    url: verifyLink(webUrl, link.token),
    expiresInHours: EMAIL_LINK_TTL_HOURS,
  };
}

/** Hands the verification email to the mailer; never throws (logged; the user can ask again). */
export function sendEmailVerification(
  verification: EmailVerification,
  deps: { mailer: Mailer; log: Logger },
): Promise<void> {
  const content = emailVerificationEmail({
    displayName: verification.displayName,
    verifyUrl: verification.url,
    expiresInHours: verification.expiresInHours,
  });
  return deliver(deps, verification.email, content, verification.userId, 'email verification');
}

function deliver(
  deps: { mailer: Mailer; log: Logger },
  to: string,
  content: { subject: string; text: string; html: string },
  userId: string,
  what: string,
): Promise<void> {
  return deps.mailer.send({ to, ...content }).then(
    () => deps.log.info({ userId, via: deps.mailer.description }, `${what} email sent`),
    (err) =>
      deps.log.error(
        { userId, via: deps.mailer.description, err },
        `${what} email could not be sent (the user may ask again)`,
      ),
  );
}

/**
 * Mails a new verification link to a signed-in user whose email is not verified (the previous
 * link stops working). Counts against the user's and the address's buckets first
 * (RateLimitedError). Already verified: nothing is sent. The delivery is not awaited here;
 * it is returned for tests.
 */
export async function resendEmailVerification(
  em: EntityManager,
  userId: string,
  deps: EmailLinkDeps,
): Promise<{ email: string; alreadyVerified: boolean; delivery: Promise<void> }> {
  if (!isUuid(userId)) throw new NotFoundError('User', userId);
  await countAttempt(em, [
    { bucket: `verify-user:${userId}`, limit: deps.settings.rateLimitEmail },
    { bucket: ipBucketOf(deps.client), limit: deps.settings.rateLimitIp },
  ]);
  const user = await firstRow(
    em,
    sql<{ email: string; verified: boolean }>`select email, email_verified_at is not null as verified
      from users where id = ${userId}`,
  );
  if (!user) throw new NotFoundError('User', userId);
  if (user.verified) return { email: user.email, alreadyVerified: true, delivery: Promise.resolve() };
  const verification = await em.transactional((tx) =>
    issueEmailVerification(tx, userId, deps.settings.webUrl),
  );
  return {
    email: verification.email,
    alreadyVerified: false,
    delivery: sendEmailVerification(verification, deps),
  };
}

export interface RequestEmailChangeInput {
  currentPassword: string;
  newEmail: string;
}

/**
 * Starts moving a signed-in user's account to a new email. The current password must match
 * (InvalidCredentialsError otherwise; counted against the user and the address); the new email
 * must be valid, differ from the current one (ValidationError on `newEmail`) and belong to no
 * other account (EmailTakenError). A single-use link (`hpe_…`, EMAIL_LINK_TTL_HOURS) is mailed
 * to the NEW address, and a notice to the old one; the email changes only when the link is used
 * (useEmailLink). Earlier unused change links stop working. Changing or resetting the password
 * cancels an outstanding change (every outstanding link of the user is used up then).
 */
export async function requestEmailChange(
  em: EntityManager,
  userId: string,
  input: RequestEmailChangeInput,
  deps: EmailLinkDeps,
): Promise<{ newEmail: string; expiresAt: Date; delivery: Promise<void> }> {
  if (!isUuid(userId)) throw new InvalidCredentialsError('The current password is wrong');
  await countAttempt(em, [
    { bucket: `email-change-user:${userId}`, limit: deps.settings.rateLimitEmail },
    { bucket: ipBucketOf(deps.client), limit: deps.settings.rateLimitIp },
  ]);
  const user = await firstRow(
    em,
    sql<{
      email: string;
      display_name: string;
      password_hash: string | null;
    }>`select email, display_name, password_hash from users where id = ${userId}`,
  );
  if (!user) throw new NotFoundError('User', userId);
  if (!user.password_hash)
    throw new InvalidCredentialsError(
      'This account has no password yet: set one with "Forgot password?" first, then change the email',
    );
  if (
    input.currentPassword.length > 4 * PASSWORD_RULES.maxLength ||
    !(await verifyPassword(user.password_hash, input.currentPassword))
  )
    throw new InvalidCredentialsError('The current password is wrong');
  const parsed = emailSchema.safeParse(input.newEmail.trim());
  if (!parsed.success)
    throw new ValidationError(
      [{ path: 'newEmail', message: 'must be a valid email address' }],
      'Invalid new email',
    );
  const newEmail = parsed.data;
  if (newEmail === user.email)
    throw new ValidationError(
      [{ path: 'newEmail', message: 'is your current email already' }],
      'Invalid new email',
    );
  if (await firstRow(em, sql<{ id: string }>`select id from users where email = ${newEmail}`))
    throw new EmailTakenError('Another account has this email already: choose another one');

  const link = await em.transactional((tx) =>
    issueLinkToken(tx, {
      userId,
      purpose: 'email',
      prefix: 'hpe_',
      ttlMinutes: EMAIL_LINK_TTL_HOURS * 60,
      email: newEmail,
      replace: true,
    }),
  );
  const confirm = emailChangeEmail({
    displayName: user.display_name,
    newEmail,
    confirmUrl: verifyLink(deps.settings.webUrl, link.token),
    expiresInHours: EMAIL_LINK_TTL_HOURS,
  });
  const notice = emailChangeNoticeEmail({ displayName: user.display_name, newEmail });
  const delivery = Promise.all([
    deliver(deps, newEmail, confirm, userId, 'email change'),
    deliver(deps, user.email, notice, userId, 'email change notice'),
  ]).then(() => {});
  return { newEmail, expiresAt: link.expiresAt, delivery };
}

export interface UsedEmailLink {
  userId: string;
  /** The account's email now (verified). */
  email: string;
  /** True for an email change link (the email is the new one), false for a verification. */
  changed: boolean;
}

/**
 * Uses a link from a verification or email change email (`/verify?token=…`): unknown, used
 * already or expired, EmailLinkInvalidError (one answer). A verification link verifies the
 * email it was sent to, if the account still has it. A change link sets the account's email to
 * the new address (verified) and uses up every other outstanding link of the user, which went
 * to the old address; an address another account took meanwhile: EmailTakenError, nothing
 * changed. Counts an attempt for the client's address first.
 */
export async function useEmailLink(
  em: EntityManager,
  token: string,
  deps: { settings: EmailLinkSettings; client: ClientInfo },
): Promise<UsedEmailLink> {
  await countAttempt(em, [{ bucket: ipBucketOf(deps.client), limit: deps.settings.rateLimitIp }]);
  try {
    return await em.transactional(async (tx) => {
      const link = await claimLinkToken(tx, token, ['verify', 'email']);
      if (!link?.email) throw new EmailLinkInvalidError();
      if (link.purpose === 'verify') {
        const verified = await execute(
          tx,
          sql`update users set email_verified_at = coalesce(email_verified_at, now())
               where id = ${link.user_id} and email = ${link.email}`,
        );
        if (verified === 0) throw new EmailLinkInvalidError();
        return { userId: link.user_id, email: link.email, changed: false };
      }
      await execute(
        tx,
        sql`update users set email = ${link.email}, email_verified_at = now() where id = ${link.user_id}`,
      );
      await execute(
        tx,
        sql`update password_reset_token set used_at = now() where user_id = ${link.user_id} and used_at is null`,
      );
      return { userId: link.user_id, email: link.email, changed: true };
    });
  } catch (err) {
    if (isEmailConflict(err))
      throw new EmailTakenError(
        'Another account has taken this email since the link was sent: nothing was changed',
      );
    throw err;
  }
}

function isEmailConflict(err: unknown): boolean {
  if (err instanceof UniqueConstraintViolationException) return /users_email_unique/.test(err.message);
  const pg = err as { code?: string; constraint?: string };
  return pg.code === '23505' && pg.constraint === 'users_email_unique';
}
