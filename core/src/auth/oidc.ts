import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';
import { firstRow, sql } from '../db/sql.ts';
import { User } from '../entities/user.entity.ts';
import {
  AccountSuspendedError,
  EmailTakenError,
  InvalidCredentialsError,
  ValidationError,
} from '../errors.ts';
import { type OperatorSignedIn, openOperatorSession } from '../operators/operators.ts';
import { OPERATOR_ROLES, type OperatorRole } from '../operators/roles.ts';
import { displayNameSchema, emailSchema, insertUser, normalizeEmail } from '../users/create-user.ts';
import { type SignupTrial, trialPlan } from '../users/signup-trial.ts';
import { type EmailVerification, issueEmailVerification } from './email-verification.ts';
import { countAttempt, ipBucket } from './rate-limit.ts';
import {
  type AuthSettings,
  type ClientInfo,
  openSession,
  pruneEndedSessions,
  type SignedIn,
} from './sessions.ts';

/** The OpenID Connect issuer users sign in with (OIDC_ISSUER_URL, OIDC_CLIENT_ID). */
export interface OidcSettings {
  /** The issuer identifier exactly as its discovery document states it. */
  issuer: string;
  /** The web's client id: the audience every ID token must name. */
  clientId: string;
  /** The ID token claim (a string or a list of strings, e.g. `groups`) that makes an operator (OIDC_ROLE_CLAIM); absent: nobody is an operator by the forge. */
  roleClaim?: string | null;
  /** The claim's values and the operator role each gives (OIDC_ROLE_MAP). */
  roleMap?: Readonly<Record<string, OperatorRole>>;
}

/** What a verified ID token says about the person. */
export interface OidcIdentity {
  /** `<issuer>#<sub>`: unique across issuers, stored as users.forge_id. */
  forgeId: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  /** The values of the role claim (OIDC_ROLE_CLAIM), none when it is not set or absent. */
  roleValues: string[];
}

type KeySet = ReturnType<typeof createRemoteJWKSet>;
/** One key set per issuer, fetched from its discovery document on first use (jose caches the keys). */
const keySets = new Map<string, Promise<KeySet>>();

async function discoverKeys(issuer: string): Promise<KeySet> {
  const res = await fetch(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, {
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`OIDC discovery of ${issuer} answered ${res.status}`);
  const metadata = (await res.json()) as { issuer?: string; jwks_uri?: string };
  if (metadata.issuer !== issuer)
    throw new Error(`OIDC discovery of ${issuer} names another issuer: ${metadata.issuer}`);
  if (!metadata.jwks_uri) throw new Error(`OIDC discovery of ${issuer} has no jwks_uri`);
  return createRemoteJWKSet(new URL(metadata.jwks_uri));
}

function keysOf(issuer: string): Promise<KeySet> {
  let keys = keySets.get(issuer);
  if (!keys) {
    keys = discoverKeys(issuer);
    // A failed discovery is tried again on the next sign-in.
    keys.catch(() => keySets.delete(issuer));
    keySets.set(issuer, keys);
  }
  return keys;
}

const REFUSED = 'The sign-in with the forge could not be verified: start it again';

/**
 * Verifies an ID token as this process's own check (the web that obtained it is not trusted
 * blindly): signature by the issuer's published keys, issuer, audience, expiry, and the nonce
 * the web generated for this sign-in. Anything wrong: InvalidCredentialsError.
 */
export async function verifyIdToken(
  settings: OidcSettings,
  idToken: string,
  expectedNonce: string,
): Promise<OidcIdentity> {
  const keys = await keysOf(settings.issuer);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(idToken, keys, {
      issuer: settings.issuer,
      audience: settings.clientId,
      requiredClaims: ['sub', 'exp', 'iat'],
    }));
  } catch {
    throw new InvalidCredentialsError(REFUSED);
  }
  if (typeof payload.nonce !== 'string' || expectedNonce === '' || payload.nonce !== expectedNonce)
    throw new InvalidCredentialsError(REFUSED);
  const str = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);
  const claim = settings.roleClaim ? payload[settings.roleClaim] : undefined;
  const roleValues = (Array.isArray(claim) ? claim : [claim]).filter(
    (v): v is string => typeof v === 'string',
  );
  return {
    forgeId: `${settings.issuer}#${payload.sub}`,
    email: str(payload.email),
    emailVerified: payload.email_verified === true,
    name: str(payload.name) ?? str(payload.preferred_username),
    roleValues,
  };
}

/** A sign-in with the forge; `verification`: a new unverified account's link, to mail. */
export type OidcSignedIn = SignedIn & { verification: EmailVerification | null };

export interface OidcSignInInput {
  idToken: string;
  /** The nonce the web put in the authorization request (kept in its cookie). */
  nonce: string;
}

/**
 * Signs in with a verified ID token. The account is the one whose forge_id is the token's
 * issuer + subject; else the one with the token's email when the issuer says it is verified
 * (forge_id filled in); else a new account (email and display name from the token; the
 * sign-up trial as for signUp). An email the issuer has not verified never reaches an existing
 * account: EmailTakenError. Counts as an attempt for the client's address first. The account's
 * email counts as verified when the issuer says so; a new account with an email the issuer
 * has not verified starts unverified when `verifyEmail` (SIGNUP_VERIFY_EMAIL) is given, with a
 * verification link issued in the same transaction for the caller to mail after the commit
 * (sendEmailVerification), as signUp does.
 */
export async function signInWithOidc(
  em: EntityManager,
  input: OidcSignInInput,
  options: {
    oidc: OidcSettings;
    settings: AuthSettings;
    client: ClientInfo;
    currency: string;
    trial?: SignupTrial | null;
    verifyEmail?: { webUrl: string } | null;
  },
): Promise<OidcSignedIn> {
  await countAttempt(em, [
    { bucket: ipBucket(options.client.ip ?? 'unknown'), limit: options.settings.rateLimitIp },
  ]);
  const identity = await verifyIdToken(options.oidc, input.idToken, input.nonce);

  // Two first logins of one person at once: the loser's insert hits forge_id's unique
  // constraint (or the email's); once more, it finds the winner's account.
  let signedIn: OidcSignedIn;
  try {
    signedIn = await openOidcSession(em, identity, options);
  } catch (err) {
    if (!(err instanceof UniqueConstraintViolationException || err instanceof EmailTakenError)) throw err;
    signedIn = await openOidcSession(em, identity, options);
  }
  await pruneEndedSessions(em);
  return signedIn;
}

function openOidcSession(
  em: EntityManager,
  identity: OidcIdentity,
  options: {
    settings: AuthSettings;
    client: ClientInfo;
    currency: string;
    trial?: SignupTrial | null;
    verifyEmail?: { webUrl: string } | null;
  },
): Promise<OidcSignedIn> {
  return em.transactional(async (tx) => {
    let user = await tx.findOne(User, { forgeId: identity.forgeId });
    let verification: EmailVerification | null = null;
    if (!user && identity.email && identity.emailVerified) {
      user = await tx.findOne(User, { email: normalizeEmail(identity.email) });
      if (user) {
        // Equal: a concurrent first login of the same person committed in between.
        if (user.forgeId !== null && user.forgeId !== identity.forgeId)
          throw new InvalidCredentialsError(
            'This email belongs to an account linked to another forge identity',
          );
        user.forgeId = identity.forgeId;
      }
    }
    // Before anything is linked or opened (a deleted account has no email or forge id to match).
    if (user?.status === 'deleted') throw new InvalidCredentialsError(REFUSED);
    if (user?.status === 'suspended') throw new AccountSuspendedError();
    if (!user) {
      const email = emailSchema.safeParse(identity.email ?? '');
      if (!email.success)
        throw new ValidationError(
          [{ path: 'email', message: 'The forge did not share a valid email address (scope "email")' }],
          'Invalid sign-in with the forge',
        );
      const name = displayNameSchema.safeParse(identity.name ?? email.data.split('@')[0]);
      user = await insertUser(tx, {
        email: email.data,
        displayName: name.success ? name.data : email.data,
        currency: options.currency,
        plan: options.trial ? trialPlan(options.trial) : null,
        emailVerified: identity.emailVerified || !options.verifyEmail,
      });
      user.forgeId = identity.forgeId;
      if (options.verifyEmail && !identity.emailVerified)
        verification = await issueEmailVerification(tx, user.id, options.verifyEmail.webUrl);
    }
    // The issuer vouches for the address the account has: that verifies it.
    if (
      !user.emailVerifiedAt &&
      identity.emailVerified &&
      identity.email &&
      normalizeEmail(identity.email) === user.email
    )
      user.emailVerifiedAt = new Date();
    const session = openSession(tx, 'USER', options.settings, options.client, { userId: user.id });
    return { user, session, verification };
  });
}

/**
 * The operator role the identity's role claim maps to (OIDC_ROLE_MAP); with several mapped
 * values the one with the most rights, in the order owner, operator, billing, viewer. Null:
 * no mapped value.
 */
export function mappedRole(
  settings: OidcSettings,
  identity: Pick<OidcIdentity, 'roleValues'>,
): OperatorRole | null {
  const roles = new Set(identity.roleValues.map((v) => settings.roleMap?.[v]).filter(Boolean));
  return OPERATOR_ROLES.find((role) => roles.has(role)) ?? null;
}

/**
 * Signs an operator in with a verified ID token whose role claim maps to a role
 * (OIDC_ROLE_CLAIM, OIDC_ROLE_MAP); opens an ADMIN session for them. The operator is the one
 * whose forge_id is the token's issuer + subject; else the one with the token's verified email
 * (forge_id filled in); else a new one. The forge decides the role: it is set to the mapped
 * one at every sign-in. No mapped role: InvalidCredentialsError (customers sign in with
 * signInWithOidc; the two never share an account). Counts as an attempt for the client's address.
 */
export async function operatorSignInWithOidc(
  em: EntityManager,
  input: OidcSignInInput,
  options: { oidc: OidcSettings; settings: AuthSettings; client: ClientInfo },
): Promise<OperatorSignedIn> {
  await countAttempt(em, [
    { bucket: ipBucket(options.client.ip ?? 'unknown'), limit: options.settings.rateLimitIp },
  ]);
  const identity = await verifyIdToken(options.oidc, input.idToken, input.nonce);
  const role = mappedRole(options.oidc, identity);
  if (!role) throw new InvalidCredentialsError('Your forge account has no operator role here');
  const email = emailSchema.safeParse(identity.email ?? '');
  const verifiedEmail = email.success && identity.emailVerified ? email.data : null;

  const operatorId = await em.transactional(async (tx) => {
    let row = await firstRow(
      tx,
      sql<{ id: string }>`update operator set role = ${role}, updated_at = now()
        where forge_id = ${identity.forgeId} returning id`,
    );
    if (!row && verifiedEmail)
      row = await firstRow(
        tx,
        sql<{
          id: string;
        }>`update operator set role = ${role}, forge_id = ${identity.forgeId}, updated_at = now()
          where email = ${verifiedEmail} and forge_id is null returning id`,
      );
    if (!row) {
      if (!verifiedEmail)
        throw new ValidationError(
          [{ path: 'email', message: 'The forge did not share a verified email address (scope "email")' }],
          'Invalid sign-in with the forge',
        );
      row = await firstRow(
        tx,
        sql<{ id: string }>`insert into operator (email, role, forge_id)
          values (${verifiedEmail}, ${role}, ${identity.forgeId})
          on conflict do nothing returning id`,
      );
    }
    // The email is an operator's linked to another forge identity, or a concurrent first sign-in won.
    if (!row)
      throw new InvalidCredentialsError('This email belongs to an operator linked to another forge identity');
    return row.id;
  });
  return openOperatorSession(em, operatorId, options);
}
