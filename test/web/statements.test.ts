/**
 * Statements and receipts in a real browser against a real api, database and (fake) forge: a
 * month with a payment, a refund, a plan purchase, an adjustment and usage from two nodes
 * ingested by the api's own aggregator (aggregateNow); the statement page's totals, every usage
 * line with its node, commit (linked to the file on the forge) and file; the CSV downloaded and
 * summed back to the ledger to the cent; a receipt opened from the dashboard; another user's
 * receipt not found; the operator's user page showing the same statement.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addSessionCookie,
  type Browser,
  collectPageErrors,
  launchBrowser,
  newContext,
  settled,
} from '../support/browser.ts';
import { parseCsvRecords } from '../support/csv.ts';
import { purchasePlan, recordPayment } from '../support/factories.ts';
import { type FakeForge, startFakeForge } from '../support/forge/fake-forge.ts';
import { graphql, member } from '../support/graphql.ts';
import { batchFile, usageRecord } from '../support/usage.ts';
import { ADMIN_COOKIE, type Stack, startStack, USER_COOKIE } from '../support/web.ts';

const CATALOG = { plans: [{ code: 'solo', name: 'Solo', vmQuota: 1, periodDays: 30, priceCents: 999 }] };

const REFUND = graphql(`mutation Refund($input: RefundPaymentInput!) { refundPayment(input: $input) {
  __typename ... on Error { code message } } }`);
const ADJUST = graphql(`mutation Adjust($input: AdjustBalanceInput!) { adjustBalance(input: $input) {
  __typename ... on Error { code message } } }`);
const AGGREGATE = graphql('mutation { aggregateNow { recordsApplied centsDebited errors } }');
const RECEIPT = graphql(`query Receipt($id: ID!) { receipt(paymentId: $id) { __typename
  ... on Error { code } } }`);
const BAD_MONTH = graphql(`query BadMonth { statement(month: "2026-13") { __typename
  ... on ValidationError { code problems { path message } } } }`);

let stack: Stack;
let forge: FakeForge;
let browser: Browser;

beforeAll(async () => {
  forge = await startFakeForge();
  [stack, browser] = await Promise.all([
    startStack({
      apiEnv: {
        PLANS_JSON: JSON.stringify(CATALOG),
        SIGNUP_TRIAL: 'off',
        USAGE_SOURCE: 'forge',
        FORGE_URL: forge.rootUrl,
        FORGE_TOKEN: forge.token,
        BILLING_REPO: `${forge.owner}/${forge.repo}`,
      },
    }),
    launchBrowser(),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await forge?.stop();
});

const euros = (cents: number) =>
  new Intl.NumberFormat('en', { style: 'currency', currency: 'EUR' }).format(cents / 100);

describe('statements in the browser', () => {
  it('shows where every cent went, downloads the CSV to the cent, and opens a receipt', async () => {
    const user = await stack.signUp();
    const other = await stack.signUp();
    const { paymentId } = await recordPayment(stack.api, user.id, 10_000, { note: 'top-up' });
    await recordPayment(stack.api, other.id, 500);
    member(
      (await stack.api.admin(REFUND, { input: { paymentId, amountCents: 1_234 } })).data?.refundPayment,
      'RefundPaymentSuccess',
    );
    member(await purchasePlan(stack.api, user.token, 'solo', 1), 'PurchasePlanSuccess');
    member(
      (await stack.api.admin(ADJUST, { input: { userId: user.id, amountCents: -17, note: 'goodwill fix' } }))
        .data?.adjustBalance,
      'AdjustBalanceSuccess',
    );

    // Usage from two nodes, committed to the forge and read by the api's aggregator.
    const a = [usageRecord('node-a', user.id, 120), usageRecord('node-a', user.id, 3)];
    const b = [usageRecord('node-b', user.id, 250, { resource: 'ram_gb_seconds' })];
    const [pathA, textA] = batchFile('node-a', '2026-11-23-10', a);
    const [pathB, textB] = batchFile('node-b', '2026-11-23-10', b);
    await forge.commitFiles({ [pathA]: textA });
    const head = await forge.commitFiles({ [pathB]: textB });
    const aggregated = (await stack.api.admin(AGGREGATE)).data?.aggregateNow;
    expect(aggregated).toMatchObject({ recordsApplied: 3, centsDebited: 373, errors: [] });

    const month = (
      await stack.db.query<{ m: string }>(`select to_char(now() at time zone 'UTC', 'YYYY-MM') as m`)
    )[0].m;
    const ledger = await stack.db.query<{ s: string; b: string }>(
      `select coalesce(sum(amount_cents), 0)::text as s,
              (select credit_balance_cents::text from billing where user_id = $1) as b
         from ledger_entry where user_id = $1 and to_char(created_at at time zone 'UTC', 'YYYY-MM') = $2`,
      [user.id, month],
    );
    const ledgerSum = Number(ledger[0].s);
    const balance = Number(ledger[0].b);
    expect(ledgerSum).toBe(10_000 - 1_234 - 999 - 17 - 373);

    const context = await newContext(browser, { baseURL: stack.url });
    await addSessionCookie(context, stack.url, USER_COOKIE, user.token);
    const page = await context.newPage();
    const pageErrors = collectPageErrors(page);
    try {
      await page.goto('/');
      await settled(page);
      await page.getByRole('link', { name: 'Statements', exact: true }).click();
      await page.waitForURL((url) => url.pathname === '/statements');
      await settled(page);
      // The month chooser is one line: the select keeps its own width beside its button.
      const picker = page.getByTestId('month-picker');
      const select = (await picker.getByLabel('Month').boundingBox())!;
      const show = (await picker.getByRole('button', { name: 'Show' }).boundingBox())!;
      expect(Math.abs(select.y + select.height / 2 - (show.y + show.height / 2))).toBeLessThan(8);
      expect(show.x).toBeGreaterThan(select.x + select.width);
      expect(await page.getByTestId('statement-opening').textContent()).toBe(euros(0));
      expect(await page.getByTestId('statement-closing').textContent()).toBe(euros(balance));
      const totals = Object.fromEntries(
        await Promise.all(
          ['PAYMENT', 'REFUND', 'PLAN_PURCHASE', 'ADJUSTMENT', 'USAGE'].map(
            async (k) => [k, (await page.getByTestId(`statement-total-${k}`).textContent())?.trim()] as const,
          ),
        ),
      );
      expect(totals).toEqual({
        PAYMENT: euros(10_000),
        REFUND: euros(-1_234),
        PLAN_PURCHASE: euros(-999),
        ADJUSTMENT: euros(-17),
        USAGE: euros(-373),
      });

      // Every usage line: its node, the commit it was read at (linked to the file on the forge), the file.
      const origins = page.getByTestId('usage-origin');
      expect(await origins.count()).toBe(2);
      for (const [i, [node, path]] of [
        ['node-a', pathA],
        ['node-b', pathB],
      ].entries()) {
        const row = origins.nth(i);
        expect(await row.getByTestId('origin-node').textContent()).toBe(node);
        expect(await row.getByTestId('origin-file').textContent()).toBe(path);
        const link = row.getByTestId('origin-commit').getByRole('link');
        expect((await link.textContent())?.trim()).toBe(head.slice(0, 10));
        expect(await link.getAttribute('href')).toBe(
          `${forge.rootUrl}/${forge.owner}/${forge.repo}/src/commit/${head}/${path}`,
        );
      }

      // The CSV download: its lines sum to the ledger's month, to the cent.
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByTestId('statement-csv').click(),
      ]);
      expect(download.suggestedFilename()).toBe(`statement-${month}.csv`);
      const csv = parseCsvRecords(await readFile((await download.path()) as string, 'utf8'));
      const lines = csv.filter((r) => !r.section.endsWith('_BALANCE'));
      expect(lines.reduce((s, r) => s + Number(r.amount_cents), 0)).toBe(ledgerSum);
      expect(Number(csv.find((r) => r.section === 'CLOSING_BALANCE')?.amount_cents)).toBe(balance);
      const usage = lines.filter((r) => r.section === 'USAGE');
      expect(usage.map((r) => [r.node, r.commit, r.file, r.amount_cents])).toEqual([
        ['node-a', head, pathA, '-123'],
        ['node-b', head, pathB, '-250'],
      ]);
      const direct = await fetch(`${stack.url}/statements/${month}/csv`, {
        headers: { cookie: `${USER_COOKIE}=${user.token}` },
      });
      expect(direct.headers.get('content-type')).toMatch(/^text\/csv/);
      expect(direct.headers.get('content-disposition')).toBe(`attachment; filename="statement-${month}.csv"`);
      expect(
        (
          await fetch(`${stack.url}/statements/2026-13/csv`, {
            headers: { cookie: `${USER_COOKIE}=${user.token}` },
          })
        ).status,
      ).toBe(400);

      // A receipt from the dashboard's payment rows.
      await page.goto('/');
      await settled(page);
      const receiptLinks = page.getByTestId('payment-receipt-link');
      expect(await receiptLinks.count()).toBe(2); // the payment and its refund
      await page.locator(`a[href="/receipts/${paymentId}"]`).first().click();
      await page.waitForURL((url) => url.pathname === `/receipts/${paymentId}`);
      await settled(page);
      expect(await page.getByTestId('receipt-amount').textContent()).toBe(euros(10_000));
      expect(await page.getByTestId('receipt-id').textContent()).toBe(paymentId);
      expect(await page.getByTestId('receipt-net').textContent()).toBe(euros(10_000 - 1_234));
      expect(await page.getByTestId('receipt-balance-after').textContent()).toBe(euros(10_000));
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }

    // Another user's receipt: not found, in the API and on the page; a bad month said clearly.
    const foreign = await stack.api.asUser(other.token, RECEIPT, { id: paymentId });
    expect(foreign.data?.receipt).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    const otherPage = await fetch(`${stack.url}/receipts/${paymentId}`, {
      headers: { cookie: `${USER_COOKIE}=${other.token}` },
    });
    expect(otherPage.status).toBe(404);
    const bad = member((await stack.api.asUser(user.token, BAD_MONTH)).data?.statement, 'ValidationError');
    expect(bad.problems).toEqual([
      { path: 'month', message: 'must be a month as YYYY-MM (e.g. 2026-11), from 2000-01 on' },
    ]);
  });

  it('shows the operator a user’s statement and its CSV on the user page', async () => {
    const user = await stack.signUp();
    await recordPayment(stack.api, user.id, 4_321);
    const context = await newContext(browser, { baseURL: stack.url });
    await addSessionCookie(context, stack.url, ADMIN_COOKIE, await stack.adminToken());
    const page = await context.newPage();
    try {
      await page.goto(`/admin/users/${user.id}`);
      await settled(page);
      expect(await page.getByTestId('statement-total-PAYMENT').textContent()).toContain(euros(4_321));
      expect(await page.getByTestId('statement-closing').textContent()).toBe(euros(4_321));
      const href = await page.getByTestId('statement-csv').getAttribute('href');
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByTestId('statement-csv').click(),
      ]);
      expect(href).toMatch(new RegExp(`^/admin/users/${user.id}/statements/\\d{4}-\\d{2}/csv$`));
      const csv = parseCsvRecords(await readFile((await download.path()) as string, 'utf8'));
      expect(csv.find((r) => r.section === 'PAYMENT')?.amount_cents).toBe('4321');
      // Without an admin session the download is refused (to the login page).
      const anonymous = await fetch(`${stack.url}${href}`, { redirect: 'manual' });
      expect(anonymous.status).toBe(303);
      expect(anonymous.headers.get('location')).toMatch(/^\/admin\/login/);
    } finally {
      await context.close();
    }
  });
});
