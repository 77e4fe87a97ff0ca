/**
 * The admin audit page in a real browser: it lists what admins did (and failed sign-ins), and
 * its action filter narrows the list; a target that is not a user is chosen by its kind or from
 * a row's Target link, never typed in as an id.
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
import { graphql } from '../support/graphql.ts';
import { ADMIN_COOKIE, type Stack, startStack } from '../support/web.ts';

let stack: Stack;
let browser: Browser;
const email = `audited-${Date.now()}@example.org`;
const released: string[] = [];

const RELEASE = graphql(`mutation AuditTestRelease($id: ID!) { releaseAllocation(id: $id) { __typename } }`);

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
  await stack.api.admin(CREATE_USER, { input: { email, displayName: 'Audited In Browser' } });
  await stack.api.gql(SIGN_IN, { input: { email: 'nobody@example.org', password: 'not-the-password-1' } });
  // Two allocations released by an admin: two entries whose targets are allocations.
  for (const name of ['Released One', 'Released Two']) {
    const user = await stack.signUp({ displayName: name });
    const id = await stack.allocate(user.token);
    const res = await stack.api.admin(RELEASE, { id });
    if (res.data?.releaseAllocation.__typename !== 'ReleaseAllocationSuccess')
      throw new Error(`releaseAllocation: ${JSON.stringify(res)}`);
    released.push(id);
  }
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

  it('narrows to one allocation from its Target link, and by target kind from a select', async () => {
    const context = await newContext(browser, { baseURL: stack.url });
    await addSessionCookie(context, stack.url, ADMIN_COOKIE, await stack.adminToken());
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    try {
      await page.goto('/admin/audit');
      await settled(page);
      // No field of the filter form asks for an id.
      const labels = await page.locator('form.filters label').allTextContents();
      expect(labels.join(' | ')).not.toMatch(/\bid\b/i);
      expect(await page.locator('form.filters input[name="targetId"]').count()).toBe(0);

      // The target kind: only the entries about allocations.
      await page.getByLabel('Target kind').selectOption('allocation');
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.waitForURL(/targetType=allocation/);
      await settled(page);
      const table = page.locator('table[data-testid="audit-log"]');
      const rows = table.locator('tbody tr:not(.dt-detail)');
      expect(await rows.count()).toBe(2);
      const links = table.getByTestId('audit-target-link');
      expect((await links.allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim())).toEqual(
        [released[1], released[0]].map((id) => `Allocation ${id.slice(0, 8)}…`),
      );

      // A row's Target link: only that allocation's entries, the filter shown and clearable.
      await links.nth(1).click();
      await page.waitForURL((url) => url.searchParams.get('targetId') === released[0]);
      await settled(page);
      expect(await rows.count()).toBe(1);
      expect(await rows.first().getByTestId('audit-action').textContent()).toBe('releaseAllocation');
      const chosen = page.getByTestId('target-filter');
      expect((await chosen.textContent())?.replace(/\s+/g, ' ')).toContain(
        `Allocation ${released[0].slice(0, 8)}…`,
      );
      // Apply keeps it (with another filter added).
      await page.getByLabel('Action').fill('releaseAllocation');
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.waitForURL(/action=releaseAllocation/);
      await settled(page);
      expect(new URL(page.url()).searchParams.get('targetId')).toBe(released[0]);
      expect(await rows.count()).toBe(1);
      // Clear: both allocations again.
      await chosen.getByRole('link', { name: /Clear/ }).click();
      await page.waitForURL((url) => !url.searchParams.has('targetId'));
      await settled(page);
      expect(await rows.count()).toBe(2);
      expect(await page.getByTestId('target-filter').count()).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
