/**
 * The admin tables in a real browser: at 1280 px what an operator scans first (user, VM, status,
 * expires, cockpit) fits without scrolling sideways even with a long email, a long VM name and a
 * cockpit link, the rest opens in a row detail; users are named by email, never by a bare id; the
 * admin nav stays at most two rows on a phone. At 390 px each row is a card: its cells stacked and
 * labelled, the cockpit link on top, nothing wider than the screen. (axe runs on these pages in
 * the screenshots test.)
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
  screenshot,
  settled,
  viewportFor,
  WIDTHS,
} from '../support/browser.ts';
import { recordPayment, type SignedUpUser } from '../support/factories.ts';
import { ADMIN_COOKIE, type Stack, startStack } from '../support/web.ts';

const LONG_EMAIL = 'a.very-long-mailbox-name.for-the-table-check@operations.example-company.org';
const LONG_VM_NAME = 'build-runner-with-a-remarkably-long-descriptive-name-eu-central-1';
const COCKPIT = 'https://cockpit-of-a-long-host-name.region-eu-central-1.example.com:9090/';
const TOUCHED = [
  '/admin/allocations',
  '/admin/users',
  '/admin/payments',
  '/admin/billing',
  '/admin/pool',
  '/admin/audit',
];
const UUID_ONLY = /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$|^[0-9a-f]{8}…$/i;

let stack: Stack;
let browser: Browser;
let user: SignedUpUser;
let allocationId: string;

beforeAll(async () => {
  [stack, browser] = await Promise.all([
    startStack({
      pool: [
        {
          id: 'vm-long',
          name: LONG_VM_NAME,
          host: '10.77.0.21',
          region: 'eu-central-1',
          cockpitUrl: COCKPIT,
        },
      ],
    }),
    launchBrowser(),
  ]);
  user = await stack.signUp({ email: LONG_EMAIL, displayName: 'Table Tester With A Long Name' });
  allocationId = await stack.allocate(user.token);
  await recordPayment(stack.api, user.id, 1_250, { note: 'table payment' });
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

async function adminPage(width: number): Promise<{ context: BrowserContext; page: Page }> {
  const context = await newContext(browser, {
    baseURL: stack.url,
    viewport: viewportFor(width),
  });
  await addSessionCookie(context, stack.url, ADMIN_COOKIE, await stack.adminToken());
  return { context, page: await context.newPage() };
}

/** Text of every body cell of a table, whitespace collapsed. */
async function cellTexts(page: Page, testid: string): Promise<string[]> {
  const cells = page.locator(`table[data-testid="${testid}"] > tbody > tr:not([hidden]) > td`);
  return (await cells.allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim());
}

describe('admin tables at 1280 px', () => {
  let context: BrowserContext;
  let page: Page;
  let pageErrors: string[];
  beforeAll(async () => {
    ({ context, page } = await adminPage(1280));
    pageErrors = collectPageErrors(page);
  });
  afterAll(async () => {
    await context?.close();
  });

  it('allocations: the priority columns are inside the viewport; Details shows the rest', async () => {
    await page.goto('/admin/allocations');
    await settled(page);
    const table = page.locator('table[data-testid="allocations"]');
    const headers = (await table.locator('thead th').allTextContents()).map((t) =>
      t.replace(/\s+/g, ' ').trim(),
    );
    expect(headers.slice(0, 5)).toEqual(['User', 'Pool VM', 'Status', 'Expires', 'Cockpit']);

    const row = table.locator(`tbody tr[data-allocation-id="${allocationId}"]`);
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.textContent()).toContain(LONG_EMAIL);
    const viewport = page.viewportSize()?.width ?? 0;
    const cells = row.locator(':scope > td');
    // Every cell of the row, the Details button's included, ends inside the viewport.
    const count = await cells.count();
    expect(count).toBe(6);
    for (let i = 0; i < count; i++) {
      const box = await cells.nth(i).boundingBox();
      expect(box, `cell ${headers[i] || 'Details'}`).not.toBeNull();
      expect(box!.x + box!.width, `right edge of ${headers[i] || 'Details'}`).toBeLessThanOrEqual(viewport);
    }
    const cockpit = row.getByTestId('cockpit-link');
    expect(await cockpit.getAttribute('href')).toBe(COCKPIT);
    const link = await cockpit.boundingBox();
    expect(link!.x + link!.width).toBeLessThanOrEqual(viewport);

    // The detail: hidden until asked for, then the columns that left the row.
    const detail = row.locator('xpath=following-sibling::tr[1]');
    expect(await detail.isVisible()).toBe(false);
    const toggle = row.getByRole('button', { name: /^Details/ });
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    await toggle.click();
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    expect(await detail.isVisible()).toBe(true);
    const text = (await detail.textContent())?.replace(/\s+/g, ' ') ?? '';
    for (const expected of [
      'Allocation id',
      allocationId,
      'vm-long',
      '10.77.0.21',
      'Provisioner',
      'Allocated',
      'Plan period end',
      COCKPIT,
    ]) {
      expect(text).toContain(expected);
    }
    // By keyboard too: Enter on the focused button closes it again.
    await toggle.focus();
    await page.keyboard.press('Enter');
    expect(await detail.isVisible()).toBe(false);
    expect(pageErrors).toEqual([]);
  });

  it.each([
    ['/admin/allocations', ['allocations']],
    ['/admin/payments', ['payments']],
    ['/admin/billing', ['balances', 'ledger']],
  ] as const)('%s names the user by email, no cell is a bare id', async (path, testids) => {
    await page.goto(path);
    await settled(page);
    for (const testid of testids) {
      const texts = await cellTexts(page, testid);
      expect(texts.length, testid).toBeGreaterThan(0);
      expect(
        texts.some((t) => t.includes(LONG_EMAIL)),
        `${testid} shows ${LONG_EMAIL}`,
      ).toBe(true);
      expect(
        texts.filter((t) => UUID_ONLY.test(t)),
        `${testid}: cells that are only an id`,
      ).toEqual([]);
      // The user's id is on hover.
      const named = page.locator(`table[data-testid="${testid}"] [title$="user id ${user.id}"]`);
      expect(await named.count(), `${testid}: the id as a title`).toBeGreaterThan(0);
    }
  });
});

describe('admin tables at 390 px: a card per row', () => {
  let context: BrowserContext;
  let page: Page;
  let pageErrors: string[];
  beforeAll(async () => {
    ({ context, page } = await adminPage(390));
    pageErrors = collectPageErrors(page);
  });
  afterAll(async () => {
    await context?.close();
  });

  it('allocations: the cockpit link on top, every cell labelled and inside the viewport', async () => {
    await page.goto('/admin/allocations');
    await settled(page);
    const viewport = page.viewportSize()?.width ?? 0;
    const row = page.locator(
      `table[data-testid="allocations"] tbody tr[data-allocation-id="${allocationId}"]`,
    );
    await expect.poll(() => row.count()).toBe(1);
    const rowBox = (await row.boundingBox())!;
    expect(rowBox.x).toBeGreaterThanOrEqual(0);
    expect(rowBox.x + rowBox.width, 'the card inside the viewport').toBeLessThanOrEqual(viewport);

    const cells = row.locator(':scope > td');
    expect(await cells.count()).toBe(6);
    const boxes = [];
    for (let i = 0; i < 6; i++) {
      const box = (await cells.nth(i).boundingBox())!;
      expect(box, `cell ${i}`).not.toBeNull();
      expect(box.x, `cell ${i}: left edge`).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width, `cell ${i}: right edge`).toBeLessThanOrEqual(viewport);
      boxes.push(box);
    }
    // Stacked: one cell per line, not side by side.
    const tops = boxes.map((b) => Math.round(b.y));
    expect(new Set(tops).size).toBe(6);
    // Labelled with the column's name, the long values whole in the card.
    const labels = await cells.evaluateAll((tds) =>
      tds.map((td) => getComputedStyle(td, '::before').content.replace(/^"|"$/g, '')),
    );
    expect(labels).toEqual(['User', 'Pool VM', 'Status', 'Expires', 'Cockpit', 'none']);
    expect(await row.textContent()).toContain(LONG_EMAIL);
    expect(await row.textContent()).toContain(LONG_VM_NAME);

    // The cockpit link is the card's first line, inside the viewport.
    const cockpit = row.getByTestId('cockpit-link');
    expect(await cockpit.getAttribute('href')).toBe(COCKPIT);
    const link = (await cockpit.boundingBox())!;
    expect(link.x).toBeGreaterThanOrEqual(0);
    expect(link.x + link.width).toBeLessThanOrEqual(viewport);
    expect(link.y, 'above every other cell').toBeLessThan(Math.min(...boxes.slice(0, 4).map((b) => b.y)));

    // The detail opens under the card and wraps the cockpit URL inside the viewport too.
    await row.getByRole('button', { name: /^Details/ }).click();
    const detail = row.locator('xpath=following-sibling::tr[1]');
    expect(await detail.isVisible()).toBe(true);
    const detailBox = (await detail.boundingBox())!;
    const openBox = (await row.boundingBox())!;
    expect(detailBox.x + detailBox.width).toBeLessThanOrEqual(viewport);
    expect(detailBox.y, 'right under its card').toBeGreaterThanOrEqual(openBox.y + openBox.height - 1);

    await screenshot(page, 'admin-allocations-cards');
    // Nothing scrolls sideways: neither the page nor the table's frame.
    expect(
      await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth),
    ).toBeLessThanOrEqual(0);
    const wrap = page.locator('.table-wrap:has(table[data-testid="allocations"])');
    expect(await wrap.evaluate((w) => w.scrollWidth - w.clientWidth)).toBeLessThanOrEqual(0);
    expect(pageErrors).toEqual([]);
  });

  it('allocations without JavaScript: each card with its detail shown under it, nothing sideways', async () => {
    const context = await browser.newContext({
      baseURL: stack.url,
      viewport: viewportFor(390),
      javaScriptEnabled: false,
      timezoneId: 'UTC',
    });
    try {
      await addSessionCookie(context, stack.url, ADMIN_COOKIE, await stack.adminToken());
      const page = await context.newPage();
      await page.goto('/admin/allocations');
      const viewport = page.viewportSize()?.width ?? 0;
      const row = page.locator(
        `table[data-testid="allocations"] tbody tr[data-allocation-id="${allocationId}"]`,
      );
      const detail = row.locator('xpath=following-sibling::tr[1]');
      expect(await detail.isVisible(), 'the detail shows without a Details button').toBe(true);
      expect(await row.getByRole('button', { name: /^Details/ }).isVisible()).toBe(false);
      const rowBox = (await row.boundingBox())!;
      const detailBox = (await detail.boundingBox())!;
      expect(rowBox.x + rowBox.width).toBeLessThanOrEqual(viewport);
      expect(detailBox.x + detailBox.width).toBeLessThanOrEqual(viewport);
      expect(detailBox.y, 'right under its card').toBeGreaterThanOrEqual(rowBox.y + rowBox.height - 1);
      expect(await detail.textContent()).toContain(COCKPIT);
      expect(
        await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth),
      ).toBeLessThanOrEqual(0);
    } finally {
      await context.close();
    }
  });

  it.each(TOUCHED)('%s: the document does not scroll sideways', async (path) => {
    await page.goto(path);
    await settled(page);
    expect(
      await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth),
    ).toBeLessThanOrEqual(0);
    const wide = await page.evaluate(() =>
      [...document.querySelectorAll('.dt .table-wrap')]
        .filter((w) => w.scrollWidth > w.clientWidth + 1)
        .map((w) => `${w.querySelector('caption')?.textContent}: ${w.scrollWidth} > ${w.clientWidth}`),
    );
    expect(wide, 'admin tables that scroll sideways').toEqual([]);
  });
});

describe.each(WIDTHS)('admin pages at %i px', (width) => {
  let context: BrowserContext;
  let page: Page;
  beforeAll(async () => {
    ({ context, page } = await adminPage(width));
  });
  afterAll(async () => {
    await context?.close();
  });

  it('the admin nav is at most two rows', async () => {
    await page.goto('/admin/allocations');
    await settled(page);
    const nav = page.getByRole('navigation', { name: 'Admin' });
    const navBox = await nav.boundingBox();
    const linkBox = await nav.getByRole('link').first().boundingBox();
    expect(navBox!.height).toBeLessThanOrEqual(linkBox!.height * 2 + 8);
    // Every link can still be reached: the nav scrolls sideways instead of growing.
    expect(await nav.getByRole('link').count()).toBeGreaterThanOrEqual(9);
  });

  // axe runs on these pages in the screenshots test; here, what the long data does to them (on
  // a phone the tables are cards: the 390 px tests above).
  if (width >= 1280)
    it.each(TOUCHED)('%s: no table scrolls sideways at a laptop width', async (path) => {
      await page.goto(path);
      await settled(page);
      // With this data (a long email, VM name and cockpit link).
      const wide = await page.evaluate(() =>
        [...document.querySelectorAll('.table-wrap')]
          .filter((w) => w.scrollWidth > w.clientWidth + 1)
          .map((w) => `${w.querySelector('caption')?.textContent}: ${w.scrollWidth} > ${w.clientWidth}`),
      );
      expect(wide).toEqual([]);
    });
});
