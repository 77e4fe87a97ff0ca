import { describe, expect, it } from 'vitest';
import { createApiToken } from '../auth/api-tokens.ts';
import { recordPayment } from '../billing/payments.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { EMAIL_TOPIC } from '../outbox/email-events.ts';
import { enqueueNotification } from '../outbox/notify-events.ts';
import { provisionerNamed } from '../provisioners/registry.ts';
import { useTestDatabase } from '../testing/database.ts';
import { createTestUser, uniqueTag } from '../testing/factories.ts';
import { deleteUser } from './account-lifecycle.ts';
import { emailPreferences, setEmailPreferences } from './email-preferences.ts';

const t = useTestDatabase();

/** The `email` rows of a user, oldest first. */
const emailsOf = (userId: string) =>
  t.query<{ payload: Record<string, unknown>; dedupe_key: string; status: string }>(
    `select payload, dedupe_key, status from outbox where topic = '${EMAIL_TOPIC}' and payload->>'userId' = $1
      order by id`,
    [userId],
  );

describe('email preferences', () => {
  it('start with warnings on and receipts off; a change keeps what is left out', async () => {
    const user = await createTestUser(t.em());
    expect(await emailPreferences(t.em(), user.id)).toEqual({ warnings: true, receipts: false });
    expect(await setEmailPreferences(t.em(), { userId: user.id, receipts: true })).toEqual({
      warnings: true,
      receipts: true,
    });
    expect(await setEmailPreferences(t.em(), { userId: user.id, warnings: false })).toEqual({
      warnings: false,
      receipts: true,
    });
    expect(await emailPreferences(t.em(), user.id)).toEqual({ warnings: false, receipts: true });
  });

  it('refuses nothing to change and an unknown user, changing nothing', async () => {
    const user = await createTestUser(t.em());
    await expect(setEmailPreferences(t.em(), { userId: user.id })).rejects.toBeInstanceOf(ValidationError);
    await expect(
      setEmailPreferences(t.em(), { userId: '00000000-0000-4000-8000-000000000000', warnings: false }),
    ).rejects.toBeInstanceOf(NotFoundError);
    await expect(setEmailPreferences(t.em(), { userId: 'nope', warnings: false })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(emailPreferences(t.em(), 'nope')).rejects.toBeInstanceOf(NotFoundError);
    expect(await emailPreferences(t.em(), user.id)).toEqual({ warnings: true, receipts: false });
  });
});

describe('emails enqueued with the events', () => {
  it('a warning is emailed by default, once however often its event is written', async () => {
    const user = await createTestUser(t.em());
    const payload = {
      userId: user.id,
      email: user.email,
      planCode: 'basic',
      periodEnd: '2026-12-31T00:00:00Z',
    };
    const key = `plan.expiring:${user.id}:${uniqueTag()}`;
    expect(await enqueueNotification(t.em(), 'plan.expiring', payload, key)).toBe(true);
    expect(await enqueueNotification(t.em(), 'plan.expiring', payload, key)).toBe(false);
    const [event] = await t.query<{ id: string }>('select id::text from outbox where dedupe_key = $1', [key]);
    expect(await emailsOf(user.id)).toEqual([
      {
        payload: {
          event: 'plan.expiring',
          eventId: Number(event.id),
          userId: user.id,
          email: user.email,
          data: payload,
        },
        dedupe_key: `email:${key}`,
        status: 'PENDING',
      },
    ]);
  });

  it('follows the preference the user has when the event is written', async () => {
    const user = await createTestUser(t.em());
    const low = (n: number) =>
      enqueueNotification(
        t.em(),
        'balance.low',
        { userId: user.id, email: user.email },
        `balance.low:${user.id}:${n}`,
      );
    await setEmailPreferences(t.em(), { userId: user.id, warnings: false });
    await low(1);
    // A receipt is off by default: the payment's event is written, no email.
    await recordPayment(t.em(), { userId: user.id, amountCents: 500, currency: 'EUR', provider: 'manual' });
    expect(await emailsOf(user.id)).toEqual([]);

    await setEmailPreferences(t.em(), { userId: user.id, warnings: true, receipts: true });
    await low(2);
    const { payment } = await recordPayment(t.em(), {
      userId: user.id,
      amountCents: 700,
      currency: 'EUR',
      provider: 'manual',
    });
    expect((await emailsOf(user.id)).map((e) => e.dedupe_key)).toEqual([
      `email:balance.low:${user.id}:2`,
      `email:payment.received:${payment.id}`,
    ]);
    const events = await t.query(
      `select topic from outbox where topic in ('balance.low', 'payment.received') and payload->>'userId' = $1`,
      [user.id],
    );
    expect(events).toHaveLength(4);
  });

  it('emails a release only when it ended the period or the credit, a password only when the user did not just choose it', async () => {
    const user = await createTestUser(t.em());
    const released = (reason: string) =>
      enqueueNotification(
        t.em(),
        'allocation.released',
        { userId: user.id, email: user.email, reason },
        `allocation.released:${user.id}:${reason}`,
      );
    for (const reason of ['USER', 'ADMIN', 'EXPIRED', 'CREDIT_EXHAUSTED']) await released(reason);
    // Preferences off: a password changed is emailed all the same, the first one set from an
    // invitation link is not.
    await t.query('update users set email_warnings = false, email_receipts = false where id = $1', [user.id]);
    for (const via of ['INVITATION', 'CHANGE'])
      await enqueueNotification(
        t.em(),
        'password.changed',
        { userId: user.id, via },
        `password.changed:${uniqueTag()}`,
      );
    await enqueueNotification(
      t.em(),
      'allocation.expiring',
      { userId: user.id },
      `allocation.expiring:${uniqueTag()}`,
    );
    const data = (await emailsOf(user.id)).map((e) => e.payload.data as { reason?: string; via?: string });
    expect(data.map((d) => d.reason ?? d.via)).toEqual(['EXPIRED', 'CREDIT_EXHAUSTED', 'CHANGE']);
  });

  it("emails a token the user made, not the one an operator's createUser made for them", async () => {
    const user = await createTestUser(t.em());
    expect(await emailsOf(user.id)).toEqual([]);
    const { row } = await createApiToken(t.em(), { userId: user.id, name: 'laptop' });
    expect((await emailsOf(user.id)).map((e) => e.dedupe_key)).toEqual([`email:api_token.created:${row.id}`]);
  });

  it('an address not verified yet gets no email', async () => {
    const user = await createTestUser(t.em());
    await t.query('update users set email_verified_at = null where id = $1', [user.id]);
    await enqueueNotification(
      t.em(),
      'balance.low',
      { userId: user.id },
      `balance.low:${user.id}:unverified`,
    );
    expect(await emailsOf(user.id)).toEqual([]);
  });

  it('an event naming no user (or no such user) is written without an email', async () => {
    for (const userId of ['not-a-uuid', '00000000-0000-4000-8000-000000000000', undefined]) {
      const key = `balance.low:orphan:${uniqueTag()}`;
      expect(await enqueueNotification(t.em(), 'balance.low', { userId }, key)).toBe(true);
      expect(await t.query('select 1 from outbox where dedupe_key = $1', [`email:${key}`])).toEqual([]);
    }
  });

  it("a deleted account's unsent emails are dropped, the sent ones keep no address, and no new one is written", async () => {
    const user = await createTestUser(t.em());
    const low = (n: number) =>
      enqueueNotification(
        t.em(),
        'balance.low',
        { userId: user.id, email: user.email },
        `balance.low:${user.id}:${n}`,
      );
    await low(1);
    await low(2);
    await t.query(`update outbox set status = 'DONE' where dedupe_key = $1`, [
      `email:balance.low:${user.id}:1`,
    ]);
    await deleteUser(
      t.em(),
      { userId: user.id, confirmEmail: user.email },
      { provisionerFor: provisionerNamed },
    );
    await low(3);
    const emails = await emailsOf(user.id);
    expect(emails.map((e) => [e.dedupe_key, e.status])).toEqual([[`email:balance.low:${user.id}:1`, 'DONE']]);
    expect(JSON.stringify(emails)).not.toContain(user.email);
  });
});
