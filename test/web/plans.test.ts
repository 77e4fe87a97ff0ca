/**
 * Plans in the user's web UI, in a real browser against a real api and database: a new account
 * (no sign-up trial) cannot allocate; the plans page shows the catalog with the API's quotes to
 * the cent; a purchase the balance cannot cover says by how much; after a payment the purchase
 * goes through, the balance drops by exactly the quoted price, and the dashboard allocates. The
 * dashboard's plan tile shows the plan, its end and the renewal price, and switches auto-renew.
 * Without STRIPE_SECRET_KEY, nothing offers to add credit online.
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
import { recordPayment } from '../support/factories.ts';
import { graphql, member } from '../support/graphql.ts';
import { type Stack, startStack, USER_COOKIE } from '../support/web.ts';

const CATALOG = {
  plans: [
    { code: 'solo', name: 'Solo', vmQuota: 1, periodDays: 30, priceCents: 999 },
    { code: 'crew', name: 'Crew', vmQuota: 3, periodDays: 30, priceCents: 2401 },
  ],
  discounts: [
    { periods: 1, percent: 0 },
    { periods: 3, percent: 5 },
    { periods: 12, percent: 15 },
  ],
};

const QUOTE =
  graphql(`query Quote($code: String!, $periods: Int!) { quotePlan(planCode: $code, periods: $periods) {
  __typename ... on QuotePlanSuccess { quote { priceCents discountCents } } } }`);
const BALANCE = graphql('{ me { vmQuota vmQuotaPeriodEnd billing { creditBalanceCents } } }');
const PURCHASE =
  graphql(`mutation Buy($code: String!, $periods: Int!) { purchasePlan(planCode: $code, periods: $periods) {
  __typename ... on PurchasePlanSuccess { result { purchase { periodEnd } } } } }`);
const AUTO_RENEW_OF = graphql(
  'query AutoRenewOf($id: ID!) { user(id: $id) { autoRenew planStatus { planName } } }',
);

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([
    startStack({ apiEnv: { PLANS_JSON: JSON.stringify(CATALOG), SIGNUP_TRIAL: 'off' } }),
    launchBrowser(),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const euros = (cents: number) =>
  new Intl.NumberFormat('en', { style: 'currency', currency: 'EUR' }).format(cents / 100);

describe('plans in the browser', () => {
  it('no plan: allocation refused; quotes to the cent; short balance said; bought plan allocates', async () => {
    const user = await stack.signUp();
    const context = await newContext(browser, { baseURL: stack.url });
    await addSessionCookie(context, stack.url, USER_COOKIE, user.token);
    const page = await context.newPage();
    const pageErrors = collectPageErrors(page);
    try {
      // A new account without a trial holds no plan: the dashboard says so, and allocating is refused.
      await page.goto('/');
      await settled(page);
      // The button is disabled with the reason next to it (the API refuses it too).
      expect(await page.getByRole('button', { name: 'Allocate a VM' }).isDisabled()).toBe(true);
      expect((await page.getByTestId('allocate-why').textContent())?.replace(/\s+/g, ' ').trim()).toBe(
        'No active plan: a VM needs one. Buy a plan',
      );

      // No STRIPE_SECRET_KEY here: no self-serve top-up, operators record payments.
      expect(await page.getByTestId('add-credit').count()).toBe(0);
      expect(await page.getByRole('link', { name: 'Add credit' }).count()).toBe(0);
      const buyLink = page.getByTestId('tile-plan').getByRole('link', { name: 'buy one' });
      expect(await buyLink.getAttribute('href')).toBe('/plans');
      await page.getByRole('link', { name: 'Plans', exact: true }).click();
      await page.waitForURL((url) => url.pathname === '/plans');
      await settled(page);
      await expect.poll(() => page.getByTestId('current-plan').textContent()).toMatch(/no plan yet/);
      for (const plan of CATALOG.plans)
        for (const periods of [1, 3, 12]) {
          const res = await stack.api.asUser(user.token, QUOTE, { code: plan.code, periods });
          const { quote } = member(res.data.quotePlan, 'QuotePlanSuccess');
          const row = page.getByTestId(`quote-${plan.code}-${periods}`);
          expect(await row.locator('td.price').textContent(), `${plan.code} × ${periods}`).toBe(
            euros(quote.priceCents),
          );
        }
      // 3 periods of Crew: 7203 less 5% (360.15, floored to 360) = 6843 cents.
      expect(await page.getByTestId('quote-crew-3').locator('td.price').textContent()).toBe(euros(6843));

      // Nothing on the balance yet: the purchase is refused with the missing amount.
      await page.getByRole('button', { name: `Buy 3 periods of Crew for ${euros(6843)}` }).click();
      await expect
        .poll(() => page.getByTestId('purchase-error').textContent(), { timeout: 10_000 })
        .toBe(`Your balance is ${euros(6843)} short of the price. Add credit, then buy the plan.`);
      expect(await page.getByTestId('purchase-add-credit').count()).toBe(0);

      await recordPayment(stack.api, user.id, 10_000);
      await page.reload();
      await settled(page);
      await page.getByRole('button', { name: `Buy 3 periods of Crew for ${euros(6843)}` }).click();
      await expect
        .poll(() => page.getByTestId('purchase-success').textContent(), { timeout: 10_000 })
        .toMatch(
          new RegExp(
            `^Bought 3 periods of Crew for ${euros(6843).replace('.', '\\.')}\\. Your balance is now ${euros(3157).replace('.', '\\.')}\\.`,
          ),
        );
      const me = (await stack.api.asUser(user.token, BALANCE)).data.me;
      expect(me.billing.creditBalanceCents).toBe(10_000 - 6843);
      expect(me.vmQuota).toBe(3);
      const days = (new Date(me.vmQuotaPeriodEnd as string).getTime() - Date.now()) / 86_400_000;
      expect(days).toBeGreaterThan(89);
      expect(days).toBeLessThanOrEqual(90);

      // The dashboard allocates now, and the VM ends with the plan period.
      await page.getByRole('link', { name: 'Dashboard' }).click();
      await page.waitForURL((url) => url.pathname === '/');
      await settled(page);
      await page.getByRole('button', { name: 'Allocate a VM' }).click();
      await expect
        .poll(() => page.getByTestId('action-success').textContent(), { timeout: 10_000 })
        .toMatch(/^Allocated /);
      const [allocation] = await stack.allocationsOf(user.id);
      expect(allocation.status).toBe('ACTIVE');

      // Asked for by its address anyway, the Add credit page says to ask an operator.
      await page.goto('/credit');
      expect(await page.getByTestId('topup-unavailable').textContent()).toMatch(
        /Adding credit online is not available here\. Ask an operator to record your payment\./,
      );
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('the plan tile: plan, period end, renewal price; auto-renew switched on and off', async () => {
    const user = await stack.signUp();
    await recordPayment(stack.api, user.id, 10_000);
    const bought = await stack.api.asUser(user.token, PURCHASE, { code: 'crew', periods: 3 });
    const periodEnd = member(bought.data.purchasePlan, 'PurchasePlanSuccess').result.purchase.periodEnd;
    const context = await newContext(browser, { baseURL: stack.url });
    await addSessionCookie(context, stack.url, USER_COOKIE, user.token);
    const page = await context.newPage();
    const pageErrors = collectPageErrors(page);
    try {
      await page.goto('/');
      await settled(page);
      const tile = page.getByTestId('tile-plan');
      expect(await tile.getByTestId('plan-name').textContent()).toBe('Crew');
      // The end in the viewer's time zone (the context's), with its year.
      expect(await tile.getByTestId('plan-period-end').textContent()).toContain(
        String(new Date(periodEnd as string).getUTCFullYear()),
      );
      // One period at the catalog price, whatever was bought last time (3 periods, discounted).
      expect((await tile.getByTestId('plan-renewal').textContent())?.replace(/\s+/g, ' ').trim()).toBe(
        `Renewal: ${euros(2401)} for 30 days`,
      );
      expect(await tile.getByTestId('auto-renew-state').textContent()).toBe('Auto-renew off');
      expect(await tile.getByRole('link', { name: 'Renew or change plan' }).getAttribute('href')).toBe(
        '/plans',
      );

      await tile.getByRole('button', { name: 'Turn on auto-renew' }).click();
      await expect
        .poll(() => page.getByTestId('action-success').textContent(), { timeout: 10_000 })
        .toMatch(/^Auto-renew is on/);
      await expect.poll(() => tile.getByTestId('auto-renew-state').textContent()).toBe('Auto-renew on');
      expect((await stack.api.admin(AUTO_RENEW_OF, { id: user.id })).data.user).toEqual({
        autoRenew: true,
        planStatus: { planName: 'Crew' },
      });

      await tile.getByRole('button', { name: 'Turn off auto-renew' }).click();
      await expect.poll(() => tile.getByTestId('auto-renew-state').textContent()).toBe('Auto-renew off');
      expect((await stack.api.admin(AUTO_RENEW_OF, { id: user.id })).data.user?.autoRenew).toBe(false);
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('without a plan bought there is no switch, and the action refuses in words', async () => {
    const user = await stack.signUp();
    const context = await newContext(browser, { baseURL: stack.url });
    await addSessionCookie(context, stack.url, USER_COOKIE, user.token);
    const page = await context.newPage();
    try {
      await page.goto('/');
      await settled(page);
      expect(await page.getByTestId('tile-plan').getByTestId('plan-name').textContent()).toBe('No plan yet');
      expect(await page.getByTestId('auto-renew-toggle').count()).toBe(0);
      // A form posted anyway (e.g. an old page): NO_PLAN_TO_RENEW, said in words, nothing changed.
      const res = await page.request.post('/?/autoRenew', {
        form: { enabled: 'on' },
        headers: { origin: stack.url, 'x-sveltekit-action': 'true' },
      });
      expect(await res.text()).toContain('Buy a plan first');
      expect((await stack.api.admin(AUTO_RENEW_OF, { id: user.id })).data.user?.autoRenew).toBe(false);
    } finally {
      await context.close();
    }
  });
});
