/**
 * Password reset and change end to end: the api sends through a real SMTP server (in this
 * process); the email is parsed, its link followed in a real browser against the built web UI,
 * a new password set and used to sign in. The link works once; the sessions from before end.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, collectPageErrors, launchBrowser, newContext, settled } from '../support/browser.ts';
import { graphql } from '../support/graphql.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { type Stack, startStack } from '../support/web.ts';

const WEB_PUBLIC_URL = 'https://hero.example.test';

let smtp: TestSmtpServer;
let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  smtp = await startSmtpServer();
  [stack, browser] = await Promise.all([
    startStack({
      apiEnv: { SMTP_URL: smtp.url, MAIL_FROM: 'Hero Test <hero@example.test>', WEB_PUBLIC_URL },
    }),
    launchBrowser(),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await smtp?.stop();
});

const REQUEST_RESET = graphql(`
  mutation TestRequestReset($email: String!) {
    requestPasswordReset(email: $email) {
      __typename
      ... on RequestPasswordResetSuccess { message }
      ... on RateLimitedError { code retryAfterSeconds }
    }
  }
`);
const RESET = graphql(`
  mutation TestResetPassword($input: ResetPasswordInput!) {
    resetPassword(input: $input) {
      __typename
      ... on Error { code message }
    }
  }
`);
const SIGN_IN = graphql(`
  mutation TestSignInAgain($input: SignInInput!) {
    signIn(input: $input) {
      __typename
      ... on SignInSuccess { session { token } }
      ... on Error { code }
    }
  }
`);
const ME = graphql('query TestMeAfterReset { me { id } }');

async function signInToken(email: string, password: string): Promise<string> {
  const res = await stack.api.gql(SIGN_IN, { input: { email, password } });
  const result = res.data.signIn;
  if (result.__typename !== 'SignInSuccess') throw new Error(`signIn failed: ${JSON.stringify(res)}`);
  return result.session.token;
}

const newPassword = () => `new-pass-${randomBytes(6).toString('hex')}`;

describe('password reset by email', () => {
  it('same answer for a known and an unknown email; one email; the link works once; old sessions end', async () => {
    const user = await stack.signUp();
    const otherSession = await signInToken(user.email, user.password);

    const before = smtp.received.length;
    const known = await stack.api.gql(REQUEST_RESET, { email: user.email });
    const unknown = await stack.api.gql(REQUEST_RESET, {
      email: `nobody-${randomBytes(4).toString('hex')}@example.org`,
    });
    expect(known.status).toBe(200);
    expect(known.data.requestPasswordReset.__typename).toBe('RequestPasswordResetSuccess');
    expect(unknown).toEqual(known);

    await smtp.waitFor(before + 1);
    // Time for a second message to arrive, if one wrongly were on its way.
    await new Promise((r) => setTimeout(r, 500));
    const arrived = smtp.received.slice(before);
    expect(arrived).toHaveLength(1);
    const [mail] = arrived;
    expect(mail?.to).toEqual([user.email]);
    expect(mail?.parsed.from?.text).toBe('"Hero Test" <hero@example.test>');
    expect(mail?.parsed.subject).toBe('Reset your hero-onboarding password');
    const link = /https:\/\/\S+\/reset\?token=\S+/.exec(mail?.parsed.text ?? '')?.[0];
    expect(link, mail?.parsed.text).toBeDefined();
    expect(link?.startsWith(`${WEB_PUBLIC_URL}/reset?token=hpr_`)).toBe(true);
    expect(mail?.parsed.html).toContain(`href="${link}"`);

    // The link, on the stack's web UI (WEB_PUBLIC_URL names where it would be in production).
    const target = new URL(link as string);
    const context = await newContext(browser, { baseURL: stack.url });
    const page = await context.newPage();
    const pageErrors = collectPageErrors(page);
    try {
      const password = newPassword();
      await page.goto(`${target.pathname}${target.search}`);
      await settled(page);
      await page.getByLabel('New password').fill(password);
      await page.getByRole('button', { name: 'Set the password' }).click();
      await page.waitForURL((url) => url.pathname === '/signin', { timeout: 15_000 });
      await expect.poll(() => page.getByTestId('password-reset-done').isVisible()).toBe(true);

      // Every session from before ended.
      for (const token of [user.token, otherSession]) {
        const res = await stack.api.asUser(token, ME);
        expect(res.status).toBe(401);
        expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      }

      // Sign in with the new password, in the browser.
      await page.getByLabel('Email').fill(user.email);
      await page.getByLabel('Password', { exact: true }).fill(password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL((url) => url.pathname === '/', { timeout: 15_000 });

      // The old password no longer works.
      const old = await stack.api.gql(SIGN_IN, { input: { email: user.email, password: user.password } });
      expect(old.data.signIn).toMatchObject({
        __typename: 'InvalidCredentialsError',
        code: 'INVALID_CREDENTIALS',
      });

      // The same link a second time: refused in the browser and by the API; the password stays.
      await page.goto(`${target.pathname}${target.search}`);
      await settled(page);
      await page.getByLabel('New password').fill(newPassword());
      await page.getByRole('button', { name: 'Set the password' }).click();
      await expect
        .poll(() => page.getByTestId('form-error').textContent())
        .toContain('invalid, used already or expired');
      const again = await stack.api.gql(RESET, {
        input: { token: target.searchParams.get('token') as string, newPassword: newPassword() },
      });
      expect(again.data.resetPassword).toMatchObject({ code: 'RESET_TOKEN_INVALID' });
      await expect(signInToken(user.email, password)).resolves.toMatch(/^hs_/);
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('the sign-in page links to the request form, which answers without saying whether the account exists', async () => {
    const context = await newContext(browser, { baseURL: stack.url });
    const page = await context.newPage();
    try {
      const before = smtp.received.length;
      await page.goto('/signin');
      await settled(page);
      await page.getByRole('link', { name: 'Forgot password?' }).click();
      await page.waitForURL((url) => url.pathname === '/forgot');
      await page.getByLabel('Email').fill(`nobody-${randomBytes(4).toString('hex')}@example.org`);
      await page.getByRole('button', { name: 'Send the link' }).click();
      await expect
        .poll(() => page.getByTestId('reset-requested').textContent())
        .toContain('If an account has this email');
      await new Promise((r) => setTimeout(r, 300));
      expect(smtp.received.length).toBe(before);
    } finally {
      await context.close();
    }
  });
});

describe('password change on the account page', () => {
  it('refuses a wrong current password; a right one changes it and ends the other sessions only', async () => {
    const user = await stack.signUp();
    const otherSession = await signInToken(user.email, user.password);
    const context = await newContext(browser, { baseURL: stack.url });
    const page = await context.newPage();
    const pageErrors = collectPageErrors(page);
    try {
      await page.goto('/signin');
      await settled(page);
      await page.getByLabel('Email').fill(user.email);
      await page.getByLabel('Password', { exact: true }).fill(user.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL((url) => url.pathname === '/', { timeout: 15_000 });
      await page.getByRole('link', { name: 'Account' }).click();
      await page.waitForURL((url) => url.pathname === '/account');
      await settled(page);

      const password = newPassword();
      // The email change form asks for the current password too.
      const section = page.getByRole('region', { name: 'Change password' });
      await section.getByLabel('Current password').fill('not-the-password-1');
      await page.getByLabel('New password').fill(password);
      await page.getByRole('button', { name: 'Change password' }).click();
      await expect.poll(() => page.locator('#currentPassword-error').textContent()).toContain('wrong');
      // Nothing changed: the other session still works.
      expect((await stack.api.asUser(otherSession, ME)).data.me).toEqual({ id: user.id });

      await section.getByLabel('Current password').fill(user.password);
      await page.getByLabel('New password').fill(password);
      await page.getByRole('button', { name: 'Change password' }).click();
      await expect
        .poll(() => page.getByTestId('password-changed').textContent())
        .toContain('2 other sessions were signed out');

      // The sign-up session and the API-signed-in one ended; the browser's stays.
      for (const token of [user.token, otherSession]) {
        const res = await stack.api.asUser(token, ME);
        expect(res.status).toBe(401);
        expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      }
      await page.reload();
      await settled(page);
      expect(new URL(page.url()).pathname).toBe('/account');
      await expect(signInToken(user.email, password)).resolves.toMatch(/^hs_/);
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
