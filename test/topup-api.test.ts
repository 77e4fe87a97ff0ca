import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { signUpUser } from './support/factories.ts';
import { graphql, member } from './support/graphql.ts';
import { balanceOf } from './support/money.ts';
import { type FakeStripe, startFakeStripe } from './support/stripe/fake-stripe.ts';

/**
 * Self-serve top-up over GraphQL against a real api process pointed at the fake Stripe (the
 * `stripe` SDK's real HTTP path): the options, starting a checkout (bounds, double submit), the
 * session's status for its owner only, the credit by the signed webhook; and the same api
 * without STRIPE_SECRET_KEY, where top-up is unavailable.
 */

const WEB = 'https://hero.example.test';

const OPTIONS = graphql(`query TopUpOptions { topUpOptions { minCents maxCents presetsCents currency } }`);
const START = graphql(`mutation StartTopUp($amountCents: SafeInt!, $attemptKey: String) {
  startTopUp(amountCents: $amountCents, attemptKey: $attemptKey) {
    __typename
    ... on StartTopUpSuccess { checkout { sessionId url amountCents currency expiresAt } }
    ... on TopUpAmountError { minCents maxCents currency }
    ... on Error { code message }
  } }`);
const STATUS = graphql(`query TopUpCheckout($sessionId: String!) {
  topUpCheckout(sessionId: $sessionId) {
    __typename
    ... on TopUpCheckoutSuccess { checkout { sessionId status amountCents currency paymentId creditedAt } }
    ... on Error { code message }
  } }`);

let db: TestDatabase;
let stripe: FakeStripe;
let api: ApiProcess;
let bare: ApiProcess;

beforeAll(async () => {
  [db, stripe] = await Promise.all([createTestDatabase(), startFakeStripe()]);
  [api, bare] = await Promise.all([
    startApi({
      databaseUrl: db.url,
      env: { ...stripe.apiEnv(), WEB_PUBLIC_URL: WEB, TOPUP_MIN_CENTS: '1000' },
    }),
    startApi({ databaseUrl: db.url, env: { MIGRATE_ON_START: '0' } }),
  ]);
  stripe.setWebhookUrl(`${api.url}/webhooks/stripe`);
});
afterAll(async () => {
  await Promise.all([api?.stop(), bare?.stop()]);
  await stripe?.stop();
  await db?.drop();
});

describe('top-up over GraphQL', () => {
  it('offers the bounds and presets in the user’s currency; refuses an amount out of bounds', async () => {
    const user = await signUpUser(api);
    const res = await api.asUser(user.token, OPTIONS);
    expect(res.data.topUpOptions).toEqual({
      minCents: 1_000,
      maxCents: 100_000,
      presetsCents: [1_000, 3_000, 5_000, 10_000],
      currency: 'EUR',
    });
    const before = stripe.requests.length;
    for (const amountCents of [999, 100_001]) {
      const refused = member(
        (await api.asUser(user.token, START, { amountCents })).data.startTopUp,
        'TopUpAmountError',
      );
      expect(refused).toMatchObject({
        code: 'TOPUP_AMOUNT_OUT_OF_RANGE',
        message: 'The amount must be between 10.00 EUR and 1000.00 EUR, in whole cents.',
        minCents: 1_000,
        maxCents: 100_000,
      });
    }
    expect(stripe.requests.length).toBe(before);
    // Not whole cents: refused by the schema before anything runs.
    const fractional = await api.asUser(user.token, START, { amountCents: 1_000.5 });
    expect(fractional.data?.startTopUp).toBeUndefined();
    expect(fractional.errors?.[0]?.message).toMatch(/SafeInt cannot represent non-integer/);
    expect(stripe.requests.length).toBe(before);
  });

  it('a double submit makes one session; it is pending, then credited by the signed webhook, for its owner only', async () => {
    const [user, other] = await Promise.all([signUpUser(api), signUpUser(api)]);
    const count = stripe.sessions().length;
    const attemptKey = 'form-0f3a9c2e7b';
    const [first, second] = await Promise.all(
      [1, 2].map(() => api.asUser(user.token, START, { amountCents: 3_000, attemptKey })),
    );
    const a = member(first.data.startTopUp, 'StartTopUpSuccess').checkout;
    const b = member(second.data.startTopUp, 'StartTopUpSuccess').checkout;
    expect(b.sessionId).toBe(a.sessionId);
    expect(stripe.sessions().length).toBe(count + 1);
    expect(a).toMatchObject({ amountCents: 3_000, currency: 'EUR', url: `${stripe.url}/pay/${a.sessionId}` });
    expect(stripe.session(a.sessionId)).toMatchObject({
      client_reference_id: user.id,
      success_url: `${WEB}/credit/done?session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: `${WEB}/credit?cancelled=1`,
    });

    const status = async (token: string) =>
      (await api.asUser(token, STATUS, { sessionId: a.sessionId })).data.topUpCheckout;
    expect(member(await status(user.token), 'TopUpCheckoutSuccess').checkout.status).toBe('PENDING');
    expect(await status(other.token)).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });

    await stripe.completeSession(a.sessionId, { deliver: false });
    expect(member(await status(user.token), 'TopUpCheckoutSuccess').checkout.status).toBe('PAID');
    expect(await balanceOf(db, user.id)).toBe(0);

    const delivery = await stripe.deliverCompleted(a.sessionId);
    expect(delivery.status).toBe(200);
    const credited = member(await status(user.token), 'TopUpCheckoutSuccess').checkout;
    expect(credited).toMatchObject({ status: 'CREDITED', amountCents: 3_000, currency: 'EUR' });
    expect(credited.paymentId).not.toBeNull();
    expect(Math.abs(new Date(credited.creditedAt as string).getTime() - Date.now())).toBeLessThan(60_000);
    expect(await balanceOf(db, user.id)).toBe(3_000);
  });

  it("Stripe's failure is PAYMENT_PROVIDER_ERROR, not a 500", async () => {
    const user = await signUpUser(api);
    stripe.injectFault({ path: '/v1/checkout/sessions', status: 500, times: 3 });
    const res = await api.asUser(user.token, START, { amountCents: 2_000 });
    expect(res.status).toBe(200);
    expect(res.data.startTopUp).toMatchObject({
      __typename: 'PaymentProviderError',
      code: 'PAYMENT_PROVIDER_ERROR',
    });
    expect(await balanceOf(db, user.id)).toBe(0);
  });

  it('without STRIPE_SECRET_KEY: no options, TOPUP_UNAVAILABLE', async () => {
    const user = await signUpUser(bare);
    expect((await bare.asUser(user.token, OPTIONS)).data.topUpOptions).toBeNull();
    expect((await bare.asUser(user.token, START, { amountCents: 3_000 })).data.startTopUp).toMatchObject({
      __typename: 'TopUpUnavailableError',
      code: 'TOPUP_UNAVAILABLE',
    });
    expect(
      (await bare.asUser(user.token, STATUS, { sessionId: 'cs_test_x' })).data.topUpCheckout,
    ).toMatchObject({
      code: 'TOPUP_UNAVAILABLE',
    });
  });

  it('needs a user', async () => {
    const res = await api.gql(OPTIONS);
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
