import { pageWebhookEvents } from '@hero/core/billing/list-billing';
import { WEBHOOK_EVENT_STATUSES, WebhookEvent } from '@hero/core/entities/webhook-event.entity';
import { resolveOffsetConnection } from '@pothos/plugin-relay';
import { builder } from '../builder.ts';
import { UserType } from './user.ts';

const WebhookEventStatusEnum = builder.enumType('WebhookEventStatus', {
  values: WEBHOOK_EVENT_STATUSES,
  description:
    'APPLIED: it changed a balance. IGNORED: nothing to do (e.g. an event type not used). REFUSED: it could not be applied (see detail).',
});

const WebhookEventType = builder.objectType(WebhookEvent, {
  name: 'WebhookEvent',
  description: "A payment provider's webhook event, stored once by (provider, eventId) when it was handled.",
  fields: (t) => ({
    id: t.id({ description: '`<provider>:<eventId>`.', resolve: (e) => `${e.provider}:${e.eventId}` }),
    provider: t.exposeString('provider', { description: 'e.g. `stripe`.' }),
    eventId: t.exposeString('eventId', { description: "The provider's event id (e.g. `evt_…`)." }),
    type: t.exposeString('type', {
      description: "The provider's event type (e.g. `checkout.session.completed`).",
    }),
    status: t.field({ type: WebhookEventStatusEnum, resolve: (e) => e.status }),
    detail: t.exposeString('detail', {
      nullable: true,
      description: 'Why it was ignored or refused, or what it applied.',
    }),
    userId: t.id({
      nullable: true,
      description: 'The user it concerned, when known.',
      resolve: (e) => e.userId ?? null,
    }),
    user: t.field({
      type: UserType,
      nullable: true,
      description: 'The user it concerned, when known and still there.',
      resolve: (e, _args, ctx) => (e.userId ? ctx.loaders.user.load(e.userId) : null),
    }),
    receivedAt: t.expose('receivedAt', { type: 'DateTime' }),
  }),
});

builder.queryField('webhookEvents', (t) =>
  t.connection({
    type: WebhookEventType,
    description:
      'Admin: payment provider webhook events as handled, newest first, optionally of one status or provider.',
    authScopes: { adminRead: true },
    args: {
      status: t.arg({ type: WebhookEventStatusEnum, required: false }),
      provider: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, ({ limit, offset }) =>
        pageWebhookEvents(
          ctx.em,
          { status: args.status ?? undefined, provider: args.provider ?? undefined },
          limit,
          offset,
        ),
      ),
  }),
);
