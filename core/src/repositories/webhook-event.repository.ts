import { EntityRepository } from '@mikro-orm/postgresql';
import type { WebhookEvent, WebhookEventStatus } from '../entities/webhook-event.entity.ts';

export class WebhookEventRepository extends EntityRepository<WebhookEvent> {
  /** Newest first (ties: by provider and event id). */
  page(
    filter: { status?: WebhookEventStatus; provider?: string },
    limit: number,
    offset: number,
  ): Promise<WebhookEvent[]> {
    return this.find(
      {
        ...(filter.status ? { status: filter.status } : {}),
        ...(filter.provider ? { provider: filter.provider } : {}),
      },
      { orderBy: [{ receivedAt: 'desc' }, { provider: 'asc' }, { eventId: 'asc' }], limit, offset },
    );
  }
}
