/**
 * The user's dashboard at a laptop's and a phone's size (1280 × 800, 390 × 844): the cockpit
 * link inside the viewport without sideways scrolling, a disabled Allocate that says why, the
 * history of past VMs, charts readable at both widths, dates whose server-rendered text is the
 * hydrated text, and axe-core finding nothing on the states the screenshots test does not reach
 * (a VM history, the error pages, a refused form).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addSessionCookie,
  type Browser,
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
import { type PoolVmFixture, recordPayment, type SignedUpUser } from '../support/factories.ts';
import { graphql } from '../support/graphql.ts';
import { type Stack, startStack, USER_COOKIE } from '../support/web.ts';

const RELEASE = graphql(`
  mutation DashboardTestRelease($id: ID!) {
    releaseMyAllocation(id: $id) {
      __typename
    }
  }
`);

let stack: Stack;
let browser: Browser;

/** Enough VMs for every test's user, each with a cockpit and a long name. */
const POOL: PoolVmFixture[] = Array.from({ length: 8 }, (_, i) => ({
  id: `vm-dash-${i}`,
  name: `Dashboard test VM number ${i} with a long name`,
  host: `10.78.0.${10 + i}`,
  region: 'test-1',
  status: 'AVAILABLE',
  cockpitUrl: `https://cockpit.test.example/a/rather/long/path/vm-dash-${i}`,
}));

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack({ pool: POOL }), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** A signed-in page at a width (390 → 390 × 844, 1280 → 1280 × 800), axe-ready (bypassCSP). */
async function openAs(user: SignedUpUser, width: number, path = '/') {
  const context = await newContext(browser, {
    baseURL: stack.url,
    viewport: viewportFor(width),
    bypassCSP: true,
  });
  await addSessionCookie(context, stack.url, USER_COOKIE, user.token);
  const page = await context.newPage();
  const errors = collectPageErrors(page);
  await page.goto(path);
  await settled(page);
  return { context, page, errors };
}

/** Fails on any axe violation, whatever its impact. */
async function expectNoA11yViolations(page: Page, label: string) {
  const violations = await checkA11y(page, label);
  expect(violations.map((v) => `${v.id} (${v.impact}): ${v.targets.join(' | ')}`)).toEqual([]);
}

/** The text of every <time> in server-rendered HTML, in document order. */
function timesInHtml(html: string): string[] {
  const decode = (text: string) =>
    text
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&nbsp;/g, '\u00a0')
      .replace(/&amp;/g, '&');
  return [...html.matchAll(/<time\b[^>]*>([\s\S]*?)<\/time>/g)].map((m) =>
    decode(m[1].replace(/<[^>]*>/g, '')),
  );
}

async function noSidewaysScroll(page: Page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

describe('dashboard', () => {
  it.each(WIDTHS)('shows the cockpit link inside the viewport at %i px', async (width) => {
    const user = await stack.signUp({ displayName: 'Card Viewer' });
    await stack.allocate(user.token);
    await recordPayment(stack.api, user.id, 1_250); // a balance line in the chart
    const { context, page, errors } = await openAs(user, width);
    try {
      const link = page.getByRole('link', { name: 'Open →' });
      expect(await link.count()).toBe(1);
      const box = await link.boundingBox();
      const viewport = viewportFor(width);
      expect(box, 'the cockpit link is rendered').not.toBeNull();
      if (!box) return;
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width, 'its right edge is inside the viewport').toBeLessThanOrEqual(viewport.width);
      expect(box.y + box.height, 'it is on the first screen').toBeLessThanOrEqual(viewport.height);
      expect(await noSidewaysScroll(page)).toBeLessThanOrEqual(0);
      // Nor is it hidden inside a table that scrolls sideways.
      const wrap = page.locator('.table-wrap:has([data-testid="active-services"])');
      const wrapBox = await wrap.boundingBox();
      expect(box.x + box.width).toBeLessThanOrEqual((wrapBox?.x ?? 0) + (wrapBox?.width ?? 0));
      expect(await wrap.evaluate((el) => el.scrollWidth - el.clientWidth)).toBeLessThanOrEqual(0);
      // No table on the dashboard scrolls sideways (the payments neither).
      expect(await page.getByTestId('payment-row').count()).toBe(1);
      const scrolling = await page
        .locator('.table-wrap')
        .evaluateAll((wraps) => wraps.filter((w) => w.scrollWidth > w.clientWidth + 1).length);
      expect(scrolling).toBe(0);
      // The caption is whole: not clipped by a scrolling table.
      const caption = page.locator('[data-testid="active-services"] caption');
      const clipped = await caption.evaluate((el) => el.scrollWidth > el.clientWidth + 1);
      expect(clipped).toBe(false);
      const captionBox = await caption.boundingBox();
      expect((captionBox?.x ?? 0) + (captionBox?.width ?? 0)).toBeLessThanOrEqual(viewport.width);
      // The balance chart: labels at least 12 px on screen, the currency on every amount.
      const chart = page.getByTestId('balance-usage').locator('svg').first();
      const sizes = await chart.evaluate((svg) => {
        const scale = (svg as SVGSVGElement).getScreenCTM()?.a ?? 0;
        return [...svg.querySelectorAll('text')].map(
          (t) => Number.parseFloat(getComputedStyle(t).fontSize) * scale,
        );
      });
      expect(sizes.length).toBeGreaterThan(2);
      expect(Math.min(...sizes)).toBeGreaterThanOrEqual(12);
      const ticks = await chart.locator('text.y-tick').allTextContents();
      expect(ticks.length).toBeGreaterThan(1);
      for (const tick of ticks) expect(tick).toContain('€');
      expect(new Set(ticks).size).toBe(ticks.length);
      // 1 of 1 in use: "Allocate a VM" is disabled and says why, next to it.
      const allocate = page.getByRole('button', { name: 'Allocate a VM' });
      expect(await allocate.isDisabled()).toBe(true);
      const why = page.getByTestId('allocate-why');
      expect(await allocate.getAttribute('aria-describedby')).toBe(await why.getAttribute('id'));
      expect((await why.textContent())?.replace(/\s+/g, ' ').trim()).toBe(
        '1 of 1 in use: release one or upgrade. See plans',
      );
      expect(await why.getByRole('link').getAttribute('href')).toBe('/plans');
      await screenshot(page, 'dashboard-cards');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it.each(WIDTHS)('after a release, lists the past VM with its period and reason at %i px', async (width) => {
    const user = await stack.signUp({ displayName: 'History Viewer' });
    const id = await stack.allocate(user.token);
    const released = await stack.api.asUser(user.token, RELEASE, { id });
    expect(released.data?.releaseMyAllocation.__typename).toBe('ReleaseMyAllocationSuccess');
    const { context, page, errors } = await openAs(user, width);
    try {
      // Not "No active services yet": what is true now.
      const empty = page.getByTestId('no-services');
      expect((await empty.textContent())?.replace(/\s+/g, ' ').trim()).toBe(
        'No VM in use right now Your past VMs are listed under History below. ' +
          'Use “Allocate a VM” above to get a VM from the pool; it will be listed here with its cockpit link.',
      );
      const rows = page.locator('[data-testid="past-services"] tbody tr');
      expect(await rows.count()).toBe(1);
      const row = rows.first();
      expect(await row.getAttribute('data-allocation-id')).toBe(id);
      expect(await row.locator('td').nth(0).textContent()).toMatch(/Dashboard test VM number \d/);
      expect(await row.locator('td time').count(), 'from and until are dates').toBe(2);
      expect((await row.locator('td').nth(3).textContent())?.trim()).toBe('Released by you');
      const box = await row.boundingBox();
      expect((box?.x ?? 0) + (box?.width ?? 0)).toBeLessThanOrEqual(width);
      expect(await noSidewaysScroll(page)).toBeLessThanOrEqual(0);
      await screenshot(page, 'dashboard-history');
      await expectNoA11yViolations(page, `/ with history at ${width}`);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('renders every date to the same text on the server and after hydration, in the zone the browser told', async () => {
    const user = await stack.signUp({ displayName: 'Clock Watcher' });
    const past = await stack.allocate(user.token);
    await stack.api.asUser(user.token, RELEASE, { id: past });
    await stack.allocate(user.token);
    await recordPayment(stack.api, user.id, 1_250);
    const context = await newContext(browser, {
      baseURL: stack.url,
      timezoneId: 'America/New_York',
      locale: 'en-US',
    });
    await addSessionCookie(context, stack.url, USER_COOKIE, user.token);
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    try {
      const render = async () => {
        const response = await page.goto('/');
        const html = (await response?.text()) ?? '';
        await settled(page);
        // Hydrated: the release button opens the dialog, which only the page's script does.
        await page.getByRole('button', { name: 'Release' }).click();
        await page.getByRole('dialog').waitFor({ state: 'visible', timeout: 10_000 });
        await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
        const hydrated = await page.locator('time').allTextContents();
        return { server: timesInHtml(html), hydrated };
      };
      // The first page: no zone known yet, so UTC (and said so), the same text both times.
      const first = await render();
      expect(
        first.server.length,
        'allocated, expires, from, until, plan end, payment',
      ).toBeGreaterThanOrEqual(6);
      expect(first.hydrated).toEqual(first.server);
      expect(first.server.every((t) => t.includes('UTC'))).toBe(true);
      // It told the server its zone: the next render is in New York's, identical after hydration.
      expect((await context.cookies()).find((c) => c.name === 'hero_tz')?.value).toBe('America%2FNew_York');
      const next = await render();
      expect(next.hydrated).toEqual(next.server);
      expect(next.server.some((t) => t.includes('UTC'))).toBe(false);
      expect(next.server.length).toBe(first.server.length);
      expect(next.server).not.toEqual(first.server);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it.each(WIDTHS)('error pages in the frame, auth forms at a readable width, at %i px', async (width) => {
    const context = await newContext(browser, {
      baseURL: stack.url,
      viewport: viewportFor(width),
      bypassCSP: true,
    });
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    try {
      for (const [path, home] of [
        ['/no-such-page', { href: '/', text: 'Back to the dashboard' }],
        ['/admin/no-such-page', { href: '/admin', text: 'Back to the admin overview' }],
      ] as const) {
        const response = await page.goto(path);
        expect(response?.status()).toBe(404);
        await settled(page);
        expect(await page.getByRole('banner').count(), `${path} has the header`).toBe(1);
        expect(await page.locator('h1').textContent()).toBe('Page not found');
        const body = await page.locator('body').innerText();
        expect(body.match(/Page not found/gi), `${path} says it once`).toHaveLength(1);
        expect(body).not.toContain('Not Found');
        expect(await page.getByRole('link', { name: home.text }).getAttribute('href')).toBe(home.href);
        expect(await page.locator('.brand').getAttribute('href')).toBe(home.href);
        expect(await noSidewaysScroll(page)).toBeLessThanOrEqual(0);
        await expectNoA11yViolations(page, `${path} at ${width}`);
      }

      for (const path of ['/signin', '/signup', '/forgot', '/reset']) {
        await page.goto(path);
        await settled(page);
        for (const box of await page
          .locator('main input:not([type="hidden"])')
          .evaluateAll((inputs) => inputs.map((i) => i.getBoundingClientRect().width))) {
          expect(box, `${path}: an input of a readable width`).toBeLessThanOrEqual(440);
        }
      }

      // An empty email says it is missing, not that it is invalid.
      await page.goto('/signup');
      await settled(page);
      await page.getByRole('button', { name: 'Create account' }).click();
      const emailError = page.locator('#email-error');
      await emailError.waitFor({ timeout: 10_000 });
      expect(await emailError.textContent()).toBe('Enter your email.');
      expect(await page.locator('#displayName-error').textContent()).toBe('Enter a display name.');
      expect(await page.locator('#password-error').textContent()).toBe('Choose a password.');
      await expectNoA11yViolations(page, `/signup refused at ${width}`);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('says so after signing out', async () => {
    const user = await stack.signUp({ displayName: 'Leaving Soon' });
    const { context, page, errors } = await openAs(user, 390);
    try {
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL((url) => url.pathname === '/signin', { timeout: 10_000 });
      const note = page.getByTestId('signed-out');
      await note.waitFor({ timeout: 10_000 });
      expect(await note.getAttribute('role')).toBe('status');
      expect(await note.textContent()).toContain('You are signed out.');
      await expectNoA11yViolations(page, '/signin after sign-out');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  // Last: it stops the api.
  it('with the api down, the error page says what happened and what to do, in the frame', async () => {
    const user = await stack.signUp({ displayName: 'Patient User' });
    await stack.api.stop();
    const { context, page } = await openAs(user, 390);
    try {
      expect(await page.getByTestId('error-page').getAttribute('data-status')).toBe('503');
      expect(await page.getByRole('banner').count()).toBe(1);
      expect(await page.locator('h1').textContent()).toBe('Something went wrong (503)');
      const body = await page.locator('body').innerText();
      expect(body).toContain('Service unavailable: The service cannot be reached right now.');
      expect(body).toContain('Try again in a minute; if it keeps happening, tell an operator.');
      expect(await page.getByRole('button', { name: 'Try again' }).count()).toBe(1);
      expect(await noSidewaysScroll(page)).toBeLessThanOrEqual(0);
      await expectNoA11yViolations(page, '503 at 390');
    } finally {
      await context.close();
    }
  });
});
