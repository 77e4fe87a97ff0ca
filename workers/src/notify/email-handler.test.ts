import { createLogger } from '@hero/core/lib/logger';
import { memoryMailer } from '@hero/core/mail/mailer';
import type { OutboxRow } from '@hero/core/outbox/deliver-outbox';
import { describe, expect, it } from 'vitest';
import { emailHandler } from './email-handler.ts';

const log = createLogger({ name: 'test', level: 'silent' });
const row = (payload: Record<string, unknown>): OutboxRow => ({
  id: 42,
  topic: 'email',
  payload,
  attempts: 0,
  createdAt: new Date(),
});
const payment = {
  event: 'payment.received',
  eventId: 41,
  userId: 'u1',
  email: 'someone@example.org',
  data: { amountCents: 500, currency: 'EUR', balanceCents: 500 },
};

describe('emailHandler', () => {
  it("sends the event's template to the address in the row, with the row's Message-ID", async () => {
    const mailer = memoryMailer();
    await emailHandler(mailer, 'https://hero.example.org', log)(row(payment));
    expect(mailer.sent).toEqual([
      expect.objectContaining({
        to: 'someone@example.org',
        subject: 'Payment received: 5.00 EUR',
        messageId: '<outbox-42@hero.example.org>',
      }),
    ]);
  });

  it('throws on a row it cannot send (the outbox retries, then marks it FAILED), sending nothing', async () => {
    const mailer = memoryMailer();
    const handle = emailHandler(mailer, 'https://hero.example.org', log);
    await expect(handle(row({ ...payment, event: 'vm.release' }))).rejects.toThrow(
      /malformed email payload: event/,
    );
    await expect(handle(row({ ...payment, email: undefined }))).rejects.toThrow(/email/);
    await expect(handle(row({ ...payment, data: { currency: 'EUR' } }))).rejects.toThrow(/amountCents/);
    expect(mailer.sent).toEqual([]);
  });
});
