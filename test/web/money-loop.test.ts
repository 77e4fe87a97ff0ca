/**
 * The whole money loop as a new user lives it, in a real browser against a real api, web UI,
 * aggregator and auto-release worker, with Stripe played by the fake under test/support/stripe:
 * sign up → no plan, no VM → add €30 through Stripe Checkout (the signed webhook credits it) →
 * buy 3 periods with the ladder's discount, exact to the cent → a VM → usage read from the git
 * billing repository and debited by the aggregator → the runway and the low-balance banner →
 * below zero: no new VM → the grace passes → the VM is released CREDIT_EXHAUSTED → a top-up →
 * a VM again. Every step is checked where the user sees it and in the database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitWithFastImport } from '../../scripts/lib/usage-fixture.ts';
import {
  type Browser,
  collectPageErrors,
  launchBrowser,
  newContext,
  type Page,
  settled,
} from '../support/browser.ts';
import { waitFor } from '../support/fake-deployer.ts';
import { graphql, member } from '../support/graphql.ts';
import { balanceOf, ledgerSumOf } from '../support/money.ts';
import { spawnTs } from '../support/process.ts';
import { type FakeStripe, startFakeStripe } from '../support/stripe/fake-stripe.ts';
import { type BareRepo, batchFile, createBareRepo, usageRecord } from '../support/usage.ts';
import { type Stack, startStack } from '../support/web.ts';

const CATALOG = {
  plans: [{ code: 'solo', name: 'Solo', vmQuota: 1, periodDays: 30, priceCents: 1_000 }],
  discounts: [
    { periods: 1, percent: 0 },
    { periods: 3, percent: 5 },
    { periods: 12, percent: 15 },
  ],
};
/** 3 periods of €10 at 5% off. */
const THREE_PERIODS_CENTS = 2_850;
/** Low under €1 or under a week of runway; released 3.6 s after going below zero. */
const CREDIT_ENV = {
  LOW_BALANCE_RUNWAY_DAYS: '7',
  LOW_BALANCE_CENTS: '100',
  NEGATIVE_BALANCE_GRACE_HOURS: '0.001',
};
const NODE = 'node-loop';

const QUOTE =
  graphql(`query LoopQuote($code: String!, $periods: Int!) { quotePlan(planCode: $code, periods: $periods) {
  __typename ... on QuotePlanSuccess { quote { priceCents currency } } } }`);

let stripe: FakeStripe;
let repo: BareRepo;
let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  [stripe, repo] = await Promise.all([startFakeStripe(), createBareRepo()]);
  [stack, browser] = await Promise.all([
    startStack({
      apiEnv: (webUrl) => ({
        ...stripe.apiEnv(),
        WEB_PUBLIC_URL: webUrl,
        SIGNUP_TRIAL: 'off',
        PLANS_JSON: JSON.stringify(CATALOG),
        ...CREDIT_ENV,
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
  await repo?.remove();
});

const euros = (cents: number) =>
  new Intl.NumberFormat('en', { style: 'currency', currency: 'EUR' }).format(cents / 100);

/** Dashboard → Add credit → a preset → the fake's payment page → paid → back, credited. */
async function addCredit(page: Page, cents: number): Promise<void> {
  await page.goto('/');
  await settled(page);
  await page.getByTestId('tile-balance').getByRole('link', { name: 'Add credit' }).click();
  await page.waitForURL((url) => url.pathname === '/credit');
  await settled(page);
  await page.getByRole('button', { name: euros(cents), exact: true }).click();
  await page.waitForURL((url) => url.href.startsWith(`${stripe.url}/pay/`), { timeout: 15_000 });
  // The fake sends the signed checkout.session.completed, then returns the browser.
  await page.getByRole('button', { name: `Pay ${euros(cents)}` }).click();
  await page.waitForURL((url) => url.pathname === '/credit/done', { timeout: 15_000 });
  await expect
    .poll(() => page.getByTestId('topup-status').textContent(), { timeout: 15_000 })
    .toBe('Credit added');
}

/** Allocates from the dashboard: null, the error shown, or "disabled: <why>" when the button is off. */
async function allocateInBrowser(page: Page): Promise<string | null> {
  await page.goto('/');
  await settled(page);
  const why = page.getByTestId('allocate-why');
  if ((await why.count()) > 0) return `disabled: ${(await why.textContent())?.replace(/\s+/g, ' ').trim()}`;
  await page.getByRole('button', { name: 'Allocate a VM' }).click();
  const outcome = page.getByTestId('action-success').or(page.getByTestId('action-error'));
  await outcome.first().waitFor({ timeout: 10_000 });
  return page
    .getByTestId('action-error')
    .count()
    .then(async (n) => (n > 0 ? await page.getByTestId('action-error').textContent() : null));
}

/** Commits one usage batch of the user's to the billing repository and runs the aggregator once. */
async function usage(userId: string, hour: string, costs: number[]): Promise<void> {
  const records = costs.map((cost) => usageRecord(NODE, userId, cost));
  await commitWithFastImport(repo.dir, [
    { message: `usage ${hour}`, files: [batchFile(NODE, hour, records)] },
  ]);
  const aggregate = spawnTs('workers/src/main.ts', ['aggregate', '--once'], {
    DATABASE_URL: stack.db.url,
    BILLING_GIT_URL: repo.dir,
    LOG_LEVEL: 'warn',
  });
  expect(await aggregate.exited).toBe(0);
}

const allocationOf = async (id: string) =>
  (
    await stack.db.query<{ status: string; release_reason: string | null }>(
      'select status, release_reason from vm_allocation where id = $1',
      [id],
    )
  )[0];

describe('the money loop, end to end', () => {
  it('sign up, top up, buy, use, run low, go negative, lose the VM, top up, get a VM again', async () => {
    const context = await newContext(browser, { baseURL: stack.url });
    const page = await context.newPage();
    const pageErrors = collectPageErrors(page);
    try {
      // Sign up in the browser.
      const email = `loop-${Date.now()}@example.org`;
      await page.goto('/signup');
      await settled(page);
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Display name').fill('Loop User');
      await page.getByLabel('Password').fill('correct horse battery staple');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.waitForURL((url) => url.pathname === '/');
      const [{ id: userId }] = await stack.db.query<{ id: string }>('select id from users where email = $1', [
        email,
      ]);

      // No plan: no VM (the button is disabled and says why).
      expect(await allocateInBrowser(page)).toBe('disabled: No active plan: a VM needs one. Buy a plan');

      // €30 through Stripe Checkout; only the signed webhook credits it.
      await addCredit(page, 3_000);
      expect(await page.getByTestId('topup-balance').textContent()).toBe(euros(3_000));
      expect(await balanceOf(stack.db, userId)).toBe(3_000);

      // 3 periods at the ladder's discount, exact to the cent, in the page and the API.
      const token = (await context.cookies()).find((c) => c.name === 'hero_session')?.value as string;
      const quoted = member(
        (await stack.api.asUser(token, QUOTE, { code: 'solo', periods: 3 })).data.quotePlan,
        'QuotePlanSuccess',
      );
      expect(quoted.quote).toEqual({ priceCents: THREE_PERIODS_CENTS, currency: 'EUR' });
      await page.goto('/plans');
      await settled(page);
      expect(await page.getByTestId('quote-solo-3').locator('td.price').textContent()).toBe(
        euros(THREE_PERIODS_CENTS),
      );
      await page
        .getByRole('button', { name: `Buy 3 periods of Solo for ${euros(THREE_PERIODS_CENTS)}` })
        .click();
      await page.getByTestId('purchase-success').waitFor({ timeout: 10_000 });
      expect(await balanceOf(stack.db, userId)).toBe(3_000 - THREE_PERIODS_CENTS);

      // A VM.
      expect(await allocateInBrowser(page)).toBeNull();
      const [allocation] = await stack.allocationsOf(userId);
      expect(allocation.status).toBe('ACTIVE');

      // Usage from the billing repository, debited by the aggregator: 150 → 60, low.
      await usage(userId, '2026-11-23-10', [50, 40]);
      expect(await balanceOf(stack.db, userId)).toBe(60);
      await page.goto('/');
      await settled(page);
      expect(await page.getByTestId('credit-banner').getAttribute('data-state')).toBe('low');
      expect(await page.getByTestId('credit-runway').textContent()).toMatch(
        /At your usage of the last 7 days, your credit lasts until about/,
      );

      // Below zero: no new VM, and the banner says when the VM goes.
      await usage(userId, '2026-11-23-11', [100]);
      expect(await balanceOf(stack.db, userId)).toBe(-40);
      await page.goto('/');
      await settled(page);
      expect(await page.getByTestId('credit-banner').getAttribute('data-state')).toBe('negative');
      // No new VM below zero: the button says why (the API refuses it too).
      expect(await page.getByRole('button', { name: 'Allocate a VM' }).isDisabled()).toBe(true);
      expect(await allocateInBrowser(page)).toBe(
        `disabled: Your balance is below zero (${euros(-40)}): add credit first. Add credit`,
      );

      // The grace passes: the auto-release worker warns, then releases CREDIT_EXHAUSTED.
      const worker = spawnTs('workers/src/main.ts', ['auto-release'], {
        DATABASE_URL: stack.db.url,
        AUTO_RELEASE_INTERVAL_MS: '300',
        PLANS_JSON: JSON.stringify(CATALOG),
        ...CREDIT_ENV,
      });
      try {
        await waitFor(
          async () => (await allocationOf(allocation.id)).status === 'RELEASED',
          30_000,
          'the CREDIT_EXHAUSTED release',
        );
      } finally {
        expect(await worker.stop()).toBe(0);
      }
      expect(await allocationOf(allocation.id)).toEqual({
        status: 'RELEASED',
        release_reason: 'CREDIT_EXHAUSTED',
      });

      // A top-up ends it: a VM again.
      await addCredit(page, 1_000);
      expect(await balanceOf(stack.db, userId)).toBe(960);
      await page.goto('/');
      await settled(page);
      expect(await page.getByTestId('credit-banner').count()).toBe(0);
      expect(await allocateInBrowser(page)).toBeNull();
      expect((await stack.allocationsOf(userId)).filter((a) => a.status === 'ACTIVE')).toHaveLength(1);

      // The ledger holds every step, and each event was written once.
      expect(await ledgerSumOf(stack.db, userId)).toBe(960);
      const events = await stack.db.query<{ topic: string; payload: Record<string, unknown> }>(
        "select topic, payload from outbox where payload->>'userId' = $1 order by id",
        [userId],
      );
      const count = (topic: string) => events.filter((e) => e.topic === topic).length;
      expect(count('payment.received')).toBe(2);
      expect(count('balance.low')).toBe(1);
      expect(count('balance.negative')).toBe(1);
      expect(
        events.filter((e) => e.topic === 'allocation.expiring' && e.payload.reason === 'CREDIT_EXHAUSTED'),
      ).toHaveLength(1);
      expect(events.filter((e) => e.topic === 'allocation.released').map((e) => e.payload.reason)).toEqual([
        'CREDIT_EXHAUSTED',
      ]);
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 240_000);
});
