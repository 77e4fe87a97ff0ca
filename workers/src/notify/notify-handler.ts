import type { Logger } from '@hero/core/lib/logger';
import type { OutboxHandler } from '@hero/core/outbox/deliver-outbox';
import type { NotifyTopic } from '@hero/core/outbox/notify-events';
import type { WorkerConfig } from '../config.ts';
import { postJson } from '../http/post-json.ts';
import { standardWebhookHeaders, webhookSecretKey } from './standard-webhooks.ts';

/** What the receiver gets: the Standard Webhooks payload shape. */
export interface NotifyBody {
  type: NotifyTopic;
  /** When the event happened (its outbox row was written), ISO 8601. */
  timestamp: string;
  data: Record<string, unknown>;
}

/**
 * The handler of a user event `topic`: POSTs `{ type, timestamp, data }` to NOTIFY_WEBHOOK_URL
 * with the Standard Webhooks headers (`webhook-id: outbox-<id>`, the same on every retry, also
 * sent as `idempotency-key`), or logs the event when no webhook is configured. A failed call
 * (no answer, or not 2xx) throws, so the outbox retries it with backoff.
 */
export function notifyHandler(topic: NotifyTopic, config: WorkerConfig, log: Logger): OutboxHandler {
  const secret = config.NOTIFY_WEBHOOK_SECRET;
  const key = secret === undefined ? null : webhookSecretKey(secret);
  // The config schema refuses a malformed secret; this only narrows the type.
  if (typeof key === 'string') throw new Error(`NOTIFY_WEBHOOK_SECRET ${key}`);
  return async (row) => {
    const data = row.payload;
    if (typeof data !== 'object' || data === null || Array.isArray(data))
      throw new Error(`malformed ${topic} payload: not a JSON object`);
    const body: NotifyBody = { type: topic, timestamp: row.createdAt.toISOString(), data };
    if (!config.NOTIFY_WEBHOOK_URL) {
      log.info({ outboxId: row.id, event: topic, data }, `event ${topic}${describeSubject(data)}`);
      return;
    }
    const webhookId = `outbox-${row.id}`;
    const { status } = await postJson(config.NOTIFY_WEBHOOK_URL, body, {
      what: 'notify webhook POST',
      token: config.NOTIFY_WEBHOOK_TOKEN,
      timeoutMs: config.NOTIFY_TIMEOUT_MS,
      idempotencyKey: webhookId,
      headersFor: (sent) => standardWebhookHeaders(webhookId, sent, key),
    });
    log.info({ outboxId: row.id, event: topic, status }, `event ${topic} sent`);
  };
}

/** ` for <email>` (or the user id) when the event names its user, for the log line. */
function describeSubject(data: Record<string, unknown>): string {
  const who = typeof data.email === 'string' ? data.email : data.userId;
  return typeof who === 'string' ? ` for ${who}` : '';
}
