import { Webhook } from 'standardwebhooks';
import type { DeployerCall } from './fake-deployer.ts';

/** A Standard Webhooks secret for the workers under test (24 random-looking bytes). */
export const TEST_WEBHOOK_SECRET = `whsec_${Buffer.from('hero-onboarding-test-key-24b').toString('base64')}`;

/**
 * The body of a notify call, verified with the Standard Webhooks reference library (not the
 * product's signer): throws when the signature, the id or the timestamp do not hold.
 */
export function verifyStandardWebhook(call: DeployerCall, secret = TEST_WEBHOOK_SECRET): any {
  const headers = Object.fromEntries(
    ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((name) => [
      name,
      String(call.headers[name] ?? ''),
    ]),
  );
  return new Webhook(secret).verify(call.rawBody, headers);
}
