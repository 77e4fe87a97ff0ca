import { describe, expect, it } from 'vitest';
import { EmailTakenError, NotFoundError, ResetTokenInvalidError, SignupClosedError } from '../errors.ts';
import { createLogger } from '../lib/logger.ts';
import { memoryMailer } from '../mail/mailer.ts';
import { useTestDatabase } from '../testing/database.ts';
import { uniqueTag } from '../testing/factories.ts';
import { createUser } from '../users/create-user.ts';
import { INVITATION_TTL_DAYS, resendInvitation, sendInvitation } from './invitations.ts';
import { resetPassword } from './password-reset.ts';
import { DEFAULT_AUTH_SETTINGS, signIn, signUp } from './sessions.ts';
import { hashToken } from './tokens.ts';

const t = useTestDatabase({ poolMax: 8 });
const PASSWORD = 'correct horse battery';
const WEB = 'https://hero.example.org/';
const log = createLogger({ name: 'test', level: 'silent' });
const settings = { webUrl: WEB, rateLimitEmail: 3, rateLimitIp: 30 };
const client = () => ({ ip: `10.3.${uniqueTag()}`, userAgent: 'vitest' });

const tokenOf = (url: string) => {
  const token = new URL(url).searchParams.get('token');
  expect(token).toMatch(/^hpi_/);
  return token as string;
};

async function invited() {
  return createUser(
    t.em(),
    { email: `inv-${uniqueTag()}@example.org`, displayName: 'Invited <Person>' },
    { invite: { webUrl: WEB } },
  );
}

describe('invitations', () => {
  it('createUser with invite stores one hashed invite link, valid 7 days', async () => {
    const { user, invitation } = await invited();
    expect(invitation?.url).toMatch(/^https:\/\/hero\.example\.org\/reset\?token=hpi_[\w-]+&invite=1$/);
    const rows = await t.query(
      `select token_hash, purpose, extract(epoch from expires_at - created_at)::int as ttl
         from password_reset_token where user_id = $1`,
      [user.id],
    );
    expect(rows).toEqual([
      {
        token_hash: hashToken(tokenOf(invitation!.url)),
        purpose: 'invite',
        ttl: INVITATION_TTL_DAYS * 86400,
      },
    ]);
  });

  it('enqueues one user.invited event per link, without the link', async () => {
    const { user, invitation } = await invited();
    await resendInvitation(t.em(), user.id, { webUrl: WEB, mailer: memoryMailer(), log });
    const events = await t.query(
      `select payload, dedupe_key from outbox where topic = 'user.invited' and payload->>'userId' = $1
        order by created_at, id`,
      [user.id],
    );
    expect(events).toHaveLength(2);
    expect(events[0].payload).toEqual({ userId: user.id, email: user.email, expiresAt: expect.any(String) });
    expect(events[0].dedupe_key).not.toBe(events[1].dedupe_key);
    expect(JSON.stringify(events)).not.toContain(tokenOf(invitation!.url));
  });

  it('createUser without invite issues no link', async () => {
    const { user, invitation } = await createUser(t.em(), {
      email: `plain-${uniqueTag()}@example.org`,
      displayName: 'Plain',
    });
    expect(invitation).toBeNull();
    const rows = await t.query('select count(*)::int as n from password_reset_token where user_id = $1', [
      user.id,
    ]);
    expect(rows[0].n).toBe(0);
  });

  it('the email has both parts with the link, the name escaped in HTML', async () => {
    const { user, invitation } = await invited();
    const mailer = memoryMailer();
    await sendInvitation(invitation!, { mailer, log });
    expect(mailer.sent).toHaveLength(1);
    const [mail] = mailer.sent;
    expect(mail?.to).toBe(user.email);
    expect(mail?.text).toContain(invitation!.url);
    expect(mail?.text).toContain('Hello Invited <Person>,');
    expect(mail?.html).toContain(`href="${invitation!.url.replace(/&/g, '&amp;')}"`);
    expect(mail?.html).toContain('Invited &lt;Person&gt;');
  });

  it('the link sets a first password once; then the user signs in; a second use fails', async () => {
    const { user, invitation } = await invited();
    const token = tokenOf(invitation!.url);
    await expect(
      signIn(
        t.em(),
        { email: user.email, password: PASSWORD },
        { settings: DEFAULT_AUTH_SETTINGS, client: client() },
      ),
    ).rejects.toThrow();
    await resetPassword(t.em(), { token, newPassword: PASSWORD }, { settings, client: client() });
    // The first password is an event, but not news to email the user about.
    const events = await t.query<{ topic: string; event: string | null }>(
      `select topic, payload->>'event' as event from outbox
        where topic in ('password.changed', 'email') and payload->>'userId' = $1`,
      [user.id],
    );
    expect(events.filter((e) => e.topic === 'password.changed')).toHaveLength(1);
    expect(events.filter((e) => e.event === 'password.changed')).toEqual([]);
    const signedIn = await signIn(
      t.em(),
      { email: user.email, password: PASSWORD },
      { settings: DEFAULT_AUTH_SETTINGS, client: client() },
    );
    expect(signedIn.user.id).toBe(user.id);
    await expect(
      resetPassword(
        t.em(),
        { token, newPassword: 'another fine passphrase' },
        { settings, client: client() },
      ),
    ).rejects.toBeInstanceOf(ResetTokenInvalidError);
  });

  it('resendInvitation emails a new link and the previous one stops working', async () => {
    const { user, invitation } = await invited();
    const mailer = memoryMailer();
    const again = await resendInvitation(t.em(), user.id, { webUrl: WEB, mailer, log });
    await again.delivery;
    expect(mailer.sent).toHaveLength(1);
    expect(mailer.sent[0]?.text).toContain(again.invitation.url);
    expect(again.invitation.url).not.toBe(invitation!.url);
    await expect(
      resetPassword(
        t.em(),
        { token: tokenOf(invitation!.url), newPassword: PASSWORD },
        { settings, client: client() },
      ),
    ).rejects.toBeInstanceOf(ResetTokenInvalidError);
    await resetPassword(
      t.em(),
      { token: tokenOf(again.invitation.url), newPassword: PASSWORD },
      { settings, client: client() },
    );
  });

  it('resendInvitation for an unknown user: NOT_FOUND, nothing sent', async () => {
    const mailer = memoryMailer();
    await expect(
      resendInvitation(t.em(), '00000000-0000-4000-8000-000000000000', { webUrl: WEB, mailer, log }),
    ).rejects.toBeInstanceOf(NotFoundError);
    await expect(resendInvitation(t.em(), 'not-a-uuid', { webUrl: WEB, mailer, log })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect(mailer.sent).toHaveLength(0);
  });
});

describe('sign-up policy', () => {
  const signUpAs = (mode: 'open' | 'invite' | 'closed', email = `s-${uniqueTag()}@example.org`) =>
    signUp(
      t.em(),
      { email, displayName: 'Someone', password: PASSWORD },
      { currency: 'EUR', settings: DEFAULT_AUTH_SETTINGS, client: client(), mode },
    );

  it('closed and invite refuse with SIGNUP_CLOSED and create nothing; open signs up', async () => {
    for (const mode of ['closed', 'invite'] as const) {
      const email = `refused-${mode}-${uniqueTag()}@example.org`;
      const err = await signUpAs(mode, email).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SignupClosedError);
      expect((err as SignupClosedError).code).toBe('SIGNUP_CLOSED');
      expect((err as SignupClosedError).mode).toBe(mode);
      const rows = await t.query('select count(*)::int as n from users where email = $1', [email]);
      expect(rows[0].n).toBe(0);
    }
    const { user } = await signUpAs('open');
    expect(user.id).toBeDefined();
  });

  it('signing up with an operator-created email points to the invitation link and "Forgot password?"', async () => {
    const { user } = await invited();
    const err = await signUpAs('open', user.email).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmailTakenError);
    expect((err as Error).message).toMatch(/invitation link/);
    expect((err as Error).message).toMatch(/Forgot password\?/);
  });
});
