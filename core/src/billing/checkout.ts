import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import Stripe from 'stripe';
import { Billing } from '../entities/billing.entity.ts';
import {
  EmailNotVerifiedError,
  NotFoundError,
  PaymentProviderError,
  TopUpAmountError,
  TopUpUnavailableError,
} from '../errors.ts';
import type { Logger } from '../lib/logger.ts';
import { findProviderCredit, MAX_AMOUNT_CENTS } from './payments.ts';
import { stripeId } from './stripe-event.ts';
import { STRIPE_PROVIDER } from './stripe-webhook.ts';

/**
 * Self-serve top-up through Stripe Checkout (one-time payment). Starting a checkout changes
 * nothing here: only the signed webhook credits (stripe-webhook.ts), so a redirect back from
 * Stripe, forged or not, proves nothing. The session's own state is read back from Stripe.
 */

/** TOPUP_MIN_CENTS … TOPUP_MAX_CENTS and the amounts offered as buttons. */
export interface TopUpLimits {
  minCents: number;
  maxCents: number;
  /** Within the bounds, ascending. */
  presetsCents: number[];
}

export const DEFAULT_TOPUP_LIMITS: TopUpLimits = {
  minCents: 500,
  maxCents: 100_000,
  presetsCents: [1_000, 3_000, 5_000, 10_000],
};

export interface TopUpSettings extends TopUpLimits {
  /** The web UI's public base URL (no trailing slash): Checkout sends the browser back there. */
  returnUrl: string;
}

/** What the api holds when STRIPE_SECRET_KEY is set; null otherwise (top-up unavailable). */
export interface TopUpCheckout {
  stripe: Stripe;
  settings: TopUpSettings;
  log: Logger;
}

export interface StripeClientConfig {
  secretKey: string;
  /** Another API base than https://api.stripe.com (tests: the fake's http://127.0.0.1:<port>). */
  apiUrl?: string | null;
}

/** The official client, pointed at `apiUrl` (host, port, protocol) when one is given. */
export function createStripeClient(config: StripeClientConfig): Stripe {
  const options: Stripe.StripeConfig = { appInfo: { name: 'hero-onboarding' } };
  if (config.apiUrl) {
    const url = new URL(config.apiUrl);
    const protocol = url.protocol === 'http:' ? 'http' : 'https';
    options.protocol = protocol;
    options.host = url.hostname;
    options.port = url.port ? Number(url.port) : protocol === 'http' ? 80 : 443;
  }
  return new Stripe(config.secretKey, options);
}

/** Checks the limits: positive whole cents, min ≤ max, presets within them. Problems as messages. */
export function topUpLimitProblems(limits: TopUpLimits): string[] {
  const problems: string[] = [];
  const whole = (n: number) => Number.isSafeInteger(n) && n >= 1 && n <= MAX_AMOUNT_CENTS;
  if (!whole(limits.minCents)) problems.push(`TOPUP_MIN_CENTS must be whole cents, 1 … ${MAX_AMOUNT_CENTS}`);
  if (!whole(limits.maxCents)) problems.push(`TOPUP_MAX_CENTS must be whole cents, 1 … ${MAX_AMOUNT_CENTS}`);
  if (limits.minCents > limits.maxCents) problems.push('TOPUP_MIN_CENTS is above TOPUP_MAX_CENTS');
  for (const p of limits.presetsCents) {
    if (!Number.isSafeInteger(p) || p < limits.minCents || p > limits.maxCents)
      problems.push(`preset ${p} is not whole cents within TOPUP_MIN_CENTS … TOPUP_MAX_CENTS`);
  }
  return problems;
}

export interface TopUpOptions extends TopUpLimits {
  /** The user's billing currency: the only one a top-up can be in. */
  currency: string;
}

/** What the user may top up (null: unavailable), in the user's billing currency. */
export async function topUpOptions(
  em: EntityManager,
  checkout: TopUpCheckout | null,
  userId: string,
): Promise<TopUpOptions | null> {
  if (!checkout) return null;
  const billing = await em.findOne(Billing, { user: userId });
  if (!billing) throw new NotFoundError('User', userId);
  const { minCents, maxCents, presetsCents } = checkout.settings;
  return { minCents, maxCents, presetsCents, currency: billing.currency };
}

export interface StartTopUpInput {
  userId: string;
  amountCents: number;
  /**
   * The caller's attempt (e.g. one per rendering of the form): a second start with the same
   * attempt and amount (a double submit) answers the same session. Default: a new attempt.
   */
  attemptKey?: string | null;
}

export interface StartedTopUp {
  sessionId: string;
  /** Stripe's hosted payment page: send the browser there. */
  url: string;
  amountCents: number;
  currency: string;
  expiresAt: Date;
}

const ATTEMPT_KEY = /^[A-Za-z0-9_-]{8,100}$/;

/**
 * Creates a Checkout Session for `amountCents` of the user's billing currency: one line item,
 * the user as `client_reference_id` (and `metadata.userId`), back to the web UI's
 * /credit/done?session_id=… or /credit?cancelled=1. The `Idempotency-Key` is the user, the
 * attempt and the amount, so a double submit makes one session.
 */
export async function startTopUpCheckout(
  em: EntityManager,
  checkout: TopUpCheckout | null,
  input: StartTopUpInput,
): Promise<StartedTopUp> {
  if (!checkout) throw new TopUpUnavailableError();
  const billing = await em.findOne(Billing, { user: input.userId }, { populate: ['user'] });
  if (!billing) throw new NotFoundError('User', input.userId);
  if (!billing.user.emailVerifiedAt) throw new EmailNotVerifiedError();
  const { minCents, maxCents, returnUrl } = checkout.settings;
  const amount = input.amountCents;
  if (!Number.isSafeInteger(amount) || amount < minCents || amount > maxCents)
    throw new TopUpAmountError(amount, minCents, maxCents, billing.currency);
  const attempt = input.attemptKey && ATTEMPT_KEY.test(input.attemptKey) ? input.attemptKey : randomUUID();
  const idempotencyKey = `topup-${input.userId}-${attempt}-${amount}`;
  const session = await callStripe(checkout.log, () =>
    checkout.stripe.checkout.sessions.create(
      {
        mode: 'payment',
        line_items: [
          {
            quantity: 1,
            price_data: {
              currency: billing.currency.toLowerCase(),
              unit_amount: amount,
              product_data: { name: 'Account credit' },
            },
          },
        ],
        client_reference_id: input.userId,
        metadata: { userId: input.userId, purpose: 'topup' },
        customer_email: billing.user.email,
        // {CHECKOUT_SESSION_ID} is Stripe's placeholder: written as is, never URL-encoded.
        success_url: `${returnUrl}/credit/done?session_id={CHECKOUT_SESSION_ID}`,
        cancel_url: `${returnUrl}/credit?cancelled=1`,
      },
      { idempotencyKey },
    ),
  );
  if (!session.url) {
    checkout.log.error({ sessionId: session.id }, 'Stripe answered a checkout session without a url');
    throw new PaymentProviderError(null, true);
  }
  checkout.log.info(
    { sessionId: session.id, userId: input.userId, amountCents: amount, currency: billing.currency },
    'top-up checkout started',
  );
  return {
    sessionId: session.id,
    url: session.url,
    amountCents: session.amount_total ?? amount,
    currency: (session.currency ?? billing.currency).toUpperCase(),
    expiresAt: new Date(session.expires_at * 1000),
  };
}

/**
 * - PENDING: not paid yet (the page is open, or a delayed method is still processing);
 * - PAID: Stripe says paid, the webhook has not credited it yet;
 * - CREDITED: the payment is on the balance;
 * - EXPIRED: the session ended unpaid.
 */
export type TopUpStatus = 'PENDING' | 'PAID' | 'CREDITED' | 'EXPIRED';

export interface TopUpCheckoutState {
  sessionId: string;
  status: TopUpStatus;
  amountCents: number | null;
  currency: string | null;
  /** The payment_event of the credit, once there. */
  paymentId: string | null;
  creditedAt: Date | null;
}

/**
 * A checkout session of the user's, as Stripe has it, and whether its payment has landed in the
 * ledger (the webhook records it under the payment intent, else the session id). Another user's
 * session, or an id that is none, is NOT_FOUND.
 */
export async function topUpCheckoutStatus(
  em: EntityManager,
  checkout: TopUpCheckout | null,
  input: { userId: string; sessionId: string },
): Promise<TopUpCheckoutState> {
  if (!checkout) throw new TopUpUnavailableError();
  const { sessionId, userId } = input;
  if (!sessionId.startsWith('cs_') || !stripeId.safeParse(sessionId).success)
    throw new NotFoundError('Checkout session', sessionId.slice(0, 80));
  const session = await callStripe(
    checkout.log,
    () => checkout.stripe.checkout.sessions.retrieve(sessionId),
    sessionId,
  );
  if (session.client_reference_id !== userId) throw new NotFoundError('Checkout session', sessionId);
  const intent =
    typeof session.payment_intent === 'string' ? session.payment_intent : session.payment_intent?.id;
  const refs = intent ? [intent, session.id] : [session.id];
  const credit = await findProviderCredit(em, STRIPE_PROVIDER, userId, refs);
  const status: TopUpStatus = credit
    ? 'CREDITED'
    : session.payment_status === 'paid'
      ? 'PAID'
      : session.status === 'expired'
        ? 'EXPIRED'
        : 'PENDING';
  return {
    sessionId: session.id,
    status,
    amountCents: credit?.amountCents ?? session.amount_total,
    currency: credit?.currency ?? session.currency?.toUpperCase() ?? null,
    paymentId: credit?.id ?? null,
    creditedAt: credit?.createdAt ?? null,
  };
}

/** Runs a Stripe call; its errors become PaymentProviderError (a missing `notFoundId`: NOT_FOUND). */
async function callStripe<T>(log: Logger, call: () => Promise<T>, notFoundId?: string): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof Stripe.errors.StripeError)) throw err;
    if (notFoundId && err.statusCode === 404) throw new NotFoundError('Checkout session', notFoundId);
    const retryable =
      err instanceof Stripe.errors.StripeConnectionError ||
      err instanceof Stripe.errors.StripeAPIError ||
      err instanceof Stripe.errors.StripeRateLimitError ||
      (err.statusCode ?? 0) >= 500;
    // The provider's message may name the key or the account: logged, not shown.
    log.warn(
      {
        type: err.type,
        code: err.code,
        statusCode: err.statusCode,
        requestId: err.requestId,
        detail: err.message,
      },
      'Stripe request failed',
    );
    throw new PaymentProviderError(err.code ?? null, retryable);
  }
}
