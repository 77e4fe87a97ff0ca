import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { nativePool } from '../db/native-pool.ts';
import { execute, rows, sql } from '../db/sql.ts';
import { AuthSession, type SessionKind } from '../entities/auth-session.entity.ts';
import { User } from '../entities/user.entity.ts';
import {
  AccountSuspendedError,
  InvalidCredentialsError,
  type Problem,
  parseInput,
  SignupClosedError,
  ValidationError,
} from '../errors.ts';
import { isUuid } from '../lib/ids.ts';
import type { OperatorRole } from '../operators/roles.ts';
import { createUserSchema, insertUser, normalizeEmail } from '../users/create-user.ts';
import { type SignupTrial, trialPlan } from '../users/signup-trial.ts';
import { type EmailVerification, issueEmailVerification } from './email-verification.ts';
import { dummyVerify, hashPassword, PASSWORD_RULES, passwordProblems, verifyPassword } from './passwords.ts';
import { countAttempt, emailBucket, ipBucket, type RateLimitBucket } from './rate-limit.ts';
import { generateToken, hashToken, secretFingerprint, secretsEqual } from './tokens.ts';

/** Sign-in settings (SESSION_TTL_HOURS, AUTH_RATE_LIMIT_EMAIL, AUTH_RATE_LIMIT_IP). */
export interface AuthSettings {
  sessionTtlHours: number;
  rateLimitEmail: number;
  rateLimitIp: number;
}

export const DEFAULT_AUTH_SETTINGS: AuthSettings = {
  sessionTtlHours: 168,
  rateLimitEmail: 10,
  rateLimitIp: 30,
};

/** Who is signing in, as far as the request says (recorded on the session). */
export interface ClientInfo {
  /** The client's address (see http/client-ip.ts); null when unknown (an in-process call). */
  ip: string | null;
  userAgent: string | null;
}

/** A session just opened: its token is shown this once. */
export interface IssuedSession {
  id: string;
  token: string;
  expiresAt: Date;
}

export interface SignedIn {
  user: User;
  session: IssuedSession;
}

/** Sessions that ended (expired, or revoked and then expired) this long ago are deleted. */
const KEEP_ENDED_SESSIONS = '30 days';
const MAX_USER_AGENT_LENGTH = 512;

/** Attempts from an unknown address share one bucket (they still count). */
const ipBucketOf = (client: ClientInfo) => ipBucket(client.ip ?? 'unknown');

export function attemptBuckets(
  settings: AuthSettings,
  client: ClientInfo,
  email?: string,
): RateLimitBucket[] {
  const buckets: RateLimitBucket[] = [{ bucket: ipBucketOf(client), limit: settings.rateLimitIp }];
  if (email !== undefined) buckets.push({ bucket: emailBucket(email), limit: settings.rateLimitEmail });
  return buckets;
}

/** Opens a session in `em`'s transaction (the caller flushes / commits). */
export function openSession(
  em: EntityManager,
  kind: SessionKind,
  settings: AuthSettings,
  client: ClientInfo,
  owner: { userId: string } | { adminSecret: string } | { operatorId: string },
): IssuedSession {
  const token = generateToken(kind === 'USER' ? 'userSession' : 'adminSession');
  const now = new Date();
  const expiresAt = new Date(now.getTime() + settings.sessionTtlHours * 3_600_000);
  const session = em.create(AuthSession, {
    id: randomUUID(),
    kind,
    user: 'userId' in owner ? owner.userId : null,
    operatorId: 'operatorId' in owner ? owner.operatorId : null,
    tokenHash: hashToken(token),
    secretFingerprint: 'adminSecret' in owner ? secretFingerprint(token, owner.adminSecret) : null,
    createdAt: now,
    lastSeenAt: now,
    expiresAt,
    revokedAt: null,
    ip: client.ip,
    userAgent: client.userAgent?.slice(0, MAX_USER_AGENT_LENGTH) ?? null,
  });
  return { id: session.id, token, expiresAt };
}

/** Forgets sessions that ended long ago (an index range on expires_at; usually empty). */
export async function pruneEndedSessions(em: EntityManager): Promise<void> {
  await execute(
    em,
    sql`delete from auth_session where expires_at < now() - ${KEEP_ENDED_SESSIONS}::interval`,
  );
}

/** Who may sign up (SIGNUP_MODE): anyone, nobody (accounts come by invitation only), or nobody at all. */
export const SIGNUP_MODES = ['open', 'invite', 'closed'] as const;
export type SignupMode = (typeof SIGNUP_MODES)[number];

export interface SignUpInput {
  email: string;
  displayName: string;
  password: string;
}

/**
 * Creates a user (empty balance in `currency`, as createUser does, but with a password and no
 * API token; with `trial`, the sign-up trial's plan period) and opens a USER session. Counts as
 * an attempt for the email and the client's address first (RateLimitedError when over). Every problem with the input is listed
 * (ValidationError: `email`, `displayName`, `password`); a registered email is EmailTakenError,
 * also when concurrent sign-ups race for it. With `mode` `invite` or `closed`: SignupClosedError
 * before anything is looked at or counted. With `verifyEmail` (SIGNUP_VERIFY_EMAIL) the account
 * starts unverified and a verification link is issued in the same transaction: the caller mails
 * it (sendEmailVerification) after this returns; without, the email counts as verified.
 */
export async function signUp(
  em: EntityManager,
  input: SignUpInput,
  options: {
    currency: string;
    settings: AuthSettings;
    client: ClientInfo;
    trial?: SignupTrial | null;
    mode?: SignupMode;
    verifyEmail?: { webUrl: string } | null;
  },
): Promise<SignedIn & { verification: EmailVerification | null }> {
  if (options.mode && options.mode !== 'open') throw new SignupClosedError(options.mode);
  await countAttempt(em, attemptBuckets(options.settings, options.client, input.email));

  const problems: Problem[] = [];
  let data: { email: string; displayName: string } | undefined;
  try {
    data = parseInput(
      createUserSchema,
      { email: input.email.trim(), displayName: input.displayName },
      'Invalid sign-up',
    );
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    problems.push(...err.problems);
  }
  for (const message of passwordProblems(input.password, input.email))
    problems.push({ path: 'password', message });
  if (!data || problems.length > 0) throw new ValidationError(problems, 'Invalid sign-up');

  const passwordHash = await hashPassword(input.password);
  const signedIn = await em.transactional(async (tx) => {
    const plan = options.trial ? trialPlan(options.trial) : null;
    const verifyEmail = options.verifyEmail ?? null;
    const user = await insertUser(tx, {
      ...data,
      currency: options.currency,
      passwordHash,
      plan,
      emailVerified: !verifyEmail,
    });
    const verification = verifyEmail ? await issueEmailVerification(tx, user.id, verifyEmail.webUrl) : null;
    const session = openSession(tx, 'USER', options.settings, options.client, { userId: user.id });
    return { user, session, verification };
  });
  await pruneEndedSessions(em);
  return signedIn;
}

export interface SignInInput {
  email: string;
  password: string;
}

/**
 * Checks a user's password and opens a USER session. Unknown email, a user without a password
 * and a wrong password all answer the same InvalidCredentialsError, after the same argon2 work;
 * the right password of a suspended account: AccountSuspendedError.
 * Counts as an attempt for the email and the client's address first: over the limit,
 * RateLimitedError and nothing is checked.
 */
export async function signIn(
  em: EntityManager,
  input: SignInInput,
  options: { settings: AuthSettings; client: ClientInfo },
): Promise<SignedIn> {
  await countAttempt(em, attemptBuckets(options.settings, options.client, input.email));
  // Far longer than any acceptable password: refused without looking (says nothing about the account).
  if (input.password.length > 4 * PASSWORD_RULES.maxLength) throw new InvalidCredentialsError();

  const user = await em.findOne(
    User,
    { email: normalizeEmail(input.email) },
    { populate: ['passwordHash'], disableIdentityMap: true },
  );
  if (!user?.passwordHash) {
    await dummyVerify(input.password);
    throw new InvalidCredentialsError();
  }
  if (!(await verifyPassword(user.passwordHash, input.password))) throw new InvalidCredentialsError();
  // Only after the right password: the answer tells nobody else that the account is suspended.
  if (user.status !== 'active') throw new AccountSuspendedError();

  const session = await em.transactional(async (tx) =>
    openSession(tx, 'USER', options.settings, options.client, { userId: user.id }),
  );
  await pruneEndedSessions(em);
  return { user, session };
}

/**
 * Opens an ADMIN session for the right admin secret (compared in constant time; never logged).
 * Counts as an attempt for the client's address first.
 */
export async function adminSignIn(
  em: EntityManager,
  secret: string,
  options: { adminSecret: string; settings: AuthSettings; client: ClientInfo },
): Promise<IssuedSession> {
  await countAttempt(em, attemptBuckets(options.settings, options.client));
  if (!secretsEqual(secret, options.adminSecret))
    throw new InvalidCredentialsError('The admin secret is wrong');
  const session = await em.transactional(async (tx) =>
    openSession(tx, 'ADMIN', options.settings, options.client, { adminSecret: options.adminSecret }),
  );
  await pruneEndedSessions(em);
  return session;
}

/** Ends one session now; true when it was live. */
export async function revokeSession(em: EntityManager, sessionId: string): Promise<boolean> {
  if (!isUuid(sessionId)) return false;
  const revoked = await execute(
    em,
    sql`update auth_session set revoked_at = now()
         where id = ${sessionId} and revoked_at is null and expires_at > now()`,
  );
  return revoked > 0;
}

/** Ends every live session of a user now (e.g. after a password leak); how many there were. */
export async function revokeUserSessions(em: EntityManager, userId: string): Promise<number> {
  if (!isUuid(userId)) return 0;
  return execute(
    em,
    sql`update auth_session set revoked_at = now()
         where user_id = ${userId} and revoked_at is null and expires_at > now()`,
  );
}

/** Forgets every session of a user, live or ended (account deletion); how many there were. */
export async function deleteUserSessions(em: EntityManager, userId: string): Promise<number> {
  if (!isUuid(userId)) return 0;
  return execute(em, sql`delete from auth_session where user_id = ${userId}`);
}

/** The operator an ADMIN session belongs to, as of this request (a role change applies at once). */
export interface SessionOperator {
  id: string;
  email: string;
  role: OperatorRole;
}

/** An ADMIN session's `operator` is null for a break-glass session opened with the admin secret. */
export type LiveSession =
  | { id: string; kind: 'USER'; userId: string }
  | { id: string; kind: 'ADMIN'; operator: SessionOperator | null };

/**
 * The live session a bearer token names: not revoked, not expired, of a user who is neither
 * suspended nor deleted, and for an ADMIN session either an operator's (with the operator's
 * current role) or opened with the current admin secret. Runs on every request with a session token: plain
 * statements on the driver; `last_seen_at` is written at most once a minute.
 */
export async function findLiveSession(
  em: EntityManager,
  token: string,
  adminSecret: string,
): Promise<LiveSession | null> {
  const pool = await nativePool(em);
  const { rows } = await pool.query<{
    id: string;
    kind: SessionKind;
    user_id: string | null;
    secret_fingerprint: string | null;
    operator_id: string | null;
    operator_email: string | null;
    operator_role: OperatorRole | null;
    stale: boolean;
  }>(
    // The user's status in the same statement: a suspended or deleted user's session is refused
    // even if it was opened while the suspension committed.
    `select s.id, s.kind, s.user_id, s.secret_fingerprint, s.operator_id,
            o.email as operator_email, o.role as operator_role,
            s.last_seen_at < now() - interval '1 minute' as stale
       from auth_session s left join users u on u.id = s.user_id
            left join operator o on o.id = s.operator_id
      where s.token_hash = $1 and s.revoked_at is null and s.expires_at > now()
        and (s.user_id is null or u.status = 'active')`,
    [hashToken(token)],
  );
  const row = rows[0];
  if (!row) return null;
  if (row.kind === 'ADMIN' && row.operator_id) {
    // The operator row is gone only mid-delete (the cascade removes the session with it).
    if (!row.operator_role || !row.operator_email) return null;
  } else if (row.kind === 'ADMIN') {
    if (
      !row.secret_fingerprint ||
      !secretsEqual(row.secret_fingerprint, secretFingerprint(token, adminSecret))
    )
      return null;
  } else if (!row.user_id) return null;
  if (row.stale) {
    await pool.query(
      `update auth_session set last_seen_at = now()
        where id = $1 and last_seen_at < now() - interval '1 minute'`,
      [row.id],
    );
  }
  if (row.kind === 'USER') return { id: row.id, kind: 'USER', userId: row.user_id! };
  const operator =
    row.operator_id && row.operator_email && row.operator_role
      ? { id: row.operator_id, email: row.operator_email, role: row.operator_role }
      : null;
  return { id: row.id, kind: 'ADMIN', operator };
}

/** How many live sessions each user has (users without any: 0). */
export async function countLiveSessions(em: EntityManager, userIds: readonly string[]): Promise<number[]> {
  const counted = await rows(
    em,
    sql<{ user_id: string; n: number }>`select user_id, count(*)::int as n from auth_session
      where user_id = any(${userIds.filter(isUuid)}::uuid[]) and revoked_at is null and expires_at > now()
      group by user_id`,
  );
  const byUser = new Map(counted.map((r) => [r.user_id, r.n]));
  return userIds.map((id) => byUser.get(id) ?? 0);
}
