/**
 * Sign in with the forge: a real OpenID Connect provider (oidc-provider, in this process), the
 * built web UI and the api. A browser clicks through the provider's login and consent; the
 * account is created with its forgeId, found again on the next login, linked by a verified
 * email; a tampered state or nonce is refused, by the web and by the api itself.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Browser,
  type BrowserContext,
  launchBrowser,
  newContext,
  type Page,
} from '../support/browser.ts';
import { graphql } from '../support/graphql.ts';
import { startOidcProvider, type TestOidcProvider } from '../support/oidc-provider.ts';
import { freePort } from '../support/process.ts';
import { type Stack, startStack } from '../support/web.ts';

const LABEL = 'Sign in with the forge';

let provider: TestOidcProvider;
let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  const webPort = await freePort();
  provider = await startOidcProvider({ redirectUri: `http://127.0.0.1:${webPort}/signin/oidc/callback` });
  [stack, browser] = await Promise.all([
    startStack({
      apiEnv: {
        OIDC_ISSUER_URL: provider.issuer,
        OIDC_CLIENT_ID: provider.clientId,
        OIDC_ROLE_CLAIM: 'groups',
        OIDC_ROLE_MAP: JSON.stringify({ 'hero-billing': 'billing' }),
      },
      webEnv: {
        WEB_PORT: String(webPort),
        OIDC_ISSUER_URL: provider.issuer,
        OIDC_CLIENT_ID: provider.clientId,
        OIDC_CLIENT_SECRET: provider.clientSecret,
        OIDC_LABEL: LABEL,
        OIDC_OPERATOR_SCOPES: 'groups',
      },
    }),
    launchBrowser(),
  ]);
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await provider?.stop();
});

const SIGN_IN_WITH_OIDC = graphql(`
  mutation TestSignInWithOidc($input: SignInWithOidcInput!) {
    signInWithOidc(input: $input) {
      __typename
      ... on SignInSuccess { user { id forgeId } session { token } }
      ... on Error { code message }
    }
  }
`);

const tag = () => randomBytes(4).toString('hex');

function newAccount(emailVerified = true, email = `forge-${tag()}@example.org`) {
  const login = `forge-user-${tag()}`;
  provider.addAccount(login, { email, emailVerified, name: `Forge ${login}` });
  return { login, email };
}

async function freshContext(): Promise<BrowserContext> {
  const context = await newContext(browser);
  // The provider's dev pages import a web font; this machine has no way out.
  await context.route(/fonts\.googleapis\.com/, (route) => route.abort());
  return context;
}

/** From the web's sign-in page through the provider's login and consent. */
async function throughProvider(page: Page, login: string): Promise<void> {
  await page.goto(`${stack.url}/signin`);
  await page.getByRole('link', { name: LABEL }).click();
  await page.waitForURL((url) => url.href.startsWith(provider.issuer), { timeout: 15_000 });
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
}

async function loginThroughForge(login: string): Promise<void> {
  const context = await freshContext();
  try {
    const page = await context.newPage();
    await throughProvider(page, login);
    await page.waitForURL((url) => url.origin === stack.url && url.pathname === '/', { timeout: 15_000 });
    expect(await page.getByRole('button', { name: 'Sign out' }).count()).toBe(1);
  } finally {
    await context.close();
  }
}

type Flow = { state: string; nonce: string; verifier: string };

/** This browser's flow cookie (state, nonce, PKCE verifier), as the web set it. */
async function flowCookie(context: BrowserContext): Promise<Flow> {
  const cookie = (await context.cookies(`${stack.url}/signin/oidc/callback`)).find(
    (c) => c.name === 'hero_oidc',
  );
  if (!cookie) throw new Error('no flow cookie');
  return JSON.parse(decodeURIComponent(cookie.value)) as Flow;
}

async function setFlowCookie(context: BrowserContext, flow: Flow): Promise<void> {
  await context.addCookies([
    {
      name: 'hero_oidc',
      value: encodeURIComponent(JSON.stringify(flow)),
      domain: '127.0.0.1',
      path: '/signin/oidc',
      httpOnly: true,
      sameSite: 'Lax',
    },
  ]);
}

/** Goes to the provider's login, lets `tamper` change the flow cookie, then logs in and consents. */
async function loginWithTamperedFlow(context: BrowserContext, login: string, tamper: (flow: Flow) => Flow) {
  const page = await context.newPage();
  await page.goto(`${stack.url}/signin`);
  await page.getByRole('link', { name: LABEL }).click();
  await page.waitForURL((url) => url.href.startsWith(provider.issuer), { timeout: 15_000 });
  await setFlowCookie(context, tamper(await flowCookie(context)));
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  const callback = page.waitForResponse((res) => res.url().startsWith(`${stack.url}/signin/oidc/callback`));
  await page.getByRole('button', { name: 'Continue' }).click();
  return { page, response: await callback };
}

const usersWithForgeId = (forgeId: string) =>
  stack.db.query<{ id: string; email: string }>('select id, email from users where forge_id = $1', [forgeId]);

describe('sign in with the forge (OIDC)', () => {
  it('an operator mapped by claim signs in on the admin login with the role; no user is made', async () => {
    const login = `forge-operator-${tag()}`;
    const email = `${login}@example.org`;
    provider.addAccount(login, {
      email,
      emailVerified: true,
      name: 'Forge Operator',
      groups: ['staff', 'hero-billing'],
    });
    const context = await freshContext();
    try {
      const page = await context.newPage();
      await page.goto(`${stack.url}/admin/login`);
      await page.getByRole('link', { name: LABEL }).click();
      await page.waitForURL((url) => url.href.startsWith(provider.issuer), { timeout: 15_000 });
      await page.locator('input[name="login"]').fill(login);
      await page.locator('input[name="password"]').fill('any password');
      await page.getByRole('button', { name: 'Sign-in' }).click();
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForURL((url) => url.origin === stack.url && url.pathname === '/admin', {
        timeout: 15_000,
      });
      expect(await page.getByTestId('admin-who').textContent()).toContain(`${email} · billing`);
    } finally {
      await context.close();
    }
    expect(await stack.db.query('select role, forge_id from operator where email = $1', [email])).toEqual([
      { role: 'billing', forge_id: `${provider.issuer}#${login}` },
    ]);
    expect(await stack.db.query('select id from users where email = $1', [email])).toHaveLength(0);
  }, 60_000);

  it('the first login creates the user with forgeId; the second reuses it', async () => {
    const { login, email } = newAccount();
    await loginThroughForge(login);
    const forgeId = `${provider.issuer}#${login}`;
    const first = await usersWithForgeId(forgeId);
    expect(first).toEqual([{ id: expect.any(String), email }]);

    await loginThroughForge(login);
    expect(await usersWithForgeId(forgeId)).toEqual(first);
    expect(await stack.db.query('select id from users where email = $1', [email])).toHaveLength(1);
    const [{ n }] = await stack.db.query<{ n: number }>(
      'select count(*)::int as n from auth_session where user_id = $1',
      [first[0].id],
    );
    expect(n).toBe(2);
  }, 60_000);

  it('a password user with the same verified email is linked, not duplicated', async () => {
    const user = await stack.signUp();
    const { login } = newAccount(true, user.email);
    await loginThroughForge(login);
    expect(await usersWithForgeId(`${provider.issuer}#${login}`)).toEqual([
      { id: user.id, email: user.email },
    ]);
  }, 60_000);

  it('an unverified email of an existing account is not linked', async () => {
    const user = await stack.signUp();
    const { login } = newAccount(false, user.email);
    const context = await freshContext();
    try {
      const page = await context.newPage();
      const callback = page.waitForResponse((res) =>
        res.url().startsWith(`${stack.url}/signin/oidc/callback`),
      );
      await throughProvider(page, login);
      expect((await callback).status()).toBe(400);
      expect(await page.locator('main').innerText()).toContain('exists already');
      expect(await usersWithForgeId(`${provider.issuer}#${login}`)).toEqual([]);
      const [row] = await stack.db.query<{ forge_id: string | null }>(
        'select forge_id from users where id = $1',
        [user.id],
      );
      expect(row.forge_id).toBeNull();
    } finally {
      await context.close();
    }
  }, 60_000);

  it.each(['state', 'nonce'] as const)(
    'a tampered %s is refused with a clear page, and no account is made',
    async (field) => {
      const { login } = newAccount();
      const context = await freshContext();
      try {
        const { page, response } = await loginWithTamperedFlow(context, login, (f) => ({
          ...f,
          [field]: `${f[field]}x`,
        }));
        expect(response.status()).toBe(400);
        expect(await page.locator('main').innerText()).toContain('could not be verified');
        expect(await stack.db.query('select id from users where forge_id like $1', [`%#${login}`])).toEqual(
          [],
        );
      } finally {
        await context.close();
      }
    },
    60_000,
  );

  it('the api verifies the ID token itself: a wrong nonce or a forged token is refused', async () => {
    const { login } = newAccount();
    const context = await freshContext();
    let idToken: string;
    let nonce: string;
    try {
      // The flow is read, then its cookie dropped: the web refuses the callback without using the code.
      let flow: Flow | undefined;
      const { response } = await loginWithTamperedFlow(context, login, (f) => {
        flow = f;
        return { state: '', nonce: '', verifier: '' };
      });
      expect(response.status()).toBe(400);
      const callback = new URL(response.url());
      if (!flow) throw new Error('no flow');
      nonce = flow.nonce;
      // The code exchange as the web would make it, to hold a genuine ID token.
      const res = await fetch(`${provider.issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${provider.clientId}:${provider.clientSecret}`).toString('base64')}`,
        },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: callback.searchParams.get('code')!,
          redirect_uri: `${callback.origin}${callback.pathname}`,
          code_verifier: flow.verifier,
        }),
      });
      expect(res.status).toBe(200);
      idToken = ((await res.json()) as { id_token: string }).id_token;
    } finally {
      await context.close();
    }

    const wrongNonce = await stack.api.gql(SIGN_IN_WITH_OIDC, { input: { idToken, nonce: `${nonce}x` } });
    expect(wrongNonce.data.signInWithOidc).toMatchObject({
      __typename: 'InvalidCredentialsError',
      code: 'INVALID_CREDENTIALS',
    });

    const [header, payload] = idToken.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forgedPayload = Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString(
      'base64url',
    );
    const forged = await stack.api.gql(SIGN_IN_WITH_OIDC, {
      input: { idToken: `${header}.${forgedPayload}.${idToken.split('.')[2]}`, nonce },
    });
    expect(forged.data.signInWithOidc).toMatchObject({ code: 'INVALID_CREDENTIALS' });
    expect(await stack.db.query('select id from users where forge_id like $1', ['%#someone-else'])).toEqual(
      [],
    );
    expect(await usersWithForgeId(`${provider.issuer}#${login}`)).toEqual([]);

    // The genuine token with its nonce works: the refusals above were about the tampering.
    const genuine = await stack.api.gql(SIGN_IN_WITH_OIDC, { input: { idToken, nonce } });
    expect(genuine.data.signInWithOidc).toMatchObject({
      __typename: 'SignInSuccess',
      user: { forgeId: `${provider.issuer}#${login}` },
    });
  }, 60_000);

  it('the sign-in page shows the button with OIDC_LABEL', async () => {
    const res = await fetch(`${stack.url}/signin`);
    expect(await res.text()).toContain(LABEL);
  });
});
