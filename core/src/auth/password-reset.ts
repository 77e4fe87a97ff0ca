import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { execute, firstRow, sql } from '../db/sql.ts';
import { InvalidCredentialsError, ResetTokenInvalidError, ValidationError } from '../errors.ts';
import { isUuid } from '../lib/ids.ts';
import type { Logger } from '../lib/logger.ts';
import type { Mailer } from '../mail/mailer.ts';
import { passwordResetEmail } from '../mail/templates.ts';
import { enqueueNotification } from '../outbox/notify-events.ts';
import { normalizeEmail } from '../users/create-user.ts';
import { claimLinkToken, issueLinkToken, webLink } from './link-tokens.ts';
import { hashChangedPassword, hashPassword, passwordProblems } from './passwords.ts';
import { countAttempt, ipBucket, type RateLimitBucket } from './rate-limit.ts';
import type { ClientInfo } from './sessions.ts';
import { hashToken } from './tokens.ts';

/** A reset link works this long after it was asked for. */
export const RESET_TOKEN_TTL_MINUTES = 60;
/** Links that expired this long ago are deleted by the next request. */
const KEEP_EXPIRED_TOKENS = '7 days';
/** Longer than any email: answered as an unknown one, without a query. */
const MAX_EMAIL_LENGTH = 320;

export interface PasswordResetSettings {
  /** The web's public base URL; the link is `<webUrl>/reset?token=…` (WEB_PUBLIC_URL). */
  webUrl: string;
  /** Reset requests per email per 15-minute window (PASSWORD_RESET_RATE_LIMIT_EMAIL). */
  rateLimitEmail: number;
  /** Reset requests and reset attempts per client address per window (AUTH_RATE_LIMIT_IP). */
  rateLimitIp: number;
}

export interface PasswordResetDeps {
  settings: PasswordResetSettings;
  client: ClientInfo;
  mailer: Mailer;
  log: Logger;
}

/** Reset buckets are apart from sign-in's, so asking for links never blocks signing in. */
const resetBuckets = (
  settings: PasswordResetSettings,
  client: ClientInfo,
  email?: string,
): RateLimitBucket[] => {
  const buckets: RateLimitBucket[] = [
    { bucket: `reset-${ipBucket(client.ip ?? 'unknown')}`, limit: settings.rateLimitIp },
  ];
  if (email !== undefined)
    buckets.push({
      bucket: `reset-email:${normalizeEmail(email)}`.slice(0, 400),
      limit: settings.rateLimitEmail,
    });
  return buckets;
};

/** The link in the email: the web's reset page with the token. */
export function resetLink(webUrl: string, token: string): string {
  return webLink(webUrl, 'reset', token);
}

/**
 * Asks for a password reset link. The answer is the same whether or not the email has an account
 * (nothing returned, nothing thrown but RateLimitedError, which counts the email and the address
 * whatever the email is). For an account with that email a single-use token (stored hashed,
 * RESET_TOKEN_TTL_MINUTES) is committed, then the email is handed to the mailer without waiting:
 * a slow or failing SMTP server neither delays this answer nor reveals that the email exists
 * (a failure is logged; the user can ask again). Returns the delivery for tests to await.
 */
export async function requestPasswordReset(
  em: EntityManager,
  email: string,
  deps: PasswordResetDeps,
): Promise<{ delivery: Promise<void> }> {
  await countAttempt(em, resetBuckets(deps.settings, deps.client, email));
  const none = { delivery: Promise.resolve() };
  const normalized = normalizeEmail(email);
  if (normalized === '' || normalized.length > MAX_EMAIL_LENGTH) return none;

  const issued = await em.transactional(async (tx) => {
    const user = await firstRow(
      tx,
      // A deleted account's tombstone address is no mailbox: answered as an unknown email.
      sql<{
        id: string;
        email: string;
      }>`select id, email from users where email = ${normalized} and status <> 'deleted'`,
    );
    if (!user) return null;
    // `hpr_…`
    const link = await issueLinkToken(tx, {
      userId: user.id,
      purpose: 'reset',
      prefix: 'hpr_',
      ttlMinutes: RESET_TOKEN_TTL_MINUTES,
    });
    // Neither the token nor its hash: the event says that a link exists, not what it is.
    await enqueueNotification(
      tx,
      'password.reset_requested',
      { userId: user.id, email: user.email, expiresAt: link.expiresAt.toISOString() },
      `password.reset_requested:${link.id}`,
    );
    return { ...user, token: link.token };
  });
  await execute(
    em,
    sql`delete from password_reset_token where expires_at < now() - ${KEEP_EXPIRED_TOKENS}::interval`,
  );
  if (!issued) return none;

  const content = passwordResetEmail({
    resetUrl: resetLink(deps.settings.webUrl, issued.token),
    expiresInMinutes: RESET_TOKEN_TTL_MINUTES,
  });
  const delivery = deps.mailer.send({ to: issued.email, ...content }).then(
    () => deps.log.info({ userId: issued.id, via: deps.mailer.description }, 'password reset email sent'),
    (err) =>
      deps.log.error(
        { userId: issued.id, via: deps.mailer.description, err },
        'password reset email could not be sent (the user may ask again)',
      ),
  );
  return { delivery };
}

/** Forgets every reset and invitation link of a user, used or not (account deletion). */
export async function deleteUserResetTokens(em: EntityManager, userId: string): Promise<number> {
  if (!isUuid(userId)) return 0;
  return execute(em, sql`delete from password_reset_token where user_id = ${userId}`);
}

export interface ResetPasswordResult {
  userId: string;
  /** Sessions of the user that were ended (all of them). */
  sessionsEnded: number;
}

/**
 * Sets a new password with a reset token: the token must be known, unused and unexpired
 * (ResetTokenInvalidError otherwise, the same answer for each); the password must follow the
 * rules (ValidationError on `newPassword`, and the token stays usable). On success the token and
 * every other outstanding link of the user are used up and every session of the user ends.
 * Counts an attempt for the client's address first.
 */
export async function resetPassword(
  em: EntityManager,
  input: { token: string; newPassword: string },
  deps: { settings: PasswordResetSettings; client: ClientInfo },
): Promise<ResetPasswordResult> {
  await countAttempt(em, resetBuckets(deps.settings, deps.client));
  if (input.token.length > 200) throw new ResetTokenInvalidError();
  const tokenHash = hashToken(input.token);
  const found = await firstRow(
    em,
    sql<{ user_id: string; email: string }>`select t.user_id, u.email
       from password_reset_token t join users u on u.id = t.user_id
      where t.token_hash = ${tokenHash} and t.used_at is null and t.expires_at > now()
        and t.purpose in ('reset', 'invite')`,
  );
  if (!found) throw new ResetTokenInvalidError();
  const problems = passwordProblems(input.newPassword, found.email);
  if (problems.length > 0)
    throw new ValidationError(
      problems.map((message) => ({ path: 'newPassword', message })),
      'Invalid new password',
    );
  const passwordHash = await hashPassword(input.newPassword);

  return em.transactional(async (tx) => {
    // The use is claimed here: of two concurrent resets with one token, one wins.
    const claimed = await claimLinkToken(tx, input.token, ['reset', 'invite']);
    if (!claimed) throw new ResetTokenInvalidError();
    // The link reached the account's mailbox: that verifies the email too.
    await execute(
      tx,
      sql`update users set password_hash = ${passwordHash}, email_verified_at = coalesce(email_verified_at, now())
           where id = ${found.user_id}`,
    );
    await execute(
      tx,
      sql`update password_reset_token set used_at = now() where user_id = ${found.user_id} and used_at is null`,
    );
    const sessionsEnded = await execute(
      tx,
      sql`update auth_session set revoked_at = now()
           where user_id = ${found.user_id} and revoked_at is null and expires_at > now()`,
    );
    await enqueuePasswordChanged(tx, {
      userId: found.user_id,
      email: found.email,
      via: claimed.purpose === 'invite' ? 'INVITATION' : 'RESET',
      sessionsEnded,
      // One link sets one password: a replay of this transaction finds it used.
      occurrence: `link:${claimed.id}`,
    });
    return { userId: found.user_id, sessionsEnded };
  });
}

export interface ChangePasswordInput {
  currentPassword: string;
  newPassword: string;
}

/**
 * Changes a signed-in user's password: the current one must match (InvalidCredentialsError
 * otherwise, counted against the user's sign-in bucket and the address), the new one must follow
 * the rules (ValidationError on `newPassword`). Every session of the user but `keepSessionId`
 * (the one asking; null: none) ends, and outstanding reset links are used up.
 */
export async function changePassword(
  em: EntityManager,
  userId: string,
  input: ChangePasswordInput,
  deps: {
    keepSessionId: string | null;
    settings: { rateLimitEmail: number; rateLimitIp: number };
    client: ClientInfo;
  },
): Promise<{ sessionsEnded: number }> {
  if (!isUuid(userId)) throw new InvalidCredentialsError('The current password is wrong');
  const user = await firstRow(
    em,
    sql<{
      email: string;
      password_hash: string | null;
    }>`select email, password_hash from users where id = ${userId}`,
  );
  await countAttempt(em, [
    { bucket: `change-user:${userId}`, limit: deps.settings.rateLimitEmail },
    { bucket: `change-${ipBucket(deps.client.ip ?? 'unknown')}`, limit: deps.settings.rateLimitIp },
  ]);
  const passwordHash = await hashChangedPassword(user, input);
  const keep = deps.keepSessionId && isUuid(deps.keepSessionId) ? deps.keepSessionId : null;
  return em.transactional(async (tx) => {
    await execute(tx, sql`update users set password_hash = ${passwordHash} where id = ${userId}`);
    await execute(
      tx,
      sql`update password_reset_token set used_at = now() where user_id = ${userId} and used_at is null`,
    );
    const sessionsEnded = await execute(
      tx,
      sql`update auth_session set revoked_at = now()
           where user_id = ${userId} and revoked_at is null and expires_at > now()
             and (${keep}::uuid is null or id <> ${keep}::uuid)`,
    );
    await enqueuePasswordChanged(tx, {
      userId,
      // hashChangedPassword refused a missing user.
      email: user!.email,
      via: 'CHANGE',
      sessionsEnded,
      // Each change is its own occurrence; nothing replays this transaction after a commit.
      occurrence: `change:${randomUUID()}`,
    });
    return { sessionsEnded };
  });
}

/** `password.changed`, in the transaction that sets the password; never the password or its hash. */
async function enqueuePasswordChanged(
  tx: EntityManager,
  event: {
    userId: string;
    email: string;
    via: 'RESET' | 'INVITATION' | 'CHANGE';
    sessionsEnded: number;
    occurrence: string;
  },
): Promise<void> {
  await enqueueNotification(
    tx,
    'password.changed',
    {
      userId: event.userId,
      email: event.email,
      via: event.via,
      sessionsEnded: event.sessionsEnded,
      changedAt: new Date().toISOString(),
    },
    `password.changed:${event.userId}:${event.occurrence}`,
  );
}
