/**
 * The admin side in a real browser: signing in with the admin secret, every admin page, the
 * allocations table's columns, and a refused pool refresh (pasted and uploaded) that lists
 * every problem and leaves the pool as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addSessionCookie,
  type Browser,
  type BrowserContext,
  collectPageErrors,
  launchBrowser,
  newContext,
  type Page,
  settled,
} from '../support/browser.ts';
import { REFRESH_POOL, type SignedUpUser } from '../support/factories.ts';
import { graphql } from '../support/graphql.ts';
import { ADMIN_COOKIE, ADMIN_PAGES, type Stack, startStack } from '../support/web.ts';

/** What an operator scans first; the rest is in each row's Details (admin-tables.test.ts). */
const ALLOCATION_COLUMNS = ['User', 'Pool VM', 'Status', 'Expires', 'Cockpit', 'Details'];

/** A manifest with one problem of each kind the API refuses a manifest for. */
const BAD_MANIFEST = [
  { id: 'vm-new-1', name: 'new 1', status: 'AVAILABLE' },
  { id: 'vm-new-1', name: 'the same id again' },
  { id: 'vm-new-2', name: 'bad status', status: 'BROKEN' },
  { id: 'vm-new-3', name: 'bad cockpit', cockpitUrl: 'javascript:alert(1)' },
  { id: 'vm-new-4', name: 'unknown field', colour: 'blue' },
];

let stack: Stack;
let browser: Browser;
let user: SignedUpUser;
let allocationId: string;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
  user = await stack.signUp({ displayName: 'Admin Page Tester' });
  allocationId = await stack.allocate(user.token);
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** A context signed in as admin (the session cookie the login page sets). */
async function adminContext(): Promise<BrowserContext> {
  const context = await newContext(browser, { baseURL: stack.url });
  await addSessionCookie(context, stack.url, ADMIN_COOKIE, await stack.adminToken());
  return context;
}

/** The problems the API lists for a manifest (refreshPool refuses it whole, changing nothing). */
async function apiProblems(manifest: unknown): Promise<{ path: string; message: string }[]> {
  const res = await stack.api.admin(REFRESH_POOL, { input: { manifest } });
  const result = res.data?.refreshPool;
  if (result?.__typename !== 'ValidationError') throw new Error(`expected a refusal: ${JSON.stringify(res)}`);
  return result.problems;
}

/** One list item per problem the API lists, each naming its problem's message. */
function expectEveryProblemShown(shown: string[], expected: { path: string; message: string }[]): void {
  expect(shown).toHaveLength(expected.length);
  for (const problem of expected) {
    expect(
      shown.some((li) => li.includes(problem.message)),
      `"${problem.path}: ${problem.message}" in ${JSON.stringify(shown)}`,
    ).toBe(true);
  }
}

/** The refusal box of the refresh form, and its problem list. */
async function refreshProblems(page: Page): Promise<string[]> {
  const alert = page.locator('[role="alert"]').filter({ has: page.locator('li') });
  await alert.first().waitFor({ timeout: 15_000 });
  return (await alert.first().locator('li').allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim());
}

describe('admin UI in the browser', () => {
  it('signs in with the admin secret (a wrong one is refused with an alert) and out again', async () => {
    const context = await newContext(browser, { baseURL: stack.url });
    const page = await context.newPage();
    const pageErrors = collectPageErrors(page);
    try {
      await page.goto('/admin/login');
      await settled(page);
      // The secret is break-glass: behind a disclosure under the operators' email/password form.
      await page.getByText('Sign in with the admin secret (break-glass)').click();
      await page.getByLabel('Admin secret').fill(`${stack.api.adminSecret}-wrong`);
      await page.getByRole('button', { name: 'Sign in with the secret' }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor({ timeout: 10_000 });
      expect((await alert.textContent())?.trim()).not.toBe('');
      expect(new URL(page.url()).pathname).toBe('/admin/login');
      expect((await context.cookies()).some((c) => c.name === ADMIN_COOKIE)).toBe(false);
      // The secret never comes back in the page.
      expect(await page.content()).not.toContain(stack.api.adminSecret);

      await page.getByLabel('Admin secret').fill(stack.api.adminSecret);
      await page.getByRole('button', { name: 'Sign in with the secret' }).click();
      await page.waitForURL((url) => url.pathname === '/admin', { timeout: 10_000 });
      await settled(page);
      expect(await page.locator('h1').count()).toBeGreaterThan(0);
      const session = (await context.cookies()).find((c) => c.name === ADMIN_COOKIE);
      expect(session?.httpOnly).toBe(true);
      expect(await page.content()).not.toContain(stack.api.adminSecret);
      // The admin session works against the API (what the panel uses) ...
      const live = await stack.api.gql(
        graphql('{ pool { id } }'),
        {},
        { authorization: `Bearer ${session?.value}` },
      );
      expect(live.status).toBe(200);

      // ... until "Sign out": back to the login page, the session ended on the API too.
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL((url) => url.pathname === '/admin/login', { timeout: 10_000 });
      expect((await context.cookies()).some((c) => c.name === ADMIN_COOKIE)).toBe(false);
      await page.goto('/admin/pool');
      expect(new URL(page.url()).pathname).toBe('/admin/login');
      const ended = await stack.api.gql(
        graphql('{ pool { id } }'),
        {},
        { authorization: `Bearer ${session?.value}` },
      );
      // An ended admin session reads as FORBIDDEN (api/src/schema/auth-errors.ts).
      expect(ended.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  describe('every admin page', () => {
    // One signed-in page for the read-only visits (a new page costs a renderer process).
    let context: BrowserContext;
    let page: Page;
    let pageErrors: string[];
    beforeAll(async () => {
      context = await adminContext();
      page = await context.newPage();
      pageErrors = collectPageErrors(page);
    });
    afterAll(async () => {
      await context?.close();
    });

    it.each(ADMIN_PAGES)('%s answers 200 with an h1', async (path) => {
      pageErrors.length = 0;
      const response = await page.goto(path);
      expect(new URL(page.url()).pathname, 'not sent elsewhere (e.g. to the login page)').toBe(path);
      expect(response?.status()).toBe(200);
      await settled(page);
      const h1 = page.locator('h1');
      expect(await h1.count()).toBeGreaterThan(0);
      expect((await h1.first().textContent())?.trim()).not.toBe('');
      expect(pageErrors).toEqual([]);
    });
  });

  it("/admin/allocations: the priority columns in order, and the test user's allocation", async () => {
    const context = await adminContext();
    const page = await context.newPage();
    try {
      await page.goto('/admin/allocations');
      const table = page.locator('table[data-testid="allocations"]');
      await table.waitFor({ timeout: 10_000 });
      const headers = (await table.locator('thead th').allTextContents()).map((t) =>
        t.replace(/\s+/g, ' ').trim(),
      );
      expect(headers).toEqual(ALLOCATION_COLUMNS);
      const row = table.locator(`tbody tr[data-allocation-id="${allocationId}"]`);
      expect(await row.count()).toBe(1);
      expect(await row.textContent()).toContain(user.email);
      expect(await row.getByRole('link', { name: /cockpit of/ }).getAttribute('href')).toContain(
        'vm-a-cockpit',
      );
    } finally {
      await context.close();
    }
  });

  it("/admin/users/<id>: the user's page; an unknown or malformed id is a 404", async () => {
    const context = await adminContext();
    const page = await context.newPage();
    try {
      const res = await page.goto(`/admin/users/${user.id}`);
      expect(res?.status()).toBe(200);
      await expect(page.locator('h1').textContent()).resolves.toContain('Admin Page Tester');
      expect(await page.locator('main').textContent()).toContain(user.email);
      for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
        const missing = await page.goto(`/admin/users/${id}`);
        expect(missing?.status(), id).toBe(404);
      }
    } finally {
      await context.close();
    }
  });

  it('/admin/users/<id>: extends an active allocation with a reason; an earlier end is refused', async () => {
    const context = await adminContext();
    const page = await context.newPage();
    const pageErrors = collectPageErrors(page);
    try {
      await page.goto(`/admin/users/${user.id}`);
      await settled(page);
      const item = page.locator(`li[data-allocation-id="${allocationId}"]`);
      const [before] = await stack.db.query<{ expires_at: Date }>(
        'select expires_at from vm_allocation where id = $1',
        [allocationId],
      );
      // An end not later than the current one: the API's problem, and nothing moves.
      await item.getByText('Extend', { exact: true }).first().click();
      const earlier = new Date(before.expires_at.getTime() - 86_400_000).toISOString().slice(0, 16);
      await item.getByLabel('New end (UTC)').fill(earlier);
      await item.getByLabel('Reason').fill('too early');
      await item.getByRole('button', { name: 'Extend' }).click();
      await expect
        .poll(() => page.getByTestId('extend-result').textContent(), { timeout: 10_000 })
        .toMatch(/must be later than the allocation's current end/);

      const later = new Date(Math.ceil(before.expires_at.getTime() / 60_000) * 60_000 + 2 * 86_400_000);
      await page.goto(`/admin/users/${user.id}`);
      await settled(page);
      await item.getByText('Extend', { exact: true }).first().click();
      await item.getByLabel('New end (UTC)').fill(later.toISOString().slice(0, 16));
      await item.getByLabel('Reason').fill('support case: outage on our side');
      await item.getByRole('button', { name: 'Extend' }).click();
      await expect
        .poll(() => page.getByTestId('extend-result').textContent(), { timeout: 10_000 })
        .toMatch(/Allocation extended/);
      const [after] = await stack.db.query<{ expires_at: Date }>(
        'select expires_at from vm_allocation where id = $1',
        [allocationId],
      );
      expect(after.expires_at.toISOString()).toBe(later.toISOString());
      const history = await stack.db.query<{ reason: string }>(
        'select reason from allocation_extension where allocation_id = $1',
        [allocationId],
      );
      expect(history).toEqual([{ reason: 'support case: outage on our side' }]);
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('a refused pool manifest (pasted) lists every problem and leaves the pool unchanged', async () => {
    const expected = await apiProblems(BAD_MANIFEST);
    // Duplicate id, bad status, a cockpitUrl that is not http(s), an unknown field.
    expect(expected.length).toBeGreaterThanOrEqual(4);
    const before = await stack.poolSnapshot();

    const context = await adminContext();
    const page = await context.newPage();
    const pageErrors = collectPageErrors(page);
    try {
      await page.goto('/admin/pool');
      await settled(page);
      await page.getByLabel('Manifest (JSON)').fill(JSON.stringify(BAD_MANIFEST, null, 2));
      await page.getByRole('button', { name: 'Refresh pool' }).click();
      expectEveryProblemShown(await refreshProblems(page), expected);
      expect(await stack.poolSnapshot()).toEqual(before);
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('a refused pool manifest (uploaded file) lists every problem and leaves the pool unchanged', async () => {
    const manifest = { pool: BAD_MANIFEST };
    const expected = await apiProblems(manifest);
    const before = await stack.poolSnapshot();

    const context = await adminContext();
    const page = await context.newPage();
    const pageErrors = collectPageErrors(page);
    try {
      await page.goto('/admin/pool');
      await settled(page);
      await page.getByLabel('Or upload a manifest file').setInputFiles({
        name: 'bad-pool.json',
        mimeType: 'application/json',
        buffer: Buffer.from(JSON.stringify(manifest)),
      });
      await page.getByRole('button', { name: 'Refresh pool' }).click();
      expectEveryProblemShown(await refreshProblems(page), expected);
      expect(await stack.poolSnapshot()).toEqual(before);
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
