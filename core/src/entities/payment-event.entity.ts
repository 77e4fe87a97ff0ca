import { randomUUID } from 'node:crypto';
import { defineEntity, p } from '@mikro-orm/core';
import { User } from './user.entity.ts';

export const PAYMENT_KINDS = ['CREDIT', 'REFUND'] as const;
export type PaymentKind = (typeof PAYMENT_KINDS)[number];

export const PaymentEventSchema = defineEntity({
  name: 'PaymentEvent',
  tableName: 'payment_event',
  uniques: [{ name: 'payment_event_provider_ref_unique', properties: ['provider', 'providerRef'] }],
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => randomUUID()),
    user: () => p.manyToOne(User).index('payment_event_user_id_index'),
    amountCents: p.bigint('number'),
    currency: p.string().length(3),
    provider: p.text(),
    providerRef: p.text(),
    /** CREDIT (money in) or REFUND (money back; `refundOf` is the payment). */
    kind: p.enum(PAYMENT_KINDS).default('CREDIT'),
    refundOf: () =>
      p.manyToOne(PaymentEvent).fieldName('refund_of').nullable().index('payment_event_refund_of_index'),
    note: p.text().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

export class PaymentEvent extends PaymentEventSchema.class {}
PaymentEventSchema.setClass(PaymentEvent);
