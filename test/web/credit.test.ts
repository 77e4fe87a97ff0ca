/**
 * Running out of credit on the dashboard, in a real browser against a real api and database:
 * the runway line, the low banner, and the negative banner with the release time and the link
 * to add credit.
 */
import { createOrm, type MikroORM } from '@hero/core/db/orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addSessionCookie,
  type Browser,
  checkA11y,
  collectPageErrors,
  launchBrowser,
  newContext,
  settled,
} from '../support/browser.ts';
import { creditStatusOf, postUsageDebit } from '../support/credit.ts';
import { recordPayment } from '../support/factories.ts';
import { type Stack, startStack, USER_COOKIE } from '../support/web.ts';

const DAY_MS = 24 * 3_600_000;

let stack: Stack;
let browser: Browser;
let orm: MikroORM;

beforeAll(async () => {
  [stack, browser] = await Promise.all([
    startStack({
      apiEnv: { LOW_BALANCE_RUNWAY_DAYS: '3', LOW_BALANCE_CENTS: '200', NEGATIVE_BALANCE_GRACE_HOURS: '72' },
    }),
    launchBrowser(),
  ]);
  orm = await createOrm({ databaseUrl: stack.db.url, poolMax: 2 });
});
afterAll(async () => {
  await orm?.close();
  await browser?.close();
  await stack?.stop();
});

/** As the dashboard writes it: plain spaces (ICU versions differ on the one before AM/PM). */
const inUtc = (iso: string) =>
  new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' })
    .format(new Date(iso))
    .replace(/[\u00a0\u202f]/g, ' ');

describe('credit on the dashboard', () => {
  it('shows the runway, then a low banner, then the negative banner with the release time', async () => {
    const user = await stack.signUp();
    await recordPayment(stack.api, user.id, 1_000);
    await stack.allocate(user.token);
    await postUsageDebit(orm, user.id, 700);
    const context = await newContext(browser, { baseURL: stack.url, bypassCSP: true });
    await addSessionCookie(context, stack.url, USER_COOKIE, user.token);
    const page = await context.newPage();
    const pageErrors = collectPageErrors(page);
    try {
      // 300 cents at 100 a day: about 3 days, not low yet.
      await page.goto('/');
      await settled(page);
      const runway = page.getByTestId('credit-runway');
      await expect
        .poll(() => runway.textContent())
        .toMatch(/^\s*At your usage of the last 7 days, your credit lasts until about /);
      const at = (await runway.locator('time').getAttribute('datetime')) as string;
      expect(Math.abs(Date.parse(at) - (Date.now() + 3 * DAY_MS))).toBeLessThan(60_000);
      expect(await runway.textContent()).toContain(inUtc(at));
      expect(await page.getByTestId('credit-banner').count()).toBe(0);

      // 150 cents left: below the 200-cent floor.
      await postUsageDebit(orm, user.id, 150);
      await page.reload();
      await settled(page);
      const banner = page.getByTestId('credit-banner');
      expect(await banner.getAttribute('data-state')).toBe('low');
      expect(await banner.getAttribute('role')).toBe('status');
      expect(await banner.textContent()).toContain('Your credit is running low (€1.50 left).');
      expect(await banner.getByRole('link').getAttribute('href')).toBe('/plans');

      // Below zero: the VMs go at the release time unless credit comes.
      await postUsageDebit(orm, user.id, 200);
      const status = await creditStatusOf(stack.api, user.token);
      await page.reload();
      await settled(page);
      const alert = page.getByRole('alert').filter({ has: page.getByText('Your balance is below zero') });
      expect(await alert.getAttribute('data-state')).toBe('negative');
      expect(await alert.textContent()).toContain('Your balance is below zero (-€0.50).');
      expect(await alert.textContent()).toContain('Your VMs will be released at');
      expect(await alert.locator('time').getAttribute('datetime')).toBe(status.releaseAt);
      expect(await alert.textContent()).toContain(inUtc(status.releaseAt as string));
      expect(await alert.getByRole('link', { name: 'See plans and add credit' }).getAttribute('href')).toBe(
        '/plans',
      );
      expect(await page.getByTestId('credit-runway').count()).toBe(0);
      expect(await checkA11y(page, 'dashboard with a negative balance')).toEqual([]);

      // A top-up: the banner goes.
      await recordPayment(stack.api, user.id, 5_000);
      await page.reload();
      await settled(page);
      expect(await page.getByTestId('credit-banner').count()).toBe(0);
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
