import type { EntityManager } from '@mikro-orm/postgresql';
import Stripe from 'stripe';
import type { z } from 'zod';
import { execute, firstRow, rows, sql } from '../db/sql.ts';
import type { WebhookEventStatus } from '../entities/webhook-event.entity.ts';
import { CurrencyMismatchError, DomainError, DuplicatePaymentError, NotFoundError } from '../errors.ts';
import { isUuid } from '../lib/ids.ts';
import type { Logger } from '../lib/logger.ts';
import { creditInTransaction, lockRefundable, refundInTransaction } from './payments.ts';
import {
  checkoutSessionHead,
  eventObject,
  paidCheckoutSession,
  parseStripe,
  refundedCharge,
  safeText,
  stripeEventEnvelope,
} from './stripe-event.ts';

export const STRIPE_PROVIDER = 'stripe';
/** Stripe's own default: a signature older than five minutes is refused (replay protection). */
export const DEFAULT_STRIPE_TOLERANCE_SECONDS = 300;

export interface StripeWebhookOptions {
  /** STRIPE_WEBHOOK_SECRET (`whsec_…`); null: the endpoint answers 503. */
  secret: string | null;
  toleranceSeconds?: number;
  log: Logger;
}

export interface WebhookResponse {
  status: number;
  body: Record<string, unknown>;
}

type SignedEvent = z.output<typeof stripeEventEnvelope>;

interface Outcome {
  status: WebhookEventStatus;
  detail: string;
  userId?: string | null;
}

/**
 * POST /webhooks/stripe: verifies the `Stripe-Signature` header (HMAC-SHA256 of the raw body with
 * the endpoint secret, timestamp within the tolerance) with the `stripe` package's verifier, and
 * applies the event once by its id: the `webhook_event` row is inserted in the same transaction
 * as the credit or refund, so a replay (even concurrent) finds it and changes nothing.
 *
 * - `checkout.session.completed` (paid) and `checkout.session.async_payment_succeeded` credit
 *   `amount_total` to the user in `client_reference_id` (or `metadata.userId`), reference the
 *   payment intent.
 * - `charge.refunded` refunds what `amount_refunded` adds to the refunds already recorded for
 *   the charge's payment.
 * - Anything else is acknowledged and ignored. An event that cannot be applied (unknown user,
 *   another currency, an object that does not fit Stripe's contract: amount not whole cents or
 *   out of recordPayment's bounds, currency or ids missing or malformed, no object) is
 *   acknowledged as REFUSED with the reason, logged at warn: answering an error would only make
 *   Stripe retry a permanent failure for days. A refund of a payment not recorded yet is the
 *   exception: Stripe does not deliver in order, so it answers 409, stores nothing, and Stripe's
 *   retry applies it once the checkout event has arrived.
 *
 * 400 and nothing stored: a bad, missing or stale signature, a body that is not JSON, or an
 * event without a usable id or type (nothing to store it under; Stripe never sends one).
 */
export async function handleStripeWebhook(
  em: EntityManager,
  options: StripeWebhookOptions,
  rawBody: Buffer,
  signature: string | undefined,
): Promise<WebhookResponse> {
  if (!options.secret) {
    return {
      status: 503,
      body: { error: 'the Stripe webhook is not configured (set STRIPE_WEBHOOK_SECRET)' },
    };
  }
  if (!signature) return { status: 400, body: { error: 'missing Stripe-Signature header' } };
  let parsedBody: unknown;
  try {
    parsedBody = Stripe.webhooks.constructEvent(
      rawBody,
      signature,
      options.secret,
      options.toleranceSeconds ?? DEFAULT_STRIPE_TOLERANCE_SECONDS,
    );
  } catch (err) {
    const message = (err as Error).message;
    if (err instanceof Stripe.errors.StripeSignatureVerificationError) {
      return { status: 400, body: { error: `signature verification failed: ${message}` } };
    }
    return { status: 400, body: { error: `the signed body is not a JSON event: ${message}` } };
  }
  const envelope = parseStripe(stripeEventEnvelope, parsedBody, '');
  if (!envelope.ok) {
    return { status: 400, body: { error: `the signed body is not a Stripe event: ${envelope.problems}` } };
  }
  const event = envelope.value;
  const log = options.log.child({ module: 'stripe-webhook', eventId: event.id, type: event.type });

  let result: Outcome | null;
  try {
    result = await claimAndApply(em, event);
  } catch (err) {
    if (!(err instanceof RetryLaterError)) throw err;
    log.warn(err.message);
    return { status: 409, body: { error: err.message } };
  }
  if (!result) {
    log.info('stripe event already processed: nothing changed');
    return { status: 200, body: { received: true, duplicate: true } };
  }
  if (result.status === 'REFUSED') log.warn({ detail: result.detail }, 'stripe event refused');
  else log.info({ status: result.status, detail: result.detail }, 'stripe event processed');
  return { status: 200, body: { received: true, status: result.status, detail: result.detail } };
}

/** Stores the event (once by id) and applies it, in one transaction; null when it was stored already. */
function claimAndApply(em: EntityManager, event: SignedEvent): Promise<Outcome | null> {
  return em.fork().transactional(async (tx) => {
    const claimed = await firstRow(
      tx,
      sql<{ event_id: string }>`insert into webhook_event (provider, event_id, type, status, received_at)
        values (${STRIPE_PROVIDER}, ${event.id}, ${event.type}, 'IGNORED', now())
        on conflict (provider, event_id) do nothing returning event_id`,
    );
    if (!claimed) return null;
    const applied = await applyEvent(tx, event);
    const outcome = { ...applied, detail: safeText(applied.detail) };
    await execute(
      tx,
      sql`update webhook_event set status = ${outcome.status}, detail = ${outcome.detail}, user_id = ${outcome.userId ?? null}
           where provider = ${STRIPE_PROVIDER} and event_id = ${event.id}`,
    );
    return outcome;
  });
}

/** A refund whose payment is not recorded yet: answered 409, stored nowhere, so Stripe retries it. */
class RetryLaterError extends Error {}

async function applyEvent(tx: EntityManager, event: SignedEvent): Promise<Outcome> {
  // A refusal after some writes (none is expected, but) must not leave half an event behind.
  await execute(tx, sql`savepoint apply_event`);
  try {
    switch (event.type) {
      case 'checkout.session.completed':
      case 'checkout.session.async_payment_succeeded':
        return await applyCheckout(tx, event.data);
      case 'charge.refunded':
        return await applyRefund(tx, event.data);
      default:
        return { status: 'IGNORED', detail: `event type ${event.type} is not handled` };
    }
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    await execute(tx, sql`rollback to savepoint apply_event`);
    if (err instanceof DuplicatePaymentError) {
      return {
        status: 'IGNORED',
        detail: `payment ${err.providerRef} was recorded already (${err.paymentId})`,
      };
    }
    return { status: 'REFUSED', detail: err.message };
  }
}

/** `data` is the event's, unchecked: parsed here against what the credit needs. */
async function applyCheckout(tx: EntityManager, data: unknown): Promise<Outcome> {
  const head = parseStripe(eventObject(checkoutSessionHead), data, 'data');
  if (!head.ok) return { status: 'REFUSED', detail: `malformed checkout session: ${head.problems}` };
  const { id, payment_status } = head.value.object;
  if (payment_status !== 'paid') {
    return { status: 'IGNORED', detail: `checkout session ${id} is not paid (${payment_status})` };
  }
  const parsed = parseStripe(eventObject(paidCheckoutSession), data, 'data');
  if (!parsed.ok) {
    return { status: 'REFUSED', detail: `checkout session ${id} cannot be credited: ${parsed.problems}` };
  }
  const session = parsed.value.object;
  const userId = session.client_reference_id ?? session.metadata?.userId ?? null;
  if (typeof userId !== 'string' || !isUuid(userId)) {
    return {
      status: 'REFUSED',
      detail: `checkout session ${id} names no user (client_reference_id or metadata.userId)`,
    };
  }
  const credited = await creditInTransaction(tx, {
    userId,
    amountCents: session.amount_total,
    currency: session.currency,
    provider: STRIPE_PROVIDER,
    providerRef: session.payment_intent ?? id,
    note: `Stripe checkout ${id}`,
  });
  return {
    status: 'APPLIED',
    detail: `credited ${session.amount_total} ${credited.currency} (payment ${credited.payment.id})`,
    userId,
  };
}

async function applyRefund(tx: EntityManager, data: unknown): Promise<Outcome> {
  const parsed = parseStripe(eventObject(refundedCharge), data, 'data');
  if (!parsed.ok) return { status: 'REFUSED', detail: `malformed charge: ${parsed.problems}` };
  const charge = parsed.value.object;
  const refs = [charge.payment_intent, charge.id].filter((r): r is string => r !== null);
  const matches = await rows(
    tx,
    sql<{ id: string; currency: string }>`select id, currency from payment_event
      where provider = ${STRIPE_PROVIDER} and kind = 'CREDIT' and provider_ref = any(${refs}::text[]) limit 2`,
  );
  const [payment] = matches;
  if (!payment) {
    // Stripe does not promise delivery order: the checkout event may still be on its way.
    throw new RetryLaterError(
      `no recorded Stripe payment for charge ${charge.id} (${refs.join(', ')}) yet: answered 409 so that Stripe retries the event`,
    );
  }
  if (matches.length > 1) {
    // Its id is one payment's reference and its payment intent another's: picking one would
    // refund whichever the database returned first.
    return {
      status: 'REFUSED',
      detail: `charge ${charge.id} matches more than one recorded Stripe payment (${refs.join(', ')})`,
    };
  }
  if (payment.currency !== charge.currency) {
    throw new CurrencyMismatchError(payment.currency, charge.currency);
  }
  const state = await lockRefundable(tx, payment.id);
  if (!state) throw new NotFoundError('Payment', payment.id);
  const newly = Math.min(charge.amount_refunded, state.payment.amountCents) - state.refundedCents;
  if (newly <= 0) {
    return { status: 'IGNORED', detail: `charge ${charge.id}: nothing refunded beyond what is recorded` };
  }
  const providerRef = `${charge.id}:refunded:${charge.amount_refunded}`;
  // (provider, provider_ref) is unique: a charge that named another payment in an earlier event
  // has its refund there already, and inserting it again would fail the whole event.
  const recorded = await firstRow(
    tx,
    sql<{ refund_of: string | null }>`select refund_of from payment_event
      where provider = ${STRIPE_PROVIDER} and provider_ref = ${providerRef}`,
  );
  if (recorded) {
    return {
      status: 'IGNORED',
      detail: `charge ${charge.id}: its refund to ${charge.amount_refunded} is recorded already (payment ${recorded.refund_of})`,
    };
  }
  const refunded = await refundInTransaction(tx, {
    paymentId: payment.id,
    amountCents: newly,
    providerRef,
    note: `Stripe refund of charge ${charge.id}`,
  });
  return {
    status: 'APPLIED',
    detail: `refunded ${newly} ${refunded.currency} of payment ${payment.id}`,
    userId: state.payment.user.id,
  };
}
