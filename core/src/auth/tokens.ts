import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** What a bearer token is, by its prefix: a user's API token, a user session, an admin session. */
export const TOKEN_PREFIXES = { api: 'hero_', userSession: 'hs_', adminSession: 'ha_' } as const;
export type TokenKind = keyof typeof TOKEN_PREFIXES;

/** A new user API token (256 random bits); only its hash is stored. */
export function generateToken(kind: TokenKind = 'api'): string {
  return `${TOKEN_PREFIXES[kind]}${randomBytes(32).toString('base64url')}`;
}

/** The kind of a bearer token by its prefix; anything else reads as an API token (looked up, not found). */
export function tokenKind(token: string): TokenKind {
  if (token.startsWith(TOKEN_PREFIXES.userSession)) return 'userSession';
  if (token.startsWith(TOKEN_PREFIXES.adminSession)) return 'adminSession';
  return 'api';
}

/**
 * An admin session's fingerprint of the admin secret: HMAC-SHA256 keyed with the session token,
 * so the stored value ties the session to the secret without being a plain hash of the secret.
 */
export function secretFingerprint(sessionToken: string, adminSecret: string): string {
  return createHmac('sha256', sessionToken).update(adminSecret).digest('hex');
}

/** Tokens are high-entropy random strings, so a fast hash is enough (no password stretching). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Constant-time comparison that does not leak the secret's length either. */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
