import { randomUUID } from 'node:crypto';
import { defineEntity, p } from '@mikro-orm/core';
import { User } from './user.entity.ts';

export const SESSION_KINDS = ['USER', 'ADMIN'] as const;
export type SessionKind = (typeof SESSION_KINDS)[number];

/**
 * A sign-in session: a user's (after signUp / signIn) or an admin's (an operator's after
 * operatorSignIn, or a break-glass one after adminSignIn). The
 * bearer token is shown once; only its sha256 is stored. Sessions end at `expiresAt`
 * (SESSION_TTL_HOURS after sign-in, not extended by use) or when revoked.
 */
export const AuthSessionSchema = defineEntity({
  name: 'AuthSession',
  tableName: 'auth_session',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => randomUUID()),
    kind: p.enum(SESSION_KINDS),
    /** The signed-in user; null for an ADMIN session. */
    user: () => p.manyToOne(User).nullable().deleteRule('cascade'),
    /** ADMIN only: the operator signed in (operators/operators.ts); null for a break-glass session opened with the admin secret. */
    operatorId: p.uuid().nullable(),
    tokenHash: p.text().unique().hidden(),
    /**
     * ADMIN only: HMAC-SHA256 of the admin secret the session was opened with, keyed with the
     * session token. A session is admitted only while it matches the current secret, so rotating
     * ADMIN_SECRET ends every admin session; without the token the value reveals nothing.
     */
    secretFingerprint: p.text().nullable().hidden(),
    createdAt: p.datetime().onCreate(() => new Date()),
    /** Updated at most once a minute while the session is used. */
    lastSeenAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime(),
    revokedAt: p.datetime().nullable(),
    /** Client address at sign-in (see TRUSTED_PROXIES). */
    ip: p.text().nullable(),
    userAgent: p.text().nullable(),
  },
});

export class AuthSession extends AuthSessionSchema.class {}
AuthSessionSchema.setClass(AuthSession);
