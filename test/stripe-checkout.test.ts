import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createStripeClient,
  DEFAULT_TOPUP_LIMITS,
  startTopUpCheckout,
  type TopUpCheckout,
  topUpCheckoutStatus,
  topUpOptions,
} from '@hero/core/billing/checkout';
import { handleStripeWebhook } from '@hero/core/billing/stripe-webhook';
import { PaymentProviderError, TopUpAmountError } from '@hero/core/errors';
import { createLogger } from '@hero/core/lib/logger';
import { useTestDatabase } from '@hero/core/testing/database';
import { createTestUser, errorCodeOf } from '@hero/core/testing/factories';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeStripe, startFakeStripe } from './support/stripe/fake-stripe.ts';

/**
 * The top-up domain functions (core/src/billing/checkout.ts) in-process, through the real
 * `stripe` SDK against the fake Stripe server, with the webhook handler behind a small HTTP
 * server of the test: every outcome checked in SQL and in the fake's record of requests.
 */

const db = useTestDatabase();
const log = createLogger({ name: 'test', level: 'silent', pretty: false });
const WEB = 'https://hero.example.test';

let stripe: FakeStripe;
let webhookServer: Server;
let checkout: TopUpCheckout;

beforeAll(async () => {
  stripe = await startFakeStripe();
  webhookServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const answer = await handleStripeWebhook(
        db.em(),
        { secret: stripe.webhookSecret, log },
        Buffer.concat(chunks),
        req.headers['stripe-signature'] as string | undefined,
      );
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => webhookServer.listen(0, '127.0.0.1', resolve));
  stripe.setWebhookUrl(`http://127.0.0.1:${(webhookServer.address() as AddressInfo).port}/webhooks/stripe`);
  checkout = {
    stripe: createStripeClient({ secretKey: stripe.secretKey, apiUrl: stripe.url }),
    settings: { ...DEFAULT_TOPUP_LIMITS, returnUrl: WEB },
    log,
  };
});
afterAll(async () => {
  await new Promise((resolve) => webhookServer?.close(resolve));
  await stripe?.stop();
});

const balanceOf = async (userId: string) =>
  Number(
    (await db.query('select credit_balance_cents from billing where user_id = $1', [userId]))[0]
      .credit_balance_cents,
  );

describe('startTopUpCheckout', () => {
  it('creates one payment-mode session for the user, in the billing currency, back to the web UI', async () => {
    const user = await createTestUser(db.em());
    const before = stripe.requests.length;
    const started = await startTopUpCheckout(db.em(), checkout, { userId: user.id, amountCents: 3_000 });
    expect(started).toMatchObject({ amountCents: 3_000, currency: 'EUR' });
    expect(started.url).toBe(`${stripe.url}/pay/${started.sessionId}`);
    expect(started.expiresAt.getTime()).toBeGreaterThan(Date.now());

    const [request] = stripe.requests.slice(before);
    expect(request.method).toBe('POST');
    expect(request.idempotencyKey).toMatch(new RegExp(`^topup-${user.id}-.+-3000$`));
    expect(request.params).toEqual({
      mode: 'payment',
      line_items: {
        '0': {
          quantity: '1',
          price_data: { currency: 'eur', unit_amount: '3000', product_data: { name: 'Account credit' } },
        },
      },
      client_reference_id: user.id,
      metadata: { userId: user.id, purpose: 'topup' },
      customer_email: user.email,
      success_url: `${WEB}/credit/done?session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: `${WEB}/credit?cancelled=1`,
    });
    // Nothing is credited by starting a checkout.
    expect(await balanceOf(user.id)).toBe(0);
  });

  it('a double submit (same attempt, same amount) makes one session; another attempt a new one', async () => {
    const user = await createTestUser(db.em());
    const attemptKey = 'attempt-0123456789';
    const count = stripe.sessions().length;
    const [a, b] = await Promise.all([
      startTopUpCheckout(db.em(), checkout, { userId: user.id, amountCents: 5_000, attemptKey }),
      startTopUpCheckout(db.em(), checkout, { userId: user.id, amountCents: 5_000, attemptKey }),
    ]);
    expect(b.sessionId).toBe(a.sessionId);
    const again = await startTopUpCheckout(db.em(), checkout, {
      userId: user.id,
      amountCents: 5_000,
      attemptKey,
    });
    expect(again.sessionId).toBe(a.sessionId);
    expect(stripe.sessions().length).toBe(count + 1);
    // The same form with another amount is another request, not an idempotency error.
    const other = await startTopUpCheckout(db.em(), checkout, {
      userId: user.id,
      amountCents: 6_000,
      attemptKey,
    });
    expect(other.sessionId).not.toBe(a.sessionId);
    const fresh = await startTopUpCheckout(db.em(), checkout, { userId: user.id, amountCents: 5_000 });
    expect(fresh.sessionId).not.toBe(a.sessionId);
    expect(stripe.sessions().length).toBe(count + 3);
  });

  it.each([
    [499, 'below the minimum'],
    [100_001, 'above the maximum'],
    [1_000.5, 'not whole cents'],
    [0, 'zero'],
    [-500, 'negative'],
  ])('refuses %s (%s) with TOPUP_AMOUNT_OUT_OF_RANGE and asks Stripe nothing', async (amountCents) => {
    const user = await createTestUser(db.em());
    const before = stripe.requests.length;
    const err = await startTopUpCheckout(db.em(), checkout, { userId: user.id, amountCents }).catch((e) => e);
    expect(err).toBeInstanceOf(TopUpAmountError);
    expect(err.code).toBe('TOPUP_AMOUNT_OUT_OF_RANGE');
    expect(err.message).toBe('The amount must be between 5.00 EUR and 1000.00 EUR, in whole cents.');
    expect(stripe.requests.length).toBe(before);
  });

  it('without a configured key: TOPUP_UNAVAILABLE, and no options', async () => {
    const user = await createTestUser(db.em());
    expect(
      await errorCodeOf(startTopUpCheckout(db.em(), null, { userId: user.id, amountCents: 1_000 })),
    ).toBe('TOPUP_UNAVAILABLE');
    expect(await topUpOptions(db.em(), null, user.id)).toBeNull();
    expect(await topUpOptions(db.em(), checkout, user.id)).toEqual({
      minCents: 500,
      maxCents: 100_000,
      presetsCents: [1_000, 3_000, 5_000, 10_000],
      currency: 'EUR',
    });
  });

  it("uses the user's own currency", async () => {
    const user = await createTestUser(db.em(), { currency: 'CHF' });
    const started = await startTopUpCheckout(db.em(), checkout, { userId: user.id, amountCents: 1_000 });
    expect(started.currency).toBe('CHF');
    expect(stripe.session(started.sessionId)?.currency).toBe('chf');
  });

  it("Stripe's errors become PAYMENT_PROVIDER_ERROR (never a crash); a wrong key too", async () => {
    const user = await createTestUser(db.em());
    stripe.injectFault({
      path: '/v1/checkout/sessions',
      status: 400,
      code: 'amount_too_small',
      message: 'too small',
    });
    const refused = await startTopUpCheckout(db.em(), checkout, {
      userId: user.id,
      amountCents: 1_000,
    }).catch((e) => e);
    expect(refused).toBeInstanceOf(PaymentProviderError);
    expect(refused).toMatchObject({
      code: 'PAYMENT_PROVIDER_ERROR',
      providerCode: 'amount_too_small',
      retryable: false,
    });

    // Stripe down: the SDK retries (same idempotency key), then gives up.
    stripe.injectFault({ path: '/v1/checkout/sessions', status: 503, times: 3 });
    const down = await startTopUpCheckout(db.em(), checkout, { userId: user.id, amountCents: 1_000 }).catch(
      (e) => e,
    );
    expect(down).toMatchObject({ code: 'PAYMENT_PROVIDER_ERROR', retryable: true });
    const keys = stripe.requests.slice(-3).map((r) => r.idempotencyKey);
    expect(new Set(keys).size).toBe(1);

    // One 503, then the retry goes through: one session.
    stripe.injectFault({ path: '/v1/checkout/sessions', status: 503, times: 1 });
    const count = stripe.sessions().length;
    await startTopUpCheckout(db.em(), checkout, { userId: user.id, amountCents: 1_000 });
    expect(stripe.sessions().length).toBe(count + 1);

    const wrongKey: TopUpCheckout = {
      ...checkout,
      stripe: createStripeClient({ secretKey: 'sk_test_wrong', apiUrl: stripe.url }),
    };
    expect(
      await startTopUpCheckout(db.em(), wrongKey, { userId: user.id, amountCents: 1_000 }).catch((e) => e),
    ).toMatchObject({ code: 'PAYMENT_PROVIDER_ERROR', providerCode: 'api_key_invalid', retryable: false });
  });
});

describe('topUpCheckoutStatus', () => {
  it('PENDING, then PAID, then CREDITED once the signed webhook landed; a replay changes nothing', async () => {
    const user = await createTestUser(db.em());
    const started = await startTopUpCheckout(db.em(), checkout, { userId: user.id, amountCents: 3_000 });
    const status = () =>
      topUpCheckoutStatus(db.em(), checkout, { userId: user.id, sessionId: started.sessionId });

    expect(await status()).toMatchObject({
      status: 'PENDING',
      amountCents: 3_000,
      currency: 'EUR',
      paymentId: null,
    });
    await stripe.completeSession(started.sessionId, { deliver: false });
    expect(await status()).toMatchObject({ status: 'PAID', paymentId: null });
    expect(await balanceOf(user.id)).toBe(0);

    const delivery = await stripe.deliverCompleted(started.sessionId);
    expect(delivery).toMatchObject({ status: 200, body: { received: true, status: 'APPLIED' } });
    const credited = await status();
    expect(credited).toMatchObject({ status: 'CREDITED', amountCents: 3_000, currency: 'EUR' });
    expect(credited.paymentId).toMatch(/^[0-9a-f-]{36}$/);
    expect(credited.creditedAt).toBeInstanceOf(Date);
    expect(Math.abs((credited.creditedAt as Date).getTime() - Date.now())).toBeLessThan(60_000);
    expect(await balanceOf(user.id)).toBe(3_000);
    const [payment] = await db.query('select provider, provider_ref from payment_event where id = $1', [
      credited.paymentId,
    ]);
    expect(payment).toEqual({
      provider: 'stripe',
      provider_ref: stripe.session(started.sessionId)?.payment_intent,
    });

    expect((await stripe.deliverCompleted(started.sessionId)).status).toBe(200);
    expect(await balanceOf(user.id)).toBe(3_000);
  });

  it("another user's session, an unknown id and a malformed one are NOT_FOUND", async () => {
    const [owner, other] = [await createTestUser(db.em()), await createTestUser(db.em())];
    const started = await startTopUpCheckout(db.em(), checkout, { userId: owner.id, amountCents: 1_000 });
    const codeFor = (userId: string, sessionId: string) =>
      errorCodeOf(topUpCheckoutStatus(db.em(), checkout, { userId, sessionId }));
    expect(await codeFor(other.id, started.sessionId)).toBe('NOT_FOUND');
    expect(await codeFor(owner.id, 'cs_test_doesnotexist')).toBe('NOT_FOUND');
    const before = stripe.requests.length;
    expect(await codeFor(owner.id, '../v1/charges')).toBe('NOT_FOUND');
    expect(await codeFor(owner.id, 'cs_ spaces')).toBe('NOT_FOUND');
    expect(stripe.requests.length).toBe(before);
  });

  it('EXPIRED when the session ended unpaid', async () => {
    const user = await createTestUser(db.em());
    const started = await startTopUpCheckout(db.em(), checkout, { userId: user.id, amountCents: 1_000 });
    stripe.expireSession(started.sessionId);
    expect(
      (await topUpCheckoutStatus(db.em(), checkout, { userId: user.id, sessionId: started.sessionId }))
        .status,
    ).toBe('EXPIRED');
  });
});
