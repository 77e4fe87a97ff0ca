/**
 * GraphiQL works offline: the api serves the page and everything it loads itself. A real api
 * process, Chromium with every request to another host aborted (and recorded), a query run
 * through GraphiQL's own editor and execute button.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from '../support/api.ts';
import { type Browser, collectPageErrors, launchBrowser, newContext } from '../support/browser.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

let db: TestDatabase;
let api: ApiProcess;
let browser: Browser;

beforeAll(async () => {
  db = await createTestDatabase();
  [api, browser] = await Promise.all([
    startApi({ databaseUrl: db.url, env: { VM_POOL_JSON: '[]' } }),
    launchBrowser(),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await api?.stop();
  await db?.drop().catch(() => {});
});

describe('GraphiQL', () => {
  it('runs a query with nothing fetched from outside the api', async () => {
    const context = await newContext(browser);
    const blocked: string[] = [];
    // Every request leaving this machine fails, as it would without internet; data: and blob:
    // URLs (the inlined fonts and the editor's workers) are no network requests.
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if ((url.protocol === 'http:' || url.protocol === 'https:') && !LOCAL_HOSTS.has(url.hostname)) {
        blocked.push(url.href);
        return route.abort('internetdisconnected');
      }
      return route.continue();
    });
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    try {
      const query = '{ __typename }';
      // GraphiQL takes its first tab's query from `?query=`.
      await page.goto(`${api.url}/graphql?query=${encodeURIComponent(query)}`);
      expect(await page.title()).toBe('hero-onboarding GraphiQL');
      // Loaded (the load event): with a CDN page its scripts were asked for, and refused, by now.
      expect(blocked).toEqual([]);

      await page.getByRole('region', { name: 'Operation Editor' }).getByText(query).waitFor();
      await page.getByRole('button', { name: /^Execute query/ }).click();
      const result = page.getByRole('region', { name: 'Result Window' });
      // The answer is in a Monaco editor: one element per line, spaces as no-break spaces.
      await result.getByText('"__typename": "Query"').waitFor();
      expect(((await result.textContent()) ?? '').replace(/\s+/g, ' ')).toContain('"__typename": "Query"');

      expect(blocked).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
