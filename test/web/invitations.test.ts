/**
 * Invitations and the sign-up policy end to end: an operator creates a user in the admin UI, the
 * invitation arrives at a real SMTP server (in this process), and a real browser follows its link,
 * sets a password and signs in; the link works once. SIGNUP_MODE `invite` and `closed` refuse
 * sign-up on the API and the sign-up page says so; `open` still signs up.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from '../support/api.ts';
import {
  type Browser,
  checkA11y,
  collectPageErrors,
  launchBrowser,
  newContext,
  settled,
} from '../support/browser.ts';
import { SIGN_UP } from '../support/factories.ts';
import { graphql } from '../support/graphql.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { type Stack, startStack, startWeb, type WebProcess } from '../support/web.ts';

const WEB_PUBLIC_URL = 'https://hero.example.test';

let smtp: TestSmtpServer;
/** SIGNUP_MODE=invite, with SMTP. */
let stack: Stack;
/** SIGNUP_MODE=closed and open apis on the stack's database; a web UI in front of the closed one. */
let closedApi: ApiProcess;
let closedWeb: WebProcess;
let openApi: ApiProcess;
let browser: Browser;

beforeAll(async () => {
  smtp = await startSmtpServer();
  [stack, browser] = await Promise.all([
    startStack({
      apiEnv: {
        SMTP_URL: smtp.url,
        MAIL_FROM: 'Hero Test <hero@example.test>',
        WEB_PUBLIC_URL,
        SIGNUP_MODE: 'invite',
      },
    }),
    launchBrowser(),
  ]);
  [closedApi, openApi] = await Promise.all([
    startApi({ databaseUrl: stack.db.url, env: { SIGNUP_MODE: 'closed' } }),
    startApi({ databaseUrl: stack.db.url, env: { SIGNUP_MODE: 'open' } }),
  ]);
  closedWeb = await startWeb(closedApi.url);
});
afterAll(async () => {
  await browser?.close();
  await Promise.all([closedWeb?.stop(), closedApi?.stop(), openApi?.stop()]);
  await stack?.stop();
  await smtp?.stop();
});

const RESET = graphql(`
  mutation TestInviteResetPassword($input: ResetPasswordInput!) {
    resetPassword(input: $input) {
      __typename
      ... on Error { code message }
    }
  }
`);

const newPassword = () => `invited-${randomBytes(6).toString('hex')}`;
const newEmail = (what: string) => `${what}-${randomBytes(4).toString('hex')}@example.org`;

describe('invitations', () => {
  it('admin creates a user → the email arrives → the browser sets a password and signs in → the link works once', async () => {
    const email = newEmail('invited');
    const context = await newContext(browser, { baseURL: stack.url });
    const page = await context.newPage();
    const pageErrors = collectPageErrors(page);
    try {
      await page.goto('/admin/login');
      await settled(page);
      await page.getByText('Sign in with the admin secret (break-glass)').click();
      await page.getByLabel('Admin secret').fill(stack.api.adminSecret);
      await page.getByRole('button', { name: 'Sign in with the secret' }).click();
      await page.waitForURL((url) => url.pathname === '/admin', { timeout: 15_000 });
      await page.goto('/admin/users');
      await settled(page);

      const before = smtp.received.length;
      await page.getByLabel('Email').first().fill(email);
      await page.getByLabel('Display name').fill('Invited <Person>');
      await page.getByRole('button', { name: 'Create user' }).click();
      const shown = (await page.getByTestId('new-user-invitation').textContent({ timeout: 15_000 }))?.trim();
      expect(shown).toMatch(new RegExp(`^${WEB_PUBLIC_URL}/reset\\?token=hpi_[\\w-]+&invite=1$`));

      await smtp.waitFor(before + 1);
      await new Promise((r) => setTimeout(r, 300));
      const arrived = smtp.received.slice(before);
      expect(arrived).toHaveLength(1);
      const [mail] = arrived;
      expect(mail?.to).toEqual([email]);
      expect(mail?.parsed.subject).toBe('You are invited to hero-onboarding');
      expect(mail?.parsed.text).toContain('Hello Invited <Person>,');
      const link = /https:\/\/\S+\/reset\?token=\S+/.exec(mail?.parsed.text ?? '')?.[0];
      expect(link).toBe(shown);
      expect(mail?.parsed.html).toContain(`href="${(link as string).replace(/&/g, '&amp;')}"`);
      expect(mail?.parsed.html).toContain('Invited &lt;Person&gt;');

      // Reloading the admin page does not show the link again.
      await page.goto('/admin/users');
      await settled(page);
      expect(await page.content()).not.toContain((link as string).split('token=')[1]?.split('&')[0]);

      // The invited person's browser, on the stack's web UI.
      const target = new URL(link as string);
      // bypassCSP: axe-core is injected as an inline script.
      const userContext = await newContext(browser, { baseURL: stack.url, bypassCSP: true });
      const userPage = await userContext.newPage();
      const userErrors = collectPageErrors(userPage);
      try {
        const password = newPassword();
        await userPage.goto(`${target.pathname}${target.search}`);
        await settled(userPage);
        expect(await userPage.locator('h1').textContent()).toContain('choose your password');
        expect(await checkA11y(userPage, 'invitation page')).toEqual([]);
        await userPage.getByLabel('New password').fill(password);
        await userPage.getByRole('button', { name: 'Set the password' }).click();
        await userPage.waitForURL((url) => url.pathname === '/signin', { timeout: 15_000 });
        await expect.poll(() => userPage.getByTestId('invitation-done').isVisible()).toBe(true);
        await userPage.getByLabel('Email').fill(email);
        await userPage.getByLabel('Password', { exact: true }).fill(password);
        await userPage.getByRole('button', { name: 'Sign in' }).click();
        await userPage.waitForURL((url) => url.pathname === '/', { timeout: 15_000 });

        // A second use of the link: refused in the browser and by the API.
        await userPage.goto(`${target.pathname}${target.search}`);
        await settled(userPage);
        await userPage.getByLabel('New password').fill(newPassword());
        await userPage.getByRole('button', { name: 'Set the password' }).click();
        await expect
          .poll(() => userPage.getByTestId('form-error').textContent())
          .toContain('invitation link is invalid, used already or expired');
        const again = await stack.api.gql(RESET, {
          input: { token: target.searchParams.get('token') as string, newPassword: newPassword() },
        });
        expect(again.data.resetPassword).toMatchObject({ code: 'RESET_TOKEN_INVALID' });
        expect(userErrors).toEqual([]);
      } finally {
        await userContext.close();
      }
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

const CREATE_USER = graphql(`
  mutation TestInviteCreateUser($input: CreateUserInput!) {
    createUser(input: $input) {
      __typename
      ... on CreateUserSuccess { payload { invitationUrl user { id } } }
      ... on Error { code message }
    }
  }
`);

describe('sending an invitation again', () => {
  it('the user page emails a new link, shown once; the earlier link stops working', async () => {
    const email = newEmail('again');
    const adminToken = await stack.adminToken();
    const beforeCreate = smtp.received.length;
    const created = await stack.api.gql(
      CREATE_USER,
      { input: { email, displayName: 'Again' } },
      { authorization: `Bearer ${adminToken}` },
    );
    const result = created.data.createUser;
    if (result.__typename !== 'CreateUserSuccess') throw new Error(JSON.stringify(created));
    const first = new URL(result.payload.invitationUrl);
    // The first invitation is in before the second is asked for.
    await smtp.waitFor(beforeCreate + 1);

    const context = await newContext(browser, { baseURL: stack.url });
    const page = await context.newPage();
    const pageErrors = collectPageErrors(page);
    try {
      await page.goto('/admin/login');
      await settled(page);
      await page.getByText('Sign in with the admin secret (break-glass)').click();
      await page.getByLabel('Admin secret').fill(stack.api.adminSecret);
      await page.getByRole('button', { name: 'Sign in with the secret' }).click();
      await page.waitForURL((url) => url.pathname === '/admin', { timeout: 15_000 });
      await page.goto(`/admin/users/${result.payload.user.id}`);
      await settled(page);
      const before = smtp.received.length;
      await page.getByRole('button', { name: 'Send the invitation again' }).click();
      const shown = (await page.getByTestId('resent-invitation').textContent({ timeout: 15_000 }))?.trim();
      expect(shown).toMatch(/\/reset\?token=hpi_[\w-]+&invite=1$/);
      expect(shown).not.toBe(result.payload.invitationUrl);
      await smtp.waitFor(before + 1);
      const mail = smtp.received.slice(before).find((m) => m.to.includes(email));
      expect(mail?.parsed.text).toContain(shown);

      const old = await stack.api.gql(RESET, {
        input: { token: first.searchParams.get('token') as string, newPassword: newPassword() },
      });
      expect(old.data.resetPassword).toMatchObject({ code: 'RESET_TOKEN_INVALID' });
      const fresh = await stack.api.gql(RESET, {
        input: {
          token: new URL(shown as string).searchParams.get('token') as string,
          newPassword: newPassword(),
        },
      });
      expect(fresh.data.resetPassword.__typename).toBe('ResetPasswordSuccess');
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

describe('sign-up policy', () => {
  it('invite: signUp answers SIGNUP_CLOSED, creates nothing, and the pages say accounts come by invitation', async () => {
    const email = newEmail('refused');
    const res = await stack.api.gql(SIGN_UP, {
      input: { email, displayName: 'Refused', password: newPassword() },
    });
    expect(res.data.signUp).toMatchObject({ __typename: 'SignupClosedError', code: 'SIGNUP_CLOSED' });
    const mode = await stack.api.gql(graphql('query TestSignupMode { signupMode }'));
    expect(mode.data.signupMode).toBe('INVITE');
    const users = await stack.db.query('select count(*)::int as n from users where email = $1', [email]);
    expect(users[0].n).toBe(0);

    const context = await newContext(browser, { baseURL: stack.url, bypassCSP: true });
    const page = await context.newPage();
    try {
      await page.goto('/signup');
      await settled(page);
      expect(await page.getByTestId('signup-closed').textContent()).toContain('by invitation only');
      expect(await page.getByLabel('Password').count()).toBe(0);
      expect(await checkA11y(page, 'sign-up by invitation only')).toEqual([]);
      await page.goto('/signin');
      await settled(page);
      expect(await page.getByRole('link', { name: 'Create an account' }).count()).toBe(0);
      // A form post made anyway is refused with the API's message.
      const posted = await stack.formPost('/signup', {
        email,
        displayName: 'Refused',
        password: newPassword(),
      });
      expect(await posted.text()).toContain('invitation only');
    } finally {
      await context.close();
    }
  });

  it('closed: signUp answers SIGNUP_CLOSED and the page shows no form; open still signs up', async () => {
    const res = await closedApi.gql(SIGN_UP, {
      input: { email: newEmail('closed'), displayName: 'Closed', password: newPassword() },
    });
    expect(res.data.signUp).toMatchObject({ __typename: 'SignupClosedError', code: 'SIGNUP_CLOSED' });
    const context = await newContext(browser, { baseURL: closedWeb.url });
    const page = await context.newPage();
    try {
      await page.goto('/signup');
      await settled(page);
      expect(await page.locator('h1').textContent()).toContain('Sign-up is closed');
      expect(await page.getByTestId('signup-closed').textContent()).toContain('ask an operator');
      expect(await page.getByRole('button', { name: 'Create account' }).count()).toBe(0);
    } finally {
      await context.close();
    }

    const open = await openApi.gql(SIGN_UP, {
      input: { email: newEmail('open'), displayName: 'Open', password: newPassword() },
    });
    expect(open.data.signUp.__typename).toBe('SignUpSuccess');
  });
});
