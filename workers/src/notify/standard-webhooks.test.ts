import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { standardWebhookHeaders, webhookSecretKey } from './standard-webhooks.ts';

const key = Buffer.from('0123456789abcdef01234567');
const secret = `whsec_${key.toString('base64')}`;

describe('Standard Webhooks signing', () => {
  it('signs so that the reference implementation verifies it, and only the exact body', () => {
    const body = JSON.stringify({
      type: 'balance.low',
      timestamp: '2026-12-03T07:00:00.000Z',
      data: { a: 'é' },
    });
    const headers = standardWebhookHeaders('outbox-7', body, webhookSecretKey(secret) as Buffer);
    expect(headers['webhook-id']).toBe('outbox-7');
    expect(Number(headers['webhook-timestamp'])).toBeCloseTo(Date.now() / 1000, -1);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    const hook = new Webhook(secret);
    expect(hook.verify(body, headers)).toEqual(JSON.parse(body));
    // The reference signer gives the same signature for the same id, time and body.
    const at = new Date(Number(headers['webhook-timestamp']) * 1000);
    expect(hook.sign('outbox-7', at, body)).toBe(headers['webhook-signature']);
    expect(() => hook.verify(body.replace('é', 'e'), headers)).toThrow();
    expect(() => hook.verify(body, { ...headers, 'webhook-id': 'outbox-8' })).toThrow();
    expect(() =>
      new Webhook(`whsec_${Buffer.from('another-key-of-24-bytes!').toString('base64')}`).verify(
        body,
        headers,
      ),
    ).toThrow();
  });

  it('an old timestamp is refused by a receiver (replay protection)', () => {
    const body = '{}';
    const headers = standardWebhookHeaders('outbox-1', body, key, new Date(Date.now() - 3_600_000));
    expect(() => new Webhook(secret).verify(body, headers)).toThrow(/timestamp/i);
  });

  it('sends no signature without a key', () => {
    expect(standardWebhookHeaders('outbox-1', '{}', null)).not.toHaveProperty('webhook-signature');
  });

  it('takes only whsec_ secrets of 24 to 64 bytes', () => {
    expect(webhookSecretKey(secret)).toEqual(key);
    expect(webhookSecretKey(key.toString('base64'))).toBe('must start with "whsec_"');
    expect(webhookSecretKey('whsec_not base64!')).toBe('must be "whsec_" followed by base64');
    expect(webhookSecretKey(`whsec_${Buffer.alloc(16).toString('base64')}`)).toMatch(
      /24 to 64 bytes \(got 16\)/,
    );
    expect(webhookSecretKey(`whsec_${Buffer.alloc(65).toString('base64')}`)).toMatch(/got 65/);
  });
});
