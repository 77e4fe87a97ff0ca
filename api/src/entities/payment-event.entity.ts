import { randomUUID } from 'node:crypto';
import { defineEntity, p } from '@mikro-orm/core';
import { PaymentEventRepository } from '../repositories/billing.repository.ts';
import { User } from './user.entity.ts';

export const PaymentEventSchema = defineEntity({
  name: 'PaymentEvent',
  tableName: 'payment_event',
  repository: () => PaymentEventRepository,
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
    kind: p.text().default('CREDIT'),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

export class PaymentEvent extends PaymentEventSchema.class {}
PaymentEventSchema.setClass(PaymentEvent);
