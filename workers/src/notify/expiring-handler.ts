import type { Logger } from '@hero/core/lib/logger';
import type { OutboxHandler } from '@hero/core/outbox/deliver-outbox';
import { ALLOCATION_EXPIRING_TOPIC, type AllocationExpiringPayload } from '@hero/core/outbox/enqueue';
import { z } from 'zod';
import type { WorkerConfig } from '../config.ts';
import { postJson } from '../http/post-json.ts';

const allocationExpiringPayload = z.object({
  allocationId: z.string().min(1),
  userId: z.string().min(1),
  email: z.string(),
  poolVmId: z.string().min(1),
  cockpitUrl: z.string().nullable(),
  expiresAt: z.string().min(1),
}) satisfies z.ZodType<AllocationExpiringPayload>;

/**
 * The `allocation.expiring` handler: POSTs `{ event: 'allocation.expiring', ...payload }` to
 * NOTIFY_WEBHOOK_URL (`idempotency-key: outbox-<id>`), or logs the warning when no webhook is
 * configured. A failed call throws, so the outbox retries it with backoff.
 */
export function allocationExpiringHandler(config: WorkerConfig, log: Logger): OutboxHandler {
  return async (row) => {
    const parsed = allocationExpiringPayload.safeParse(row.payload);
    if (!parsed.success) {
      throw new Error(
        `malformed ${ALLOCATION_EXPIRING_TOPIC} payload: ${parsed.error.issues.map((i) => i.path.join('.') || i.message).join(', ')}`,
      );
    }
    const event = parsed.data;
    if (!config.NOTIFY_WEBHOOK_URL) {
      log.info(
        {
          outboxId: row.id,
          allocationId: event.allocationId,
          userId: event.userId,
          expiresAt: event.expiresAt,
        },
        `expiry warning: allocation ${event.allocationId} (${event.poolVmId}) of ${event.email} expires at ${event.expiresAt}`,
      );
      return;
    }
    const { status } = await postJson(
      config.NOTIFY_WEBHOOK_URL,
      { event: ALLOCATION_EXPIRING_TOPIC, ...event },
      {
        what: 'notify webhook POST',
        token: config.NOTIFY_WEBHOOK_TOKEN,
        timeoutMs: config.NOTIFY_TIMEOUT_MS,
        idempotencyKey: `outbox-${row.id}`,
      },
    );
    log.info({ outboxId: row.id, allocationId: event.allocationId, status }, 'expiry warning sent');
  };
}
