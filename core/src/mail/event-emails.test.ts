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
