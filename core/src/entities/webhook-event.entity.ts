import { defineEntity, p } from '@mikro-orm/core';

export const WEBHOOK_EVENT_STATUSES = ['APPLIED', 'IGNORED', 'REFUSED'] as const;
export type WebhookEventStatus = (typeof WEBHOOK_EVENT_STATUSES)[number];

/**
 * A payment provider's event, stored once by (provider, event id) in the transaction that
 * applies it: a replayed event finds its row and changes nothing.
 */
export const WebhookEventSchema = defineEntity({
  name: 'WebhookEvent',
  tableName: 'webhook_event',
  properties: {
    provider: p.text().primary(),
    eventId: p.text().primary(),
    type: p.text(),
    status: p.enum(WEBHOOK_EVENT_STATUSES),
    /** Why it was ignored or refused, or what it applied. */
    detail: p.text().nullable(),
    userId: p.uuid().nullable(),
    receivedAt: p.datetime().onCreate(() => new Date()),
  },
});

export class WebhookEvent extends WebhookEventSchema.class {}
WebhookEventSchema.setClass(WebhookEvent);
