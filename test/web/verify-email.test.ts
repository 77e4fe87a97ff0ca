/**
 * Email verification and email change end to end, with SIGNUP_VERIFY_EMAIL on: the api sends
 * through a real SMTP server (in this process), the browser signs up on the web UI, is refused a
 * VM and a top-up until it follows the emailed link, and then gets both. An email change goes
 * through the link mailed to the new address. Links work once and expire.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addSessionCookie,
  type Browser,
  collectPageErrors,
  launchBrowser,
  newContext,
  type Page,
  settled,
} from '../support/browser.ts';
import { graphql } from '../support/graphql.ts';
import { type ReceivedMail, startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { type FakeStripe, startFakeStripe } from '../support/stripe/fake-stripe.ts';
import { ADMIN_COOKIE, type Stack, startStack, USER_COOKIE } from '../support/web.ts';

let smtp: TestSmtpServer;
let stripe: FakeStripe;
let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  [smtp, stripe] = await Promise.all([startSmtpServer(), startFakeStripe({ deliverOnPay: false })]);
  [stack, browser] = await Promise.all([
    startStack({
      apiEnv: (webUrl) => ({
        ...stripe.apiEnv(),
        SMTP_URL: smtp.url,
        WEB_PUBLIC_URL: webUrl,
        SIGNUP_VERIFY_EMAIL: '1',
        SIGNUP_TRIAL: '1 VM for 24h',
      }),
    }),
    launchBrowser(),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await stripe?.stop();
  await smtp?.stop();
});

const START_TOP_UP = graphql(`
  mutation VerifyTestStartTopUp($amountCents: SafeInt!) {
    startTopUp(amountCents: $amountCents) {
      __typename
      ... on Error { code message }
    }
  }
`);
const VERIFY = graphql(`
  mutation VerifyTestUseLink($token: String!) {
    verifyEmail(token: $token) {
      __typename
      ... on Error { code }
    }
  }
`);
const SIGN_IN = graphql(`
  mutation VerifyTestSignIn($input: SignInInput!) {
    signIn(input: $input) {
      __typename
    }
  }
`);

/** The next mail to `to` (waits for it), and the /verify link in its text part. */
async function linkMailedTo(to: string): Promise<{ mail: ReceivedMail; path: string; token: string }> {
  let mail: ReceivedMail | undefined;
  await expect
    .poll(
      () =>
        (mail = smtp.received.find((m) => m.to.includes(to) && /\/verify\?token=/.test(m.parsed.text ?? ''))),
      {
        timeout: 10_000,
      },
    )
    .toBeDefined();
  smtp.received.splice(smtp.received.indexOf(mail as ReceivedMail), 1);
  const link = /https?:\/\/\S+\/verify\?token=\S+/.exec(mail?.parsed.text ?? '')?.[0] as string;
  expect(mail?.parsed.html).toContain(`href="${link}"`);
  const url = new URL(link);
  return {
    mail: mail as ReceivedMail,
    path: `${url.pathname}${url.search}`,
    token: url.searchParams.get('token') as string,
  };
}

async function sessionToken(page: Page): Promise<string> {
  const cookie = (await page.context().cookies()).find((c) => c.name === USER_COOKIE);
  expect(cookie).toBeDefined();
  return cookie?.value as string;
}

const USER_BY_EMAIL = graphql(`query VerifyEmailUserByEmail($email: String!) {
  users(email: $email, first: 1) { edges { node { id } } }
}`);

/** What the operator's page of the user with `email` says of the address. */
async function adminSeesEmail(email: string): Promise<string> {
  const found = await stack.api.admin(USER_BY_EMAIL, { email });
  const id = found.data.users.edges[0]?.node.id;
  expect(id).toBeDefined();
  const context = await newContext(browser, { baseURL: stack.url });
  try {
    await addSessionCookie(context, stack.url, ADMIN_COOKIE, await stack.adminToken());
    const page = await context.newPage();
    await page.goto(`/admin/users/${id}`);
    return ((await page.getByTestId('email-verified').textContent()) ?? '').replace(/\s+/g, ' ').trim();
  } finally {
    await context.close();
  }
}

async function allocateInBrowser(page: Page): Promise<void> {
  await page.goto('/');
  await settled(page);
  await page.getByTestId('allocate').click();
}

describe('email verification at sign-up', () => {
  it('refuses a VM and a top-up until the emailed link is used; the link works once', async () => {
    const context = await newContext(browser, { baseURL: stack.url });
    const page = await context.newPage();
    const pageErrors = collectPageErrors(page);
    const email = `verify-${randomBytes(4).toString('hex')}@example.org`;
    const password = `pw-${randomBytes(9).toString('hex')}`;
    try {
      await page.goto('/signup');
      await settled(page);
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Display name').fill('Vera');
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.waitForURL((url) => url.pathname === '/', { timeout: 15_000 });
      await expect.poll(() => page.getByTestId('verify-banner').textContent()).toContain(email);

      // Refused before the click: the button is off and says why (the API refuses it too).
      await page.goto('/');
      await settled(page);
      expect(await page.getByTestId('allocate').isDisabled()).toBe(true);
      expect(await page.getByTestId('allocate-why').textContent()).toContain(
        'Verify your email address first',
      );
      await expect.poll(() => page.getByTestId('no-services').isVisible()).toBe(true);
      const token = await sessionToken(page);
      const topUp = await stack.api.asUser(token, START_TOP_UP, { amountCents: 1000 });
      expect(topUp.data.startTopUp).toMatchObject({
        __typename: 'EmailNotVerifiedError',
        code: 'EMAIL_NOT_VERIFIED',
      });

      // The operator sees why this user has no VM.
      expect(await adminSeesEmail(email)).toBe(
        '(not verified: no payment or VM until the emailed link is used)',
      );

      const { mail, path } = await linkMailedTo(email);
      expect(mail.parsed.subject).toBe('Verify your email for hero-onboarding');
      expect(path).toMatch(/^\/verify\?token=hpv_/);
      await page.goto(path);
      await settled(page);
      await expect
        .poll(() => page.getByTestId('verify-result').textContent())
        .toContain(`${email} is verified`);

      expect(await adminSeesEmail(email)).toBe('(verified)');

      // Allowed now: the banner is gone, a VM and a checkout come.
      await allocateInBrowser(page);
      await expect.poll(() => page.getByTestId('action-success').textContent()).toContain('Allocated');
      expect(await page.getByTestId('verify-banner').count()).toBe(0);
      const paid = await stack.api.asUser(token, START_TOP_UP, { amountCents: 1000 });
      expect(paid.data.startTopUp.__typename).toBe('StartTopUpSuccess');

      // The same link again.
      await page.goto(path);
      await settled(page);
      await expect
        .poll(() => page.getByTestId('verify-result').textContent())
        .toContain('used already or expired');
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('an expired link is refused; "Send a new link" mails one that works', async () => {
    const user = await stack.signUp();
    const first = await linkMailedTo(user.email);
    await stack.db.query(
      `update password_reset_token set expires_at = now() - interval '1 second'
        where user_id = $1 and purpose = 'verify'`,
      [user.id],
    );
    const context = await newContext(browser, { baseURL: stack.url });
    await addSessionCookie(context, stack.url, USER_COOKIE, user.token);
    const page = await context.newPage();
    try {
      await page.goto(first.path);
      await settled(page);
      await expect
        .poll(() => page.getByTestId('verify-result').textContent())
        .toContain('used already or expired');

      await page.goto('/');
      await settled(page);
      await page.getByTestId('resend-verification').click();
      await expect
        .poll(() => page.getByTestId('action-success').textContent())
        .toContain(`on its way to ${user.email}`);
      const second = await linkMailedTo(user.email);
      expect(second.token).not.toBe(first.token);
      await page.goto(second.path);
      await settled(page);
      await expect.poll(() => page.getByTestId('verify-result').textContent()).toContain('is verified');
    } finally {
      await context.close();
    }
  });
});

describe('email change', () => {
  it('mails the new address a link and the old one a notice; the email changes when the link is used, once', async () => {
    const user = await stack.signUp();
    await stack.api.gql(VERIFY, { token: (await linkMailedTo(user.email)).token });
    const newEmail = `moved-${randomBytes(4).toString('hex')}@example.org`;
    const context = await newContext(browser, { baseURL: stack.url });
    await addSessionCookie(context, stack.url, USER_COOKIE, user.token);
    const page = await context.newPage();
    const pageErrors = collectPageErrors(page);
    try {
      await page.goto('/account');
      await settled(page);
      const form = page.getByRole('region', { name: 'Change email' });
      await form.getByLabel('New email').fill(newEmail);
      await form.getByLabel('Current password').fill('not the password');
      await form.getByRole('button', { name: 'Send the link' }).click();
      await expect.poll(() => page.locator('#email-current-password-error').textContent()).toContain('wrong');

      await form.getByLabel('New email').fill(newEmail);
      await form.getByLabel('Current password').fill(user.password);
      await form.getByRole('button', { name: 'Send the link' }).click();
      await expect.poll(() => page.getByTestId('email-change-sent').textContent()).toContain(newEmail);

      const { path, token } = await linkMailedTo(newEmail);
      expect(token).toMatch(/^hpe_/);
      await expect
        .poll(() => smtp.received.find((m) => m.to.includes(user.email) && m.parsed.text?.includes(newEmail)))
        .toBeDefined();
      // Not changed before the link is used.
      expect(
        (await stack.api.gql(SIGN_IN, { input: { email: user.email, password: user.password } })).data.signIn
          .__typename,
      ).toBe('SignInSuccess');

      await page.goto(path);
      await settled(page);
      await expect.poll(() => page.getByTestId('verify-result').textContent()).toContain(`now ${newEmail}`);
      expect(
        (await stack.api.gql(SIGN_IN, { input: { email: newEmail, password: user.password } })).data.signIn
          .__typename,
      ).toBe('SignInSuccess');
      expect(
        (await stack.api.gql(SIGN_IN, { input: { email: user.email, password: user.password } })).data.signIn
          .__typename,
      ).toBe('InvalidCredentialsError');
      expect((await stack.api.gql(VERIFY, { token })).data.verifyEmail).toMatchObject({
        code: 'EMAIL_LINK_INVALID',
      });
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
