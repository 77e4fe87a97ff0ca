import { z } from 'zod';
import { currencyCode } from './ledger.ts';
import { MAX_AMOUNT_CENTS, paymentAmountCents } from './payments.ts';

/**
 * What the webhook needs from Stripe's event contract, checked before anything is written. The
 * signature only proves Stripe sent the bytes: a field of an unexpected type or size would
 * otherwise fail deep in the ledger or in PostgreSQL (a 500 that Stripe retries for days).
 */

/**
 * Stripe ids (`evt_…`, `cs_…`, `pi_…`, `ch_…`) are printable ASCII of at most 255 characters.
 * Holding them to that keeps out NUL (PostgreSQL text refuses it), lone surrogates (the driver
 * would turn them into U+FFFD, so two ids could become one) and keys too large for a btree index.
 */
export const stripeId = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/, 'must be a Stripe id: 1 to 255 printable ASCII characters, no spaces');

const eventType = z
  .string()
  .regex(/^[\x21-\x7e]{1,200}$/, 'must be an event type: 1 to 200 printable ASCII characters, no spaces');

/**
 * What an event must carry to be stored at all: an id to store it under and a type. `data` is
 * checked by the handler of the type (an unhandled type does not need one).
 */
export const stripeEventEnvelope = z.object({ id: stripeId, type: eventType, data: z.unknown().optional() });

/** An expandable reference (`"pi_…"`, the expanded object, or null), as its id. */
const expandableId = z
  .union([stripeId, z.looseObject({ id: stripeId })], {
    error: 'must be a Stripe id, an expanded object with a Stripe id, or null',
  })
  .nullish()
  .transform((ref) => (ref == null ? null : typeof ref === 'string' ? ref : ref.id));

/** A checkout.session, enough to know whether it is paid. */
export const checkoutSessionHead = z.looseObject({
  object: z.literal('checkout.session'),
  id: stripeId,
  payment_status: z.enum(['paid', 'unpaid', 'no_payment_required']),
});

/** A paid checkout.session: what a credit needs, in recordPayment's bounds. */
export const paidCheckoutSession = z.looseObject({
  amount_total: paymentAmountCents,
  currency: currencyCode,
  client_reference_id: z.string().nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
  payment_intent: expandableId,
});

/** The charge of a charge.refunded event (`amount_refunded` is cumulative). */
export const refundedCharge = z.looseObject({
  object: z.literal('charge'),
  id: stripeId,
  currency: currencyCode,
  amount_refunded: z
    .number()
    .int('must be a whole number of cents')
    .nonnegative('must not be negative')
    .max(MAX_AMOUNT_CENTS, `must be at most ${MAX_AMOUNT_CENTS} cents`),
  payment_intent: expandableId,
});

/** An event's `data`, whose `object` must fit `schema`. */
export function eventObject<S extends z.ZodType>(schema: S) {
  return z.object({ object: schema });
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; problems: string };

/** Parses `input` (found at `path`, e.g. `data.object`); the problems as one line when it does not fit. */
export function parseStripe<S extends z.ZodType>(
  schema: S,
  input: unknown,
  path: string,
): ParseResult<z.output<S>> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return { ok: true, value: parsed.data };
  const problems = parsed.error.issues.map((i) => {
    const where = [path, ...i.path.map(String)].filter(Boolean).join('.');
    return where ? `${where}: ${i.message}` : i.message;
  });
  return { ok: false, problems: problems.join('; ') };
}

/** Longest detail stored for an event: a reason, not a dump. */
const MAX_DETAIL_CHARS = 2000;

/**
 * A detail made safe for a PostgreSQL text column: no NUL, no lone surrogate, bounded. The
 * schemas keep event text out of details; this is the last guard should one ever quote it.
 */
export function safeText(text: string): string {
  return text.slice(0, MAX_DETAIL_CHARS).replaceAll('\0', '\uFFFD').toWellFormed();
}
