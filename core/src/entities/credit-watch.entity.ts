import { defineEntity, p } from '@mikro-orm/core';
import { User } from './user.entity.ts';

/**
 * What the credit watch last saw of a user's balance: the low and negative episodes it has
 * announced. Written only by core/src/billing/credit-watch.ts; the balance and the ledger stay
 * the truth (a negative episode is named by the ledger row that took the balance below zero).
 */
export const CreditWatchSchema = defineEntity({
  name: 'CreditWatch',
  tableName: 'credit_watch',
  properties: {
    user: () => p.oneToOne(User).primary().deleteRule('cascade'),
    lowSince: p.datetime().nullable(),
    negativeEntryId: p.bigint('number').nullable(),
    negativeSince: p.datetime().nullable(),
    updatedAt: p.datetime().onCreate(() => new Date()),
  },
});

export class CreditWatch extends CreditWatchSchema.class {}
CreditWatchSchema.setClass(CreditWatch);
