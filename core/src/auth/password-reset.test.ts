import { describe, expect, it } from 'vitest';
import {
  InvalidCredentialsError,
  RateLimitedError,
  ResetTokenInvalidError,
  ValidationError,
} from '../errors.ts';
import { createLogger } from '../lib/logger.ts';
import { memoryMailer } from '../mail/mailer.ts';
import { useTestDatabase } from '../testing/database.ts';
import { uniqueTag } from '../testing/factories.ts';
import {
  changePassword,
  type PasswordResetSettings,
  requestPasswordReset,
  resetPassword,
} from './password-reset.ts';
import { DEFAULT_AUTH_SETTINGS, findLiveSession, signIn, signUp } from './sessions.ts';
import { hashToken } from './tokens.ts';

const t = useTestDatabase({ poolMax: 8 });
const ADMIN_SECRET = 'admin-secret-for-tests-0123456789';
const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'a brand new passphrase';
const log = createLogger({ name: 'test', level: 'silent' });
const settings: PasswordResetSettings = {
  webUrl: 'https://hero.example.org/',
  rateLimitEmail: 3,
  rateLimitIp: 30,
};
const client = () => ({ ip: `10.2.${uniqueTag()}`, userAgent: 'vitest' });

async function signedUp() {
  return signUp(
    t.em(),
    { email: `r-${uniqueTag()}@example.org`, displayName: 'Reset Me', password: PASSWORD },
    { currency: 'EUR', settings: DEFAULT_AUTH_SETTINGS, client: client() },
  );
}

/** Asks for a link and returns the token the email carries. */
async function resetToken(email: string): Promise<string> {
  const mailer = memoryMailer();
  const { delivery } = await requestPasswordReset(t.em(), email, { settings, client: client(), mailer, log });
  await delivery;
  expect(mailer.sent).toHaveLength(1);
  const token = /\/reset\?token=([\w-]+)/.exec(mailer.sent[0]?.text ?? '')?.[1];
  expect(token).toBeDefined();
  return decodeURIComponent(token as string);
}

describe('requestPasswordReset', () => {
  it('answers the same for a known and an unknown email; only the known one gets one email', async () => {
    const { user } = await signedUp();
    const mailer = memoryMailer();
    const deps = { settings, client: client(), mailer, log };
    const known = await requestPasswordReset(t.em(), ` ${user.email.toUpperCase()} `, deps);
    const unknown = await requestPasswordReset(t.em(), `nobody-${uniqueTag()}@example.org`, deps);
    await Promise.all([known.delivery, unknown.delivery]);
    expect(Object.keys(known)).toEqual(Object.keys(unknown));
    expect(mailer.sent).toHaveLength(1);
    const [mail] = mailer.sent;
    expect(mail?.to).toBe(user.email);
    expect(mail?.text).toContain('https://hero.example.org/reset?token=hpr_');
    expect(mail?.html).toContain('href="https://hero.example.org/reset?token=hpr_');
  });

  it('stores only the hash of the token, expiring in one hour', async () => {
    const { user } = await signedUp();
    const token = await resetToken(user.email);
    const rows = await t.query(
      'select token_hash, extract(epoch from expires_at - created_at)::int as ttl from password_reset_token where user_id = $1',
      [user.id],
    );
    expect(rows).toEqual([{ token_hash: hashToken(token), ttl: 3600 }]);
    const raw = await t.query('select count(*)::int as n from password_reset_token where token_hash = $1', [
      token,
    ]);
    expect(raw[0].n).toBe(0);
  });

  it('writes one password.reset_requested event per link, with neither the token nor its hash', async () => {
    const { user } = await signedUp();
    const token = await resetToken(user.email);
    await requestPasswordReset(t.em(), `nobody-${uniqueTag()}@example.org`, {
      settings,
      client: client(),
      mailer: memoryMailer(),
      log,
    });
    const events = await t.query<{ payload: Record<string, unknown>; dedupe_key: string }>(
      `select o.payload, o.dedupe_key from outbox o where o.topic = 'password.reset_requested'
          and (o.payload->>'userId' = $1 or o.payload->>'email' like 'nobody-%')`,
      [user.id],
    );
    const [link] = await t.query<{ id: string; expires_at: Date }>(
      'select id, expires_at from password_reset_token where user_id = $1',
      [user.id],
    );
    expect(events).toEqual([
      {
        payload: { userId: user.id, email: user.email, expiresAt: link.expires_at.toISOString() },
        dedupe_key: `password.reset_requested:${link.id}`,
      },
    ]);
    expect(JSON.stringify(events)).not.toContain(token);
    expect(JSON.stringify(events)).not.toContain(hashToken(token));
  });

  it('is rate-limited per email, for unknown emails as for known ones', async () => {
    for (const email of [(await signedUp()).user.email, `ghost-${uniqueTag()}@example.org`]) {
      const mailer = memoryMailer();
      for (let i = 0; i < settings.rateLimitEmail; i++)
        await requestPasswordReset(t.em(), email, { settings, client: client(), mailer, log });
      const err = await requestPasswordReset(t.em(), email, {
        settings,
        client: client(),
        mailer,
        log,
      }).catch((e) => e);
      expect(err).toBeInstanceOf(RateLimitedError);
    }
  });

  it('is rate-limited per address', async () => {
    const from = client();
    const tight = { ...settings, rateLimitIp: 2 };
    const mailer = memoryMailer();
    for (let i = 0; i < 2; i++)
      await requestPasswordReset(t.em(), `x${i}-${uniqueTag()}@example.org`, {
        settings: tight,
        client: from,
        mailer,
        log,
      });
    await expect(
      requestPasswordReset(t.em(), `y-${uniqueTag()}@example.org`, {
        settings: tight,
        client: from,
        mailer,
        log,
      }),
    ).rejects.toBeInstanceOf(RateLimitedError);
  });
});

describe('resetPassword', () => {
  it('sets the password once, ends every session, and the old password stops working', async () => {
    const { user, session } = await signedUp();
    // Warnings and receipts off: the user is told of the new password all the same.
    await t.query('update users set email_warnings = false, email_receipts = false where id = $1', [user.id]);
    const token = await resetToken(user.email);
    const result = await resetPassword(
      t.em(),
      { token, newPassword: NEW_PASSWORD },
      { settings, client: client() },
    );
    expect(result).toEqual({ userId: user.id, sessionsEnded: 1 });
    expect(await findLiveSession(t.em(), session.token, ADMIN_SECRET)).toBeNull();
    await expect(
      signIn(
        t.em(),
        { email: user.email, password: PASSWORD },
        { settings: DEFAULT_AUTH_SETTINGS, client: client() },
      ),
    ).rejects.toBeInstanceOf(InvalidCredentialsError);
    const again = await signIn(
      t.em(),
      { email: user.email, password: NEW_PASSWORD },
      { settings: DEFAULT_AUTH_SETTINGS, client: client() },
    );
    expect(again.user.id).toBe(user.id);
    // Second use of the same token: refused, and the password stays.
    await expect(
      resetPassword(t.em(), { token, newPassword: 'yet another passphrase' }, { settings, client: client() }),
    ).rejects.toBeInstanceOf(ResetTokenInvalidError);
    expect(await findLiveSession(t.em(), again.session.token, ADMIN_SECRET)).not.toBeNull();
    // One password.changed for the one reset that worked.
    const events = await t.query(
      `select payload from outbox where topic = 'password.changed' and payload->>'userId' = $1`,
      [user.id],
    );
    expect(events).toEqual([
      {
        payload: {
          userId: user.id,
          email: user.email,
          via: 'RESET',
          sessionsEnded: 1,
          changedAt: expect.any(String),
        },
      },
    ]);
    const emails = await t.query<{ payload: Record<string, unknown> }>(
      `select payload from outbox where topic = 'email' and payload->>'userId' = $1`,
      [user.id],
    );
    expect(emails.map((e) => e.payload)).toEqual([
      expect.objectContaining({ event: 'password.changed', email: user.email }),
    ]);
  });

  it('refuses an expired token and an unknown one', async () => {
    const { user } = await signedUp();
    const token = await resetToken(user.email);
    await t.query(
      "update password_reset_token set expires_at = now() - interval '1 second' where user_id = $1",
      [user.id],
    );
    for (const tk of [token, `hpr_${uniqueTag()}`, ''])
      await expect(
        resetPassword(t.em(), { token: tk, newPassword: NEW_PASSWORD }, { settings, client: client() }),
      ).rejects.toBeInstanceOf(ResetTokenInvalidError);
  });

  it('a password against the rules is refused and leaves the token usable', async () => {
    const { user } = await signedUp();
    const token = await resetToken(user.email);
    const err = await resetPassword(
      t.em(),
      { token, newPassword: 'short' },
      { settings, client: client() },
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.problems).toEqual([{ path: 'newPassword', message: 'must be at least 12 characters' }]);
    await expect(
      resetPassword(t.em(), { token, newPassword: NEW_PASSWORD }, { settings, client: client() }),
    ).resolves.toMatchObject({ userId: user.id });
  });

  it('a newer link does not revive after a reset: every outstanding link is used up', async () => {
    const { user } = await signedUp();
    const first = await resetToken(user.email);
    const second = await resetToken(user.email);
    await resetPassword(t.em(), { token: second, newPassword: NEW_PASSWORD }, { settings, client: client() });
    await expect(
      resetPassword(
        t.em(),
        { token: first, newPassword: 'yet another passphrase' },
        { settings, client: client() },
      ),
    ).rejects.toBeInstanceOf(ResetTokenInvalidError);
  });
});

describe('changePassword', () => {
  const authSettings = { rateLimitEmail: 10, rateLimitIp: 30 };

  it('refuses a wrong current password and changes nothing', async () => {
    const { user, session } = await signedUp();
    await expect(
      changePassword(
        t.em(),
        user.id,
        { currentPassword: 'not my password!', newPassword: NEW_PASSWORD },
        { keepSessionId: session.id, settings: authSettings, client: client() },
      ),
    ).rejects.toBeInstanceOf(InvalidCredentialsError);
    await expect(
      signIn(
        t.em(),
        { email: user.email, password: PASSWORD },
        { settings: DEFAULT_AUTH_SETTINGS, client: client() },
      ),
    ).resolves.toMatchObject({ user: { id: user.id } });
    expect(
      await t.query(`select 1 from outbox where topic = 'password.changed' and payload->>'userId' = $1`, [
        user.id,
      ]),
    ).toEqual([]);
  });

  it('sets the new password and ends every session but the current one', async () => {
    const { user, session } = await signedUp();
    const other = await signIn(
      t.em(),
      { email: user.email, password: PASSWORD },
      { settings: DEFAULT_AUTH_SETTINGS, client: client() },
    );
    const result = await changePassword(
      t.em(),
      user.id,
      { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
      { keepSessionId: session.id, settings: authSettings, client: client() },
    );
    expect(result).toEqual({ sessionsEnded: 1 });
    const events = await t.query<{ payload: Record<string, unknown> }>(
      `select payload from outbox where topic = 'password.changed' and payload->>'userId' = $1`,
      [user.id],
    );
    expect(events.map((e) => e.payload)).toEqual([
      expect.objectContaining({ via: 'CHANGE', sessionsEnded: 1, email: user.email }),
    ]);
    const emails = await t.query<{ payload: { event: string } }>(
      `select payload from outbox where topic = 'email' and payload->>'userId' = $1`,
      [user.id],
    );
    expect(emails.map((e) => e.payload.event)).toEqual(['password.changed']);
    expect(await findLiveSession(t.em(), session.token, ADMIN_SECRET)).not.toBeNull();
    expect(await findLiveSession(t.em(), other.session.token, ADMIN_SECRET)).toBeNull();
    await expect(
      signIn(
        t.em(),
        { email: user.email, password: NEW_PASSWORD },
        { settings: DEFAULT_AUTH_SETTINGS, client: client() },
      ),
    ).resolves.toMatchObject({ user: { id: user.id } });
  });

  it('applies the password rules to the new password', async () => {
    const { user, session } = await signedUp();
    const err = await changePassword(
      t.em(),
      user.id,
      { currentPassword: PASSWORD, newPassword: user.email },
      { keepSessionId: session.id, settings: authSettings, client: client() },
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.problems.map((p: { path: string }) => p.path)).toEqual(['newPassword']);
  });
});
