/**
 * The account page's API tokens section in a real browser: create a token (shown once), use it
 * against the api, see its last use listed, revoke it; the api then refuses it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, collectPageErrors, launchBrowser, newContext, settled } from '../support/browser.ts';
import { graphql } from '../support/graphql.ts';
import { type Stack, startStack } from '../support/web.ts';

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const ME = graphql('query TestMeWithApiToken { me { id } }');
const ME_EMAIL_PREFERENCES = graphql(
  'query TestMeEmailPreferences { me { emailPreferences { warnings receipts } } }',
);

describe('API tokens on the account page', () => {
  it('creates a token shown once, lists its last use, refuses a blank name, and revokes it', async () => {
    const user = await stack.signUp();
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
      await page.goto('/account');
      await settled(page);
      const section = page.getByTestId('api-tokens');
      await expect.poll(() => section.getByTestId('api-tokens-empty').isVisible()).toBe(true);
      // At 1280 px a one-line field keeps a readable width (32rem), not the card's.
      const nameBox = (await section.getByLabel('Name').boundingBox())!;
      const sectionBox = (await section.boundingBox())!;
      expect(nameBox.width).toBeLessThanOrEqual(512);
      expect(sectionBox.width).toBeGreaterThan(800);

      // A blank name is refused on the field, nothing created.
      await section.getByLabel('Name').fill('   ');
      await section.getByRole('button', { name: 'Create token' }).click();
      await expect.poll(() => page.locator('#name-error').textContent()).toContain('Enter a name');
      expect(await section.getByTestId('api-token-row').count()).toBe(0);

      await section.getByLabel('Name').fill('ci deploy');
      await section.getByLabel('Expires').selectOption('30');
      await section.getByRole('button', { name: 'Create token' }).click();
      await expect
        .poll(() => section.getByTestId('api-token-created').textContent())
        .toContain('shown only this once');
      const token = (await section.getByTestId('api-token-value').textContent())?.trim() ?? '';
      expect(token).toMatch(/^hero_/);
      await expect.poll(() => section.getByTestId('api-token-row').count()).toBe(1);
      expect(await section.getByTestId('api-token-last-used').textContent()).toContain('never');

      const used = await stack.api.asUser(token, ME);
      expect(used.data?.me).toEqual({ id: user.id });

      // Reloaded, the token is no longer shown, only listed, with its last use.
      await page.reload();
      await settled(page);
      expect(await section.getByTestId('api-token-created').count()).toBe(0);
      expect(await page.content()).not.toContain(token);
      const row = section.getByTestId('api-token-row');
      expect(await row.textContent()).toContain('ci deploy');
      expect(await section.getByTestId('api-token-last-used').textContent()).not.toContain('never');

      await section.getByRole('button', { name: 'Revoke ci deploy' }).click();
      await expect.poll(() => section.getByTestId('api-token-revoked').textContent()).toContain('ci deploy');
      await expect.poll(() => section.getByTestId('api-token-row').count()).toBe(0);
      const refused = await stack.api.asUser(token, ME);
      expect(refused.status).toBe(401);
      expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

      // The email preferences on the same page: warnings on, receipts off, until saved otherwise.
      const warnings = page.getByRole('checkbox', { name: /^Warnings/ });
      const receipts = page.getByRole('checkbox', { name: /^Receipts/ });
      expect([await warnings.isChecked(), await receipts.isChecked()]).toEqual([true, false]);
      await warnings.uncheck();
      await receipts.check();
      await page.getByRole('button', { name: 'Save email preferences' }).click();
      await expect.poll(() => page.getByTestId('email-preferences-saved').isVisible()).toBe(true);
      await page.reload();
      await settled(page);
      expect([await warnings.isChecked(), await receipts.isChecked()]).toEqual([false, true]);
      const prefs = await stack.api.asUser(user.token, ME_EMAIL_PREFERENCES);
      expect(prefs.data?.me.emailPreferences).toEqual({ warnings: false, receipts: true });
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
