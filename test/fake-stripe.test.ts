import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeForm,
  type FakeStripe,
  STRIPE_FIXTURES,
  startFakeStripe,
} from './support/stripe/fake-stripe.ts';

/**
 * The fake Stripe server held to the contract (Stripe's own example objects in
 * test/fixtures/stripe/fixtures.json): the SDK's calls against it answer objects with exactly the
 * fixtures' keys, errors in Stripe's `{ error: { type, code, message } }` shape, and the events it
 * sends verify with the `stripe` package's own verifier.
 */

let stripe: FakeStripe;
let client: Stripe;
let receiver: Server;
const received: { body: string; signature: string }[] = [];

beforeAll(async () => {
  stripe = await startFakeStripe();
  client = new Stripe(stripe.secretKey, { ...stripe.clientOptions(), maxNetworkRetries: 0 });
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        body: Buffer.concat(chunks).toString('utf8'),
        signature: String(req.headers['stripe-signature']),
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  stripe.setWebhookUrl(`http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`);
});
afterAll(async () => {
  await new Promise((resolve) => receiver?.close(resolve));
  await stripe?.stop();
});

const keys = (o: object) => Object.keys(o).sort();

const params: Stripe.Checkout.SessionCreateParams = {
  mode: 'payment',
  line_items: [
    {
      quantity: 1,
      price_data: { currency: 'eur', unit_amount: 3_000, product_data: { name: 'Account credit' } },
    },
  ],
  client_reference_id: 'user-1',
  metadata: { userId: 'user-1' },
  success_url: 'https://hero.example.test/credit/done?session_id={CHECKOUT_SESSION_ID}',
  cancel_url: 'https://hero.example.test/credit?cancelled=1',
};

describe('fake Stripe', () => {
  it('creates and retrieves sessions shaped exactly like the fixture', async () => {
    const session = await client.checkout.sessions.create(params, { idempotencyKey: 'k-1' });
    expect(keys(session)).toEqual(keys(STRIPE_FIXTURES['checkout.session']));
    expect(session).toMatchObject({
      object: 'checkout.session',
      mode: 'payment',
      amount_total: 3_000,
      currency: 'eur',
      status: 'open',
      payment_status: 'unpaid',
      client_reference_id: 'user-1',
      metadata: { userId: 'user-1' },
      url: `${stripe.url}/pay/${session.id}`,
    });
    expect(session.id).toMatch(/^cs_test_/);
    const again = await client.checkout.sessions.retrieve(session.id);
    expect(again).toEqual(session);
  });

  it('honours Idempotency-Key: same key and body, same session; same key, other body: idempotency_error', async () => {
    const count = stripe.sessions().length;
    const a = await client.checkout.sessions.create(params, { idempotencyKey: 'k-2' });
    const b = await client.checkout.sessions.create(params, { idempotencyKey: 'k-2' });
    expect(b.id).toBe(a.id);
    expect(stripe.sessions().length).toBe(count + 1);
    const err = await client.checkout.sessions
      .create({ ...params, client_reference_id: 'user-2' }, { idempotencyKey: 'k-2' })
      .catch((e) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
  });

  it("answers errors in Stripe's shape: bad key 401, unknown session 404, bad params 400", async () => {
    const res = await fetch(`${stripe.url}/v1/checkout/sessions/cs_test_nope`, {
      headers: { authorization: `Bearer ${stripe.secretKey}` },
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: {
        type: 'invalid_request_error',
        code: 'resource_missing',
        param: 'session',
        message: "No such checkout.session: 'cs_test_nope'",
      },
    });
    const bad = new Stripe('sk_test_wrong', { ...stripe.clientOptions(), maxNetworkRetries: 0 });
    expect(await bad.checkout.sessions.retrieve('cs_test_x').catch((e) => e)).toBeInstanceOf(
      Stripe.errors.StripeAuthenticationError,
    );
    const small = await client.checkout.sessions
      .create({
        ...params,
        line_items: [
          { ...params.line_items![0], price_data: { ...params.line_items![0].price_data!, unit_amount: 10 } },
        ],
      })
      .catch((e) => e);
    expect(small).toMatchObject({
      type: 'StripeInvalidRequestError',
      code: 'amount_too_small',
      statusCode: 400,
    });
  });

  it('completes a session and sends a signed checkout.session.completed shaped like the fixture event', async () => {
    const session = await client.checkout.sessions.create(params);
    received.length = 0;
    const delivery = await stripe.completeSession(session.id);
    expect(delivery?.status).toBe(200);
    const [{ body, signature }] = received;
    const event = Stripe.webhooks.constructEvent(body, signature, stripe.webhookSecret);
    expect(keys(event)).toEqual(keys(STRIPE_FIXTURES.event));
    expect(event.type).toBe('checkout.session.completed');
    const object = event.data.object as Stripe.Checkout.Session;
    expect(keys(object)).toEqual(keys(STRIPE_FIXTURES['checkout.session']));
    expect(object).toMatchObject({ id: session.id, status: 'complete', payment_status: 'paid', url: null });
    expect(object.payment_intent).toMatch(/^pi_test_/);
    expect(() => Stripe.webhooks.constructEvent(body, signature, 'whsec_other')).toThrow();
    expect((await client.checkout.sessions.retrieve(session.id)).payment_status).toBe('paid');
  });

  it('decodes the SDK’s bracketed form fields', () => {
    expect(decodeForm('a[b][0][c]=1&a[b][0][d]=x%20y&e=2')).toEqual({
      a: { b: { '0': { c: '1', d: 'x y' } } },
      e: '2',
    });
  });
});
