/**
 * A local fake Stripe for tests: a real HTTP server on 127.0.0.1 that answers the part of the
 * Stripe API a top-up uses (`POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/:id`), with
 * objects of exactly the shapes of Stripe's own fixtures (test/fixtures/stripe/fixtures.json),
 * so the product talks to it through the official `stripe` SDK (host, port, protocol). It also
 * serves a hosted "payment page" at each session's `url` and sends signed webhook events (the
 * `stripe` package's own test header generator) to the api's /webhooks/stripe.
 *
 * ```ts
 * const stripe = await startFakeStripe();
 * const api = await startApi({ databaseUrl, env: { ...stripe.apiEnv(), WEB_PUBLIC_URL: webUrl } });
 * stripe.setWebhookUrl(`${api.url}/webhooks/stripe`);
 * // the product creates a session; the browser goes to session.url, or a test calls:
 * await stripe.completeSession(sessionId); // paid + signed checkout.session.completed delivered
 * ```
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Stripe from 'stripe';

const FIXTURES_FILE = path.resolve(import.meta.dirname, '../../fixtures/stripe/fixtures.json');

/** Stripe's example objects, by resource name (`checkout.session`, `event`, …). */
export const STRIPE_FIXTURES = (
  JSON.parse(readFileSync(FIXTURES_FILE, 'utf8')) as { resources: Record<string, Record<string, unknown>> }
).resources;

/** The API version the fake stamps on events (the SDK's own). */
export const FAKE_STRIPE_API_VERSION = '2026-10-28.endive';

export interface FakeStripeOptions {
  /** Default `sk_test_fake_<random>`. */
  secretKey?: string;
  /** The endpoint's signing secret; default `whsec_fake_<random>`. */
  webhookSecret?: string;
  /** Where events go (the api's `/webhooks/stripe`); can be set later with setWebhookUrl. */
  webhookUrl?: string;
  /** The hosted page's "Pay" delivers checkout.session.completed at once; default true. */
  deliverOnPay?: boolean;
}

export interface FakeStripeFault {
  method?: string;
  /** Substring of, or pattern for, the request path (e.g. `/v1/checkout/sessions`). */
  path: string | RegExp;
  status: number;
  /** Stripe's error `type`; default `api_error` for 5xx, else `invalid_request_error`. */
  type?: string;
  code?: string;
  message?: string;
  /** How many matching requests fail; default 1 (Infinity allowed). */
  times?: number;
}

export interface FakeStripeRequest {
  method: string;
  path: string;
  idempotencyKey: string | null;
  status: number;
  /** The decoded form body of a POST. */
  params: Record<string, unknown>;
}

export interface WebhookDelivery {
  event: Stripe.Event;
  status: number;
  body: unknown;
}

export type CheckoutSession = Stripe.Checkout.Session;

export interface FakeStripe {
  /** http://127.0.0.1:<port>: the API base (STRIPE_API_URL) and the hosted pages' origin. */
  url: string;
  secretKey: string;
  webhookSecret: string;
  /** The variables that point an api at this fake: STRIPE_SECRET_KEY, STRIPE_API_URL, STRIPE_WEBHOOK_SECRET. */
  apiEnv(): { STRIPE_SECRET_KEY: string; STRIPE_API_URL: string; STRIPE_WEBHOOK_SECRET: string };
  /** The SDK's options for this fake (host, port, protocol). */
  clientOptions(): { host: string; port: number; protocol: 'http' };
  setWebhookUrl(url: string): void;
  /** Whether the hosted page's "Pay" also delivers the webhook (default: the option, true). */
  deliverOnPay: boolean;
  /** Every session created, oldest first. */
  sessions(): CheckoutSession[];
  session(id: string): CheckoutSession | undefined;
  /** Every API request (not the hosted pages), oldest first. */
  requests: FakeStripeRequest[];
  /**
   * What the customer paying does: the session becomes `complete`/`paid` with a payment intent;
   * then (unless `deliver: false`) the signed `checkout.session.completed` event is POSTed to the
   * webhook URL, and its answer returned.
   */
  completeSession(id: string, options?: { deliver?: boolean }): Promise<WebhookDelivery | null>;
  /** Sends the session's `checkout.session.completed` event (again, e.g. a duplicate). */
  deliverCompleted(id: string): Promise<WebhookDelivery>;
  /** The session ends unpaid (`expired`, no url). */
  expireSession(id: string): void;
  /** Signs and POSTs an event of `type` about `object` to the webhook URL. */
  sendEvent(type: string, object: Record<string, unknown>): Promise<WebhookDelivery>;
  injectFault(fault: FakeStripeFault): void;
  stop(): Promise<void>;
}

type Params = Record<string, unknown>;

/** `a[b][0][c]=v` form fields (as the SDK encodes them) into nested objects (indexes as keys). */
export function decodeForm(body: string): Params {
  const out: Params = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const segments = key.replace(/\]/g, '').split('[');
    let node = out;
    segments.forEach((segment, i) => {
      if (i === segments.length - 1) node[segment] = value;
      else {
        if (typeof node[segment] !== 'object' || node[segment] === null) node[segment] = {};
        node = node[segment] as Params;
      }
    });
  }
  return out;
}

class StripeFail extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly code?: string,
    readonly param?: string,
  ) {
    super(message);
  }
}

const stripeId = (prefix: string) => `${prefix}_test_${randomBytes(16).toString('hex')}`;
const now = () => Math.floor(Date.now() / 1000);
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': stripeId('req'), ...headers });
  res.end(JSON.stringify(body));
}

function stripeError(res: ServerResponse, fail: StripeFail) {
  const error: Record<string, unknown> = { type: fail.type, message: fail.message };
  if (fail.code) error.code = fail.code;
  if (fail.param) error.param = fail.param;
  sendJson(res, fail.status, { error }, fail.status >= 500 ? {} : { 'stripe-should-retry': 'false' });
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function startFakeStripe(options: FakeStripeOptions = {}): Promise<FakeStripe> {
  const secretKey = options.secretKey ?? `sk_test_fake_${randomBytes(12).toString('hex')}`;
  const webhookSecret = options.webhookSecret ?? `whsec_fake_${randomBytes(16).toString('hex')}`;
  let webhookUrl = options.webhookUrl ?? null;
  const sessions = new Map<string, CheckoutSession>();
  const idempotent = new Map<string, { hash: string; status: number; body: unknown }>();
  const faults: (FakeStripeFault & { left: number })[] = [];
  const requests: FakeStripeRequest[] = [];
  let base = '';

  function createSession(params: Params): CheckoutSession {
    const item = (params.line_items as Params | undefined)?.['0'] as Params | undefined;
    const priceData = item?.price_data as Params | undefined;
    if (params.mode !== 'payment')
      throw new StripeFail(
        400,
        'invalid_request_error',
        'The fake serves mode=payment only.',
        'parameter_invalid_string',
        'mode',
      );
    if (!priceData || !str(priceData.currency) || !(priceData.product_data as Params | undefined)?.name)
      throw new StripeFail(
        400,
        'invalid_request_error',
        'Missing required param: line_items[0][price_data].',
        'parameter_missing',
        'line_items',
      );
    const amount = Number(priceData.unit_amount);
    if (!/^\d+$/.test(String(priceData.unit_amount)) || !Number.isSafeInteger(amount))
      throw new StripeFail(
        400,
        'invalid_request_error',
        'Invalid integer: unit_amount.',
        'parameter_invalid_integer',
        'line_items[0][price_data][unit_amount]',
      );
    if (amount < 50)
      throw new StripeFail(
        400,
        'invalid_request_error',
        "The Checkout Session's total amount due must add up to at least €0.50 eur",
        'amount_too_small',
        'line_items[0][price_data][unit_amount]',
      );
    if (String(item?.quantity ?? '1') !== '1')
      throw new StripeFail(
        400,
        'invalid_request_error',
        'The fake sells quantity 1 only.',
        'parameter_invalid_integer',
        'line_items[0][quantity]',
      );
    for (const name of ['success_url', 'cancel_url'] as const) {
      const url = str(params[name]);
      if (!url || !/^https?:\/\//.test(url))
        throw new StripeFail(400, 'invalid_request_error', `Not a valid URL: ${name}`, 'url_invalid', name);
    }
    const id = stripeId('cs');
    const created = now();
    const fixture = structuredClone(STRIPE_FIXTURES['checkout.session']) as unknown as CheckoutSession;
    const session: CheckoutSession = {
      ...fixture,
      id,
      object: 'checkout.session',
      amount_subtotal: amount,
      amount_total: amount,
      cancel_url: str(params.cancel_url) ?? null,
      client_reference_id: str(params.client_reference_id) ?? null,
      created,
      currency: str(priceData.currency)!.toLowerCase(),
      customer_details: null,
      customer_email: str(params.customer_email) ?? null,
      expires_at: created + 24 * 3600,
      livemode: false,
      metadata: Object.fromEntries(
        Object.entries((params.metadata as Params | undefined) ?? {}).map(([k, v]) => [k, String(v)]),
      ),
      mode: 'payment',
      payment_intent: null,
      payment_status: 'unpaid',
      shipping_address_collection: null,
      shipping_cost: null,
      status: 'open',
      success_url: str(params.success_url) ?? null,
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
      url: `${base}/pay/${id}`,
      currency_conversion: null,
    };
    sessions.set(id, session);
    return session;
  }

  function sessionOrFail(id: string): CheckoutSession {
    const session = sessions.get(id);
    if (!session)
      throw new StripeFail(
        404,
        'invalid_request_error',
        `No such checkout.session: '${id}'`,
        'resource_missing',
        'session',
      );
    return session;
  }

  function markPaid(id: string): CheckoutSession {
    const session = sessionOrFail(id);
    if (session.status === 'open') {
      session.status = 'complete';
      session.payment_status = 'paid';
      session.payment_intent = stripeId('pi');
      session.customer_details = {
        ...(STRIPE_FIXTURES['checkout.session'].customer_details as Stripe.Checkout.Session.CustomerDetails),
        email: session.customer_email ?? 'payer@example.org',
      };
      session.url = null;
    }
    return session;
  }

  async function sendEvent(type: string, object: Record<string, unknown>): Promise<WebhookDelivery> {
    if (!webhookUrl) throw new Error('fake Stripe: no webhook URL (setWebhookUrl)');
    const event = {
      ...structuredClone(STRIPE_FIXTURES.event),
      api_version: FAKE_STRIPE_API_VERSION,
      created: now(),
      data: { object: structuredClone(object) },
      id: stripeId('evt'),
      livemode: false,
      object: 'event',
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
    } as unknown as Stripe.Event;
    const payload = JSON.stringify(event);
    const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: webhookSecret });
    const res = await fetch(webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': signature },
      body: payload,
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    return { event, status: res.status, body };
  }

  const deliverCompleted = (id: string) =>
    sendEvent('checkout.session.completed', sessionOrFail(id) as unknown as Record<string, unknown>);

  async function api(req: IncomingMessage, res: ServerResponse, pathname: string, raw: string) {
    const method = req.method ?? 'GET';
    const idempotencyKey = (req.headers['idempotency-key'] as string | undefined) ?? null;
    const params = method === 'POST' ? decodeForm(raw) : {};
    const entry: FakeStripeRequest = { method, path: pathname, idempotencyKey, status: 0, params };
    requests.push(entry);
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      sendJson(res, status, body, headers);
    };
    try {
      const fault = faults.find(
        (f) =>
          f.left > 0 &&
          (!f.method || f.method.toUpperCase() === method) &&
          (typeof f.path === 'string' ? pathname.includes(f.path) : f.path.test(pathname)),
      );
      if (fault) {
        fault.left -= 1;
        throw new StripeFail(
          fault.status,
          fault.type ?? (fault.status >= 500 ? 'api_error' : 'invalid_request_error'),
          fault.message ?? `Injected failure (${fault.status}).`,
          fault.code,
        );
      }
      const auth = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
      if (!auth) throw new StripeFail(401, 'invalid_request_error', 'You did not provide an API key.');
      if (auth[1] !== secretKey)
        throw new StripeFail(
          401,
          'invalid_request_error',
          `Invalid API Key provided: ${auth[1].slice(0, 8)}****${auth[1].slice(-4)}`,
          'api_key_invalid',
        );

      if (method === 'POST' && pathname === '/v1/checkout/sessions') {
        const hash = createHash('sha256').update(raw).digest('hex');
        const seen = idempotencyKey ? idempotent.get(idempotencyKey) : undefined;
        if (seen) {
          if (seen.hash !== hash)
            throw new StripeFail(
              400,
              'idempotency_error',
              `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
            );
          answer(seen.status, seen.body, { 'idempotent-replayed': 'true' });
          return;
        }
        const session = createSession(params);
        if (idempotencyKey)
          idempotent.set(idempotencyKey, { hash, status: 200, body: structuredClone(session) });
        answer(200, session);
        return;
      }
      const one = /^\/v1\/checkout\/sessions\/([^/]+)$/.exec(pathname);
      if (method === 'GET' && one) {
        answer(200, sessionOrFail(decodeURIComponent(one[1])));
        return;
      }
      throw new StripeFail(
        404,
        'invalid_request_error',
        `Unrecognized request URL (${method}: ${pathname}).`,
      );
    } catch (err) {
      if (!(err instanceof StripeFail)) throw err;
      entry.status = err.status;
      stripeError(res, err);
    }
  }

  /** The hosted payment page: "Pay" completes the session and returns to success_url. */
  async function page(req: IncomingMessage, res: ServerResponse, id: string) {
    const session = sessions.get(id);
    if (!session) {
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' }).end('<h1>No such session</h1>');
      return;
    }
    if (req.method === 'POST') {
      const wasOpen = session.status === 'open';
      markPaid(id);
      if (wasOpen && fake.deliverOnPay) await deliverCompleted(id);
      const target = (session.success_url ?? '').replaceAll('{CHECKOUT_SESSION_ID}', id);
      res.writeHead(303, { location: target }).end();
      return;
    }
    const amount = new Intl.NumberFormat('en', {
      style: 'currency',
      currency: (session.currency ?? 'eur').toUpperCase(),
    }).format((session.amount_total ?? 0) / 100);
    const cancel = escapeHtml(session.cancel_url ?? '/');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fake Stripe Checkout</title></head>
<body><main><h1>Fake Stripe Checkout</h1>
<p data-testid="fake-checkout-amount">${escapeHtml(amount)}</p>
<p data-testid="fake-checkout-status">${escapeHtml(session.status ?? '')}</p>
${
  session.status === 'open'
    ? `<form method="post" action="/pay/${escapeHtml(id)}"><button type="submit">Pay ${escapeHtml(amount)}</button></form>
<a href="${cancel}">Cancel and go back</a>`
    : ''
}
</main></body></html>`);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const pathname = new URL(req.url ?? '/', 'http://fake').pathname;
      const raw = Buffer.concat(chunks).toString('utf8');
      const pay = /^\/pay\/([^/]+)$/.exec(pathname);
      const handled = pay ? page(req, res, decodeURIComponent(pay[1])) : api(req, res, pathname, raw);
      handled.catch((err: unknown) => {
        if (!res.headersSent)
          stripeError(res, new StripeFail(500, 'api_error', `fake Stripe failed: ${(err as Error).message}`));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  base = `http://127.0.0.1:${port}`;

  const fake: FakeStripe = {
    url: base,
    secretKey,
    webhookSecret,
    apiEnv: () => ({
      STRIPE_SECRET_KEY: secretKey,
      STRIPE_API_URL: base,
      STRIPE_WEBHOOK_SECRET: webhookSecret,
    }),
    clientOptions: () => ({ host: '127.0.0.1', port, protocol: 'http' }),
    setWebhookUrl: (url) => {
      webhookUrl = url;
    },
    deliverOnPay: options.deliverOnPay ?? true,
    sessions: () => [...sessions.values()],
    session: (id) => sessions.get(id),
    requests,
    completeSession: async (id, opts = {}) => {
      markPaid(id);
      return opts.deliver === false ? null : deliverCompleted(id);
    },
    deliverCompleted,
    expireSession: (id) => {
      const session = sessionOrFail(id);
      if (session.status === 'open') {
        session.status = 'expired';
        session.url = null;
      }
    },
    sendEvent,
    injectFault: (fault) => faults.push({ ...fault, left: fault.times ?? 1 }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return fake;
}
