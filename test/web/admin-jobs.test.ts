/**
 * The admin Jobs page in a real browser: quiet runs of a frequent job are hidden (and counted)
 * so a failure is on the first screen, and the job / status filters are URL parameters. Also
 * the overview's tiles as links and the pool's single VM state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addSessionCookie,
  type Browser,
  checkA11y,
  collectPageErrors,
  launchBrowser,
  newContext,
  screenshot,
  settled,
  viewportFor,
  WIDTHS,
} from '../support/browser.ts';
import { ADMIN_COOKIE, type Stack, startStack } from '../support/web.ts';

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
  // 200 outbox ticks that delivered nothing, newer than the one failed aggregate run.
  await stack.db.query(
    `insert into job_run (job, trigger, host, pid, started_at, finished_at, status, summary)
     select 'outbox', 'SCHEDULE', 'worker-1', 7, now() - make_interval(secs => 5 * i),
            now() - make_interval(secs => 5 * i) + interval '20 ms', 'SUCCEEDED',
            '{"delivered":0,"retried":0,"failed":0,"errors":[]}'
       from generate_series(1, 200) as i`,
  );
  await stack.db.query(
    `insert into job_run (job, trigger, host, pid, started_at, finished_at, status, error)
     values ('aggregate', 'SCHEDULE', 'worker-2', 8, now() - interval '30 minutes',
             now() - interval '29 minutes', 'FAILED', 'forge answered HTTP 500 for node-a')`,
  );
  await stack.db.query(
    `insert into job_run (job, trigger, host, pid, started_at, finished_at, status, summary)
     values ('outbox', 'SCHEDULE', 'worker-1', 7, now() - interval '40 minutes',
             now() - interval '40 minutes', 'SUCCEEDED', '{"delivered":3,"retried":0,"failed":0,"errors":[]}')`,
  );
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe('admin jobs page', () => {
  it('shows the failure on the first screen, counts the quiet runs and filters by URL', async () => {
    const context = await newContext(browser, { baseURL: stack.url, bypassCSP: true });
    await addSessionCookie(context, stack.url, ADMIN_COOKIE, await stack.adminToken());
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    try {
      await page.goto('/admin/jobs');
      const table = page.locator('table[data-testid="job-runs"]');
      await table.waitFor();
      const failure = table.locator('tbody tr').filter({ hasText: 'forge answered HTTP 500' });
      await expect(failure.count()).resolves.toBe(1);
      const box = await failure.boundingBox();
      expect(box).not.toBeNull();
      expect((box?.y ?? 0) + (box?.height ?? 0)).toBeLessThanOrEqual(800);
      expect(await failure.locator('td').first().textContent()).toContain('aggregate');
      // Only the runs that did something: the failure and the outbox run that delivered 3.
      await expect(table.locator('tbody tr').count()).resolves.toBe(2);
      const note = page.getByTestId('quiet-runs');
      expect((await note.textContent())?.replace(/\s+/g, ' ')).toContain('outbox: 200 quiet runs');

      await page.getByLabel('Status').selectOption('FAILED');
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.waitForURL(/status=FAILED/);
      await settled(page);
      const statuses = await table.locator('tbody tr td:nth-child(3)').allTextContents();
      expect(statuses.map((s) => s.trim())).toEqual(['FAILED']);

      // A link works on its own: the quiet outbox runs, asked for in the URL.
      await page.goto('/admin/jobs?job=outbox&quiet=show&first=100');
      await table.waitFor();
      await expect(table.locator('tbody tr').count()).resolves.toBe(100);
      expect(await page.getByLabel('Job', { exact: true }).inputValue()).toBe('outbox');
      expect(await page.getByLabel('Show quiet runs').isChecked()).toBe(true);
      await page.getByRole('link', { name: 'Hide quiet runs' }).click();
      await page.waitForURL((url) => !url.search.includes('quiet'));
      await expect(table.locator('tbody tr').count()).resolves.toBe(1);

      for (const width of WIDTHS) {
        await page.setViewportSize(viewportFor(width));
        await page.goto('/admin/jobs');
        await settled(page);
        await screenshot(page, 'admin-jobs-with-quiet-runs');
        expect(await checkA11y(page, `/admin/jobs at ${width}`)).toEqual([]);
      }
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

describe('admin overview, pool and quota', () => {
  it('links every tile, shows one pool state, and says what a quota change changed', async () => {
    const user = await stack.signUp();
    await stack.setQuota(user.id, 1);
    await stack.allocate(user.token);
    const context = await newContext(browser, { baseURL: stack.url });
    await addSessionCookie(context, stack.url, ADMIN_COOKIE, await stack.adminToken());
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    try {
      await page.goto('/admin');
      const tiles = page.getByTestId('overview-tiles').locator(':scope > *');
      const count = await tiles.count();
      expect(count).toBeGreaterThan(5);
      for (let i = 0; i < count; i++) {
        const href = await tiles.nth(i).getAttribute('href');
        expect(href, `tile ${i}`).toMatch(/^\/admin\//);
        const answer = await page.request.get(href as string);
        expect(answer.status(), href as string).toBe(200);
        const fragment = (href as string).split('#')[1];
        if (fragment) expect(await answer.text(), href as string).toContain(`id="${fragment}"`);
      }
      await page.getByTestId('tile-pool').click();
      await page.waitForURL('**/admin/pool');

      // The allocated VM reads "In use", the other "Free": never "AVAILABLE" beside "Allocated: Yes".
      const states = page.getByTestId('pool-vm-state');
      const texts = (await states.allTextContents()).map((t) => t.trim());
      expect(texts).toContain('In use');
      expect(texts).toContain('Free');
      expect(texts).not.toContain('AVAILABLE');
      const headers = (await page.locator('table[data-testid="pool"] th').allTextContents()).map((t) =>
        t.trim(),
      );
      expect(headers).not.toContain('Allocated');

      // Only the period end changes: the outcome says so, not "Quota set to 1 VM".
      await page.goto(`/admin/users/${user.id}`);
      await settled(page);
      await page.getByLabel('Plan period end (UTC)').fill('2031-05-04T10:30');
      await page.getByRole('button', { name: 'Set quota' }).click();
      const outcome = page.getByTestId('set-quota-result');
      await expect
        .poll(() => outcome.textContent())
        .toMatch(/Plan period end moved from .+ to May 4, 2031, 10:30 AM UTC; quota stays 1 VM\./);

      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
