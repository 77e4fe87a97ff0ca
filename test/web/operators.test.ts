/**
 * Named operators in a real browser: each signs in on /admin/login with email and password, and
 * the panel shows only what the role may do. A viewer sees every page but no form that changes
 * anything; an operator runs the pool and allocations but sees no refunds or payments forms.
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
import { recordPayment } from '../support/factories.ts';
import { graphql } from '../support/graphql.ts';
import { ADMIN_COOKIE, ADMIN_PAGES, type Stack, startStack } from '../support/web.ts';

const CREATE_OPERATOR = graphql(`
  mutation TestCreateOperator($input: CreateOperatorInput!) {
    createOperator(input: $input) { __typename }
  }
`);

const PASSWORD = 'correct horse battery';

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
  const user = await stack.signUp({ displayName: 'Role Tester' });
  await stack.allocate(user.token);
  await recordPayment(stack.api, user.id, 1000);
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** Adds an operator with the admin secret (break-glass owner) and signs in as them in a browser. */
async function signedInAs(role: 'VIEWER' | 'OPERATOR'): Promise<{ page: Page; errors: string[] }> {
  const email = `${role.toLowerCase()}-${Date.now()}@example.org`;
  const added = await stack.api.admin(CREATE_OPERATOR, { input: { email, role, password: PASSWORD } });
  expect(added.data?.createOperator.__typename).toBe('CreateOperatorSuccess');
  const context = await newContext(browser, { baseURL: stack.url });
  const page = await context.newPage();
  const errors = collectPageErrors(page);
  await page.goto('/admin/login');
  await settled(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL((url) => url.pathname === '/admin', { timeout: 10_000 });
  await settled(page);
  expect(await page.getByTestId('admin-who').textContent()).toContain(`${email} · ${role.toLowerCase()}`);
  return { page, errors };
}

async function visit(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await settled(page);
  expect(new URL(page.url()).pathname, path).toBe(path);
}

const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true }).count();

describe('the admin panel by role', () => {
  it('a viewer sees every page but no button that changes anything', async () => {
    const { page, errors } = await signedInAs('VIEWER');
    expect(await page.getByRole('link', { name: 'Operators' }).count()).toBe(0);
    for (const path of ADMIN_PAGES) {
      await visit(page, path);
      expect(await page.locator('h1').count(), path).toBeGreaterThan(0);
      // Every POST form left is the header's "Sign out".
      const posts = await page.locator('form[method="POST"], form[method="post"]').count();
      expect(posts, `${path}: forms that post`).toBe(1);
    }
    await visit(page, '/admin/payments');
    expect(await page.getByText('Refund…').count()).toBe(0);
    // The owner's page is refused by the API; the viewer keeps their session.
    await page.goto('/admin/operators');
    await settled(page);
    expect(await page.getByRole('alert').textContent()).toContain('viewer');
    await visit(page, '/admin/pool');

    // Any role changes its own password (the link is the email in the header).
    await page.getByTestId('admin-who').getByRole('link').click();
    await page.waitForURL((url) => url.pathname === '/admin/password');
    await page.getByLabel('Current password').fill(PASSWORD);
    await page.getByLabel('New password').fill('another long passphrase');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByTestId('change-password-result').getByText('Password changed').waitFor();
    expect(errors).toEqual([]);
  });

  it('an operator sees the pool and allocation actions, but no refunds or payments', async () => {
    const { page, errors } = await signedInAs('OPERATOR');
    await visit(page, '/admin/pool');
    expect(await button(page, 'Refresh pool')).toBe(1);
    await visit(page, '/admin/allocations');
    expect(await page.getByRole('button', { name: /^Release / }).count()).toBeGreaterThan(0);
    await visit(page, '/admin/users');
    expect(await button(page, 'Create user')).toBe(1);
    await visit(page, '/admin/payments');
    expect(await page.locator('[data-testid="payments"] tbody tr').count()).toBeGreaterThan(0);
    expect(await page.getByText('Refund…').count()).toBe(0);
    expect(await button(page, 'Record payment')).toBe(0);
    await visit(page, '/admin/billing');
    expect(await button(page, 'Adjust balance')).toBe(0);
    expect(errors).toEqual([]);
  });

  it('an owner adds an operator, changes the role and removes them on the Operators page', async () => {
    const context = await newContext(browser, { baseURL: stack.url });
    // The admin secret's session: break-glass owner.
    await addSessionCookie(context, stack.url, ADMIN_COOKIE, await stack.adminToken());
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    await visit(page, '/admin');
    await page.getByRole('link', { name: 'Operators' }).click();
    await page.waitForURL((url) => url.pathname === '/admin/operators');
    const email = `added-${Date.now()}@example.org`;
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Role', { exact: true }).selectOption('VIEWER');
    await page.getByLabel('Initial password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Add operator' }).click();
    await page.getByTestId('create-operator-result').getByText(`Operator ${email} added.`).waitFor();
    const role = page.getByLabel(`Role of ${email}`);
    await role.selectOption('BILLING');
    await page.locator('tr', { has: role }).getByRole('button', { name: 'Change' }).click();
    await page.getByTestId('operator-change-result').getByText(`${email} is now billing`).waitFor();
    expect(await stack.db.query('select role from operator where email = $1', [email])).toEqual([
      { role: 'billing' },
    ]);
    await page.getByRole('button', { name: `Remove ${email}` }).click();
    await page.getByTestId('operator-change-result').getByText(`Removed ${email}.`).waitFor();
    expect(await stack.db.query('select id from operator where email = $1', [email])).toEqual([]);
    expect(errors).toEqual([]);
  });
});
