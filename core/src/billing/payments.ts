import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { execute, firstRow, sql } from '../db/sql.ts';
import { PaymentEvent } from '../entities/payment-event.entity.ts';
import {
  CurrencyMismatchError,
  DuplicatePaymentError,
  NotFoundError,
  parseInput,
  RefundExceedsPaymentError,
} from '../errors.ts';
import { isUuid } from '../lib/ids.ts';
import { enqueueSelected } from '../outbox/enqueue.ts';
import { currencyCode, lockBilling, postLedgerEntry } from './ledger.ts';

/** The largest single payment or refund accepted: 10^12 cents. */
export const MAX_AMOUNT_CENTS = 1_000_000_000_000;

/** A payment or refund amount: whole cents, 1 to MAX_AMOUNT_CENTS (also what a webhook may credit). */
export const paymentAmountCents = z
  .number()
  .int('must be a whole number of cents')
  .positive('must be more than 0')
  .max(MAX_AMOUNT_CENTS, `must be at most ${MAX_AMOUNT_CENTS} cents`);
const note = z.string().trim().max(1000, 'must be at most 1000 characters').optional();

const recordSchema = z.object({
  userId: z.string(),
  amountCents: paymentAmountCents,
  currency: currencyCode,
  provider: z
    .string()
    .trim()
    .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'must be 1-40 lowercase letters, digits, - or _')
    .default('manual'),
  providerRef: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(200, 'must be at most 200 characters')
    .optional(),
  note,
});

export type RecordPaymentInput = z.input<typeof recordSchema>;

const refundSchema = z.object({
  paymentId: z.string(),
  /** Default: everything not refunded yet. */
  amountCents: paymentAmountCents.optional(),
  providerRef: z.string().trim().min(1).max(200).optional(),
  note,
});

export type RefundPaymentInput = z.input<typeof refundSchema>;

export interface PaymentResult {
  payment: PaymentEvent;
  balanceCents: number;
  currency: string;
}

/**
 * Credits a user: a PaymentEvent (CREDIT) and a PAYMENT ledger row, in one transaction. The
 * amount must be in the user's billing currency (never converted); a provider reference seen
 * before answers DuplicatePaymentError and changes nothing. Without a reference, a manual
 * payment gets a generated one.
 */
export async function recordPayment(em: EntityManager, input: RecordPaymentInput): Promise<PaymentResult> {
  const data = parseInput(recordSchema, input, 'Invalid payment');
  if (!isUuid(data.userId)) throw new NotFoundError('User', data.userId);
  return em.transactional((tx) =>
    creditInTransaction(tx, {
      userId: data.userId,
      amountCents: data.amountCents,
      currency: data.currency,
      provider: data.provider,
      providerRef: data.providerRef ?? `${data.provider}-${randomUUID()}`,
      note: data.note ?? null,
    }),
  );
}

export interface Credit {
  userId: string;
  amountCents: number;
  currency: string;
  provider: string;
  providerRef: string;
  note: string | null;
}

/** recordPayment's work inside a transaction (also used by the payment provider's webhook). */
export async function creditInTransaction(tx: EntityManager, credit: Credit): Promise<PaymentResult> {
  // Every way money comes in is held to recordPayment's bounds, not only the GraphQL input.
  parseInput(paymentAmountCents, credit.amountCents, 'Invalid payment amount');
  const billing = await lockBilling(tx, credit.userId);
  if (!billing) throw new NotFoundError('User', credit.userId);
  if (billing.currency !== credit.currency)
    throw new CurrencyMismatchError(billing.currency, credit.currency);
  const inserted = await firstRow(
    tx,
    sql<{ id: string }>`
      insert into payment_event (id, user_id, amount_cents, currency, provider, provider_ref, kind, note, created_at)
      values (${randomUUID()}, ${credit.userId}, ${credit.amountCents}, ${credit.currency}, ${credit.provider},
              ${credit.providerRef}, 'CREDIT', ${credit.note}, now())
      on conflict (provider, provider_ref) do nothing returning id`,
  );
  if (!inserted) {
    const existing = await tx.findOneOrFail(PaymentEvent, {
      provider: credit.provider,
      providerRef: credit.providerRef,
    });
    throw new DuplicatePaymentError(credit.provider, credit.providerRef, existing.id);
  }
  const posted = await postLedgerEntry(tx, {
    userId: credit.userId,
    kind: 'PAYMENT',
    amountCents: credit.amountCents,
    reference: inserted.id,
    note: credit.note ?? `${credit.provider} ${credit.providerRef}`,
  });
  if (!posted) throw new NotFoundError('User', credit.userId);
  await enqueueSelected(
    tx,
    'payment.received',
    sql<{ payload: unknown; dedupe_key: string }>`
      select jsonb_build_object(
               'paymentId', p.id, 'userId', p.user_id, 'email', u.email, 'amountCents', p.amount_cents,
               'currency', p.currency, 'provider', p.provider, 'providerRef', p.provider_ref,
               'balanceCents', ${posted.balanceAfterCents}::bigint, 'receivedAt', p.created_at) as payload,
             'payment.received:' || p.id as dedupe_key
        from payment_event p join users u on u.id = p.user_id
       where p.id = ${inserted.id}`,
  );
  const payment = await tx.findOneOrFail(PaymentEvent, inserted.id, { populate: ['user'] });
  return { payment, balanceCents: posted.balanceAfterCents, currency: posted.currency };
}

/**
 * Gives (part of) a payment back: a PaymentEvent (REFUND, refundOf the payment) and a REFUND
 * ledger row debiting the amount. Refunds of one payment never add up to more than it: the
 * payment row is locked while its refunds are summed. The balance may go below zero (the money
 * has left already; usage debits can do the same).
 */
export async function refundPayment(em: EntityManager, input: RefundPaymentInput): Promise<PaymentResult> {
  const data = parseInput(refundSchema, input, 'Invalid refund');
  if (!isUuid(data.paymentId)) throw new NotFoundError('Payment', data.paymentId);
  return em.transactional((tx) =>
    refundInTransaction(tx, {
      paymentId: data.paymentId,
      amountCents: data.amountCents,
      providerRef: data.providerRef,
      note: data.note ?? null,
    }),
  );
}

export interface Refund {
  paymentId: string;
  /** Default: what is left to refund. */
  amountCents?: number;
  providerRef?: string;
  note: string | null;
}

/** What is left to refund of a CREDIT payment, with the payment row locked. */
export async function lockRefundable(
  tx: EntityManager,
  paymentId: string,
): Promise<{
  payment: PaymentEvent;
  refundedCents: number;
  refundableCents: number;
  refunds: number;
} | null> {
  const locked = await firstRow(
    tx,
    sql<{ id: string }>`select id from payment_event where id = ${paymentId} and kind = 'CREDIT' for update`,
  );
  if (!locked) return null;
  const payment = await tx.findOneOrFail(PaymentEvent, paymentId, { refresh: true });
  const { cents: refundedCents, refunds } = await refundedSoFar(tx, paymentId);
  return { payment, refundedCents, refundableCents: payment.amountCents - refundedCents, refunds };
}

/** What the refunds of a payment add up to, and how many there are (0 for none). */
export async function refundedSoFar(
  em: EntityManager,
  paymentId: string,
): Promise<{ cents: number; refunds: number }> {
  const sum = await firstRow(
    em,
    sql<{ cents: string; n: number }>`select coalesce(sum(amount_cents), 0)::text as cents, count(*)::int as n
                                        from payment_event where refund_of = ${paymentId}`,
  );
  return { cents: Number(sum?.cents ?? 0), refunds: sum?.n ?? 0 };
}

export async function refundInTransaction(tx: EntityManager, refund: Refund): Promise<PaymentResult> {
  const state = await lockRefundable(tx, refund.paymentId);
  if (!state) throw new NotFoundError('Payment', refund.paymentId);
  const { payment, refundableCents } = state;
  const amountCents = refund.amountCents ?? refundableCents;
  if (refundableCents === 0 || amountCents > refundableCents) {
    throw new RefundExceedsPaymentError(payment.id, refundableCents, amountCents);
  }
  const refundId = randomUUID();
  const providerRef = refund.providerRef ?? `${payment.providerRef}:refund:${state.refunds + 1}`;
  const inserted = await execute(
    tx,
    sql`insert into payment_event
          (id, user_id, amount_cents, currency, provider, provider_ref, kind, refund_of, note, created_at)
        values (${refundId}, ${payment.user.id}, ${amountCents}, ${payment.currency}, ${payment.provider},
                ${providerRef}, 'REFUND', ${payment.id}, ${refund.note}, now())
        on conflict (provider, provider_ref) do nothing`,
  );
  if (inserted === 0) {
    const existing = await tx.findOneOrFail(PaymentEvent, { provider: payment.provider, providerRef });
    throw new DuplicatePaymentError(payment.provider, providerRef, existing.id);
  }
  const posted = await postLedgerEntry(tx, {
    userId: payment.user.id,
    kind: 'REFUND',
    amountCents: -amountCents,
    reference: refundId,
    note: refund.note ?? `refund of payment ${payment.id}`,
  });
  if (!posted) throw new NotFoundError('User', payment.user.id);
  const created = await tx.findOneOrFail(PaymentEvent, refundId, { populate: ['user'] });
  return { payment: created, balanceCents: posted.balanceAfterCents, currency: posted.currency };
}

/** A user's CREDIT payment from `provider` recorded under one of `refs`, if any (the first by time). */
export async function findProviderCredit(
  em: EntityManager,
  provider: string,
  userId: string,
  refs: readonly string[],
): Promise<{ id: string; amountCents: number; currency: string; createdAt: Date } | null> {
  const row = await firstRow(
    em,
    sql<{ id: string; amount_cents: string; currency: string; created_at: Date | string }>`
      select id, amount_cents::text, currency, created_at from payment_event
       where provider = ${provider} and kind = 'CREDIT' and user_id = ${userId}
         and provider_ref = any(${[...refs]}::text[])
       order by created_at limit 1`,
  );
  return row
    ? {
        id: row.id,
        amountCents: Number(row.amount_cents),
        currency: row.currency,
        // The raw statement's timestamps may come back as text, depending on the connection's parsers.
        createdAt: new Date(row.created_at),
      }
    : null;
}
