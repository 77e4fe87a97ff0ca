/**
 * The users' event emails from a real outbox worker to a real SMTP server: an opted-in user's
 * event is emailed once, an opted-out user's never; an SMTP server that is down, then refuses,
 * is retried and the email then arrives once, while the event's own delivery goes on apart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { createUser, recordPayment } from './support/factories.ts';
import { waitFor } from './support/fake-deployer.ts';
import { graphql } from './support/graphql.ts';
import { freePort, spawnTs } from './support/process.ts';
import { startSmtpServer, type TestSmtpServer } from './support/smtp.ts';

const SET_EMAIL_PREFERENCES = graphql(`
  mutation UserEmailSetPreferences($warnings: Boolean, $receipts: Boolean) {
    setEmailPreferences(warnings: $warnings, receipts: $receipts) {
      __typename
      ... on SetEmailPreferencesSuccess { emailPreferences { warnings receipts } }
      ... on Error { code message }
    }
  }
`);

const WEB_PUBLIC_URL = 'https://hero.example.test';

let db: TestDatabase;
let api: ApiProcess;
let smtp: TestSmtpServer | undefined;
/** Message-IDs refused once already. */
const refusedOnce = new Set<string>();

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startApi({ databaseUrl: db.url });
});
afterAll(async () => {
  await api?.stop();
  await smtp?.stop();
  await db?.drop();
});

describe('event emails through the outbox worker', () => {
  it('emails an opted-in user once, retried while SMTP is down or refusing, and an opted-out user never', async () => {
    const optedIn = await createUser(api);
    const optedOut = await createUser(api);
    const set = await api.asUser(optedIn.token, SET_EMAIL_PREFERENCES, { receipts: true });
    expect(set.data.setEmailPreferences).toEqual({
      __typename: 'SetEmailPreferencesSuccess',
      emailPreferences: { warnings: true, receipts: true },
    });
    // Receipts are off by default.
    const paidIn = await recordPayment(api, optedIn.id, 1234);
    await recordPayment(api, optedOut.id, 999);

    // The SMTP server is down at first: nothing listens on its port.
    const smtpPort = await freePort();
    const worker = spawnTs('workers/src/main.ts', ['outbox'], {
      DATABASE_URL: db.url,
      SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      MAIL_FROM: 'Hero Test <hero@example.test>',
      WEB_PUBLIC_URL,
      OUTBOX_INTERVAL_MS: '200',
      OUTBOX_RETRY_BASE_MS: '200',
    });
    try {
      const emailRow = () =>
        db.query<{ attempts: number; last_error: string | null; status: string }>(
          `select attempts, last_error, status from outbox where dedupe_key = $1`,
          [`email:payment.received:${paidIn.paymentId}`],
        );
      await waitFor(async () => (await emailRow())[0]?.attempts >= 1, 30_000, 'a first, failed attempt');
      expect((await emailRow())[0]).toMatchObject({
        status: 'PENDING',
        last_error: expect.stringMatching(/ECONNREFUSED/),
      });
      // Then it comes up, refusing the first attempt of every message (451) and accepting its retry.
      smtp = await startSmtpServer({
        port: smtpPort,
        refuse: (mail) => {
          const id = mail.messageId ?? '';
          if (refusedOnce.has(id)) return false;
          refusedOnce.add(id);
          return true;
        },
      });
      await waitFor(
        async () => {
          const pending = await db.query(
            `select 1 from outbox where status <> 'DONE' and payload->>'userId' = any($1::text[])`,
            [[optedIn.id, optedOut.id]],
          );
          return pending.length === 0;
        },
        30_000,
        'every event and email DONE',
      );
      // A few more ticks: nothing is sent again.
      await new Promise((r) => setTimeout(r, 1000));
    } catch (err) {
      console.error(worker.lines.slice(-30).join('\n'));
      throw err;
    } finally {
      expect(await worker.stop()).toBe(0);
    }

    expect(smtp?.received.map((m) => m.to)).toEqual([[optedIn.email]]);
    const [mail] = smtp!.received;
    expect(mail.parsed.subject).toBe('Payment received: 12.34 EUR');
    expect(mail.parsed.from?.text).toBe('"Hero Test" <hero@example.test>');
    expect(mail.parsed.text).toContain('We credited 12.34 EUR to your account');
    expect(mail.parsed.text).toContain(`${WEB_PUBLIC_URL}/account`);
    expect(mail.parsed.html).toContain(`href="${WEB_PUBLIC_URL}/receipts"`);
    expect(refusedOnce.size).toBe(1);

    // The email took three attempts (down, refused, sent), the event's own delivery (the log: no
    // webhook set) one.
    const rows = await db.query<{ topic: string; attempts: number; dedupe_key: string }>(
      `select topic, attempts, dedupe_key from outbox
        where topic in ('email', 'payment.received') and payload->>'userId' = any($1::text[]) order by id`,
      [[optedIn.id, optedOut.id]],
    );
    expect(rows).toEqual([
      { topic: 'payment.received', attempts: 1, dedupe_key: `payment.received:${paidIn.paymentId}` },
      { topic: 'email', attempts: 3, dedupe_key: `email:payment.received:${paidIn.paymentId}` },
      { topic: 'payment.received', attempts: 1, dedupe_key: expect.stringMatching(/^payment\.received:/) },
    ]);
    expect(mail.parsed.messageId).toMatch(/^<outbox-\d+@hero\.example\.test>$/);
  }, 60_000);
});
