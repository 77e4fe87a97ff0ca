import { EntityRepository } from '@mikro-orm/postgresql';
import type { Billing } from '../entities/billing.entity.ts';
import type { PaymentEvent } from '../entities/payment-event.entity.ts';

export const BILLING_ORDERS = ['BALANCE_ASC', 'BALANCE_DESC', 'UPDATED_DESC'] as const;
export type BillingOrder = (typeof BILLING_ORDERS)[number];

export class BillingRepository extends EntityRepository<Billing> {
  page(filter: { userId?: string; order: BillingOrder }, limit: number, offset: number): Promise<Billing[]> {
    const orderBy =
      filter.order === 'BALANCE_ASC'
        ? { creditBalanceCents: 'asc' as const }
        : filter.order === 'BALANCE_DESC'
          ? { creditBalanceCents: 'desc' as const }
          : { updatedAt: 'desc' as const };
    return this.find(filter.userId ? { user: filter.userId } : {}, {
      orderBy: [orderBy, { user: 'asc' }],
      populate: ['user'],
      limit,
      offset,
    });
  }
}

export class PaymentEventRepository extends EntityRepository<PaymentEvent> {
  /** Newest first. */
  page(filter: { userId?: string }, limit: number, offset: number): Promise<PaymentEvent[]> {
    return this.find(filter.userId ? { user: filter.userId } : {}, {
      orderBy: { createdAt: 'desc', id: 'desc' },
      populate: ['user'],
      limit,
      offset,
    });
  }
}
