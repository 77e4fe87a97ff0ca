import { defineEntity, p } from '@mikro-orm/core';

export const OUTBOX_STATUSES = ['PENDING', 'DONE', 'FAILED'] as const;
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number];

export const OutboxEventSchema = defineEntity({
  name: 'OutboxEvent',
  tableName: 'outbox',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    /** e.g. `vm.release`; the outbox worker routes on it. */
    topic: p.text(),
    payload: p.json<Record<string, unknown>>(),
    /** Optional de-duplication key: at most one event per key, ever. */
    dedupeKey: p.text().nullable().unique(),
    status: p.enum(OUTBOX_STATUSES).default('PENDING'),
    attempts: p.integer().default(0),
    nextAttemptAt: p.datetime().onCreate(() => new Date()),
    lastError: p.text().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    doneAt: p.datetime().nullable(),
  },
});

export class OutboxEvent extends OutboxEventSchema.class {}
OutboxEventSchema.setClass(OutboxEvent);
