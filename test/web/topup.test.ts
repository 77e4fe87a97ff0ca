/**
 * Self-serve top-up in a real browser, against a real api and web pointed at the fake Stripe:
 * the dashboard's "Add credit", a preset amount, the fake's payment page, back to the done page,
 * which says "payment pending" until the signed webhook lands and then shows the new balance;
 * an amount out of bounds is refused in words; a cancelled payment says nothing was charged; a
 * plan the balance is short of leads to Add credit with the missing amount, and back to buy it;
 * without JavaScript the form answers a link to the payment page (a redirect from a form post
 * to another origin is blocked by the form-action CSP).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addSessionCookie,
  type Browser,
  collectPageErrors,
  launchBrowser,
  newContext,
  type Page,
  settled,
} from '../support/browser.ts';
import { balanceOf } from '../support/money.ts';
import { type FakeStripe, startFakeStripe } from '../support/stripe/fake-stripe.ts';
import { type Stack, startStack, USER_COOKIE } from '../support/web.ts';

const CATALOG = { plans: [{ code: 'crew', name: 'Crew', vmQuota: 3, periodDays: 30, priceCents: 4_250 }] };

let stripe: FakeStripe;
let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  stripe = await startFakeStripe({ deliverOnPay: false });
  [stack, browser] = await Promise.all([
    startStack({
      apiEnv: (webUrl) => ({
        ...stripe.apiEnv(),
        WEB_PUBLIC_URL: webUrl,
        SIGNUP_TRIAL: 'off',
        PLANS_JSON: JSON.stringify(CATALOG),
      }),
    }),
    launchBrowser(),
  ]);
  stripe.setWebhookUrl(`${stack.api.url}/webhooks/stripe`);
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await stripe?.stop();
});

const euros = (cents: number) =>
  new Intl.NumberFormat('en', { style: 'currency', currency: 'EUR' }).format(cents / 100);

async function signedInPage(): Promise<{ page: Page; userId: string; close: () => Promise<void> }> {
  const user = await stack.signUp();
  const context = await newContext(browser, { baseURL: stack.url });
  await addSessionCookie(context, stack.url, USER_COOKIE, user.token);
  const page = await context.newPage();
  return { page, userId: user.id, close: () => context.close() };
}

const sessionIdOf = (url: string) => new URL(url).pathname.split('/').pop() as string;

describe('Add credit in the browser', () => {
  it('€30 through Stripe Checkout: pending on return, credited once the signed webhook lands', async () => {
    const { page, userId, close } = await signedInPage();
    const pageErrors = collectPageErrors(page);
    try {
      await page.goto('/');
      await settled(page);
      await page.getByTestId('tile-balance').getByRole('link', { name: 'Add credit' }).click();
      await page.waitForURL((url) => url.pathname === '/credit');
      await settled(page);
      await page.getByRole('button', { name: euros(3_000), exact: true }).click();

      // The fake's hosted payment page, for exactly this session.
      await page.waitForURL((url) => url.href.startsWith(`${stripe.url}/pay/`), { timeout: 15_000 });
      const sessionId = sessionIdOf(page.url());
      const session = stripe.session(sessionId);
      expect(session).toMatchObject({ amount_total: 3_000, currency: 'eur', client_reference_id: userId });
      expect(await page.getByTestId('fake-checkout-amount').textContent()).toBe(euros(3_000));
      await page.getByRole('button', { name: `Pay ${euros(3_000)}` }).click();

      // Back on the web UI: paid at Stripe, but not credited until the webhook lands.
      await page.waitForURL((url) => url.pathname === '/credit/done', { timeout: 15_000 });
      expect(new URL(page.url()).searchParams.get('session_id')).toBe(sessionId);
      await settled(page);
      expect(await page.getByTestId('topup-status').textContent()).toBe('Payment pending');
      expect(await balanceOf(stack.db, userId)).toBe(0);

      const delivery = await stripe.deliverCompleted(sessionId);
      expect(delivery.status).toBe(200);
      await expect
        .poll(() => page.getByTestId('topup-status').textContent(), { timeout: 15_000 })
        .toBe('Credit added');
      expect(await page.getByTestId('topup-balance').textContent()).toBe(euros(3_000));
      expect(await page.getByTestId('topup-credited').textContent()).toMatch(
        new RegExp(`^${euros(3_000).replace('.', '\\.')} was added to your balance\\.`),
      );
      expect(await balanceOf(stack.db, userId)).toBe(3_000);

      await page.getByRole('link', { name: 'Back to your dashboard' }).click();
      await page.waitForURL((url) => url.pathname === '/');
      expect(await page.getByTestId('tile-balance').locator('.value').textContent()).toBe(euros(3_000));
      expect(pageErrors).toEqual([]);
    } finally {
      await close();
    }
  });

  it('refuses an amount out of bounds in words; a cancelled payment charged nothing', async () => {
    const { page, userId, close } = await signedInPage();
    try {
      await page.goto('/credit');
      await settled(page);
      const sessions = stripe.sessions().length;
      // Each answer is awaited: the same message twice would not tell the second one arrived.
      const submit = () =>
        Promise.all([
          page.waitForResponse((res) => res.url().includes('/credit?/start')),
          page.getByRole('button', { name: 'Add credit' }).click(),
        ]);
      for (const typed of ['2', '1000.01']) {
        await page.getByLabel('Another amount (EUR)').fill(typed);
        await submit();
        await expect
          .poll(() => page.getByTestId('topup-error').textContent(), { timeout: 10_000 })
          .toBe(`Choose an amount from ${euros(500)} to ${euros(100_000)}.`);
        expect(await page.getByLabel('Another amount (EUR)').inputValue()).toBe(typed);
      }
      await page.getByLabel('Another amount (EUR)').fill('thirty');
      await submit();
      await expect
        .poll(() => page.getByTestId('topup-error').textContent(), { timeout: 10_000 })
        .toBe('Enter an amount such as 30 or 30.50.');
      expect(stripe.sessions().length).toBe(sessions);

      await page.getByLabel('Another amount (EUR)').fill('12.34');
      await page.getByRole('button', { name: 'Add credit' }).click();
      await page.waitForURL((url) => url.href.startsWith(`${stripe.url}/pay/`), { timeout: 15_000 });
      expect(stripe.session(sessionIdOf(page.url()))?.amount_total).toBe(1_234);
      await page.getByRole('link', { name: 'Cancel and go back' }).click();
      await page.waitForURL((url) => url.pathname === '/credit' && url.searchParams.get('cancelled') === '1');
      expect(await page.getByTestId('topup-cancelled').textContent()).toBe(
        'The payment was cancelled. Nothing was charged.',
      );
      expect(await balanceOf(stack.db, userId)).toBe(0);
    } finally {
      await close();
    }
  });

  it('a plan the balance is short of: Add credit with the missing amount, then back to buy it', async () => {
    const { page, userId, close } = await signedInPage();
    stripe.deliverOnPay = true;
    try {
      await page.goto('/plans');
      await settled(page);
      await page.getByRole('button', { name: `Buy 1 period of Crew for ${euros(4_250)}` }).click();
      const addCredit = page.getByTestId('purchase-add-credit').getByRole('link');
      await expect
        .poll(() => addCredit.textContent(), { timeout: 10_000 })
        .toBe(`Add ${euros(4_250)} of credit`);
      await addCredit.click();
      await page.waitForURL((url) => url.pathname === '/credit');
      await settled(page);
      expect(await page.getByLabel('Another amount (EUR)').inputValue()).toBe('42.50');
      await page.getByRole('button', { name: 'Add credit' }).click();
      await page.waitForURL((url) => url.href.startsWith(`${stripe.url}/pay/`), { timeout: 15_000 });
      await page.getByRole('button', { name: `Pay ${euros(4_250)}` }).click();
      await page.waitForURL((url) => url.pathname === '/credit/done', { timeout: 15_000 });
      await expect
        .poll(() => page.getByTestId('topup-status').textContent(), { timeout: 15_000 })
        .toBe('Credit added');
      expect(await balanceOf(stack.db, userId)).toBe(4_250);

      await page.getByTestId('topup-back-to-plans').click();
      await page.waitForURL((url) => url.pathname === '/plans');
      await settled(page);
      await page.getByRole('button', { name: `Buy 1 period of Crew for ${euros(4_250)}` }).click();
      await expect
        .poll(() => page.getByTestId('purchase-success').textContent(), { timeout: 10_000 })
        .toMatch(/^Bought 1 period of Crew/);
      expect(await balanceOf(stack.db, userId)).toBe(0);
    } finally {
      stripe.deliverOnPay = false;
      await close();
    }
  });

  it('without JavaScript: the form answers a link to the payment page', async () => {
    const user = await stack.signUp();
    const context = await browser.newContext({ baseURL: stack.url, javaScriptEnabled: false });
    await addSessionCookie(context, stack.url, USER_COOKIE, user.token);
    const page = await context.newPage();
    try {
      await page.goto('/credit');
      await page.getByRole('button', { name: euros(5_000), exact: true }).click();
      const link = page.getByTestId('topup-continue').getByRole('link', { name: 'Continue to payment' });
      const href = await link.getAttribute('href');
      expect(href).toMatch(new RegExp(`^${stripe.url}/pay/cs_test_`));
      expect(stripe.session(sessionIdOf(href as string))).toMatchObject({
        amount_total: 5_000,
        client_reference_id: user.id,
      });
      await link.click();
      await page.waitForURL((url) => url.href === href);
      expect(await page.getByTestId('fake-checkout-amount').textContent()).toBe(euros(5_000));
    } finally {
      await context.close();
    }
  });
});
