/**
 * Every page at a laptop's and a phone's width (1280 and 390 px): a full-page screenshot under
 * test/artifacts/<name>-<width>.png for people to look at, and axe-core's accessibility check,
 * which fails on any violation whatever its impact. Every route under web/src/routes is visited
 * (a test below lists them from the file system), so the other browser tests need not run axe on
 * the same pages again.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
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
import { REPO_ROOT } from '../support/postgres.ts';
import { type FakeStripe, startFakeStripe } from '../support/stripe/fake-stripe.ts';
import { ADMIN_COOKIE, ADMIN_PAGES, type Stack, startStack, USER_COOKIE } from '../support/web.ts';

const ROUTES_DIR = path.join(REPO_ROOT, 'web', 'src', 'routes');

let stripe: FakeStripe;
let stack: Stack;
let browser: Browser;
let user: SignedUpUser;
let adminToken: string;
let paymentId: string;
let checkoutSessionId: string;

const START_TOP_UP =
  graphql(`mutation ScreenshotTopUp($amountCents: SafeInt!) { startTopUp(amountCents: $amountCents) {
  __typename ... on StartTopUpSuccess { checkout { sessionId } } } }`);

beforeAll(async () => {
  // The fake Stripe and a plan catalog: the Add credit, payment done and plans pages as offered.
  stripe = await startFakeStripe({ deliverOnPay: false });
  [stack, browser] = await Promise.all([
    startStack({
      apiEnv: (webUrl) => ({
        ...stripe.apiEnv(),
        WEB_PUBLIC_URL: webUrl,
        PLANS_JSON: readFileSync(path.join(REPO_ROOT, 'examples', 'plans.json'), 'utf8'),
      }),
    }),
    launchBrowser(),
  ]);
  stripe.setWebhookUrl(`${stack.api.url}/webhooks/stripe`);
  user = await stack.signUp({ displayName: 'Screenshot User' });
  await stack.allocate(user.token);
  ({ paymentId } = await recordPayment(stack.api, user.id, 1_250, { note: 'screenshot payment' }));
  // The account page with a row in API tokens.
  const token = await stack.api.asUser(
    user.token,
    graphql('mutation ScreenshotApiToken { createApiToken(name: "ci deploy") { __typename } }'),
  );
  if (token.data?.createApiToken.__typename !== 'CreateApiTokenSuccess')
    throw new Error('createApiToken failed');
  // A payment under way: the done page says it is pending.
  const topUp = await stack.api.asUser(user.token, START_TOP_UP, { amountCents: 3_000 });
  if (topUp.data?.startTopUp.__typename !== 'StartTopUpSuccess') throw new Error('startTopUp failed');
  checkoutSessionId = topUp.data.startTopUp.checkout.sessionId;
  adminToken = await stack.adminToken();
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await stripe?.stop();
});

type Who = 'user' | 'admin' | 'nobody';

interface Shot {
  /** The route as its directory under web/src/routes says it, without (groups). */
  route: string;
  /** The address visited (a function: ids are known once the data is seeded). */
  path: () => string;
  /** The artifact's name. */
  name: string;
  /** Whose session the page needs. */
  as: Who;
  /** Where the browser ends up, when not at the path itself (a redirect). */
  lands?: string;
  /** The status answered, when not 200 (an error page in the app's frame). */
  status?: number;
}

const shot = (route: string, name: string, as: Who, extra: Partial<Shot> = {}): Shot => ({
  route,
  path: () => route,
  name,
  as,
  ...extra,
});

/** What is shot: every route, in the state a visitor usually meets it. */
const PAGES: Shot[] = [
  shot('/', 'dashboard', 'user'),
  shot('/statements', 'statements', 'user'),
  shot('/account', 'account', 'user'),
  shot('/plans', 'plans', 'user'),
  shot('/credit', 'credit', 'user', { path: () => '/credit?amount=4250' }),
  shot('/credit/done', 'credit-done-pending', 'user', {
    path: () => `/credit/done?session_id=${checkoutSessionId}`,
  }),
  shot('/receipts/[id]', 'receipt', 'user', { path: () => `/receipts/${paymentId}` }),
  // Signing out is a POST; a visit goes back to the dashboard.
  shot('/signout', 'signout', 'user', { lands: '/' }),
  shot('/signin', 'signin', 'nobody'),
  shot('/signup', 'signup', 'nobody'),
  shot('/forgot', 'forgot-password', 'nobody'),
  shot('/reset', 'reset-password', 'nobody'),
  shot('/verify', 'verify-email-incomplete', 'nobody'),
  // No forge is configured here: the callback answers the app's "not found" page.
  shot('/signin/oidc/callback', 'oidc-callback-not-configured', 'nobody', { status: 404 }),
  shot('/admin/login', 'admin-login', 'nobody'),
  ...ADMIN_PAGES.map((route) =>
    shot(route, route === '/admin' ? 'admin-overview' : `admin-${route.slice('/admin/'.length)}`, 'admin'),
  ),
  shot('/admin/users/[id]', 'admin-user', 'admin', { path: () => `/admin/users/${user.id}` }),
  shot('/admin/password', 'admin-password', 'admin'),
  shot('/admin/logout', 'admin-logout', 'admin'),
];

/** Every page route of the web UI: the directories under web/src/routes with a +page.svelte. */
function pageRoutes(dir = ROUTES_DIR, prefix = ''): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile() && entry.name === '+page.svelte') found.push(prefix || '/');
    if (entry.isDirectory()) {
      // A (group) adds nothing to the address.
      const segment = /^\(.*\)$/.test(entry.name) ? '' : `/${entry.name}`;
      found.push(...pageRoutes(path.join(dir, entry.name), `${prefix}${segment}`));
    }
  }
  return found;
}

describe('the pages shot', () => {
  it('are every page route under web/src/routes', () => {
    const routes = pageRoutes();
    expect(routes.length).toBeGreaterThan(20);
    const shotRoutes = new Set(PAGES.map((p) => p.route));
    expect(routes.filter((r) => !shotRoutes.has(r)).sort(), 'routes no test here visits').toEqual([]);
    expect(
      [...shotRoutes].filter((r) => !routes.includes(r)).sort(),
      'shots of routes that do not exist',
    ).toEqual([]);
  });
});

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

  it.each(PAGES)('$route', async ({ path: pathOf, name, as, lands, status }) => {
    const { page, errors } = await viewer(as === 'nobody' ? 'anonymous' : 'signedIn');
    const path = pathOf();
    const response = await page.goto(path);
    expect(new URL(page.url()).pathname).toBe(lands ?? path.split('?')[0]);
    expect(response?.status()).toBe(status ?? 200);
    await settled(page);
    if (name === 'dashboard') {
      // With a row in Active services.
      expect(await page.locator('table[data-testid="active-services"] tbody tr').count()).toBe(1);
    }
    await screenshot(page, name);
    // Nothing wider than the viewport (no sideways scrolling of the whole page).
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, `${path} is ${overflow} px wider than the ${width} px viewport`).toBeLessThanOrEqual(0);
    expect(await checkA11y(page, path)).toEqual([]);
    expect(errors).toEqual([]);
  });
});
