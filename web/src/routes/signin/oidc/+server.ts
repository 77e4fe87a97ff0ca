import { error } from '@sveltejs/kit';
import * as client from 'openid-client';
import { oidcClient, redirectUri, saveFlow, scopesFor } from '#lib/server/oidc.ts';
import type { RequestHandler } from './$types';

/**
 * Starts a sign-in with the forge: a fresh state, nonce and PKCE verifier, then the issuer.
 * `?for=operator` (the admin login's button): the callback signs an operator in instead.
 */
export const GET: RequestHandler = async ({ cookies, url }) => {
  const configuration = oidcClient();
  if (!configuration) error(404, 'Sign-in with the forge is not configured.');
  let config: client.Configuration;
  try {
    config = await configuration;
  } catch {
    error(
      503,
      'The forge cannot be reached right now: try again in a moment, or sign in with your password.',
    );
  }
  const verifier = client.randomPKCECodeVerifier();
  const purpose = url.searchParams.get('for') === 'operator' ? 'operator' : 'user';
  const flow = { state: client.randomState(), nonce: client.randomNonce(), verifier, purpose } as const;
  saveFlow(cookies, url, flow);
  const target = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri(url),
    scope: scopesFor(purpose),
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: flow.state,
    nonce: flow.nonce,
  });
  // A Response rather than redirect(): SvelteKit's redirect() refuses other origins.
  return new Response(null, { status: 303, headers: { location: target.href } });
};
