import type { Cookies } from '@sveltejs/kit';
import * as client from 'openid-client';
import { webConfig } from './config.ts';

/** Holds this sign-in's state, nonce and PKCE verifier between the redirect and the callback. */
export const OIDC_COOKIE = 'hero_oidc';
const COOKIE_PATH = '/signin/oidc';
/** Time to get through the issuer's login (the cookie's lifetime). */
const FLOW_SECONDS = 600;

export const CALLBACK_PATH = '/signin/oidc/callback';

/** The scopes a sign-in asks for: an operator's adds OIDC_OPERATOR_SCOPES (the role claim). */
export function scopesFor(purpose: 'user' | 'operator'): string {
  const extra = purpose === 'operator' ? webConfig().OIDC_OPERATOR_SCOPES : '';
  return extra ? `openid email profile ${extra}` : 'openid email profile';
}

/** The sign-in button's text, or null when no issuer is configured. */
export function oidcLabel(): string | null {
  const config = webConfig();
  return config.OIDC_ISSUER_URL ? config.OIDC_LABEL : null;
}

let discovered: Promise<client.Configuration> | undefined;

/** The issuer's metadata, discovered once (a failure is tried again on the next sign-in). */
export function oidcClient(): Promise<client.Configuration> | null {
  const config = webConfig();
  if (!config.OIDC_ISSUER_URL || !config.OIDC_CLIENT_ID || !config.OIDC_CLIENT_SECRET) return null;
  if (!discovered) {
    const issuer = new URL(config.OIDC_ISSUER_URL);
    discovered = client.discovery(
      issuer,
      config.OIDC_CLIENT_ID,
      config.OIDC_CLIENT_SECRET,
      undefined,
      // A plain-http issuer is only for local use and tests.
      issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : undefined,
    );
    discovered.catch(() => {
      discovered = undefined;
    });
  }
  return discovered;
}

/** Where the issuer sends the browser back: the public origin (WEB_ORIGIN), else the request's. */
export function redirectUri(url: URL): string {
  return `${webConfig().WEB_ORIGIN ?? url.origin}${CALLBACK_PATH}`;
}

export interface OidcFlow {
  state: string;
  nonce: string;
  verifier: string;
  /** Who is signing in: a user (the default), or an operator on the admin login. */
  purpose?: 'user' | 'operator';
}

/**
 * The flow's secrets live in an HttpOnly cookie scoped to /signin/oidc for 10 minutes. It needs
 * no signature: it only holds values this browser must present back (a changed value fails the
 * state, PKCE or nonce check), and the api checks the nonce against the ID token again.
 */
export function saveFlow(cookies: Cookies, url: URL, flow: OidcFlow): void {
  cookies.set(OIDC_COOKIE, JSON.stringify(flow), {
    path: COOKIE_PATH,
    httpOnly: true,
    sameSite: 'lax',
    secure: url.protocol === 'https:',
    maxAge: FLOW_SECONDS,
  });
}

/** The flow this browser started (read once: the cookie is deleted), or null. */
export function takeFlow(cookies: Cookies, url: URL): OidcFlow | null {
  const raw = cookies.get(OIDC_COOKIE);
  cookies.delete(OIDC_COOKIE, {
    path: COOKIE_PATH,
    httpOnly: true,
    sameSite: 'lax',
    secure: url.protocol === 'https:',
  });
  if (!raw) return null;
  try {
    const flow = JSON.parse(raw) as Partial<OidcFlow>;
    if (typeof flow.state === 'string' && typeof flow.nonce === 'string' && typeof flow.verifier === 'string')
      return {
        state: flow.state,
        nonce: flow.nonce,
        verifier: flow.verifier,
        purpose: flow.purpose === 'operator' ? 'operator' : 'user',
      };
  } catch {}
  return null;
}
