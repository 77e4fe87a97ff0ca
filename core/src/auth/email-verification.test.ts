import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { allocateVm } from '../allocation/allocate-vm.ts';
import { startTopUpCheckout, type TopUpCheckout } from '../billing/checkout.ts';
import { purchasePlan } from '../billing/plans.ts';
import { createLogger } from '../lib/logger.ts';
import { memoryMailer } from '../mail/mailer.ts';
import { useTestDatabase } from '../testing/database.ts';
import { addPoolVms, creditUser, errorCodeOf, testCatalog, uniqueTag } from '../testing/factories.ts';
import { createUser } from '../users/create-user.ts';
import { parseSignupTrial } from '../users/signup-trial.ts';
import {
  EMAIL_LINK_TTL_HOURS,
  type EmailLinkSettings,
  requestEmailChange,
  resendEmailVerification,
  sendEmailVerification,
  useEmailLink,
} from './email-verification.ts';
import { changePassword, resetPassword } from './password-reset.ts';
import { DEFAULT_AUTH_SETTINGS, signIn, signUp } from './sessions.ts';
import { hashToken } from './tokens.ts';

const t = useTestDatabase({ poolMax: 8 });
const PASSWORD = 'correct horse battery';
const log = createLogger({ name: 'test', level: 'silent' });
const settings: EmailLinkSettings = {
  webUrl: 'https://hero.example.org/',
  rateLimitEmail: 3,
  rateLimitIp: 50,
};
const client = () => ({ ip: `10.7.${uniqueTag()}`, userAgent: 'vitest' });
const deps = (mailer = memoryMailer()) => ({ settings, client: client(), mailer, log });

/** The token of the /verify link in a mail's text part. */
const tokenIn = (text: string | undefined): string => {
  const token = /\/verify\?token=([\w-]+)/.exec(text ?? '')?.[1];
  expect(token).toBeDefined();
  return token as string;
};

/** A sign-up with verification on (and a one-VM trial, so only the verification stands in the way). */
async function unverifiedSignUp() {
  const mailer = memoryMailer();
  const signed = await signUp(
    t.em(),
    { email: `v-${uniqueTag()}@example.org`, displayName: 'Vera <Fy>', password: PASSWORD },
    {
      currency: 'EUR',
      settings: DEFAULT_AUTH_SETTINGS,
      client: client(),
      trial: parseSignupTrial('1 VM for 24h'),
      verifyEmail: { webUrl: settings.webUrl },
    },
  );
  expect(signed.verification).not.toBeNull();
  await sendEmailVerification(signed.verification!, { mailer, log });
  expect(mailer.sent).toHaveLength(1);
  return { user: signed.user, mail: mailer.sent[0]!, token: tokenIn(mailer.sent[0]?.text) };
}

const verifiedAt = async (userId: string) =>
  (await t.query<{ at: Date | null }>('select email_verified_at as at from users where id = $1', [userId]))[0]
    ?.at ?? null;

/** A checkout whose Stripe client fails the test if it is reached. */
const unreachableCheckout = (): TopUpCheckout => ({
  stripe: {
    checkout: {
      sessions: {
        create: () => {
          throw new Error('Stripe must not be called for an unverified account');
        },
      },
    },
  } as unknown as Stripe,
  settings: { minCents: 500, maxCents: 100_000, presetsCents: [1000], returnUrl: 'https://hero.example.org' },
  log,
});

describe('email verification at sign-up', () => {
  it('mails one hashed single-use link (24 h) with text and HTML parts; the account starts unverified', async () => {
    const { user, mail, token } = await unverifiedSignUp();
    expect(mail.to).toBe(user.email);
    expect(token).toMatch(/^hpv_/);
    expect(mail.text).toContain(`https://hero.example.org/verify?token=${token}`);
    expect(mail.html).toContain(`href="https://hero.example.org/verify?token=${token}"`);
    expect(mail.html).toContain('Vera &lt;Fy&gt;');
    expect(await verifiedAt(user.id)).toBeNull();
    const rows = await t.query(
      `select token_hash, purpose, email, extract(epoch from expires_at - created_at)::int as ttl
         from password_reset_token where user_id = $1`,
      [user.id],
    );
    expect(rows).toEqual([
      {
        token_hash: hashToken(token),
        purpose: 'verify',
        email: user.email,
        ttl: EMAIL_LINK_TTL_HOURS * 3600,
      },
    ]);
  });

  it('an unverified account signs in but cannot allocate, buy a plan or start a top-up; nothing changes', async () => {
    const { user } = await unverifiedSignUp();
    await signIn(
      t.em(),
      { email: user.email, password: PASSWORD },
      { settings: DEFAULT_AUTH_SETTINGS, client: client() },
    );
    await addPoolVms(t.em(), 1);
    await creditUser(t.em(), user.id, 5000);
    expect(await errorCodeOf(allocateVm(t.em(), { userId: user.id, provisioner: 'pool' }))).toBe(
      'EMAIL_NOT_VERIFIED',
    );
    expect(
      await errorCodeOf(
        purchasePlan(t.em(), testCatalog(), { userId: user.id, planCode: 'basic', periods: 1 }),
      ),
    ).toBe('EMAIL_NOT_VERIFIED');
    expect(
      await errorCodeOf(
        startTopUpCheckout(t.em(), unreachableCheckout(), { userId: user.id, amountCents: 1000 }),
      ),
    ).toBe('EMAIL_NOT_VERIFIED');
    const [state] = await t.query(
      `select (select count(*)::int from vm_allocation where user_id = $1) as allocations,
              (select count(*)::int from plan_purchase where user_id = $1) as purchases,
              (select credit_balance_cents::int from billing where user_id = $1) as balance`,
      [user.id],
    );
    expect(state).toEqual({ allocations: 0, purchases: 0, balance: 5000 });
  });

  it('the link verifies the account once; then it may allocate and buy', async () => {
    const { user, token } = await unverifiedSignUp();
    const used = await useEmailLink(t.em(), token, { settings, client: client() });
    expect(used).toEqual({ userId: user.id, email: user.email, changed: false });
    expect(await verifiedAt(user.id)).toBeInstanceOf(Date);
    expect(await errorCodeOf(useEmailLink(t.em(), token, { settings, client: client() }))).toBe(
      'EMAIL_LINK_INVALID',
    );
    await addPoolVms(t.em(), 1);
    const allocation = await allocateVm(t.em(), { userId: user.id, provisioner: 'pool' });
    expect(allocation.status).toBe('ACTIVE');
    await creditUser(t.em(), user.id, 5000);
    const bought = await purchasePlan(t.em(), testCatalog(), {
      userId: user.id,
      planCode: 'basic',
      periods: 1,
    });
    expect(bought.balanceCents).toBe(5000 - 999);
  });

  it('an expired link, an unknown one and a reset token are refused the same way', async () => {
    const { user, token } = await unverifiedSignUp();
    await t.query(
      `update password_reset_token set expires_at = now() - interval '1 second' where user_id = $1`,
      [user.id],
    );
    for (const bad of [token, 'hpv_unknown', 'x'.repeat(5000)])
      expect(await errorCodeOf(useEmailLink(t.em(), bad, { settings, client: client() }))).toBe(
        'EMAIL_LINK_INVALID',
      );
    expect(await verifiedAt(user.id)).toBeNull();
  });

  it('a verification token does not reset a password', async () => {
    const { user, token } = await unverifiedSignUp();
    expect(
      await errorCodeOf(
        resetPassword(
          t.em(),
          { token, newPassword: 'another fine passphrase' },
          { settings, client: client() },
        ),
      ),
    ).toBe('RESET_TOKEN_INVALID');
    // The verification link still works.
    await useEmailLink(t.em(), token, { settings, client: client() });
    expect(await verifiedAt(user.id)).not.toBeNull();
  });

  it('without verification, sign-ups and operator-made users are verified', async () => {
    const plain = await signUp(
      t.em(),
      { email: `p-${uniqueTag()}@example.org`, displayName: 'Plain', password: PASSWORD },
      { currency: 'EUR', settings: DEFAULT_AUTH_SETTINGS, client: client() },
    );
    expect(plain.verification).toBeNull();
    expect(await verifiedAt(plain.user.id)).toBeInstanceOf(Date);
    const made = await createUser(t.em(), { email: `op-${uniqueTag()}@example.org`, displayName: 'Made' });
    expect(await verifiedAt(made.user.id)).toBeInstanceOf(Date);
  });

  it('a used password reset link verifies the email too', async () => {
    const { user } = await unverifiedSignUp();
    const { requestPasswordReset } = await import('./password-reset.ts');
    const mailer = memoryMailer();
    const { delivery } = await requestPasswordReset(t.em(), user.email, { ...deps(mailer) });
    await delivery;
    const reset = /\/reset\?token=([\w-]+)/.exec(mailer.sent[0]?.text ?? '')?.[1] as string;
    await resetPassword(
      t.em(),
      { token: reset, newPassword: 'another fine passphrase' },
      { settings, client: client() },
    );
    expect(await verifiedAt(user.id)).toBeInstanceOf(Date);
  });
});

describe('resendEmailVerification', () => {
  it('mails a new link (the old one stops working), is rate-limited per user, and sends nothing once verified', async () => {
    const { user, token: first } = await unverifiedSignUp();
    const mailer = memoryMailer();
    const again = await resendEmailVerification(t.em(), user.id, deps(mailer));
    await again.delivery;
    expect(again).toMatchObject({ email: user.email, alreadyVerified: false });
    const second = tokenIn(mailer.sent[0]?.text);
    expect(second).not.toBe(first);
    expect(await errorCodeOf(useEmailLink(t.em(), first, { settings, client: client() }))).toBe(
      'EMAIL_LINK_INVALID',
    );
    await resendEmailVerification(t.em(), user.id, deps(mailer));
    await resendEmailVerification(t.em(), user.id, deps(mailer));
    expect(await errorCodeOf(resendEmailVerification(t.em(), user.id, deps(mailer)))).toBe('RATE_LIMITED');
    expect(mailer.sent).toHaveLength(3);

    const other = await unverifiedSignUp();
    await useEmailLink(t.em(), other.token, { settings, client: client() });
    const quiet = memoryMailer();
    const done = await resendEmailVerification(t.em(), other.user.id, deps(quiet));
    expect(done.alreadyVerified).toBe(true);
    expect(quiet.sent).toHaveLength(0);
  });
});

describe('email change', () => {
  async function verifiedUser() {
    const { user, token } = await unverifiedSignUp();
    await useEmailLink(t.em(), token, { settings, client: client() });
    return user;
  }

  it('needs the current password, a valid new address of nobody else; nothing changes otherwise', async () => {
    const user = await verifiedUser();
    const other = await verifiedUser();
    const mailer = memoryMailer();
    const change = (currentPassword: string, newEmail: string) =>
      errorCodeOf(
        requestEmailChange(
          t.em(),
          user.id,
          { currentPassword, newEmail },
          { ...deps(mailer), settings: { ...settings, rateLimitEmail: 10 } },
        ),
      );
    expect(await change('wrong password!!', `n-${uniqueTag()}@example.org`)).toBe('INVALID_CREDENTIALS');
    expect(await change(PASSWORD, 'not an email')).toBe('BAD_USER_INPUT');
    expect(await change(PASSWORD, user.email.toUpperCase())).toBe('BAD_USER_INPUT');
    expect(await change(PASSWORD, other.email)).toBe('EMAIL_TAKEN');
    expect(mailer.sent).toHaveLength(0);
    const [row] = await t.query(
      "select count(*)::int as n from password_reset_token where user_id = $1 and purpose = 'email'",
      [user.id],
    );
    expect(row).toEqual({ n: 0 });
  });

  it('mails a link to the new address and a notice to the old one; the email changes only when the link is used, once', async () => {
    const user = await verifiedUser();
    const newEmail = `moved-${uniqueTag()}@example.org`;
    const mailer = memoryMailer();
    const asked = await requestEmailChange(
      t.em(),
      user.id,
      { currentPassword: PASSWORD, newEmail: ` ${newEmail.toUpperCase()} ` },
      deps(mailer),
    );
    await asked.delivery;
    expect(asked.newEmail).toBe(newEmail);
    const toNew = mailer.sent.find((m) => m.to === newEmail);
    const toOld = mailer.sent.find((m) => m.to === user.email);
    expect(mailer.sent).toHaveLength(2);
    const token = tokenIn(toNew?.text);
    expect(token).toMatch(/^hpe_/);
    expect(toNew?.html).toContain(`/verify?token=${token}`);
    expect(toOld?.text).toContain(newEmail);
    expect(toOld?.text).not.toContain(token);
    // Not changed yet: the old email still signs in.
    await signIn(
      t.em(),
      { email: user.email, password: PASSWORD },
      { settings: DEFAULT_AUTH_SETTINGS, client: client() },
    );

    expect(await useEmailLink(t.em(), token, { settings, client: client() })).toEqual({
      userId: user.id,
      email: newEmail,
      changed: true,
    });
    await signIn(
      t.em(),
      { email: newEmail, password: PASSWORD },
      { settings: DEFAULT_AUTH_SETTINGS, client: client() },
    );
    expect(
      await errorCodeOf(
        signIn(
          t.em(),
          { email: user.email, password: PASSWORD },
          { settings: DEFAULT_AUTH_SETTINGS, client: client() },
        ),
      ),
    ).toBe('INVALID_CREDENTIALS');
    expect(await errorCodeOf(useEmailLink(t.em(), token, { settings, client: client() }))).toBe(
      'EMAIL_LINK_INVALID',
    );
  });

  it('an address taken meanwhile gives EMAIL_TAKEN and changes nothing', async () => {
    const user = await verifiedUser();
    const newEmail = `race-${uniqueTag()}@example.org`;
    const mailer = memoryMailer();
    await (await requestEmailChange(t.em(), user.id, { currentPassword: PASSWORD, newEmail }, deps(mailer)))
      .delivery;
    const token = tokenIn(mailer.sent.find((m) => m.to === newEmail)?.text);
    await createUser(t.em(), { email: newEmail, displayName: 'Squatter' });
    expect(await errorCodeOf(useEmailLink(t.em(), token, { settings, client: client() }))).toBe(
      'EMAIL_TAKEN',
    );
    const [row] = await t.query<{ email: string }>('select email from users where id = $1', [user.id]);
    expect(row?.email).toBe(user.email);
  });

  it('changing the password cancels an outstanding change', async () => {
    const user = await verifiedUser();
    const newEmail = `cancel-${uniqueTag()}@example.org`;
    const mailer = memoryMailer();
    await (await requestEmailChange(t.em(), user.id, { currentPassword: PASSWORD, newEmail }, deps(mailer)))
      .delivery;
    const token = tokenIn(mailer.sent.find((m) => m.to === newEmail)?.text);
    await changePassword(
      t.em(),
      user.id,
      { currentPassword: PASSWORD, newPassword: 'a different passphrase' },
      { keepSessionId: null, settings, client: client() },
    );
    expect(await errorCodeOf(useEmailLink(t.em(), token, { settings, client: client() }))).toBe(
      'EMAIL_LINK_INVALID',
    );
  });
});
