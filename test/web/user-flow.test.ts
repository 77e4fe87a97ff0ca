/**
 * The user's side in a real browser, against the built web UI, a real api and a real database:
 * sign up, the dashboard's Active services table (five columns, the cockpit link), a second VM
 * (one without a cockpit), release through the confirmation dialog, sign out, and dates in the
 * viewer's time zone (told to the server in a cookie by the first page).
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
import { STACK_POOL, type Stack, startStack, USER_COOKIE } from '../support/web.ts';

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const [withCockpit, withoutCockpit] = STACK_POOL;

/** The Active services table, its header texts, and the cells of a row by column name. */
function servicesTable(page: Page) {
  const table = page.locator('table[data-testid="active-services"]');
  const rows = table.locator('tbody tr');
  const headers = async () => (await table.locator('thead th').allTextContents()).map((t) => t.trim());
  const cell = async (row: ReturnType<typeof rows.nth>, column: string) => {
    const index = (await headers()).indexOf(column);
    if (index < 0) throw new Error(`no column "${column}" in ${JSON.stringify(await headers())}`);
    return row.locator(':scope > td, :scope > th').nth(index);
  };
  /** The row of a pool VM (its name or id is shown in the VM column). */
  const rowOf = (vm: { id: string; name?: string }) =>
    rows.filter({ hasText: new RegExp(`${vm.id}|${vm.name ?? vm.id}`) });
  return { table, rows, headers, cell, rowOf };
}

describe('user flow in the browser', () => {
  it('signs up, allocates (cockpit link), allocates a second VM (no cockpit: —), releases one, signs out', async () => {
    const context = await newContext(browser, { baseURL: stack.url });
    const page = await context.newPage();
    const pageErrors = collectPageErrors(page);
    try {
      const email = `browser-${randomBytes(4).toString('hex')}@example.org`;
      await page.goto('/signup');
      await settled(page);
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Display name').fill('Browser Tester');
      await page.getByLabel('Password', { exact: true }).fill(`pw-${randomBytes(8).toString('hex')}`);
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.waitForURL((url) => url.pathname === '/', { timeout: 15_000 });
      await settled(page);
      expect(await page.locator('h1').first().textContent()).toBeTruthy();

      const [user] = await stack.db.query<{ id: string }>('select id from users where email = $1', [email]);
      expect(user, 'the signed-up user is in the database').toBeDefined();

      // First VM: the one with a cockpit (the pool hands VMs out in id order).
      await page.getByRole('button', { name: 'Allocate a VM' }).click();
      const services = servicesTable(page);
      await services.table.waitFor({ timeout: 15_000 });
      await expect.poll(() => services.rows.count(), { timeout: 10_000 }).toBe(1);
      expect(await services.headers()).toEqual(['VM', 'Cockpit', 'Status', 'Allocated', 'Expires']);

      const first = (await stack.allocationsOf(user.id))[0];
      expect(first).toMatchObject({ status: 'ACTIVE', poolVm: { id: withCockpit.id } });
      const cockpit = await services.cell(services.rowOf(withCockpit), 'Cockpit');
      const link = cockpit.getByRole('link');
      expect(await link.count()).toBe(1);
      expect((await link.textContent())?.trim()).toBe('Open →');
      expect(await link.getAttribute('href')).toBe(withCockpit.cockpitUrl);
      expect(await link.getAttribute('target')).toBe('_blank');
      expect((await link.getAttribute('rel'))?.split(/\s+/)).toContain('noopener');

      // A second VM needs quota 2 (set by the admin API); it has no cockpit: "—".
      await stack.setQuota(user.id, 2);
      await page.reload();
      await settled(page);
      await page.getByRole('button', { name: 'Allocate a VM' }).click();
      await expect.poll(() => services.rows.count(), { timeout: 10_000 }).toBe(2);
      const plainRow = services.rowOf(withoutCockpit);
      expect(await plainRow.count()).toBe(1);
      const plainCockpit = await services.cell(plainRow, 'Cockpit');
      expect((await plainCockpit.textContent())?.trim()).toBe('—');
      expect(await plainCockpit.getByRole('link').count()).toBe(0);
      const second = (await stack.allocationsOf(user.id)).find((a) => a.poolVm.id === withoutCockpit.id);
      expect(second?.status).toBe('ACTIVE');

      // Release the second one: the row's Release button, then the dialog's "Yes, release".
      await plainRow.getByRole('button', { name: 'Release' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.waitFor({ state: 'visible', timeout: 10_000 });
      await dialog.getByRole('button', { name: 'Yes, release' }).click();
      await expect.poll(() => services.rows.count(), { timeout: 10_000 }).toBe(1);
      expect(await services.rowOf(withoutCockpit).count()).toBe(0);
      expect(await services.rowOf(withCockpit).count()).toBe(1);
      const after = await stack.allocationsOf(user.id);
      expect(after.find((a) => a.id === second?.id)?.status).toBe('RELEASED');
      expect(after.find((a) => a.id === first.id)?.status).toBe('ACTIVE');

      // Sign out: back to /signin, the dashboard closed again, the session ended on the API.
      const session = (await context.cookies()).find((c) => c.name === USER_COOKIE);
      expect(session?.httpOnly).toBe(true);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL((url) => url.pathname === '/signin', { timeout: 10_000 });
      expect((await context.cookies()).some((c) => c.name === USER_COOKIE)).toBe(false);
      await page.goto('/');
      expect(new URL(page.url()).pathname).toBe('/signin');
      const me = await stack.api.asUser(session?.value ?? '', graphql('{ me { id } }'));
      expect(me.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

      expect(pageErrors).toEqual([]);
    } catch (err) {
      console.log(stack.logs());
      throw err;
    } finally {
      await context.close();
    }
  });

  it("shows dates in the viewer's time zone (New York vs Tokyo)", async () => {
    const user = await stack.signUp();
    await stack.allocate(user.token);

    const allocatedText = async (timezoneId: string) => {
      const context = await newContext(browser, { baseURL: stack.url, timezoneId });
      try {
        await addSessionCookie(context, stack.url, USER_COOKIE, user.token);
        const page = await context.newPage();
        const pageErrors = collectPageErrors(page);
        await page.goto('/');
        await settled(page);
        const services = servicesTable(page);
        await expect.poll(() => services.rows.count(), { timeout: 10_000 }).toBe(1);
        const cell = await services.cell(services.rows.first(), 'Allocated');
        // The first page knows no zone yet (UTC, said so); the browser tells it in a cookie and
        // the next render is in the viewer's zone.
        expect(await cell.textContent()).toContain('UTC');
        await page.reload();
        await settled(page);
        expect(await cell.textContent()).not.toContain('UTC');
        expect(pageErrors).toEqual([]);
        return (await cell.textContent())?.trim() ?? '';
      } finally {
        await context.close();
      }
    };
    const newYork = await allocatedText('America/New_York');
    const tokyo = await allocatedText('Asia/Tokyo');
    expect(newYork).not.toBe('');
    expect(tokyo).not.toBe('');
    // 13 or 14 hours apart: the absolute time differs.
    expect(newYork).not.toBe(tokyo);
  });
});
