import { defineEntity, p } from '@mikro-orm/core';

/** A plan bought for a number of periods: what was paid and the quota period it gave. */
export const PlanPurchaseSchema = defineEntity({
  name: 'PlanPurchase',
  tableName: 'plan_purchase',
  properties: {
    id: p.uuid().primary(),
    userId: p.uuid(),
    planCode: p.text(),
    planName: p.text(),
    periods: p.integer(),
    vmQuota: p.integer(),
    periodDays: p.integer(),
    unitPriceCents: p.bigint('number'),
    discountPercent: p.decimal('number').precision(5).scale(2),
    priceCents: p.bigint('number'),
    currency: p.string().length(3),
    periodStart: p.datetime(),
    periodEnd: p.datetime(),
    /** An auto-renewal: the period end it renewed (unique per user). Null: a purchase by the user. */
    renewsPeriodEnd: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

export class PlanPurchase extends PlanPurchaseSchema.class {}
PlanPurchaseSchema.setClass(PlanPurchase);
