import { describe, expect, it } from 'vitest';
import { EmailTakenError, InvalidCredentialsError, RateLimitedError, ValidationError } from '../errors.ts';
import { useTestDatabase } from '../testing/database.ts';
import { createTestUser, uniqueTag } from '../testing/factories.ts';
import {
  adminSignIn,
  countLiveSessions,
  DEFAULT_AUTH_SETTINGS,
  findLiveSession,
  revokeSession,
  revokeUserSessions,
  signIn,
  signUp,
} from './sessions.ts';

const t = useTestDatabase({ poolMax: 8 });
const ADMIN_SECRET = 'admin-secret-for-tests-0123456789';
const PASSWORD = 'correct horse battery';

/** Every test counts its attempts from an address of its own, so the limits do not add up. */
const client = () => ({ ip: `10.1.${uniqueTag()}`, userAgent: 'vitest' });
const settings = DEFAULT_AUTH_SETTINGS;

async function signedUp(email = `s-${uniqueTag()}@example.org`) {
  return signUp(
    t.em(),
    { email, displayName: 'Signed Up', password: PASSWORD },
    { currency: 'EUR', settings, client: client() },
  );
}

describe('signUp and signIn', () => {
  it('signUp creates the user with a password and opens a USER session its token finds', async () => {
    const { user, session } = await signedUp();
    expect(session.expiresAt.getTime() - Date.now()).toBeGreaterThan(
      (settings.sessionTtlHours - 1) * 3_600_000,
    );
    expect(await findLiveSession(t.em(), session.token, ADMIN_SECRET)).toEqual({
      id: session.id,
      kind: 'USER',
      userId: user.id,
    });
    const [row] = await t.query('select password_hash from users where id = $1', [user.id]);
    expect(row.password_hash).toMatch(/^\$argon2id\$/);
    expect(await t.query('select id from api_token where user_id = $1', [user.id])).toEqual([]);
  });

  it('signUp starts without a plan, or with the sign-up trial when one is offered', async () => {
    const plain = await signedUp();
    const [none] = await t.query('select vm_quota, vm_quota_period_end from users where id = $1', [
      plain.user.id,
    ]);
    expect(none).toEqual({ vm_quota: 0, vm_quota_period_end: null });
    const before = Date.now();
    const trial = await signUp(
      t.em(),
      { email: `trial-${uniqueTag()}@example.org`, displayName: 'Trial', password: PASSWORD },
      { currency: 'EUR', settings, client: client(), trial: { vmQuota: 2, hours: 24 } },
    );
    const [row] = await t.query('select vm_quota, vm_quota_period_end from users where id = $1', [
      trial.user.id,
    ]);
    expect(row.vm_quota).toBe(2);
    const end = row.vm_quota_period_end.getTime();
    expect(end).toBeGreaterThanOrEqual(before + 24 * 3_600_000);
    expect(end).toBeLessThanOrEqual(Date.now() + 24 * 3_600_000);
  });

  it('signUp lists every problem: email, display name and password', async () => {
    const err = await signUp(
      t.em(),
      { email: 'nope', displayName: '', password: 'short' },
      { currency: 'EUR', settings, client: client() },
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.problems.map((p: { path: string }) => p.path)).toEqual(['email', 'displayName', 'password']);
  });

  it('signUp refuses the email as password, and a registered email (EMAIL_TAKEN)', async () => {
    const email = `same-${uniqueTag()}@example.org`;
    const asPassword = await signUp(
      t.em(),
      { email, displayName: 'X', password: email.toUpperCase() },
      { currency: 'EUR', settings, client: client() },
    ).catch((e) => e);
    expect(asPassword.problems).toEqual([{ path: 'password', message: 'must not be your email address' }]);
    await signedUp(email);
    await expect(signedUp(email.toUpperCase())).rejects.toBeInstanceOf(EmailTakenError);
  });

  it('signIn opens a new session with the right password, in any email case', async () => {
    const { user } = await signedUp();
    const result = await signIn(
      t.em(),
      { email: ` ${user.email.toUpperCase()} `, password: PASSWORD },
      { settings, client: client() },
    );
    expect(result.user.id).toBe(user.id);
    expect(await findLiveSession(t.em(), result.session.token, ADMIN_SECRET)).toMatchObject({
      kind: 'USER',
      userId: user.id,
    });
  });

  it('signIn answers one INVALID_CREDENTIALS for a wrong password, an unknown email and a user without password', async () => {
    const { user } = await signedUp();
    const apiOnly = await createTestUser(t.em());
    for (const input of [
      { email: user.email, password: `${PASSWORD}!` },
      { email: `nobody-${uniqueTag()}@example.org`, password: PASSWORD },
      { email: apiOnly.email, password: PASSWORD },
      { email: user.email, password: 'x'.repeat(2000) },
    ]) {
      const err = await signIn(t.em(), input, { settings, client: client() }).catch((e) => e);
      expect(err).toBeInstanceOf(InvalidCredentialsError);
      expect(err.message).toBe('The email or the password is wrong');
    }
  });

  it('counts attempts per email: over the limit, RATE_LIMITED even with the right password', async () => {
    const { user } = await signedUp();
    const tight = { ...settings, rateLimitEmail: 2 };
    for (let i = 0; i < 2; i++)
      await signIn(
        t.em(),
        { email: user.email, password: 'wrong password!' },
        { settings: tight, client: client() },
      ).catch(() => {});
    const err = await signIn(
      t.em(),
      { email: user.email, password: PASSWORD },
      { settings: tight, client: client() },
    ).catch((e) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err.retryAfterSeconds).toBeGreaterThan(0);
  });

  it('counts attempts per address across emails', async () => {
    const from = client();
    const tight = { ...settings, rateLimitIp: 2 };
    for (let i = 0; i < 2; i++)
      await signIn(
        t.em(),
        { email: `n${i}-${uniqueTag()}@example.org`, password: PASSWORD },
        { settings: tight, client: from },
      ).catch(() => {});
    await expect(
      signIn(
        t.em(),
        { email: `n-${uniqueTag()}@example.org`, password: PASSWORD },
        { settings: tight, client: from },
      ),
    ).rejects.toBeInstanceOf(RateLimitedError);
  });
});

describe('sessions', () => {
  it('an expired session is not live', async () => {
    const { session } = await signedUp();
    await t.query("update auth_session set expires_at = now() - interval '1 second' where id = $1", [
      session.id,
    ]);
    expect(await findLiveSession(t.em(), session.token, ADMIN_SECRET)).toBeNull();
    expect(await revokeSession(t.em(), session.id)).toBe(false);
  });

  it('revokeSession ends one session once; the others stay live', async () => {
    const { user, session } = await signedUp();
    const second = await signIn(
      t.em(),
      { email: user.email, password: PASSWORD },
      { settings, client: client() },
    );
    expect(await revokeSession(t.em(), session.id)).toBe(true);
    expect(await revokeSession(t.em(), session.id)).toBe(false);
    expect(await findLiveSession(t.em(), session.token, ADMIN_SECRET)).toBeNull();
    expect(await findLiveSession(t.em(), second.session.token, ADMIN_SECRET)).not.toBeNull();
  });

  it('revokeUserSessions ends every live session of the user and counts them', async () => {
    const { user } = await signedUp();
    const other = await signedUp();
    await signIn(t.em(), { email: user.email, password: PASSWORD }, { settings, client: client() });
    expect(await countLiveSessions(t.em(), [user.id, other.user.id, 'not-a-uuid'])).toEqual([2, 1, 0]);
    expect(await revokeUserSessions(t.em(), user.id)).toBe(2);
    expect(await revokeUserSessions(t.em(), user.id)).toBe(0);
    expect(await revokeUserSessions(t.em(), 'not-a-uuid')).toBe(0);
    expect(await countLiveSessions(t.em(), [user.id, other.user.id])).toEqual([0, 1]);
  });

  it('an unknown token finds nothing', async () => {
    expect(await findLiveSession(t.em(), `hs_${uniqueTag()}`, ADMIN_SECRET)).toBeNull();
  });

  it('adminSignIn opens an ADMIN session that dies with a changed admin secret', async () => {
    const session = await adminSignIn(t.em(), ADMIN_SECRET, {
      adminSecret: ADMIN_SECRET,
      settings,
      client: client(),
    });
    expect(await findLiveSession(t.em(), session.token, ADMIN_SECRET)).toEqual({
      id: session.id,
      kind: 'ADMIN',
      operator: null,
    });
    expect(await findLiveSession(t.em(), session.token, `${ADMIN_SECRET}-rotated`)).toBeNull();
  });

  it('adminSignIn refuses a wrong secret, and rate-limits the address', async () => {
    const from = client();
    const tight = { ...settings, rateLimitIp: 1 };
    await expect(
      adminSignIn(t.em(), 'wrong', { adminSecret: ADMIN_SECRET, settings: tight, client: from }),
    ).rejects.toBeInstanceOf(InvalidCredentialsError);
    await expect(
      adminSignIn(t.em(), ADMIN_SECRET, { adminSecret: ADMIN_SECRET, settings: tight, client: from }),
    ).rejects.toBeInstanceOf(RateLimitedError);
  });

  it('revokeSession answers false, not a raw 22P02 error, for an id that is not a UUID', async () => {
    expect(await revokeSession(t.em(), 'nope')).toBe(false);
  });
});
