import { defineEntity, p } from '@mikro-orm/core';

export const LEDGER_KINDS = ['PAYMENT', 'REFUND', 'PLAN_PURCHASE', 'USAGE', 'ADJUSTMENT'] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];

/**
 * One change to a balance, append-only (a database trigger refuses UPDATE and DELETE): the
 * signed amount (credit > 0, debit < 0) and the balance right after it. A user's balance is the
 * sum of their rows. Written only by core/src/billing/ledger.ts (and, set-based, the aggregator).
 */
export const LedgerEntrySchema = defineEntity({
  name: 'LedgerEntry',
  tableName: 'ledger_entry',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    userId: p.uuid(),
    kind: p.enum(LEDGER_KINDS),
    amountCents: p.bigint('number'),
    balanceAfterCents: p.bigint('number'),
    currency: p.string().length(3),
    /** What the change belongs to: a payment id, a plan purchase id, a job run… */
    reference: p.text().nullable(),
    note: p.text().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

export class LedgerEntry extends LedgerEntrySchema.class {}
LedgerEntrySchema.setClass(LedgerEntry);
