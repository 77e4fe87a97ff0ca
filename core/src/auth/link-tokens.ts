import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { execute, firstRow, sql } from '../db/sql.ts';
import { hashToken } from './tokens.ts';

/**
 * The single-use links mailed to users, all in `password_reset_token`: a password reset
 * (`reset`), an invitation to set a first password (`invite`), an email verification (`verify`)
 * and an email change (`email`). Only a token's sha256 is stored; a token works once and until
 * its expiry; `email` is the address a `verify` or `email` link was sent to.
 */
export type LinkPurpose = 'reset' | 'invite' | 'verify' | 'email';

/** `<prefix>` + 256 random bits (the prefix tells the purpose when a token turns up in a log). */
export const generateLinkToken = (prefix: string): string =>
  `${prefix}${randomBytes(32).toString('base64url')}`;

/** `<webUrl>/<path>?token=…` (and `extra` parameters): the web page a link opens. */
export function webLink(
  webUrl: string,
  path: string,
  token: string,
  extra: Record<string, string> = {},
): string {
  const query = new URLSearchParams({ token, ...extra }).toString();
  return `${webUrl.replace(/\/+$/, '')}/${path}?${query}`;
}

export interface IssuedLinkToken {
  id: string;
  token: string;
  expiresAt: Date;
}

/**
 * Stores a new link token for a user, valid `ttlMinutes` from now. `replace`: the user's
 * earlier unused links of the same purpose stop working, so only the newest one does.
 */
export async function issueLinkToken(
  em: EntityManager,
  input: {
    userId: string;
    purpose: LinkPurpose;
    prefix: string;
    ttlMinutes: number;
    email?: string | null;
    replace?: boolean;
  },
): Promise<IssuedLinkToken> {
  if (input.replace)
    await execute(
      em,
      sql`update password_reset_token set used_at = now()
           where user_id = ${input.userId} and purpose = ${input.purpose} and used_at is null`,
    );
  const token = generateLinkToken(input.prefix);
  const row = await firstRow(
    em,
    sql<{ id: string; expires_at: Date | string }>`insert into password_reset_token
        (user_id, token_hash, purpose, email, expires_at)
        values (${input.userId}, ${hashToken(token)}, ${input.purpose}, ${input.email ?? null},
                now() + make_interval(mins => ${input.ttlMinutes}))
        returning id, expires_at`,
  );
  return { id: row!.id, token, expiresAt: new Date(row!.expires_at) };
}

/** Longer than any token we issue: refused without a query. */
const MAX_TOKEN_LENGTH = 200;

/**
 * Uses a link up: the token must be known, unused, unexpired and of one of `purposes`. The
 * row, or undefined for any of those (one answer). Of two concurrent uses, one wins; run it in
 * the transaction that applies what the link does, so a failure there leaves the link usable.
 */
export async function claimLinkToken(
  em: EntityManager,
  token: string,
  purposes: LinkPurpose[],
): Promise<{ id: string; user_id: string; purpose: LinkPurpose; email: string | null } | undefined> {
  if (token.length > MAX_TOKEN_LENGTH) return undefined;
  return firstRow(
    em,
    sql<{
      id: string;
      user_id: string;
      purpose: LinkPurpose;
      email: string | null;
    }>`update password_reset_token
        set used_at = now()
      where token_hash = ${hashToken(token)} and used_at is null and expires_at > now()
        and purpose = any(${purposes}::text[])
      returning id, user_id, purpose, email`,
  );
}
