/**
 * Suspending and deleting an account from the admin user page, in a real browser: the operator
 * suspends (releasing the VM), the user's own sign-in then says the account is suspended, the
 * operator lifts it, then deletes the account with its email typed again; the page shows the
 * tombstone and no longer the address.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addSessionCookie,
  type Browser,
  collectPageErrors,
  launchBrowser,
  newContext,
  settled,
} from '../support/browser.ts';
import { ADMIN_COOKIE, type Stack, startStack } from '../support/web.ts';

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe('admin: account lifecycle', () => {
  it('suspends (VM released, sign-in refused), unsuspends, then deletes with the email confirmed', async () => {
    const user = await stack.signUp();
    await stack.allocate(user.token);
    const admin = await newContext(browser, { baseURL: stack.url });
    await addSessionCookie(admin, stack.url, ADMIN_COOKIE, await stack.adminToken());
    const page = await admin.newPage();
    const pageErrors = collectPageErrors(page);
    const userContext = await newContext(browser, { baseURL: stack.url });
    const userPage = await userContext.newPage();
    try {
      await page.goto(`/admin/users/${user.id}`);
      await settled(page);
      await page.getByLabel('Reason for the suspension').fill('chargeback under review');
      const release = page.getByLabel(/Also release their 1 active VM now/);
      // A checkbox of its own size, right before its text (not stretched like a text field).
      const box = (await release.boundingBox())!;
      const text = (await page.locator('label.check', { has: release }).boundingBox())!;
      expect(box.width).toBeLessThan(32);
      expect(box.x - text.x).toBeLessThanOrEqual(8);
      await release.check();
      await page.getByRole('button', { name: 'Suspend', exact: true }).click();
      await expect.poll(() => page.getByTestId('suspension-result').textContent()).toContain('1 VM released');
      expect((await page.getByTestId('user-status').textContent())?.trim()).toBe('SUSPENDED');
      // The users list marks the account too, and its Status filter finds the accounts under review.
      await page.goto('/admin/users');
      await settled(page);
      expect(await page.locator(`tr[data-user-id="${user.id}"]`).textContent()).toContain('SUSPENDED');
      await page.getByLabel('Status').selectOption('SUSPENDED');
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.waitForURL((url) => url.searchParams.get('status') === 'SUSPENDED');
      await settled(page);
      expect(await page.locator(`tr[data-user-id="${user.id}"]`).count()).toBe(1);
      const rows = await page.locator('tbody tr[data-user-id]').allTextContents();
      expect(rows.filter((text) => !text.includes('SUSPENDED'))).toEqual([]);
      await page.goto('/admin/users?status=ACTIVE');
      await settled(page);
      expect(await page.locator(`tr[data-user-id="${user.id}"]`).count()).toBe(0);
      await page.goto(`/admin/users/${user.id}`);
      await settled(page);
      expect(await page.getByTestId('suspended-notice').textContent()).toContain('chargeback under review');
      expect(await stack.allocationsOf(user.id)).toMatchObject([{ status: 'RELEASED' }]);

      await userPage.goto('/signin');
      await settled(userPage);
      await userPage.getByLabel('Email').fill(user.email);
      await userPage.getByLabel('Password', { exact: true }).fill(user.password);
      await userPage.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => userPage.getByRole('alert').first().textContent()).toContain('suspended');

      await page.getByRole('button', { name: 'Unsuspend' }).click();
      await expect
        .poll(async () => (await page.getByTestId('user-status').textContent())?.trim())
        .toBe('ACTIVE');

      await page.getByText('Delete this account…').click();
      await page.getByLabel(`Type ${user.email} to confirm`).fill('someone-else@example.org');
      await page.getByRole('button', { name: 'Delete account' }).click();
      await expect
        .poll(() => page.getByTestId('delete-result').textContent())
        .toContain("does not match the user's email");
      await page.getByLabel(`Type ${user.email} to confirm`).fill(user.email);
      await page.getByRole('button', { name: 'Delete account' }).click();
      await expect.poll(() => page.getByTestId('deleted-notice').isVisible()).toBe(true);
      expect((await page.getByTestId('user-status').textContent())?.trim()).toBe('DELETED');
      expect(await page.getByRole('button', { name: 'Suspend', exact: true }).count()).toBe(0);
      // What the page shows (its first render's inline data still holds the old answer).
      expect(await page.locator('body').innerText()).not.toContain(user.email);
      expect(pageErrors).toEqual([]);
    } finally {
      await admin.close();
      await userContext.close();
    }
  });
});
