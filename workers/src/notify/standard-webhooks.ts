import { createHmac } from 'node:crypto';

/** Standard Webhooks secrets are `whsec_` and the base64 of the key. */
const SECRET_PREFIX = 'whsec_';

/** The key bytes of a `whsec_<base64>` secret, or why it is not one. */
export function webhookSecretKey(secret: string): Buffer | string {
  if (!secret.startsWith(SECRET_PREFIX)) return `must start with "${SECRET_PREFIX}"`;
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0)
    return `must be "${SECRET_PREFIX}" followed by base64`;
  const key = Buffer.from(encoded, 'base64');
  // The scheme asks for 24 to 64 random bytes.
  if (key.length < 24 || key.length > 64) return `its key must be 24 to 64 bytes (got ${key.length})`;
  return key;
}

/**
 * The Standard Webhooks headers for one delivery attempt of `body`: `webhook-id` (the same for
 * every attempt of one event, so a receiver can drop repeats), `webhook-timestamp` (this
 * attempt, unix seconds) and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of
 * `<id>.<timestamp>.<body>`), or no signature without a key.
 */
export function standardWebhookHeaders(
  id: string,
  body: string,
  key: Buffer | null,
  now: Date = new Date(),
): Record<string, string> {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  const headers: Record<string, string> = { 'webhook-id': id, 'webhook-timestamp': timestamp };
  if (key) {
    const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
    headers['webhook-signature'] = `v1,${signature}`;
  }
  return headers;
}
