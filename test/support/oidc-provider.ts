/**
 * A real OpenID Connect provider (the `oidc-provider` package) in this process on
 * 127.0.0.1:<port>, with one confidential client (the web's redirect URI) and its dev
 * interactions: a login form taking any login name (the account id) and a consent page.
 * Accounts are what the test registers: their claims are what the ID token carries.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export interface OidcTestAccount {
  email: string;
  emailVerified: boolean;
  name: string;
  /** The `groups` claim (scope `groups`, as Forgejo names it). */
  groups?: string[];
}

export interface TestOidcProvider {
  /** The issuer identifier, e.g. http://127.0.0.1:41234 (no trailing slash). */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Registers (or replaces) the account a login name signs in as. */
  addAccount(login: string, account: OidcTestAccount): void;
  stop(): Promise<void>;
}

export async function startOidcProvider(options: { redirectUri: string }): Promise<TestOidcProvider> {
  const accounts = new Map<string, OidcTestAccount>();
  const clientId = 'hero-web';
  const clientSecret = 'hero-web-test-secret-0123456789abcdef';
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [options.redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    // The ID token carries the claims itself, as Forgejo's does (no userinfo call needed).
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    cookies: { keys: ['oidc-test-cookie-key-0123456789'] },
    findAccount: (_ctx: unknown, id: string) => {
      const account = accounts.get(id);
      if (!account) return undefined;
      return {
        accountId: id,
        claims: () => ({
          sub: id,
          email: account.email,
          email_verified: account.emailVerified,
          name: account.name,
          preferred_username: id,
          ...(account.groups ? { groups: account.groups } : {}),
        }),
      };
    },
  });
  // The provider logs its own problems (e.g. a refused token request) as events, not throws.
  provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error', err));
  server.on('request', provider.callback());

  return {
    issuer,
    clientId,
    clientSecret,
    addAccount: (login, account) => accounts.set(login, account),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
