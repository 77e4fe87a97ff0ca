/**
 * The admin user picker in a real browser: it finds a user by a part of their email, the
 * keyboard picks one and a payment recorded through it credits that user; without JavaScript
 * the typed text is resolved by the server (several matches: a select to choose from); the
 * audit log and the Users page find by name or email too; no admin page asks for a user's raw
 * id; axe finds nothing on the pages that use it, at both widths.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addSessionCookie,
  type Browser,
  type BrowserContext,
  checkA11y,
  collectPageErrors,
  launchBrowser,
  newContext,
  type Page,
  screenshot,
  settled,
  viewportFor,
  WIDTHS,
} from '../support/browser.ts';
import type { SignedUpUser } from '../support/factories.ts';
import { graphql } from '../support/graphql.ts';
import { ADMIN_COOKIE, ADMIN_PAGES, type Stack, startStack } from '../support/web.ts';

const BALANCE = graphql(`
  query PickerTestBalance($id: ID!) {
    user(id: $id) {
      billing {
        creditBalanceCents
      }
    }
  }
`);

const tag = randomBytes(3).toString('hex');
let stack: Stack;
let browser: Browser;
let ada: SignedUpUser;
let grace: SignedUpUser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
  ada = await stack.signUp({ email: `ada.picker-${tag}@example.org`, displayName: 'Ada Lovelace' });
  grace = await stack.signUp({ email: `grace.picker-${tag}@example.net`, displayName: 'Grace Hopper' });
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

async function adminContext(
  options: { width?: number; javaScriptEnabled?: boolean; bypassCSP?: boolean } = {},
): Promise<BrowserContext> {
  const context =
    options.javaScriptEnabled === false
      ? await browser.newContext({ baseURL: stack.url, javaScriptEnabled: false, timezoneId: 'UTC' })
      : await newContext(browser, {
          baseURL: stack.url,
          viewport: viewportFor(options.width ?? 1280),
          bypassCSP: options.bypassCSP,
        });
  await addSessionCookie(context, stack.url, ADMIN_COOKIE, await stack.adminToken());
  return context;
}

async function balanceOf(userId: string): Promise<number> {
  const res = await stack.api.admin(BALANCE, { id: userId });
  const cents = res.data?.user?.billing.creditBalanceCents;
  if (cents === undefined) throw new Error(`balance query failed: ${JSON.stringify(res)}`);
  return cents;
}

/** Types into a picker and waits for its listbox to show `count` options. */
async function typeAndWait(page: Page, label: string, text: string, count: number) {
  const box = page.getByRole('combobox', { name: label });
  await box.fill('');
  await box.pressSequentially(text, { delay: 20 });
  const options = page.locator(`#${await box.getAttribute('aria-controls')} [role="option"]`);
  await expect.poll(() => options.count(), { timeout: 10_000 }).toBe(count);
  return { box, options };
}

describe('the admin user picker', () => {
  it('finds a user by a part of the email; arrows + Enter fill the form; the payment credits them', async () => {
    const context = await adminContext();
    const page = await context.newPage();
    const pageErrors = collectPageErrors(page);
    try {
      await page.goto('/admin/payments');
      await settled(page);
      // Both users match the tag; only Ada matches "ada.picker".
      const { box, options } = await typeAndWait(page, 'User to credit', `picker-${tag}`, 2);
      expect(await box.getAttribute('aria-expanded')).toBe('true');
      // Listed by email: Ada's first, each with the name and the email.
      expect((await options.nth(0).textContent())?.replace(/\s+/g, ' ')).toContain('Ada Lovelace');
      expect(await options.nth(0).textContent()).toContain(ada.email);
      expect(await options.nth(1).textContent()).toContain(grace.email);

      await box.press('ArrowDown');
      await box.press('ArrowDown');
      expect(await box.getAttribute('aria-activedescendant')).toBe(await options.nth(1).getAttribute('id'));
      expect(await options.nth(1).getAttribute('aria-selected')).toBe('true');
      await box.press('ArrowUp');
      expect(await options.nth(0).getAttribute('aria-selected')).toBe('true');
      // Escape closes the list without picking; ArrowDown opens it again.
      await box.press('Escape');
      expect(await box.getAttribute('aria-expanded')).toBe('false');
      await box.press('ArrowDown');
      expect(await box.getAttribute('aria-expanded')).toBe('true');

      // Narrowed to one match, Enter picks it (and does not submit the form).
      await typeAndWait(page, 'User to credit', `ada.picker-${tag.slice(0, 4)}`, 1);
      await box.press('ArrowDown');
      await box.press('Enter');
      expect(await box.getAttribute('aria-expanded')).toBe('false');
      expect(await box.inputValue()).toBe(ada.email);
      const form = page.locator('form[action="?/recordPayment"]');
      expect(await form.locator('input[type="hidden"][name="userId"]').inputValue()).toBe(ada.id);
      expect(await page.getByTestId('record-payment-result').count()).toBe(0);

      const before = await balanceOf(ada.id);
      await form.getByLabel('Amount').fill('12.50');
      await form.getByRole('button', { name: 'Record payment' }).click();
      const result = page.getByTestId('record-payment-result');
      await result.waitFor({ timeout: 10_000 });
      expect(await result.textContent()).toContain(`Recorded €12.50 for ${ada.email}`);
      expect(await balanceOf(ada.id)).toBe(before + 1250);
      expect(await balanceOf(grace.id)).toBe(0);

      // The audit log's "Target user" picks the same way: the payment is a change to Ada.
      await page.goto('/admin/audit');
      await settled(page);
      const target = await typeAndWait(page, 'Target user', `ada.picker-${tag}`, 1);
      await target.box.press('ArrowDown');
      await target.box.press('Enter');
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.waitForURL((url) => url.searchParams.get('userId') === ada.id);
      // Each row names Ada as its target; its detail (hidden until asked for) holds her id.
      const entries = page.locator('table[data-testid="audit-log"] tbody tr:not(.dt-detail)');
      expect(await entries.count()).toBeGreaterThan(0);
      for (const text of await entries.allTextContents()) expect(text).toContain(ada.email);
      const details = page.locator('table[data-testid="audit-log"] tbody tr.dt-detail');
      expect(await details.count()).toBe(await entries.count());
      for (const text of await details.allTextContents()) expect(text).toContain(ada.id);
      expect(await page.getByTestId('audit-action').allTextContents()).toContain('recordPayment');
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('without JavaScript: one match is taken, several come back as a select to choose from', async () => {
    const context = await adminContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    try {
      // The Users page finds by a part of the email or name too.
      await page.goto('/admin/users');
      await page.getByLabel('Find by email or name').fill('HOPPER');
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.waitForURL((url) => url.searchParams.get('search') === 'HOPPER');
      const rows = page.locator('table[data-testid="users"] tbody tr:not(.dt-detail)');
      expect(await rows.count()).toBe(1);
      expect(await rows.first().textContent()).toContain(grace.email);

      // A filter: "picker-<tag>" names two users; the page asks which, filtering nothing yet.
      await page.goto('/admin/allocations');
      await page.getByRole('combobox', { name: 'User', exact: true }).fill(`picker-${tag}`);
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.waitForURL((url) => url.searchParams.get('user') === `picker-${tag}`);
      expect(await page.locator('.user-picker .error').textContent()).toContain('2 users match');
      const matches = page.getByLabel('Matching users');
      expect(await matches.locator('option').allTextContents()).toEqual([
        'Choose one of 2…',
        `Ada Lovelace — ${ada.email}`,
        `Grace Hopper — ${grace.email}`,
      ]);
      await matches.selectOption(grace.id);
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.waitForURL((url) => url.searchParams.get('userId') === grace.id);
      expect(await page.getByRole('combobox', { name: 'User', exact: true }).inputValue()).toBe(grace.email);

      // A form: a part of the email only Grace has is enough to record her payment.
      await page.goto('/admin/billing');
      const adjust = page.locator('form[action="?/adjustBalance"]');
      await adjust.getByRole('combobox', { name: 'User to adjust' }).fill(`grace.picker-${tag}`);
      await adjust.getByLabel('Amount').fill('3.00');
      await adjust.getByLabel('Note').fill('picker test');
      await adjust.getByRole('button', { name: 'Adjust balance' }).click();
      await page.getByTestId('adjust-balance-result').waitFor({ timeout: 10_000 });
      expect(await page.getByTestId('adjust-balance-result').textContent()).toContain('Balance adjusted by');
      expect(await balanceOf(grace.id)).toBe(300);

      // No match: the form comes back with the problem and changes nothing.
      await adjust.getByRole('combobox', { name: 'User to adjust' }).fill(`nobody-${tag}`);
      await adjust.getByLabel('Amount').fill('3.00');
      await adjust.getByLabel('Note').fill('picker test');
      await adjust.getByRole('button', { name: 'Adjust balance' }).click();
      const refused = page.getByTestId('adjust-balance-result');
      await refused.waitFor({ timeout: 10_000 });
      expect(await refused.textContent()).toContain(`No user’s email or name contains “nobody-${tag}”`);
      expect(await balanceOf(grace.id)).toBe(300);
    } finally {
      await context.close();
    }
  });

  it('no admin page asks for a user id', async () => {
    const context = await adminContext();
    const page = await context.newPage();
    try {
      for (const path of [...ADMIN_PAGES, `/admin/users/${ada.id}`]) {
        await page.goto(path);
        await settled(page);
        // Every visible text-like input with its name and its label's text.
        const fields = await page.evaluate(() =>
          [...document.querySelectorAll<HTMLInputElement>('input, textarea')]
            .filter((el) => !['hidden', 'checkbox', 'radio', 'submit', 'file', 'password'].includes(el.type))
            .filter((el) => el.getClientRects().length > 0)
            .map((el) => ({
              name: el.name,
              label: [...(el.labels ?? [])]
                .map((l) => l.textContent ?? '')
                .join(' ')
                .trim(),
            })),
        );
        for (const field of fields) {
          expect(field.name, `${path}: ${JSON.stringify(field)}`).not.toMatch(/user_?id|target_?id/i);
          expect(field.label, `${path}: ${JSON.stringify(field)}`).not.toMatch(/\bid\b/i);
        }
      }
    } finally {
      await context.close();
    }
  });

  it.each(WIDTHS)('axe finds nothing on the pages with a picker, list open, at %i px', async (width) => {
    const context = await adminContext({ width, bypassCSP: true });
    const page = await context.newPage();
    try {
      for (const [path, label] of [
        ['/admin/payments', 'User to credit'],
        ['/admin/billing', 'User to adjust'],
        ['/admin/allocations', 'User'],
        ['/admin/audit', 'Target user'],
      ] as const) {
        await page.goto(path);
        await settled(page);
        const { box } = await typeAndWait(page, label, `picker-${tag}`, 2);
        await box.press('ArrowDown');
        expect(await checkA11y(page, `${path} with the picker open at ${width}`)).toEqual([]);
        if (path === '/admin/payments') await screenshot(page, 'admin-payments-user-picker');
      }
      // The no-JavaScript state: an ambiguous text and its select of matches.
      await page.goto(`/admin/allocations?user=picker-${tag}`);
      await settled(page);
      await page.getByLabel('Matching users').waitFor();
      expect(await checkA11y(page, `allocations with a choice of users at ${width}`)).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
