/**
 * Every page at a laptop's and a phone's width (1280 and 390 px): a full-page screenshot under
 * test/artifacts/<name>-<width>.png for people to look at, and axe-core's accessibility check,
 * which fails on any serious or critical violation.
 */
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
import { recordPayment, type SignedUpUser } from '../support/factories.ts';
import { graphql } from '../support/graphql.ts';
import { ADMIN_COOKIE, ADMIN_PAGES, type Stack, startStack, USER_COOKIE } from '../support/web.ts';

let stack: Stack;
let browser: Browser;
let user: SignedUpUser;
let adminToken: string;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
  user = await stack.signUp({ displayName: 'Screenshot User' });
  await stack.allocate(user.token);
  await recordPayment(stack.api, user.id, 1_250, { note: 'screenshot payment' });
  // The account page with a row in API tokens.
  const token = await stack.api.asUser(
    user.token,
    graphql('mutation ScreenshotApiToken { createApiToken(name: "ci deploy") { __typename } }'),
  );
  if (token.data?.createApiToken.__typename !== 'CreateApiTokenSuccess')
    throw new Error('createApiToken failed');
  adminToken = await stack.adminToken();
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

type Who = 'user' | 'admin' | 'nobody';

/** What is shot: the path, the artifact's name, and whose session the page needs. */
const PAGES: { path: string; name: string; as: Who }[] = [
  { path: '/', name: 'dashboard', as: 'user' },
  { path: '/statements', name: 'statements', as: 'user' },
  { path: '/account', name: 'account', as: 'user' },
  { path: '/signin', name: 'signin', as: 'nobody' },
  { path: '/signup', name: 'signup', as: 'nobody' },
  { path: '/forgot', name: 'forgot-password', as: 'nobody' },
  { path: '/reset', name: 'reset-password', as: 'nobody' },
  { path: '/admin/login', name: 'admin-login', as: 'nobody' },
  ...ADMIN_PAGES.map((path) => ({
    path,
    name: path === '/admin' ? 'admin-overview' : `admin-${path.slice('/admin/'.length)}`,
    as: 'admin' as const,
  })),
];

/**
 * One page per width and kind of visitor, reused across the pages (a new page costs a renderer
 * process, about a second here; the pages only read, so they need no isolation from each other).
 */
interface Viewer {
  context: BrowserContext;
  page: Page;
  errors: string[];
}

describe.each(WIDTHS)('screenshots and accessibility at %i px', (width) => {
  const viewers = new Map<'signedIn' | 'anonymous', Viewer>();

  async function viewer(kind: 'signedIn' | 'anonymous'): Promise<Viewer> {
    let found = viewers.get(kind);
    if (!found) {
      // bypassCSP: axe-core is injected as an inline script, which the app's CSP would block.
      const context = await newContext(browser, {
        baseURL: stack.url,
        viewport: viewportFor(width),
        bypassCSP: true,
      });
      if (kind === 'signedIn') {
        await addSessionCookie(context, stack.url, USER_COOKIE, user.token);
        await addSessionCookie(context, stack.url, ADMIN_COOKIE, adminToken);
      }
      const page = await context.newPage();
      found = { context, page, errors: collectPageErrors(page) };
      viewers.set(kind, found);
    }
    found.errors.length = 0;
    return found;
  }

  afterAll(async () => {
    for (const { context } of viewers.values()) await context.close();
  });

  it.each(PAGES)('$path', async ({ path, name, as }) => {
    const { page, errors } = await viewer(as === 'nobody' ? 'anonymous' : 'signedIn');
    const response = await page.goto(path);
    expect(new URL(page.url()).pathname).toBe(path);
    expect(response?.status()).toBe(200);
    await settled(page);
    if (name === 'dashboard') {
      // With a row in Active services.
      expect(await page.locator('table[data-testid="active-services"] tbody tr').count()).toBe(1);
    }
    await screenshot(page, name);
    // Nothing wider than the viewport (no sideways scrolling of the whole page).
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, `${path} is ${overflow} px wider than the ${width} px viewport`).toBeLessThanOrEqual(0);
    await checkA11y(page, path);
    expect(errors).toEqual([]);
  });
});
