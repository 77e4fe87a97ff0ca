/**
 * The admin audit page in a real browser: it lists what admins did (and failed sign-ins), and
 * its action filter narrows the list.
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
import { CREATE_USER, SIGN_IN } from '../support/factories.ts';
import { ADMIN_COOKIE, type Stack, startStack } from '../support/web.ts';

let stack: Stack;
let browser: Browser;
const email = `audited-${Date.now()}@example.org`;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
  await stack.api.admin(CREATE_USER, { input: { email, displayName: 'Audited In Browser' } });
  await stack.api.gql(SIGN_IN, { input: { email: 'nobody@example.org', password: 'not-the-password-1' } });
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe('admin audit page', () => {
  it('lists admin mutations and failed sign-ins, and filters by action', async () => {
    const context = await newContext(browser, { baseURL: stack.url });
    await addSessionCookie(context, stack.url, ADMIN_COOKIE, await stack.adminToken());
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    try {
      await page.goto('/admin');
      await page.getByRole('link', { name: 'Audit log' }).click();
      await page.waitForURL('**/admin/audit');
      const table = page.locator('table[data-testid="audit-log"]');
      await table.waitFor({ timeout: 15_000 });
      const actions = async () =>
        (await table.locator('[data-testid="audit-action"]').allTextContents()).map((a) => a.trim());
      const all = await actions();
      expect(all).toContain('createUser');
      expect(all).toContain('auth.sign_in_failed');
      const created = table.locator('tbody tr').filter({ hasText: 'createUser' }).first();
      expect(await created.textContent()).toContain('Admin secret');
      expect(await created.textContent()).toContain(email);
      expect(await table.textContent()).not.toContain('not-the-password-1');

      await page.getByLabel('Action').fill('auth.sign_in_failed');
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.waitForURL(/action=auth\.sign_in_failed/);
      await settled(page);
      const filtered = await actions();
      expect(filtered.length).toBeGreaterThan(0);
      expect(new Set(filtered)).toEqual(new Set(['auth.sign_in_failed']));

      await page.getByLabel('Action').fill('no-such-action');
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.waitForURL(/action=no-such-action/);
      await expect(page.getByText('No entries match these filters').count()).resolves.toBe(1);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
