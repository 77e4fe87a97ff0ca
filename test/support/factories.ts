import { randomBytes } from 'node:crypto';
import type { ApiProcess } from './api.ts';
import { graphql, member } from './graphql.ts';

export interface TestUser {
  id: string;
  email: string;
  token: string;
}

export const CREATE_USER =
  graphql(`mutation CreateUser($input: CreateUserInput!) { createUser(input: $input) {
  __typename ... on CreateUserSuccess { payload { token user { id email } } }
  ... on ValidationError { problems { path message } } } }`);

const SET_USER_QUOTA = graphql(`mutation SetUserQuota($userId: ID!, $vmQuota: Int!, $periodEnd: DateTime) {
  setUserQuota(userId: $userId, vmQuota: $vmQuota, periodEnd: $periodEnd) {
    __typename ... on Error { code message } } }`);

const PLAN_DAYS = 30;

/**
 * Gives a user `vmQuota` VMs for a plan period of 30 days, as an operator's setUserQuota does:
 * without a period the user could not allocate at all.
 */
export async function givePlan(api: ApiProcess, userId: string, vmQuota = 1): Promise<void> {
  const periodEnd = new Date(Date.now() + PLAN_DAYS * 24 * 3_600_000).toISOString();
  const res = await api.admin(SET_USER_QUOTA, { userId, vmQuota, periodEnd });
  if (res.data?.setUserQuota.__typename !== 'SetUserQuotaSuccess')
    throw new Error(`setUserQuota failed: ${JSON.stringify(res)}`);
}

/**
 * Creates a user through the admin API, with a plan period of one VM for 30 days (an operator's
 * setUserQuota) so the user may allocate; `plan: false` leaves the account as created: no plan.
 */
export async function createUser(
  api: ApiProcess,
  overrides: { email?: string; displayName?: string; plan?: boolean } = {},
) {
  const email = overrides.email ?? `user-${randomBytes(5).toString('hex')}@example.org`;
  const res = await api.admin(CREATE_USER, {
    input: { email, displayName: overrides.displayName ?? 'Test User' },
  });
  const result = res.data?.createUser;
  if (result?.__typename !== 'CreateUserSuccess')
    throw new Error(`createUser failed: ${JSON.stringify(res)}`);
  if (overrides.plan !== false) await givePlan(api, result.payload.user.id);
  return {
    id: result.payload.user.id,
    email: result.payload.user.email,
    token: result.payload.token,
  } as TestUser;
}

export const SIGN_UP = graphql(`mutation SignUp($input: SignUpInput!) { signUp(input: $input) { __typename
  ... on SignUpSuccess { user { id email displayName } session { token expiresAt } }
  ... on ValidationError { problems { path message } }
  ... on RateLimitedError { retryAfterSeconds }
  ... on Error { code message } } }`);

export const SIGN_IN = graphql(`mutation SignIn($input: SignInInput!) { signIn(input: $input) { __typename
  ... on SignInSuccess { user { id email } session { token expiresAt } }
  ... on RateLimitedError { retryAfterSeconds }
  ... on Error { code message } } }`);

export const ADMIN_SIGN_IN = graphql(`mutation AdminSignIn($secret: String!) { adminSignIn(secret: $secret) {
  __typename
  ... on AdminSignInSuccess { session { token expiresAt } }
  ... on RateLimitedError { retryAfterSeconds }
  ... on Error { code message } } }`);

export interface SignedUpUser extends TestUser {
  password: string;
}

/**
 * Signs a new user up through the public API (a USER session); throws unless it succeeded.
 * `headers` are sent as they are (e.g. an X-Forwarded-For to count against another address).
 */
export async function signUpUser(
  api: ApiProcess,
  overrides: { email?: string; displayName?: string; password?: string } = {},
  headers: Record<string, string> = {},
): Promise<SignedUpUser> {
  const email = overrides.email ?? `signup-${randomBytes(5).toString('hex')}@example.org`;
  const password = overrides.password ?? `pw-${randomBytes(9).toString('hex')}`;
  const res = await api.gql(
    SIGN_UP,
    { input: { email, displayName: overrides.displayName ?? 'Signed Up', password } },
    headers,
  );
  const result = res.data?.signUp;
  if (result?.__typename !== 'SignUpSuccess') throw new Error(`signUp failed: ${JSON.stringify(res)}`);
  return { id: result.user.id, email: result.user.email, token: result.session.token, password };
}

export interface PoolVmFixture {
  id: string;
  name?: string;
  host?: string;
  region?: string;
  status?: 'AVAILABLE' | 'MAINTENANCE' | 'RETIRED';
  cockpitUrl?: string | null;
}

export const REFRESH_POOL =
  graphql(`mutation RefreshPool($input: RefreshPoolInput!) { refreshPool(input: $input) {
  __typename
  ... on RefreshPoolSuccess { result { prevPoolSize poolSize added updated retired } }
  ... on ValidationError { code message problems { path message } } } }`);

/** Replaces the pool through the admin API; throws if the manifest is refused. */
export async function refreshPool(api: ApiProcess, manifest: unknown) {
  const res = await api.admin(REFRESH_POOL, { input: { manifest } });
  const result = res.data?.refreshPool;
  if (result?.__typename !== 'RefreshPoolSuccess')
    throw new Error(`refreshPool failed: ${JSON.stringify(res)}`);
  return result.result;
}

export function poolOf(count: number, prefix = 'vm'): PoolVmFixture[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${String(i + 1).padStart(3, '0')}`,
    name: `${prefix} ${i + 1}`,
    host: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    region: 'test',
    status: 'AVAILABLE' as const,
    cockpitUrl: `https://cockpit.test/${prefix}-${i + 1}`,
  }));
}

export const ALLOCATE_VM = graphql(`mutation AllocateVm { allocateVm {
  __typename
  ... on AllocateVmSuccess { allocation { id status cockpitUrl expiresAt allocatedAt poolVm { id } } }
  ... on NoActivePlanError { periodEnd }
  ... on BalanceNegativeError { balanceCents currency }
  ... on Error { code message } } }`);

/** allocateVm as the user: the result union member. */
export async function allocate(api: ApiProcess, token: string) {
  const res = await api.asUser(token, ALLOCATE_VM);
  if (!res.data?.allocateVm) throw new Error(`allocateVm failed: ${JSON.stringify(res)}`);
  return res.data.allocateVm;
}

export interface SeedAllocationsOptions {
  /** Prefix of the pool VM ids and user emails, unique per call in a database. */
  prefix: string;
  /** When the allocations expire; default one hour ago. */
  expiresAt?: Date;
  provisioner?: string;
}

/**
 * `count` ACTIVE allocations (one user and one pool VM each, the VM pointing at it), written
 * set-based in SQL: the fixture for runs over many rows. Returns the allocation ids.
 */
export async function seedAllocations(
  db: { query: <T extends object>(text: string, params?: unknown[]) => Promise<T[]> },
  count: number,
  options: SeedAllocationsOptions,
): Promise<string[]> {
  const { prefix } = options;
  const expiresAt = options.expiresAt ?? new Date(Date.now() - 3_600_000);
  await db.query(
    `insert into pool_vm (id, name, host, status, cockpit_url)
     select $1 || '-vm-' || g, $1 || ' VM ' || g, '10.9.0.1', 'AVAILABLE', 'https://cockpit.test/' || $1 || '-' || g
       from generate_series(1, $2::int) g`,
    [prefix, count],
  );
  await db.query(
    `insert into users (email, display_name, vm_quota)
     select $1 || '-user-' || g || '@example.org', 'Seeded user ' || g, 1 from generate_series(1, $2::int) g`,
    [prefix, count],
  );
  const rows = await db.query<{ id: string }>(
    `insert into vm_allocation (user_id, pool_vm_id, provisioner, status, allocated_at, expires_at, cockpit_url)
     select u.id, $1 || '-vm-' || split_part(split_part(u.email, '-user-', 2), '@', 1),
            $3, 'ACTIVE', now() - interval '30 days', $2::timestamptz, 'https://cockpit.test/seeded'
       from users u where u.email like $1 || '-user-%'
     returning id`,
    [prefix, expiresAt, options.provisioner ?? 'pool'],
  );
  await db.query(
    `update pool_vm p set active_allocation_id = a.id
       from vm_allocation a where a.pool_vm_id = p.id and a.status = 'ACTIVE' and p.id like $1 || '-vm-%'`,
    [prefix],
  );
  return rows.map((r) => r.id);
}

export const RECORD_PAYMENT = graphql(`mutation RecordPayment($input: RecordPaymentInput!) {
  recordPayment(input: $input) { __typename
  ... on RecordPaymentSuccess { result { payment { id amountCents currency provider providerRef kind refundedCents }
    billing { creditBalanceCents currency } } }
  ... on Error { code message }
  ... on ValidationError { problems { path message } } } }`);

/** Credits a user through the admin API (recordPayment); throws unless it succeeded. */
export async function recordPayment(
  api: ApiProcess,
  userId: string,
  amountCents: number,
  extra: { currency?: string; providerRef?: string; note?: string } = {},
): Promise<{ paymentId: string; balanceCents: number }> {
  const res = await api.admin(RECORD_PAYMENT, {
    input: {
      userId,
      amountCents,
      currency: extra.currency ?? 'EUR',
      providerRef: extra.providerRef,
      note: extra.note,
    },
  });
  const result = member(res.data?.recordPayment, 'RecordPaymentSuccess');
  return { paymentId: result.result.payment.id, balanceCents: result.result.billing.creditBalanceCents };
}

export const PURCHASE_PLAN = graphql(`mutation PurchasePlan($code: String!, $periods: Int!) {
  purchasePlan(planCode: $code, periods: $periods) {
  __typename
  ... on PurchasePlanSuccess { result { allocationsRedated
    purchase { id planCode periods priceCents discountPercent periodStart periodEnd }
    user { vmQuota vmQuotaPeriodEnd } billing { creditBalanceCents } } }
  ... on InsufficientCreditError { balanceCents priceCents }
  ... on Error { code message } } }`);

/** purchasePlan as the user: the result union member. */
export async function purchasePlan(api: ApiProcess, token: string, planCode: string, periods: number) {
  const res = await api.asUser(token, PURCHASE_PLAN, { code: planCode, periods });
  if (!res.data?.purchasePlan) throw new Error(`purchasePlan failed: ${JSON.stringify(res)}`);
  return res.data.purchasePlan;
}
