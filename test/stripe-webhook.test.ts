import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { createUser, type TestUser } from './support/factories.ts';
import { graphql } from './support/graphql.ts';
import { balanceOf as balanceOfUser, ledgerSumOf } from './support/money.ts';

/**
 * POST /webhooks/stripe against a real api process: events shaped like Stripe's, signed with the
 * `stripe` package's own test header generator, every outcome checked in SQL.
 */

const SECRET = `whsec_test_${randomBytes(16).toString('hex')}`;
const API_VERSION = '2026-10-28.endive';
const UNKNOWN_USER = '00000000-0000-4000-8000-000000000000';

let db: TestDatabase;
let api: ApiProcess;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startApi({ databaseUrl: db.url, env: { STRIPE_WEBHOOK_SECRET: SECRET } });
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

// ---------------------------------------------------------------------------------------------
// Stripe-shaped fixtures

const stripeId = (prefix: string) => `${prefix}_test_${randomBytes(12).toString('hex')}`;
const nowSeconds = () => Math.floor(Date.now() / 1000);

interface StripeEventFixture {
  id: string;
  object: 'event';
  type: string;
  /** `{ object }` as Stripe sends it; anything at all in the malformed cases. */
  data?: unknown;
  [key: string]: unknown;
}

function event(type: string, object: Record<string, unknown>): StripeEventFixture {
  return {
    id: stripeId('evt'),
    object: 'event',
    api_version: API_VERSION,
    created: nowSeconds(),
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  };
}

interface SessionFields {
  id?: string;
  amount_total?: number;
  currency?: string;
  payment_status?: 'paid' | 'unpaid' | 'no_payment_required';
  client_reference_id?: string | null;
  metadata?: Record<string, string>;
  payment_intent?: string | null;
}

/** A Checkout Session in payment mode, as `data.object` of a checkout.session.* event. */
function checkoutSession(fields: SessionFields): Record<string, unknown> {
  const amount = fields.amount_total ?? 1_000;
  const paid = (fields.payment_status ?? 'paid') === 'paid';
  return {
    id: fields.id ?? stripeId('cs'),
    object: 'checkout.session',
    amount_subtotal: amount,
    amount_total: amount,
    cancel_url: 'https://hero.example.org/billing/cancelled',
    client_reference_id: fields.client_reference_id ?? null,
    created: nowSeconds() - 60,
    currency: fields.currency ?? 'eur',
    customer: stripeId('cus'),
    customer_details: { email: 'payer@example.org', name: 'Test Payer', tax_exempt: 'none' },
    expires_at: nowSeconds() + 86_400,
    livemode: false,
    metadata: fields.metadata ?? {},
    mode: 'payment',
    payment_intent: fields.payment_intent === undefined ? stripeId('pi') : fields.payment_intent,
    payment_method_types: ['card', 'sepa_debit'],
    payment_status: fields.payment_status ?? 'paid',
    status: paid ? 'complete' : 'open',
    success_url: 'https://hero.example.org/billing/thanks',
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    url: null,
  };
}

/** A Charge as `data.object` of charge.refunded (`amount_refunded` is cumulative). */
function charge(fields: {
  id?: string;
  payment_intent: string | null;
  amount: number;
  amount_refunded: number;
  currency?: string;
}): Record<string, unknown> {
  return {
    id: fields.id ?? stripeId('ch'),
    object: 'charge',
    amount: fields.amount,
    amount_captured: fields.amount,
    amount_refunded: fields.amount_refunded,
    balance_transaction: stripeId('txn'),
    captured: true,
    created: nowSeconds() - 3_600,
    currency: fields.currency ?? 'eur',
    livemode: false,
    metadata: {},
    paid: true,
    payment_intent: fields.payment_intent,
    payment_method: stripeId('pm'),
    refunded: fields.amount_refunded >= fields.amount,
    status: 'succeeded',
  };
}

// ---------------------------------------------------------------------------------------------
// Delivery

interface Delivery {
  status: number;
  body: { received?: boolean; duplicate?: boolean; status?: string; detail?: string; error?: string };
}

const serialize = (e: StripeEventFixture) => JSON.stringify(e, null, 2);

function sign(payload: string, options: { secret?: string; timestamp?: number } = {}): string {
  return Stripe.webhooks.generateTestHeaderString({
    payload,
    secret: options.secret ?? SECRET,
    timestamp: options.timestamp ?? nowSeconds(),
  });
}

/** POSTs the raw payload; `signature` null: no Stripe-Signature header at all. */
async function post(payload: string, signature: string | null, target: ApiProcess = api): Promise<Delivery> {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (signature !== null) headers['stripe-signature'] = signature;
  const res = await fetch(`${target.url}/webhooks/stripe`, { method: 'POST', headers, body: payload });
  return { status: res.status, body: (await res.json()) as Delivery['body'] };
}

/** Signs and sends an event as Stripe would. */
async function deliver(e: StripeEventFixture): Promise<Delivery> {
  const payload = serialize(e);
  return post(payload, sign(payload));
}

// ---------------------------------------------------------------------------------------------
// SQL views

const balanceOf = (userId: string) => balanceOfUser(db, userId);
const ledgerOf = async (userId: string) =>
  (
    await db.query<{ kind: string; amount_cents: string; balance_after_cents: string; reference: string }>(
      'select kind, amount_cents::text, balance_after_cents::text, reference from ledger_entry where user_id = $1 order by id',
      [userId],
    )
  ).map((r) => ({
    kind: r.kind,
    amount: Number(r.amount_cents),
    after: Number(r.balance_after_cents),
    reference: r.reference,
  }));
const ledgerSum = (userId: string) => ledgerSumOf(db, userId);
const paymentsOf = async (userId: string) =>
  (
    await db.query<{
      id: string;
      kind: string;
      amount_cents: string;
      currency: string;
      provider: string;
      provider_ref: string;
      refund_of: string | null;
    }>(
      `select id, kind, amount_cents::text, currency, provider, provider_ref, refund_of
         from payment_event where user_id = $1 order by created_at, kind`,
      [userId],
    )
  ).map((r) => ({ ...r, amount_cents: Number(r.amount_cents) }));
const webhookEvent = async (eventId: string) =>
  (
    await db.query<{ type: string; status: string; detail: string | null; user_id: string | null }>(
      `select type, status, detail, user_id from webhook_event where provider = 'stripe' and event_id = $1`,
      [eventId],
    )
  )[0];

/** Row counts of everything a webhook can write, across all users. */
async function counts() {
  const [row] = await db.query<{ webhooks: number; payments: number; ledger: number; balances: string }>(
    `select (select count(*)::int from webhook_event) as webhooks,
            (select count(*)::int from payment_event) as payments,
            (select count(*)::int from ledger_entry) as ledger,
            (select coalesce(sum(credit_balance_cents), 0)::text from billing) as balances`,
  );
  return row;
}

/** Everything about one user a webhook that does not apply must leave alone. */
async function snapshot(userId: string) {
  return {
    balance: await balanceOf(userId),
    ledger: await ledgerOf(userId),
    payments: await paymentsOf(userId),
  };
}

// ---------------------------------------------------------------------------------------------

describe('checkout.session.completed', () => {
  let user: TestUser;
  beforeAll(async () => {
    user = await createUser(api);
  });

  it('a correctly signed, paid session credits the user once: PAYMENT ledger row, stripe payment_event, APPLIED', async () => {
    const session = checkoutSession({ amount_total: 2_500, client_reference_id: user.id });
    const e = event('checkout.session.completed', session);
    const res = await deliver(e);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ received: true, status: 'APPLIED' });
    expect(res.body.detail).toMatch(/^credited 2500 EUR \(payment [0-9a-f-]{36}\)$/);

    expect(await balanceOf(user.id)).toBe(2_500);
    const payments = await paymentsOf(user.id);
    expect(payments).toEqual([
      {
        id: expect.any(String),
        kind: 'CREDIT',
        amount_cents: 2_500,
        currency: 'EUR',
        provider: 'stripe',
        provider_ref: session.payment_intent,
        refund_of: null,
      },
    ]);
    expect(await ledgerOf(user.id)).toEqual([
      { kind: 'PAYMENT', amount: 2_500, after: 2_500, reference: payments[0].id },
    ]);
    expect(await webhookEvent(e.id)).toEqual({
      type: 'checkout.session.completed',
      status: 'APPLIED',
      detail: res.body.detail,
      user_id: user.id,
    });
  });

  it('the same event replayed 10 times in parallel credits once; the others answer duplicate', async () => {
    const payer = await createUser(api);
    const session = checkoutSession({ amount_total: 4_200, client_reference_id: payer.id });
    const e = event('checkout.session.completed', session);
    const payload = serialize(e);
    const signature = sign(payload);
    const results = await Promise.all(Array.from({ length: 10 }, () => post(payload, signature)));

    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    const applied = results.filter((r) => r.body.status === 'APPLIED');
    const duplicates = results.filter((r) => r.body.duplicate === true);
    expect(applied).toHaveLength(1);
    expect(duplicates).toHaveLength(9);
    for (const d of duplicates) expect(d.body).toEqual({ received: true, duplicate: true });

    expect(await balanceOf(payer.id)).toBe(4_200);
    expect(await ledgerOf(payer.id)).toHaveLength(1);
    expect(await paymentsOf(payer.id)).toHaveLength(1);
    expect(await db.query(`select 1 from webhook_event where event_id = $1`, [e.id])).toHaveLength(1);
    expect((await webhookEvent(e.id)).status).toBe('APPLIED');

    // And once more, sequentially, long after: still nothing.
    const before = await snapshot(payer.id);
    expect((await post(payload, sign(payload))).body).toEqual({ received: true, duplicate: true });
    expect(await snapshot(payer.id)).toEqual(before);
  });

  it('two different events for one payment intent racing (completed + async_payment_succeeded) credit once', async () => {
    const payer = await createUser(api);
    const session = checkoutSession({ amount_total: 900, client_reference_id: payer.id });
    const completed = event('checkout.session.completed', session);
    const succeeded = event('checkout.session.async_payment_succeeded', session);
    const results = await Promise.all([deliver(completed), deliver(succeeded)]);
    expect(results.map((r) => r.body.status).sort()).toEqual(['APPLIED', 'IGNORED']);
    const ignored = results.find((r) => r.body.status === 'IGNORED');
    expect(ignored?.body.detail).toMatch(
      new RegExp(`payment ${session.payment_intent} was recorded already`),
    );
    expect(await balanceOf(payer.id)).toBe(900);
    expect(await ledgerSum(payer.id)).toBe(900);
    expect(await paymentsOf(payer.id)).toHaveLength(1);
  });

  it('metadata.userId names the user when there is no client_reference_id', async () => {
    const payer = await createUser(api);
    const session = checkoutSession({ amount_total: 750, metadata: { userId: payer.id } });
    const res = await deliver(event('checkout.session.completed', session));
    expect(res.body.status).toBe('APPLIED');
    expect(await balanceOf(payer.id)).toBe(750);
    expect((await paymentsOf(payer.id))[0].provider_ref).toBe(session.payment_intent);
  });

  it('a session without a payment intent is referenced by its own id', async () => {
    const payer = await createUser(api);
    const session = checkoutSession({
      amount_total: 120,
      client_reference_id: payer.id,
      payment_intent: null,
    });
    const res = await deliver(event('checkout.session.completed', session));
    expect(res.body.status).toBe('APPLIED');
    expect((await paymentsOf(payer.id))[0].provider_ref).toBe(session.id);
  });
});

describe('signature verification', () => {
  let user: TestUser;
  let payload: string;
  beforeAll(async () => {
    user = await createUser(api);
    payload = serialize(
      event(
        'checkout.session.completed',
        checkoutSession({ amount_total: 5_000, client_reference_id: user.id }),
      ),
    );
  });

  const tampered = () => {
    const body = payload.replace('"amount_total": 5000', '"amount_total": 500000');
    expect(body).not.toBe(payload);
    return body;
  };

  it.each([
    [
      'a tampered body (signed over a different body)',
      () => ({ body: tampered(), signature: sign(payload) }),
      /signature verification failed: No signatures found matching the expected signature/,
    ],
    [
      'a signature made with another secret',
      () => ({ body: payload, signature: sign(payload, { secret: 'whsec_someone_else' }) }),
      /signature verification failed: No signatures found matching the expected signature/,
    ],
    [
      'a timestamp 10 minutes old',
      () => ({ body: payload, signature: sign(payload, { timestamp: nowSeconds() - 600 }) }),
      /signature verification failed: Timestamp outside the tolerance zone/,
    ],
    ['a missing header', () => ({ body: payload, signature: null }), /^missing Stripe-Signature header$/],
    ['an empty header', () => ({ body: payload, signature: '' }), /^missing Stripe-Signature header$/],
    [
      'a malformed header (no timestamp)',
      () => ({ body: payload, signature: 'v1=deadbeef' }),
      /signature verification failed: Unable to extract timestamp and signatures from header/,
    ],
    [
      'a malformed header (garbage)',
      () => ({ body: payload, signature: 'not a stripe signature' }),
      /signature verification failed: Unable to extract timestamp and signatures from header/,
    ],
    [
      'a header without a v1 signature',
      () => ({ body: payload, signature: sign(payload).replace(',v1=', ',v0=') }),
      /signature verification failed: No signatures found with expected scheme/,
    ],
    [
      'a correctly signed body that is not JSON',
      () => ({ body: 'not json', signature: sign('not json') }),
      /^the signed body is not a JSON event: /,
    ],
    [
      'correctly signed JSON that is not an event',
      () => ({ body: '{"hello":"world"}', signature: sign('{"hello":"world"}') }),
      /^the signed body is not a Stripe event/,
    ],
  ])('400 and nothing stored: %s', async (_name, make, message) => {
    const before = await counts();
    const userBefore = await snapshot(user.id);
    const { body, signature } = make();
    const res = await post(body, signature);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(message);
    expect(res.body).not.toHaveProperty('received');
    expect(await counts()).toEqual(before);
    expect(await snapshot(user.id)).toEqual(userBefore);
  });

  it('the untampered event, signed now, still goes through afterwards (it was never recorded)', async () => {
    const res = await post(payload, sign(payload));
    expect(res.body.status).toBe('APPLIED');
    expect(await balanceOf(user.id)).toBe(5_000);
  });
});

describe('charge.refunded', () => {
  it('a partial then a full refund: REFUND 300, then REFUND 700; replays change nothing; balance = ledger', async () => {
    const payer = await createUser(api);
    const session = checkoutSession({ amount_total: 1_000, client_reference_id: payer.id });
    expect((await deliver(event('checkout.session.completed', session))).body.status).toBe('APPLIED');
    const [payment] = await paymentsOf(payer.id);
    const pi = session.payment_intent as string;
    const chargeId = stripeId('ch');

    const partial = event(
      'charge.refunded',
      charge({ id: chargeId, payment_intent: pi, amount: 1_000, amount_refunded: 300 }),
    );
    const first = await deliver(partial);
    expect(first.body).toMatchObject({ received: true, status: 'APPLIED' });
    expect(first.body.detail).toBe(`refunded 300 EUR of payment ${payment.id}`);
    expect(await balanceOf(payer.id)).toBe(700);

    const full = event(
      'charge.refunded',
      charge({ id: chargeId, payment_intent: pi, amount: 1_000, amount_refunded: 1_000 }),
    );
    const second = await deliver(full);
    expect(second.body.status).toBe('APPLIED');
    expect(second.body.detail).toBe(`refunded 700 EUR of payment ${payment.id}`);
    expect(await balanceOf(payer.id)).toBe(0);

    const payments = await paymentsOf(payer.id);
    expect(payments.filter((p) => p.kind === 'REFUND')).toEqual([
      expect.objectContaining({
        amount_cents: 300,
        currency: 'EUR',
        provider: 'stripe',
        refund_of: payment.id,
        provider_ref: `${chargeId}:refunded:300`,
      }),
      expect.objectContaining({
        amount_cents: 700,
        refund_of: payment.id,
        provider_ref: `${chargeId}:refunded:1000`,
      }),
    ]);
    const ledger = await ledgerOf(payer.id);
    expect(ledger.map((r) => [r.kind, r.amount, r.after])).toEqual([
      ['PAYMENT', 1_000, 1_000],
      ['REFUND', -300, 700],
      ['REFUND', -700, 0],
    ]);
    expect(ledger[1].reference).toBe(payments.find((p) => p.amount_cents === 300)?.id);
    for (const e of [partial, full]) {
      expect(await webhookEvent(e.id)).toMatchObject({
        type: 'charge.refunded',
        status: 'APPLIED',
        user_id: payer.id,
      });
    }

    // Replays of either, in any order, and even concurrently: nothing changes.
    const before = await snapshot(payer.id);
    const countsBefore = await counts();
    const replays = await Promise.all([deliver(partial), deliver(full), deliver(partial), deliver(full)]);
    for (const r of replays) expect(r.body).toEqual({ received: true, duplicate: true });
    expect(await snapshot(payer.id)).toEqual(before);
    expect(await counts()).toEqual(countsBefore);

    // A new event id repeating an amount already recorded (Stripe delivers out of order): IGNORED.
    const late = event(
      'charge.refunded',
      charge({ id: chargeId, payment_intent: pi, amount: 1_000, amount_refunded: 300 }),
    );
    const lateRes = await deliver(late);
    expect(lateRes.body.status).toBe('IGNORED');
    expect(lateRes.body.detail).toMatch(/nothing refunded beyond what is recorded/);
    expect(await snapshot(payer.id)).toEqual(before);
    expect(await balanceOf(payer.id)).toBe(await ledgerSum(payer.id));
  });

  it('ten concurrent deliveries of distinct refund events for one charge never refund more than the payment', async () => {
    const payer = await createUser(api);
    const session = checkoutSession({ amount_total: 1_000, client_reference_id: payer.id });
    await deliver(event('checkout.session.completed', session));
    const chargeId = stripeId('ch');
    const events = Array.from({ length: 10 }, (_, i) =>
      event(
        'charge.refunded',
        charge({
          id: chargeId,
          payment_intent: session.payment_intent as string,
          amount: 1_000,
          amount_refunded: (i + 1) * 100,
        }),
      ),
    );
    const results = await Promise.all(events.map(deliver));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(await balanceOf(payer.id)).toBe(0);
    expect(await ledgerSum(payer.id)).toBe(0);
    const refunded = (await paymentsOf(payer.id))
      .filter((p) => p.kind === 'REFUND')
      .reduce((s, p) => s + p.amount_cents, 0);
    expect(refunded).toBe(1_000);
  });

  it('a charge matching two recorded payments (its id the reference of one, its payment intent of the other) is REFUSED', async () => {
    const payer = await createUser(api);
    const chargeId = stripeId('ch');
    const pi = stripeId('pi');
    for (const ref of [chargeId, pi]) {
      const session = checkoutSession({
        amount_total: 1_000,
        client_reference_id: payer.id,
        payment_intent: ref,
      });
      expect((await deliver(event('checkout.session.completed', session))).body.status).toBe('APPLIED');
    }
    const before = await snapshot(payer.id);
    const e = event(
      'charge.refunded',
      charge({ id: chargeId, payment_intent: pi, amount: 1_000, amount_refunded: 1_000 }),
    );
    const res = await deliver(e);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('REFUSED');
    expect(res.body.detail).toBe(
      `charge ${chargeId} matches more than one recorded Stripe payment (${pi}, ${chargeId})`,
    );
    expect(await snapshot(payer.id)).toEqual(before);
  });

  it('a charge whose refund was recorded against another payment is IGNORED, not applied twice', async () => {
    const payer = await createUser(api);
    const [first, second] = [stripeId('pi'), stripeId('pi')];
    for (const pi of [first, second]) {
      const session = checkoutSession({
        amount_total: 1_000,
        client_reference_id: payer.id,
        payment_intent: pi,
      });
      expect((await deliver(event('checkout.session.completed', session))).body.status).toBe('APPLIED');
    }
    const chargeId = stripeId('ch');
    const refund = (pi: string) =>
      event(
        'charge.refunded',
        charge({ id: chargeId, payment_intent: pi, amount: 1_000, amount_refunded: 300 }),
      );
    expect((await deliver(refund(first))).body.status).toBe('APPLIED');
    const before = await snapshot(payer.id);
    const res = await deliver(refund(second));
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('IGNORED');
    expect(res.body.detail).toMatch(
      new RegExp(`^charge ${chargeId}: its refund to 300 is recorded already \\(payment [0-9a-f-]{36}\\)$`),
    );
    expect(await snapshot(payer.id)).toEqual(before);
    expect(before.balance).toBe(1_700);
  });

  it('a refund in another currency than the payment is REFUSED and changes nothing', async () => {
    const payer = await createUser(api);
    const session = checkoutSession({ amount_total: 1_000, client_reference_id: payer.id });
    await deliver(event('checkout.session.completed', session));
    const before = await snapshot(payer.id);
    const e = event(
      'charge.refunded',
      charge({
        payment_intent: session.payment_intent as string,
        amount: 1_000,
        amount_refunded: 1_000,
        currency: 'usd',
      }),
    );
    const res = await deliver(e);
    expect(res.body.status).toBe('REFUSED');
    expect(res.body.detail).toMatch(/kept in EUR; an amount in USD is refused/);
    expect(await webhookEvent(e.id)).toMatchObject({ status: 'REFUSED', user_id: null });
    expect(await snapshot(payer.id)).toEqual(before);
  });

  it('a refund that arrives before its payment answers 409 and stores nothing; the retry applies it once the payment is in', async () => {
    const payer = await createUser(api);
    const before = await counts();
    const pi = stripeId('pi');
    const c = charge({ payment_intent: pi, amount: 1_000, amount_refunded: 400 });
    const refund = event('charge.refunded', c);
    const early = await deliver(refund);
    expect(early.status).toBe(409);
    expect(early.body.error).toMatch(
      new RegExp(`no recorded Stripe payment for charge ${c.id}.*Stripe retries`),
    );
    expect(await webhookEvent(refund.id)).toBeUndefined();
    expect(await counts()).toEqual(before);

    const paid = await deliver(
      event(
        'checkout.session.completed',
        checkoutSession({ client_reference_id: payer.id, payment_intent: pi }),
      ),
    );
    expect(paid.body.status).toBe('APPLIED');
    const retried = await deliver(refund);
    expect(retried.status).toBe(200);
    expect(retried.body.status).toBe('APPLIED');
    expect(await balanceOf(payer.id)).toBe(600);
    expect(await ledgerSum(payer.id)).toBe(600);
    expect((await deliver(refund)).body).toEqual({ received: true, duplicate: true });
  });
});

describe('events that are not applied', () => {
  let user: TestUser;
  beforeAll(async () => {
    user = await createUser(api);
  });

  async function expectOutcome(e: StripeEventFixture, status: 'IGNORED' | 'REFUSED', detail: RegExp) {
    const before = await counts();
    const userBefore = await snapshot(user.id);
    const res = await deliver(e);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ received: true, status });
    expect(res.body.detail).toMatch(detail);
    expect(await webhookEvent(e.id)).toEqual({
      type: e.type,
      status,
      detail: res.body.detail,
      user_id: null,
    });
    expect(await snapshot(user.id)).toEqual(userBefore);
    expect(await counts()).toEqual({ ...before, webhooks: before.webhooks + 1 });
    // A replay of a not-applied event is a duplicate too.
    expect((await deliver(e)).body).toEqual({ received: true, duplicate: true });
  }

  it('an unpaid session is IGNORED; its async_payment_succeeded later credits it', async () => {
    const session = checkoutSession({
      amount_total: 3_000,
      client_reference_id: user.id,
      payment_status: 'unpaid',
    });
    await expectOutcome(event('checkout.session.completed', session), 'IGNORED', /is not paid \(unpaid\)/);

    const succeeded = event('checkout.session.async_payment_succeeded', {
      ...session,
      payment_status: 'paid',
    });
    const res = await deliver(succeeded);
    expect(res.body.status).toBe('APPLIED');
    expect(await balanceOf(user.id)).toBe(3_000);
    expect((await paymentsOf(user.id)).map((p) => p.provider_ref)).toEqual([session.payment_intent]);
  });

  it('an unknown user is REFUSED with the reason', async () => {
    await expectOutcome(
      event('checkout.session.completed', checkoutSession({ client_reference_id: UNKNOWN_USER })),
      'REFUSED',
      new RegExp(`User ${UNKNOWN_USER} was not found`),
    );
  });

  it('a session naming no user (or not a uuid) is REFUSED', async () => {
    await expectOutcome(
      event('checkout.session.completed', checkoutSession({})),
      'REFUSED',
      /names no user \(client_reference_id or metadata.userId\)/,
    );
    await expectOutcome(
      event('checkout.session.completed', checkoutSession({ client_reference_id: 'user-42' })),
      'REFUSED',
      /names no user/,
    );
  });

  it('a session in USD for a EUR account is REFUSED: no conversion', async () => {
    await expectOutcome(
      event('checkout.session.completed', checkoutSession({ currency: 'usd', client_reference_id: user.id })),
      'REFUSED',
      /kept in EUR; an amount in USD is refused/,
    );
  });

  it('an event type that is not handled is IGNORED', async () => {
    await expectOutcome(
      event('customer.created', { id: stripeId('cus'), object: 'customer', email: 'someone@example.org' }),
      'IGNORED',
      /event type customer.created is not handled/,
    );
  });

  it('async_payment_succeeded for a payment intent already credited by completed is IGNORED: no double credit', async () => {
    const payer = await createUser(api);
    const session = checkoutSession({ amount_total: 1_500, client_reference_id: payer.id });
    expect((await deliver(event('checkout.session.completed', session))).body.status).toBe('APPLIED');
    const before = await snapshot(payer.id);
    const e = event('checkout.session.async_payment_succeeded', session);
    const res = await deliver(e);
    expect(res.body.status).toBe('IGNORED');
    expect(res.body.detail).toMatch(
      new RegExp(`payment ${session.payment_intent} was recorded already \\(${before.payments[0].id}\\)`),
    );
    expect(await webhookEvent(e.id)).toMatchObject({ status: 'IGNORED', user_id: null });
    expect(await snapshot(payer.id)).toEqual(before);
    expect(before.balance).toBe(1_500);
  });
});

describe('signed events the product cannot apply', () => {
  /** The payer every malformed event points at, with one recorded payment a refund could hit. */
  let payer: TestUser;
  let ctx: { userId: string; paymentIntent: string };
  beforeAll(async () => {
    payer = await createUser(api);
    const session = checkoutSession({ amount_total: 1_000, client_reference_id: payer.id });
    expect((await deliver(event('checkout.session.completed', session))).body.status).toBe('APPLIED');
    ctx = { userId: payer.id, paymentIntent: session.payment_intent as string };
  });

  type Make = (c: typeof ctx) => StripeEventFixture;
  /** A paid checkout for the payer with `change` laid over the session (undefined: no such key). */
  const checkoutWith =
    (change: Record<string, unknown>): Make =>
    (c) =>
      event('checkout.session.completed', {
        ...checkoutSession({ amount_total: 2_000, client_reference_id: c.userId }),
        ...change,
      });
  /** A refund of 400 of the payer's payment with `change` laid over the charge. */
  const refundWith =
    (change: Record<string, unknown>): Make =>
    (c) =>
      event('charge.refunded', {
        ...charge({ payment_intent: c.paymentIntent, amount: 1_000, amount_refunded: 400 }),
        ...change,
      });
  const withData =
    (type: string, data: unknown): Make =>
    () => ({ ...event(type, {}), data });

  const WEBHOOK_EVENTS = graphql(`query($status: WebhookEventStatus) {
    webhookEvents(provider: "stripe", status: $status, first: 100) {
      edges { node { eventId type status detail userId } } } }`);
  async function shownToAdmin(eventId: string) {
    const res = await api.admin(WEBHOOK_EVENTS, { status: 'REFUSED' });
    expect(res.errors).toBeUndefined();
    return res.data.webhookEvents.edges.map((e) => e.node).find((n) => n.eventId === eventId);
  }

  it.each<[string, Make, RegExp]>([
    [
      'amount_total 10.5',
      checkoutWith({ amount_total: 10.5 }),
      /cannot be credited: data\.object\.amount_total: must be a whole number of cents$/,
    ],
    [
      "amount_total 10^15 (over recordPayment's 10^12)",
      checkoutWith({ amount_total: 1e15 }),
      /data\.object\.amount_total: must be at most 1000000000000 cents$/,
    ],
    ['amount_total negative', checkoutWith({ amount_total: -500 }), /amount_total: must be more than 0$/],
    [
      'amount_total 0 on a paid session',
      checkoutWith({ amount_total: 0 }),
      /amount_total: must be more than 0$/,
    ],
    [
      'amount_total as a string',
      checkoutWith({ amount_total: '2000' }),
      /amount_total: Invalid input: expected number, received string$/,
    ],
    [
      'amount_total null on a paid session',
      checkoutWith({ amount_total: null }),
      /amount_total: Invalid input: expected number, received null$/,
    ],
    [
      'no currency',
      checkoutWith({ currency: undefined }),
      /data\.object\.currency: Invalid input: expected string, received undefined$/,
    ],
    [
      'a currency that is not an ISO code',
      checkoutWith({ currency: 'euro' }),
      /currency: must be a three-letter/,
    ],
    [
      'data.object null',
      withData('checkout.session.completed', { object: null }),
      /^malformed checkout session: data\.object: Invalid input: expected object, received null$/,
    ],
    [
      'no data at all',
      withData('checkout.session.completed', undefined),
      /^malformed checkout session: data: Invalid input: expected object, received undefined$/,
    ],
    [
      'data.object an array',
      withData('checkout.session.async_payment_succeeded', { object: [checkoutSession({})] }),
      /^malformed checkout session: data\.object: Invalid input: expected object, received array$/,
    ],
    [
      'data.object of another kind (a charge)',
      (c) =>
        event(
          'checkout.session.completed',
          charge({ payment_intent: c.paymentIntent, amount: 2_000, amount_refunded: 0 }),
        ),
      /data\.object\.object: Invalid input: expected "checkout\.session"/,
    ],
    [
      'an unknown payment_status',
      checkoutWith({ payment_status: 'pending' }),
      /data\.object\.payment_status: Invalid option/,
    ],
    [
      'neither client_reference_id nor metadata',
      checkoutWith({ client_reference_id: null, metadata: undefined }),
      /names no user \(client_reference_id or metadata\.userId\)$/,
    ],
    [
      'metadata.userId not a string',
      (c) => checkoutWith({ client_reference_id: null, metadata: { userId: { id: c.userId } } })(c),
      /names no user/,
    ],
    [
      'client_reference_id a number',
      checkoutWith({ client_reference_id: 42 }),
      /client_reference_id: Invalid input: expected string, received number$/,
    ],
    [
      'an unknown user id',
      checkoutWith({ client_reference_id: UNKNOWN_USER }),
      new RegExp(`User ${UNKNOWN_USER} was not found$`),
    ],
    [
      'NUL in the session id',
      checkoutWith({ id: 'cs_test_\u0000x' }),
      /^malformed checkout session: data\.object\.id: must be a Stripe id/,
    ],
    [
      'NUL in the payment intent',
      checkoutWith({ payment_intent: 'pi_\u0000' }),
      /data\.object\.payment_intent: must be a Stripe id: 1 to 255 printable ASCII characters/,
    ],
    [
      'a lone surrogate in the payment intent',
      checkoutWith({ payment_intent: 'pi_\ud800' }),
      /data\.object\.payment_intent: must be a Stripe id/,
    ],
    [
      'a payment intent of 100 000 characters (too large for a btree key)',
      checkoutWith({ payment_intent: `pi_${randomBytes(50_000).toString('hex')}` }),
      /data\.object\.payment_intent: must be a Stripe id/,
    ],
    [
      'charge.refunded without a currency',
      refundWith({ currency: undefined }),
      /^malformed charge: data\.object\.currency: Invalid input: expected string, received undefined$/,
    ],
    [
      'charge.refunded with amount_refunded 10.5',
      refundWith({ amount_refunded: 10.5 }),
      /^malformed charge: data\.object\.amount_refunded: must be a whole number of cents$/,
    ],
    [
      'charge.refunded with amount_refunded negative',
      refundWith({ amount_refunded: -400 }),
      /amount_refunded: must not be negative$/,
    ],
    [
      'charge.refunded with amount_refunded as a string',
      refundWith({ amount_refunded: '400' }),
      /amount_refunded: Invalid input: expected number, received string$/,
    ],
    [
      'charge.refunded with data.object null',
      withData('charge.refunded', { object: null }),
      /^malformed charge: data\.object: Invalid input: expected object, received null$/,
    ],
    [
      'charge.refunded with NUL in the charge id',
      refundWith({ id: 'ch_\u0000' }),
      /data\.object\.id: must be a Stripe id/,
    ],
  ])('REFUSED, stored with the reason, nothing credited: %s', async (_name, make, reason) => {
    const e = make(ctx);
    const before = await counts();
    const payerBefore = await snapshot(payer.id);
    const res = await deliver(e);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ received: true, status: 'REFUSED' });
    expect(res.body.detail).toMatch(reason);
    expect(await webhookEvent(e.id)).toEqual({
      type: e.type,
      status: 'REFUSED',
      detail: res.body.detail,
      user_id: null,
    });
    expect(await shownToAdmin(e.id)).toEqual({
      eventId: e.id,
      type: e.type,
      status: 'REFUSED',
      detail: res.body.detail,
      userId: null,
    });
    expect(await snapshot(payer.id)).toEqual(payerBefore);
    expect(await counts()).toEqual({ ...before, webhooks: before.webhooks + 1 });
    // Stripe's retry of it (it was answered 2xx, but may come again) changes nothing either.
    expect((await deliver(e)).body).toEqual({ received: true, duplicate: true });
    expect(await snapshot(payer.id)).toEqual(payerBefore);
  });

  /** A signed body shaped like an event with its envelope fields replaced. */
  const envelope = (fields: Record<string, unknown>) => () =>
    JSON.stringify({
      ...event('checkout.session.completed', checkoutSession({ client_reference_id: ctx.userId })),
      ...fields,
    });

  it.each<[string, () => string, RegExp]>([
    [
      'an event id with NUL',
      envelope({ id: 'evt_\u0000' }),
      /^the signed body is not a Stripe event: id: must be a Stripe id/,
    ],
    [
      'an empty event id',
      envelope({ id: '' }),
      /^the signed body is not a Stripe event: id: must be a Stripe id/,
    ],
    ['an event id with a lone surrogate', envelope({ id: 'evt_\udc00' }), /: id: must be a Stripe id/],
    [
      'an event id of 100 000 characters (too large for a btree key)',
      envelope({ id: `evt_${randomBytes(50_000).toString('hex')}` }),
      /: id: must be a Stripe id/,
    ],
    [
      'an event id that is a number',
      envelope({ id: 42 }),
      /: id: Invalid input: expected string, received number$/,
    ],
    ['no type', envelope({ type: undefined }), /: type: Invalid input: expected string, received undefined$/],
    [
      'a type with NUL',
      envelope({ type: 'checkout.session.completed\u0000' }),
      /: type: must be an event type/,
    ],
    [
      'JSON null',
      () => 'null',
      /^the signed body is not a Stripe event: Invalid input: expected object, received null$/,
    ],
    [
      'a JSON array',
      () => '[]',
      /^the signed body is not a Stripe event: Invalid input: expected object, received array$/,
    ],
  ])('400 and nothing stored, no id or type to store it under: %s', async (_name, make, error) => {
    const before = await counts();
    const payerBefore = await snapshot(payer.id);
    const payload = make();
    const res = await post(payload, sign(payload));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(error);
    expect(res.body).not.toHaveProperty('received');
    expect(await counts()).toEqual(before);
    expect(await snapshot(payer.id)).toEqual(payerBefore);
  });

  it('after all of them, a valid checkout and a valid refund each apply exactly once', async () => {
    const before = await snapshot(payer.id);
    expect(before.balance).toBe(1_000);
    expect(before.ledger).toHaveLength(1);

    const session = checkoutSession({ amount_total: 2_000, client_reference_id: payer.id });
    const paid = event('checkout.session.completed', session);
    expect((await deliver(paid)).body.status).toBe('APPLIED');
    const refund = event(
      'charge.refunded',
      charge({ payment_intent: ctx.paymentIntent, amount: 1_000, amount_refunded: 400 }),
    );
    expect((await deliver(refund)).body.status).toBe('APPLIED');
    for (const e of [paid, refund]) {
      expect((await deliver(e)).body).toEqual({ received: true, duplicate: true });
    }

    expect(await balanceOf(payer.id)).toBe(1_000 + 2_000 - 400);
    expect(await ledgerSum(payer.id)).toBe(2_600);
    expect((await ledgerOf(payer.id)).map((r) => [r.kind, r.amount])).toEqual([
      ['PAYMENT', 1_000],
      ['PAYMENT', 2_000],
      ['REFUND', -400],
    ]);
    expect((await paymentsOf(payer.id)).map((p) => [p.kind, p.amount_cents])).toEqual([
      ['CREDIT', 1_000],
      ['CREDIT', 2_000],
      ['REFUND', 400],
    ]);
  });

  it("a checkout of exactly 10^12 cents, recordPayment's upper bound, is credited", async () => {
    const rich = await createUser(api);
    const res = await deliver(
      event(
        'checkout.session.completed',
        checkoutSession({ amount_total: 1e12, client_reference_id: rich.id }),
      ),
    );
    expect(res.body.status).toBe('APPLIED');
    expect(await balanceOf(rich.id)).toBe(1e12);
  });

  it('any signed event built from hostile values answers 200, 400 or 409, and moves money only when APPLIED', async () => {
    const target = await createUser(api);
    const session = checkoutSession({ amount_total: 5_000, client_reference_id: target.id });
    expect((await deliver(event('checkout.session.completed', session))).body.status).toBe('APPLIED');
    const pi = session.payment_intent as string;

    const nasty = fc
      .array(
        fc.oneof(
          fc.constantFrom('\u0000', '\ud800', '\udfff', 'pi_', target.id),
          fc.string({ unit: 'binary' }),
        ),
        {
          maxLength: 4,
        },
      )
      .map((parts) => parts.join(''));
    const value = fc.oneof(
      nasty,
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom(
        null,
        undefined,
        -1,
        0,
        0.5,
        10.5,
        1e12,
        1e12 + 1,
        1e15,
        2 ** 63,
        '1000',
        'eur',
        'EUR',
        [],
        {},
      ),
      fc.integer({ min: 1, max: 10_000 }),
    );
    const fields = [
      'id',
      'object',
      'amount_total',
      'amount_refunded',
      'currency',
      'client_reference_id',
      'metadata',
      'payment_intent',
      'payment_status',
    ];
    const rarely = <T>(arb: fc.Arbitrary<T>) =>
      fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
    const hostile = fc.record({
      type: fc.constantFrom(
        'checkout.session.completed',
        'checkout.session.async_payment_succeeded',
        'charge.refunded',
      ),
      changes: fc.dictionary(fc.constantFrom(...fields), value, { maxKeys: 3 }),
      // Mostly the object's fields: a bad event id or data stops at the first check.
      envelope: rarely(fc.record({ id: value })),
      data: rarely(fc.record({ value })),
    });

    await fc.assert(
      fc.asyncProperty(hostile, async ({ type, changes, envelope, data }) => {
        const base =
          type === 'charge.refunded'
            ? charge({ payment_intent: pi, amount: 5_000, amount_refunded: 100 })
            : checkoutSession({ amount_total: 5_000, client_reference_id: target.id });
        const e = { ...event(type, { ...base, ...changes }), ...envelope };
        if (data) e.data = data.value;
        const before = await counts();
        const targetBefore = await snapshot(target.id);
        const payload = JSON.stringify(e);
        const res = await post(payload, sign(payload));
        expect([200, 400, 409]).toContain(res.status);
        if (res.body.status === 'APPLIED') {
          const [, verb, cents] = /^(credited|refunded) (\d+) EUR /.exec(res.body.detail ?? '') ?? [];
          const moved = verb === 'credited' ? Number(cents) : -Number(cents);
          expect(await balanceOf(target.id)).toBe(targetBefore.balance + moved);
        } else {
          expect(await snapshot(target.id)).toEqual(targetBefore);
          expect((await counts()).balances).toBe(before.balances);
        }
        if (res.status !== 200) expect(await counts()).toEqual(before);
        expect(await balanceOf(target.id)).toBe(await ledgerSum(target.id));
      }),
      { numRuns: 80 },
    );
  });
});

describe('the endpoint itself', () => {
  it('GET (and other methods) answer 405 with Allow: POST', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const res = await fetch(`${api.url}/webhooks/stripe`, { method });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
      expect(await res.json()).toEqual({ error: 'use POST' });
    }
  });

  /** A signed event whose body is just over the 1 MiB the endpoint reads. */
  function oversized() {
    const e = event('checkout.session.completed', {
      ...checkoutSession({ client_reference_id: UNKNOWN_USER }),
      metadata: { padding: 'x'.repeat((1 << 20) + 1) },
    });
    const payload = serialize(e);
    return { payload, signature: sign(payload) };
  }

  it('a body over 1 MiB answers 413 with the limit, stores nothing, and the api keeps serving', async () => {
    const before = await counts();
    const { payload, signature } = oversized();
    const res = await post(payload, signature);
    expect(res.status).toBe(413);
    expect(res.body.error).toMatch(/larger than 1048576 bytes/);
    expect(await counts()).toEqual(before);
    expect((await fetch(`${api.url}/webhooks/stripe`, { method: 'GET' })).status).toBe(405);
  });

  it('an api started without STRIPE_WEBHOOK_SECRET answers 503 and stores nothing', async () => {
    const bare = await startApi({ databaseUrl: db.url });
    try {
      const before = await counts();
      const payload = serialize(
        event('checkout.session.completed', checkoutSession({ client_reference_id: UNKNOWN_USER })),
      );
      const res = await post(payload, sign(payload), bare);
      expect(res.status).toBe(503);
      expect(res.body.error).toMatch(/not configured \(set STRIPE_WEBHOOK_SECRET\)/);
      expect(await counts()).toEqual(before);
    } finally {
      await bare.stop();
    }
  });
});
