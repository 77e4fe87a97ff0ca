import type { Logger } from '@hero/core/lib/logger';
import { eventEmail } from '@hero/core/mail/event-emails';
import type { Mailer } from '@hero/core/mail/mailer';
import type { OutboxHandler } from '@hero/core/outbox/deliver-outbox';
import { EMAIL_TOPIC, EMAILED_EVENTS, type EmailedTopic } from '@hero/core/outbox/email-events';
import { z } from 'zod';

const emailPayload = z.object({
  event: z.enum(Object.keys(EMAILED_EVENTS) as [EmailedTopic, ...EmailedTopic[]]),
  eventId: z.number().int(),
  userId: z.string().min(1),
  email: z.string().min(3),
  data: z.record(z.string(), z.unknown()),
});

/**
 * The `email` handler: renders the event's template and hands it to the mailer (SMTP_URL,
 * MAIL_DIR or the log). The Message-ID is the outbox row's, the same on every retry, so a mail
 * client can drop the rare copy of a message whose SMTP acceptance was lost before the row was
 * marked DONE. A refusal or an unreachable server throws: the outbox retries it with backoff.
 */
export function emailHandler(mailer: Mailer, webUrl: string, log: Logger): OutboxHandler {
  const host = new URL(webUrl).hostname || 'hero-onboarding';
  return async (row) => {
    const parsed = emailPayload.safeParse(row.payload);
    if (!parsed.success)
      throw new Error(
        `malformed ${EMAIL_TOPIC} payload: ${parsed.error.issues.map((i) => i.path.join('.') || i.message).join(', ')}`,
      );
    const { event, userId, email, data } = parsed.data;
    const content = eventEmail(event, data, webUrl);
    await mailer.send({ to: email, ...content, messageId: `<outbox-${row.id}@${host}>` });
    log.info({ outboxId: row.id, event, userId, via: mailer.description }, `email ${event} sent`);
  };
}
