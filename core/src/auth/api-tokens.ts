import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { nativePool } from '../db/native-pool.ts';
import { execute, firstRow, nativeText, rows, sql } from '../db/sql.ts';
import { AccountDeletedError, NotFoundError, parseInput, ValidationError } from '../errors.ts';
import { isUuid } from '../lib/ids.ts';
import { enqueueNotification } from '../outbox/notify-events.ts';
import { generateToken, hashToken } from './tokens.ts';

/** A token's last use is written at most this often, so a busy token does not write on every request. */
export const LAST_USED_RESOLUTION_SECONDS = 60;

/** An API token as its owner sees it: never the token or its hash. */
export interface ApiTokenRow {
  id: string;
  userId: string;
  name: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export const apiTokenNameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters');

export interface CreateApiTokenInput {
  userId: string;
  name: string;
  /** None: the token works until it is revoked. */
  expiresAt?: Date | null;
  /** Who made it: the user (default) or an operator for them; its event says so. */
  createdBy?: 'USER' | 'OPERATOR';
}

type RawRow = Omit<ApiTokenRow, 'createdAt' | 'expiresAt' | 'lastUsedAt' | 'revokedAt'> & {
  createdAt: Date | string;
  expiresAt: Date | string | null;
  lastUsedAt: Date | string | null;
  revokedAt: Date | string | null;
};

/** Timestamps come back from the ORM's connection as text. */
const date = (value: Date | string | null): Date | null => (value === null ? null : new Date(value));
const toRow = (raw: RawRow): ApiTokenRow => ({
  ...raw,
  createdAt: new Date(raw.createdAt),
  expiresAt: date(raw.expiresAt),
  lastUsedAt: date(raw.lastUsedAt),
  revokedAt: date(raw.revokedAt),
});

const COLUMNS = sql`id, user_id as "userId", name, created_at as "createdAt", expires_at as "expiresAt",
  last_used_at as "lastUsedAt", revoked_at as "revokedAt"`;

/**
 * Creates a named API token for a user (in `em`'s transaction, if any) with its
 * `api_token.created` event. The token is in the answer only: just its sha256 is stored. A
 * blank or over-long name, or an expiry that is not in the future: ValidationError; an unknown
 * user: NotFoundError; nothing stored either way.
 */
export async function createApiToken(
  em: EntityManager,
  input: CreateApiTokenInput,
  now: Date = new Date(),
): Promise<{ token: string; row: ApiTokenRow }> {
  const name = parseInput(apiTokenNameSchema, input.name, 'Invalid API token');
  const expiresAt = input.expiresAt ?? null;
  if (expiresAt && !(expiresAt.getTime() > now.getTime())) {
    throw new ValidationError([{ path: 'expiresAt', message: 'must be in the future' }], 'Invalid API token');
  }
  const token = generateToken('api');
  // An operator may name any user: an unknown one is NOT_FOUND, not a foreign-key failure.
  const user = isUuid(input.userId)
    ? await firstRow<{ id: string; email: string; status: string }>(
        em,
        sql`select id, email, status from users where id = ${input.userId}`,
      )
    : undefined;
  if (!user) throw new NotFoundError('User', input.userId);
  if (user.status === 'deleted') throw new AccountDeletedError(input.userId);
  return em.transactional(async (tx) => {
    const row = await firstRow<RawRow>(
      tx,
      sql`insert into api_token (user_id, name, token_hash, created_at, expires_at)
          values (${input.userId}, ${name}, ${hashToken(token)}, ${now}, ${expiresAt})
          returning ${COLUMNS}`,
    );
    if (!row) throw new Error('insert into api_token returned no row');
    const created = toRow(row);
    // The token's id and name, never the token: a receiver can tell its owner "a token was made".
    await enqueueNotification(
      tx,
      'api_token.created',
      {
        userId: created.userId,
        email: user.email,
        tokenId: created.id,
        name: created.name,
        createdBy: input.createdBy ?? 'USER',
        expiresAt: created.expiresAt?.toISOString() ?? null,
        createdAt: created.createdAt.toISOString(),
      },
      `api_token.created:${created.id}`,
    );
    return { token, row: created };
  });
}

/** A user's tokens that are not revoked (expired ones included, so the owner sees why one stopped), newest first. */
export async function listApiTokens(em: EntityManager, userId: string): Promise<ApiTokenRow[]> {
  const found = await rows<RawRow>(
    em,
    sql`select ${COLUMNS} from api_token where user_id = ${userId} and revoked_at is null
        order by created_at desc, id`,
  );
  return found.map(toRow);
}

/**
 * Revokes one of the user's tokens: it is refused from the next request on. A token of another
 * user, an unknown id or one revoked already: NotFoundError (nothing tells another user's token
 * apart from none).
 */
export async function revokeApiToken(
  em: EntityManager,
  input: { userId: string; tokenId: string },
): Promise<ApiTokenRow> {
  const row = isUuid(input.tokenId)
    ? await firstRow<RawRow>(
        em,
        sql`update api_token set revoked_at = now()
             where id = ${input.tokenId} and user_id = ${input.userId} and revoked_at is null
             returning ${COLUMNS}`,
      )
    : undefined;
  if (!row) throw new NotFoundError('ApiToken', input.tokenId);
  return toRow(row);
}

/** Forgets every API token of a user, revoked ones included (account deletion); how many there were. */
export async function deleteUserApiTokens(em: EntityManager, userId: string): Promise<number> {
  if (!isUuid(userId)) return 0;
  return execute(em, sql`delete from api_token where user_id = ${userId}`);
}

// The owner's status in the same statement: a suspended user's tokens answer 401 until unsuspended.
// The last use is written by the same statement (one round trip per request, not two); the
// update re-checks staleness on the row it locks, so concurrent requests write it once.
const FIND_LIVE_AND_TOUCH = nativeText(
  sql`with found as (
        select t.id, t.user_id,
               (t.last_used_at is null or t.last_used_at < now() - make_interval(secs => ${0})) as stale
          from api_token t join users u on u.id = t.user_id
         where t.token_hash = ${''} and t.revoked_at is null and (t.expires_at is null or t.expires_at > now())
           and u.status = 'active'
      ), touched as (
        update api_token t set last_used_at = now()
          from found
         where t.id = found.id and found.stale
           and (t.last_used_at is null or t.last_used_at < now() - make_interval(secs => ${0}))
      )
      select user_id from found`,
);

/**
 * The user a bearer API token (by its hash) belongs to, if it is neither revoked nor expired and
 * the user is not suspended (nor deleted).
 * Runs on every request with an API token, so it is one indexed statement on the native pool;
 * the last use is written only when the stored one is older than LAST_USED_RESOLUTION_SECONDS.
 */
export async function userIdForApiToken(
  em: EntityManager,
  tokenHash: string,
): Promise<{ id: string } | null> {
  const pool = await nativePool(em);
  const found = await pool.query<{ user_id: string }>(FIND_LIVE_AND_TOUCH, [
    LAST_USED_RESOLUTION_SECONDS,
    tokenHash,
    LAST_USED_RESOLUTION_SECONDS,
  ]);
  const token = found.rows[0];
  return token ? { id: token.user_id } : null;
}
