/**
 * Who may do what through the web UI: a user's session opens no admin page and no admin
 * action; a user sees and releases only their own VMs; cross-site form posts are refused.
 * Everything that should not change is checked through the admin API afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addSessionCookie,
  type Browser,
  collectPageErrors,
  launchBrowser,
  newContext,
} from '../support/browser.ts';
import type { SignedUpUser } from '../support/factories.ts';
import { graphql } from '../support/graphql.ts';
import {
  ADMIN_PAGES,
  cookieHeader,
  STACK_POOL,
  type Stack,
  startStack,
  USER_COOKIE,
} from '../support/web.ts';

const POOL = [
  ...STACK_POOL,
  { id: 'vm-c-spare', name: 'Test VM C', host: '10.77.0.13', region: 'test-1', status: 'AVAILABLE' as const },
];
const EVIL = 'http://evil.example';

let stack: Stack;
let browser: Browser;
let userA: SignedUpUser;
let userB: SignedUpUser;
let allocationA: string;
let allocationB: string;

/** Live sessions of a user, as the admin API counts them. */
async function activeSessions(email: string): Promise<number> {
  const res = await stack.api.admin(
    graphql(
      'query($email: String!) { users(email: $email, first: 1) { edges { node { activeSessions } } } }',
    ),
    { email },
  );
  const node = res.data?.users?.edges?.[0]?.node;
  if (!node) throw new Error(`users query: ${JSON.stringify(res)}`);
  return node.activeSessions;
}

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack({ pool: POOL }), launchBrowser()]);
  userA = await stack.signUp({ displayName: 'User A' });
  userB = await stack.signUp({ displayName: 'User B' });
  allocationA = await stack.allocate(userA.token);
  allocationB = await stack.allocate(userB.token);
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe('access control in the web UI', () => {
  it('without OIDC_ISSUER_URL: no forge button, and /signin/oidc is not there', async () => {
    const page = await fetch(`${stack.url}/signin`);
    expect(page.status).toBe(200);
    expect(await page.text()).not.toContain('/signin/oidc');
    expect((await fetch(`${stack.url}/signin/oidc`, { redirect: 'manual' })).status).toBe(404);
    expect(
      (await fetch(`${stack.url}/signin/oidc/callback?code=x&state=y`, { redirect: 'manual' })).status,
    ).toBe(404);
  });

  it('a signed-in user (no admin session) is sent to /admin/login from every admin page', async () => {
    const context = await newContext(browser, { baseURL: stack.url });
    await addSessionCookie(context, stack.url, USER_COOKIE, userA.token);
    const page = await context.newPage();
    const pageErrors = collectPageErrors(page);
    try {
      // The user's own session works (the dashboard opens) ...
      await page.goto('/');
      expect(new URL(page.url()).pathname).toBe('/');
      // ... but opens no admin page.
      for (const path of [...ADMIN_PAGES, `/admin/users/${userB.id}`]) {
        await page.goto(path);
        expect(new URL(page.url()).pathname, `${path} as a user`).toBe('/admin/login');
        const raw = await fetch(`${stack.url}${path}`, {
          headers: { cookie: cookieHeader(USER_COOKIE, userA.token) },
          redirect: 'manual',
        });
        await raw.body?.cancel();
        expect([302, 303, 307], `${path}: ${raw.status}`).toContain(raw.status);
        expect(raw.headers.get('location') ?? '').toMatch(/^(http:\/\/[^/]+)?\/admin\/login\b/);
      }
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('an unknown or ended session cookie opens nothing: the dashboard sends it to /signin', async () => {
    for (const token of ['hs_not-a-real-session', '']) {
      const res = await fetch(`${stack.url}/`, {
        headers: { cookie: cookieHeader(USER_COOKIE, token) },
        redirect: 'manual',
      });
      await res.body?.cancel();
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/signin');
    }
  });

  it("a user's session cannot run an admin action (pool refresh): redirect to login or 4xx, pool unchanged", async () => {
    const before = await stack.poolSnapshot();
    const manifest = JSON.stringify([{ id: 'vm-hijack', name: 'hijack', status: 'AVAILABLE' }]);
    const cookie = cookieHeader(USER_COOKIE, userA.token);
    const plain = await stack.formPost('/admin/pool?/refresh', { manifest }, { cookie });
    const body = await plain.text();
    const refused =
      (plain.status >= 300 &&
        plain.status < 400 &&
        /\/admin\/login/.test(plain.headers.get('location') ?? '')) ||
      (plain.status >= 400 && plain.status < 500);
    expect(
      refused,
      `answered ${plain.status} ${plain.headers.get('location') ?? ''} ${body.slice(0, 200)}`,
    ).toBe(true);
    // The way use:enhance posts (the answer is JSON): refused too.
    const enhanced = await fetch(`${stack.url}/admin/pool?/refresh`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: stack.url,
        cookie,
        'x-sveltekit-action': 'true',
        accept: 'application/json',
      },
      body: new URLSearchParams({ manifest }).toString(),
      redirect: 'manual',
    });
    const json = await enhanced.text();
    expect(json).not.toMatch(/"ok":true|Pool refreshed/);
    expect(await stack.poolSnapshot()).toEqual(before);
  });

  it("user A neither sees nor releases user B's allocation", async () => {
    const cookieA = cookieHeader(USER_COOKIE, userA.token);
    const dashboard = await fetch(`${stack.url}/`, { headers: { cookie: cookieA } });
    expect(dashboard.status).toBe(200);
    const html = await dashboard.text();
    expect(html).toContain(allocationA);
    expect(html).not.toContain(allocationB);
    expect(html).not.toContain(STACK_POOL[1].id);

    const release = await stack.formPost(
      '/?/release',
      { id: allocationB, confirmed: '1' },
      { cookie: cookieA },
    );
    await release.body?.cancel();
    expect(release.status, 'not a success').not.toBe(200);
    const enhanced = await fetch(`${stack.url}/?/release`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: stack.url,
        cookie: cookieA,
        'x-sveltekit-action': 'true',
        accept: 'application/json',
      },
      body: new URLSearchParams({ id: allocationB, confirmed: '1' }).toString(),
    });
    expect(await enhanced.text()).not.toMatch(/"type":"success"/);

    const b = await stack.allocationsOf(userB.id);
    expect(b.find((x) => x.id === allocationB)?.status).toBe('ACTIVE');
    const a = await stack.allocationsOf(userA.id);
    expect(a.find((x) => x.id === allocationA)?.status).toBe('ACTIVE');
  });

  it('cross-site form posts (Origin: http://evil.example) to /?/allocate and /signin are refused with 403', async () => {
    const userC = await stack.signUp({ displayName: 'User C' });
    const cookieC = cookieHeader(USER_COOKIE, userC.token);

    const allocateEvil = await stack.formPost('/?/allocate', {}, { cookie: cookieC, origin: EVIL });
    await allocateEvil.body?.cancel();
    expect(allocateEvil.status).toBe(403);
    expect(await stack.allocationsOf(userC.id)).toEqual([]);

    const sessionsBefore = await activeSessions(userC.email);
    const signInEvil = await stack.formPost(
      '/signin',
      { email: userC.email, password: userC.password },
      { origin: EVIL },
    );
    await signInEvil.body?.cancel();
    expect(signInEvil.status).toBe(403);
    expect(signInEvil.headers.get('set-cookie') ?? '').not.toContain(USER_COOKIE);
    expect(await activeSessions(userC.email)).toBe(sessionsBefore);

    // The same posts from the UI's own origin go through: it was the Origin that was refused.
    const allocateOwn = await stack.formPost('/?/allocate', {}, { cookie: cookieC });
    await allocateOwn.body?.cancel();
    expect(allocateOwn.status).toBe(200);
    expect((await stack.allocationsOf(userC.id)).map((x) => x.status)).toEqual(['ACTIVE']);
    const signInOwn = await stack.formPost('/signin', { email: userC.email, password: userC.password });
    await signInOwn.body?.cancel();
    expect(signInOwn.status).toBe(303);
    expect(signInOwn.headers.get('set-cookie') ?? '').toContain(`${USER_COOKIE}=`);
    expect(await activeSessions(userC.email)).toBe(sessionsBefore + 1);
  });
});
