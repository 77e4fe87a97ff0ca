import type { EntityManager } from '@mikro-orm/postgresql';
import { Billing } from '../entities/billing.entity.ts';
import { LedgerEntry, type LedgerKind } from '../entities/ledger-entry.entity.ts';
import { PaymentEvent } from '../entities/payment-event.entity.ts';
import { WebhookEvent, type WebhookEventStatus } from '../entities/webhook-event.entity.ts';

export const BILLING_ORDERS = ['BALANCE_ASC', 'BALANCE_DESC', 'UPDATED_DESC'] as const;
export type BillingOrder = (typeof BILLING_ORDERS)[number];

export function pageBilling(
  em: EntityManager,
  filter: { userId?: string; order: BillingOrder },
  limit: number,
  offset: number,
): Promise<Billing[]> {
  const orderBy =
    filter.order === 'BALANCE_ASC'
      ? { creditBalanceCents: 'asc' as const }
      : filter.order === 'BALANCE_DESC'
        ? { creditBalanceCents: 'desc' as const }
        : { updatedAt: 'desc' as const };
  return em.find(Billing, filter.userId ? { user: filter.userId } : {}, {
    orderBy: [orderBy, { user: 'asc' }],
    populate: ['user'],
    limit,
    offset,
  });
}

/** Newest first. */
export function pagePaymentEvents(
  em: EntityManager,
  filter: { userId?: string },
  limit: number,
  offset: number,
): Promise<PaymentEvent[]> {
  return em.find(PaymentEvent, filter.userId ? { user: filter.userId } : {}, {
    orderBy: { createdAt: 'desc', id: 'desc' },
    populate: ['user'],
    limit,
    offset,
  });
}

/** Newest first. */
export function pageLedgerEntries(
  em: EntityManager,
  filter: { userId?: string; kind?: LedgerKind },
  limit: number,
  offset: number,
): Promise<LedgerEntry[]> {
  return em.find(
    LedgerEntry,
    { ...(filter.userId ? { userId: filter.userId } : {}), ...(filter.kind ? { kind: filter.kind } : {}) },
    { orderBy: { id: 'desc' }, limit, offset },
  );
}

/** Newest first (ties: by provider and event id). */
export function pageWebhookEvents(
  em: EntityManager,
  filter: { status?: WebhookEventStatus; provider?: string },
  limit: number,
  offset: number,
): Promise<WebhookEvent[]> {
  return em.find(
    WebhookEvent,
    {
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.provider ? { provider: filter.provider } : {}),
    },
    { orderBy: [{ receivedAt: 'desc' }, { provider: 'asc' }, { eventId: 'asc' }], limit, offset },
  );
}
