import { defineEntity, p } from '@mikro-orm/core';
import { User } from './user.entity.ts';

export const BillingSchema = defineEntity({
  name: 'Billing',
  tableName: 'billing',
  properties: {
    user: () => p.oneToOne(User).primary().deleteRule('cascade'),
    /** 64-bit in the database; read as a JS number (exact up to 2^53 cents). */
    creditBalanceCents: p.bigint('number').default(0),
    currency: p.string().length(3).default('EUR'),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});

export class Billing extends BillingSchema.class {}
BillingSchema.setClass(Billing);
