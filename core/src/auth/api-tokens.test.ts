import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.ts';
import { useTestDatabase } from '../testing/database.ts';
import { createTestUser, errorCodeOf } from '../testing/factories.ts';
import {
  createApiToken,
  LAST_USED_RESOLUTION_SECONDS,
  listApiTokens,
  revokeApiToken,
  userIdForApiToken,
} from './api-tokens.ts';
import { hashToken } from './tokens.ts';

const t = useTestDatabase();

const problemsOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ValidationError) return err.problems;
    throw err;
  }
  throw new Error('expected a ValidationError');
};

describe('API tokens', () => {
  it('creates a named token shown once and stored hashed; it finds its user and is listed', async () => {
    const user = await createTestUser(t.em());
    const expiresAt = new Date(Date.now() + 86_400_000);
    const { token, row } = await createApiToken(t.em(), {
      userId: user.id,
      name: '  ci deploy  ',
      expiresAt,
    });
    expect(token).toMatch(/^hero_/);
    expect(row).toMatchObject({ userId: user.id, name: 'ci deploy', lastUsedAt: null, revokedAt: null });
    expect(row.expiresAt?.getTime()).toBe(expiresAt.getTime());
    const [stored] = await t.query<{ token_hash: string }>('select token_hash from api_token where id = $1', [
      row.id,
    ]);
    expect(stored.token_hash).toBe(hashToken(token));

    expect(await userIdForApiToken(t.em(), hashToken(token))).toEqual({ id: user.id });
    const listed = await listApiTokens(t.em(), user.id);
    // createTestUser's token ('created by operator') and this one, newest first.
    expect(listed.map((r) => r.name)).toEqual(['ci deploy', 'created by operator']);
    expect(listed[0].lastUsedAt).toBeInstanceOf(Date);
    expect(listed[0]).not.toHaveProperty('tokenHash');
    // Its event: the id and name, never the token.
    const events = await t.query(
      `select payload, dedupe_key from outbox where topic = 'api_token.created' and payload->>'tokenId' = $1`,
      [row.id],
    );
    expect(events).toEqual([
      {
        payload: {
          userId: user.id,
          email: user.email,
          tokenId: row.id,
          name: 'ci deploy',
          createdBy: 'USER',
          expiresAt: expiresAt.toISOString(),
          createdAt: row.createdAt.toISOString(),
        },
        dedupe_key: `api_token.created:${row.id}`,
      },
    ]);
    expect(JSON.stringify(events)).not.toContain(token);
    // Emailed to the user whatever their preferences, again without the token.
    const emails = await t.query<{ payload: Record<string, unknown> }>(
      `select payload from outbox where topic = 'email' and dedupe_key = $1`,
      [`email:api_token.created:${row.id}`],
    );
    expect(emails.map((e) => e.payload)).toEqual([
      expect.objectContaining({ event: 'api_token.created', userId: user.id, email: user.email }),
    ]);
    expect(JSON.stringify(emails)).not.toContain(token);
  });

  it('writes the last use at most once per resolution window', async () => {
    const user = await createTestUser(t.em());
    const { token, row } = await createApiToken(t.em(), { userId: user.id, name: 'busy' });
    await userIdForApiToken(t.em(), hashToken(token));
    const [first] = await t.query<{ last_used_at: Date }>(
      'select last_used_at from api_token where id = $1',
      [row.id],
    );
    expect(first.last_used_at).toBeInstanceOf(Date);
    await userIdForApiToken(t.em(), hashToken(token));
    const [second] = await t.query<{ last_used_at: Date }>(
      'select last_used_at from api_token where id = $1',
      [row.id],
    );
    expect(second.last_used_at.getTime()).toBe(first.last_used_at.getTime());
    // An old last use is refreshed.
    await t.query(`update api_token set last_used_at = now() - make_interval(secs => $2) where id = $1`, [
      row.id,
      LAST_USED_RESOLUTION_SECONDS + 5,
    ]);
    await userIdForApiToken(t.em(), hashToken(token));
    const [third] = await t.query<{ fresh: boolean }>(
      `select last_used_at > now() - interval '5 seconds' as fresh from api_token where id = $1`,
      [row.id],
    );
    expect(third.fresh).toBe(true);
  });

  it('refuses a revoked token and an expired one', async () => {
    const user = await createTestUser(t.em());
    const { token, row } = await createApiToken(t.em(), { userId: user.id, name: 'gone' });
    const revoked = await revokeApiToken(t.em(), { userId: user.id, tokenId: row.id });
    expect(revoked.revokedAt).toBeInstanceOf(Date);
    expect(await userIdForApiToken(t.em(), hashToken(token))).toBeNull();
    expect((await listApiTokens(t.em(), user.id)).map((r) => r.id)).not.toContain(row.id);

    const expiring = await createApiToken(t.em(), {
      userId: user.id,
      name: 'short',
      expiresAt: new Date(Date.now() + 60_000),
    });
    await t.query(`update api_token set expires_at = now() - interval '1 second' where id = $1`, [
      expiring.row.id,
    ]);
    expect(await userIdForApiToken(t.em(), hashToken(expiring.token))).toBeNull();
    expect(await userIdForApiToken(t.em(), hashToken('hero_unknown'))).toBeNull();
  });

  it("answers NOT_FOUND for another user's token, an unknown id and a revoked one, and changes nothing", async () => {
    const owner = await createTestUser(t.em());
    const other = await createTestUser(t.em());
    const { token, row } = await createApiToken(t.em(), { userId: owner.id, name: 'mine' });
    expect(await errorCodeOf(revokeApiToken(t.em(), { userId: other.id, tokenId: row.id }))).toBe(
      'NOT_FOUND',
    );
    expect(await errorCodeOf(revokeApiToken(t.em(), { userId: owner.id, tokenId: 'not-a-uuid' }))).toBe(
      'NOT_FOUND',
    );
    expect(await userIdForApiToken(t.em(), hashToken(token))).toEqual({ id: owner.id });
    await revokeApiToken(t.em(), { userId: owner.id, tokenId: row.id });
    expect(await errorCodeOf(revokeApiToken(t.em(), { userId: owner.id, tokenId: row.id }))).toBe(
      'NOT_FOUND',
    );
  });

  it('refuses a blank or over-long name and an expiry in the past, storing nothing', async () => {
    const user = await createTestUser(t.em());
    expect(await problemsOf(createApiToken(t.em(), { userId: user.id, name: '   ' }))).toEqual([
      { path: '', message: 'must not be empty' },
    ]);
    expect(await problemsOf(createApiToken(t.em(), { userId: user.id, name: 'x'.repeat(101) }))).toEqual([
      { path: '', message: 'must be at most 100 characters' },
    ]);
    expect(
      await problemsOf(
        createApiToken(t.em(), { userId: user.id, name: 'late', expiresAt: new Date(Date.now() - 1000) }),
      ),
    ).toEqual([{ path: 'expiresAt', message: 'must be in the future' }]);
    expect(await listApiTokens(t.em(), user.id)).toHaveLength(1);
  });
});
