import { describe, expect, it } from 'vitest';
import { EMAILED_EVENTS, type EmailedTopic } from '../outbox/email-events.ts';
import { eventEmail, formatMoney, formatTime } from './event-emails.ts';

const WEB = 'https://hero.example.org/';

/** A payload of each emailed event, as its writer makes it. */
const SAMPLES: Record<EmailedTopic, Record<string, unknown>> = {
  'plan.expiring': {
    planCode: 'basic',
    planName: 'Basic <b>',
    periodEnd: '2026-12-31T18:00:00.000Z',
    reason: 'INSUFFICIENT_CREDIT',
    autoRenew: true,
    renewalPriceCents: 1500,
    balanceCents: 320,
    currency: 'EUR',
  },
  'balance.low': {
    balanceCents: 150,
    currency: 'EUR',
    reason: 'FLOOR',
    runwayDays: 1.5,
    runsOutAt: '2026-12-05T06:00:00.000Z',
  },
  'balance.negative': {
    balanceCents: -42,
    currency: 'EUR',
    negativeSince: '2026-12-03T00:00:00.000Z',
    releaseAt: '2026-12-06T00:00:00.000Z',
    graceHours: 72,
  },
  'allocation.released': {
    allocationId: 'a1',
    poolVmId: 'vm-007',
    reason: 'CREDIT_EXHAUSTED',
    releasedAt: '2026-12-06T00:00:00.000Z',
  },
  'payment.received': {
    paymentId: 'p1',
    amountCents: 1234,
    currency: 'EUR',
    provider: 'stripe',
    balanceCents: 1192,
    receivedAt: '2026-12-03T09:30:00.000Z',
  },
  'plan.renewed': {
    planName: 'Basic',
    priceCents: 1500,
    currency: 'EUR',
    periodEnd: '2027-01-31T18:00:00.000Z',
    balanceCents: 500,
  },
  'password.changed': {
    userId: 'u1',
    email: 'ada@example.org',
    via: 'RESET',
    sessionsEnded: 2,
    changedAt: '2026-12-03T10:15:00.000Z',
  },
  'api_token.created': {
    userId: 'u1',
    email: 'ada@example.org',
    tokenId: 't1',
    name: 'ci <deploy>',
    createdBy: 'USER',
    expiresAt: null,
    createdAt: '2026-12-03T10:20:00.000Z',
  },
};

describe('event emails', () => {
  it('every emailed event has a template with both parts, its link and the preference link', () => {
    for (const topic of Object.keys(EMAILED_EVENTS) as EmailedTopic[]) {
      const mail = eventEmail(topic, SAMPLES[topic], WEB);
      expect(mail.subject.length, topic).toBeGreaterThan(10);
      expect(mail.text, topic).toContain('https://hero.example.org/account');
      expect(mail.html, topic).toContain('href="https://hero.example.org/account"');
      expect(mail.html, topic).toMatch(/^<!doctype html>/);
    }
  });

  it('says what happened, with amounts and times the reader can read', () => {
    const expiring = eventEmail('plan.expiring', SAMPLES['plan.expiring'], WEB);
    expect(expiring.subject).toBe('Your plan ends on 2026-12-31 18:00 UTC');
    expect(expiring.text).toContain('Renewing costs 15.00 EUR, more than your balance of 3.20 EUR.');
    expect(expiring.text).toContain('Plans: https://hero.example.org/plans');
    const negative = eventEmail('balance.negative', SAMPLES['balance.negative'], WEB);
    expect(negative.subject).toBe('Your balance is negative: -0.42 EUR');
    expect(negative.text).toContain('by 2026-12-06 00:00 UTC, your VMs are released then');
    const released = eventEmail('allocation.released', SAMPLES['allocation.released'], WEB);
    expect(released.text).toContain('stayed below zero past the grace period');
    expect(eventEmail('payment.received', SAMPLES['payment.received'], WEB).text).toContain(
      'Your balance is now 11.92 EUR.',
    );
  });

  it('tells of a password set or a token made whatever the preferences, and what to do if it was not the user', () => {
    const changed = eventEmail('password.changed', SAMPLES['password.changed'], WEB);
    expect(changed.subject).toBe('Your password was changed');
    expect(changed.text).toContain(
      'changed on 2026-12-03 10:15 UTC, with a reset link sent to this address.',
    );
    expect(changed.text).toContain('2 sessions were signed out.');
    expect(changed.text).toContain('Choose a new password: https://hero.example.org/forgot');
    expect(changed.text).toContain('whatever your email preferences');
    expect(changed.text).not.toContain('Change it on your account page');
    const byChange = eventEmail(
      'password.changed',
      { ...SAMPLES['password.changed'], via: 'CHANGE', sessionsEnded: 0 },
      WEB,
    );
    expect(byChange.text).not.toContain('reset link');
    expect(byChange.text).not.toContain('signed out');
    const token = eventEmail('api_token.created', SAMPLES['api_token.created'], WEB);
    expect(token.subject).toBe('A new API token was created: "ci <deploy>"');
    expect(token.text).toContain('on 2026-12-03 10:20 UTC, with no expiry.');
    expect(token.html).toContain('&quot;ci &lt;deploy&gt;&quot;');
    expect(
      eventEmail(
        'api_token.created',
        { ...SAMPLES['api_token.created'], expiresAt: '2027-01-01T00:00:00Z' },
        WEB,
      ).text,
    ).toContain('valid until 2027-01-01 00:00 UTC');
  });

  it('escapes what it puts into the HTML part', () => {
    const mail = eventEmail('plan.expiring', SAMPLES['plan.expiring'], WEB);
    expect(mail.text).toContain('"Basic <b>"');
    expect(mail.html).toContain('&quot;Basic &lt;b&gt;&quot;');
    expect(mail.html).not.toContain('<b>');
  });

  it('refuses a payload without what the template needs, rather than send half a message', () => {
    expect(() => eventEmail('payment.received', { currency: 'EUR' }, WEB)).toThrow(
      /malformed payment\.received payload: amountCents/,
    );
    expect(() => eventEmail('balance.low', { ...SAMPLES['balance.low'], runsOutAt: 'soon' }, WEB)).toThrow(
      /runsOutAt/,
    );
  });

  it('formats cents and times one way', () => {
    expect(formatMoney(5, 'EUR')).toBe('0.05 EUR');
    expect(formatMoney(-100_000, 'USD')).toBe('-1000.00 USD');
    expect(formatTime('2026-12-03T09:05:59.999Z')).toBe('2026-12-03 09:05 UTC');
  });
});
