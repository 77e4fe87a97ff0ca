import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The web process's environment, parsed once. This is the only module under web/ that reads
 * `process.env`: server/main.ts parses it at start-up (every problem printed, exit 1) and the
 * SvelteKit server code reads the parsed result through `webConfig()`.
 */
export const webConfigSchema = z.object({
  HERO_API_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .default('http://127.0.0.1:4000')
    .transform((u) => u.replace(/\/+$/, ''))
    .describe("the api's base URL; the web server posts to `<url>/graphql`"),
  HERO_API_TIMEOUT_MS: z.coerce
    .number({ error: 'must be a number of milliseconds' })
    .int('must be a whole number of milliseconds')
    .positive('must be positive')
    .default(15_000)
    .describe('limit for one API call from the web server, connecting included'),
  WEB_HOST: z.string().min(1).default('0.0.0.0').describe('address to listen on'),
  WEB_PORT: z.coerce
    .number({ error: 'must be a port number' })
    .int('must be a port number')
    .min(0, 'must be a port number')
    .max(65535, 'must be a port number')
    .default(3000)
    .describe('port; `0`: any free port (logged in the `web listening on …` line)'),
  WEB_ORIGIN: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) origin such as https://hero.example.com' })
    .optional()
    .refine((u) => u === undefined || new URL(u).pathname === '/', 'must be an origin, without a path')
    .transform((u) => (u === undefined ? undefined : new URL(u).origin))
    .describe(
      "the public origin behind a TLS proxy, e.g. `https://hero.example.com`: form posts whose Origin differs are refused (CSRF), and session cookies are `Secure` when it is https. Unset: the request's Host header over plain http (local use)",
    ),
  WEB_SHUTDOWN_TIMEOUT_MS: z.coerce
    .number({ error: 'must be a number of milliseconds' })
    .int('must be a whole number of milliseconds')
    .min(0, 'must not be negative')
    .max(600_000, 'must be at most 600000')
    .default(10_000)
    .describe(
      'on SIGTERM, how long requests in flight may take before their connections are cut (then exit 1; a clean stop exits 0); 0 … 600000',
    ),
  WEB_SHUTDOWN_TIMEOUT: z.coerce
    .number({ error: 'must be a number of seconds' })
    .int('must be a whole number of seconds')
    .min(0, 'must not be negative')
    .max(600, 'must be at most 600')
    .optional()
    .describe(
      'deprecated: `WEB_SHUTDOWN_TIMEOUT_MS` in seconds (0 … 600), still read, with a warning at start-up; setting both is an error',
    ),
  WEB_BODY_SIZE_LIMIT: z
    .string()
    .regex(/^\d+[KMG]?$/i, 'must be a number of bytes, optionally with K, M or G')
    .default('2M')
    .describe(
      'largest request body (form posts, a pasted or uploaded pool manifest): bytes, or with `K`, `M`, `G`, e.g. `512K`',
    ),
  WEB_ADDRESS_HEADER: z
    .string()
    .optional()
    .describe(
      "behind a proxy: the header holding the client's address (e.g. `x-forwarded-for`); unset: the socket's peer. The address is passed to the api (its sign-in rate limits count per client)",
    ),
  WEB_XFF_DEPTH: z.coerce
    .number()
    .int()
    .min(1)
    .default(1)
    .describe('with `WEB_ADDRESS_HEADER`: how many trusted proxies append to it'),
  OIDC_ISSUER_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://forge.example.com/' })
    .optional()
    .describe(
      "sign in with the forge (OpenID Connect): the issuer (Forgejo, Gitea, Keycloak…), as the api's `OIDC_ISSUER_URL`. Set: the sign-in page shows a button that goes through the issuer (authorization code + PKCE; redirect URI `<WEB_ORIGIN>/signin/oidc/callback`). Unset: no button",
    ),
  OIDC_CLIENT_ID: z
    .string()
    .min(1)
    .optional()
    .describe('with `OIDC_ISSUER_URL`: the OAuth client id registered at the issuer'),
  OIDC_CLIENT_SECRET: z
    .string()
    .min(1)
    .optional()
    .describe('with `OIDC_ISSUER_URL`: the client secret (or `OIDC_CLIENT_SECRET_FILE`, a file holding it)'),
  OIDC_CLIENT_SECRET_FILE: z.string().min(1).optional().describe('a file holding `OIDC_CLIENT_SECRET`'),
  OIDC_LABEL: z
    .string()
    .min(1)
    .max(80)
    .default('Sign in with the forge')
    .describe("the text of the sign-in page's OIDC button"),
  OIDC_OPERATOR_SCOPES: z
    .string()
    .trim()
    .regex(
      /^[\x21\x23-\x5b\x5d-\x7e]*( [\x21\x23-\x5b\x5d-\x7e]+)*$/,
      'must be scopes separated by single spaces',
    )
    .default('')
    .describe(
      "scopes the admin login's forge sign-in asks for besides `openid email profile`, space-separated: whatever makes the issuer put the api's `OIDC_ROLE_CLAIM` in the ID token (Forgejo / Gitea: `groups`)",
    ),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('pino level'),
});

export type WebConfig = z.infer<typeof webConfigSchema>;

export class WebConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

/** Empty values count as unset, as in the api's configuration. */
function present(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''),
  );
}

/** Checks the OIDC variables together; reads OIDC_CLIENT_SECRET_FILE into OIDC_CLIENT_SECRET. */
function oidcProblems(config: WebConfig): string[] {
  if (config.OIDC_CLIENT_SECRET_FILE !== undefined) {
    if (config.OIDC_CLIENT_SECRET !== undefined)
      return ['OIDC_CLIENT_SECRET_FILE: OIDC_CLIENT_SECRET is set too: set one of them'];
    try {
      config.OIDC_CLIENT_SECRET = readFileSync(config.OIDC_CLIENT_SECRET_FILE, 'utf8').trim();
    } catch (err) {
      return [
        `OIDC_CLIENT_SECRET_FILE: cannot read ${config.OIDC_CLIENT_SECRET_FILE}: ${(err as Error).message}`,
      ];
    }
  }
  if (config.OIDC_ISSUER_URL === undefined) return [];
  return (['OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET'] as const)
    .filter((name) => !config[name])
    .map((name) => `${name}: required with OIDC_ISSUER_URL`);
}

export function parseWebConfig(env: Record<string, string | undefined>): WebConfig {
  const given = present(env);
  const parsed = webConfigSchema.safeParse(given);
  // Checked on the environment: after parsing, WEB_SHUTDOWN_TIMEOUT_MS always has a value.
  const both =
    given.WEB_SHUTDOWN_TIMEOUT !== undefined && given.WEB_SHUTDOWN_TIMEOUT_MS !== undefined
      ? [
          'WEB_SHUTDOWN_TIMEOUT: deprecated, and WEB_SHUTDOWN_TIMEOUT_MS is set too: use WEB_SHUTDOWN_TIMEOUT_MS only',
        ]
      : [];
  const oidc = parsed.success ? oidcProblems(parsed.data) : [];
  if (parsed.success && both.length === 0 && oidc.length === 0) {
    const config = parsed.data;
    if (config.WEB_SHUTDOWN_TIMEOUT !== undefined)
      config.WEB_SHUTDOWN_TIMEOUT_MS = config.WEB_SHUTDOWN_TIMEOUT * 1000;
    return config;
  }
  throw new WebConfigError([
    ...(parsed.success
      ? []
      : parsed.error.issues.map((i) => `${i.path.join('.') || '(environment)'}: ${i.message}`)),
    ...both,
    ...oidc,
  ]);
}

/** Deprecated variables the configuration was given, one warning each (server/main.ts logs them). */
export function deprecationsOf(config: WebConfig): string[] {
  return config.WEB_SHUTDOWN_TIMEOUT === undefined
    ? []
    : [
        `WEB_SHUTDOWN_TIMEOUT is deprecated: set WEB_SHUTDOWN_TIMEOUT_MS=${config.WEB_SHUTDOWN_TIMEOUT_MS} instead`,
      ];
}

/** Request headers server/main.ts sets on every request (client values overwritten). */
export const ORIGIN_HOST_HEADER = 'x-hero-web-host';
export const ORIGIN_PROTO_HEADER = 'x-hero-web-proto';

/**
 * The variables adapter-node's handler reads when it is imported (it has no options object).
 * vite.config.ts sets no `envPrefix`, so it reads them unprefixed; only server/main.ts sets them,
 * from our WEB_ variables: the origin comes from the two headers above (set on every request),
 * the body limit and the client address from WEB_BODY_SIZE_LIMIT, WEB_ADDRESS_HEADER and
 * WEB_XFF_DEPTH. (The adapter's own index.js, which would read PORT and HOST, is not used.)
 */
export function applyAdapterEnv(config: WebConfig): void {
  process.env.HOST_HEADER = ORIGIN_HOST_HEADER;
  process.env.PROTOCOL_HEADER = ORIGIN_PROTO_HEADER;
  process.env.BODY_SIZE_LIMIT = config.WEB_BODY_SIZE_LIMIT;
  process.env.XFF_DEPTH = String(config.WEB_XFF_DEPTH);
  if (config.WEB_ADDRESS_HEADER) process.env.ADDRESS_HEADER = config.WEB_ADDRESS_HEADER;
  else delete process.env.ADDRESS_HEADER;
  delete process.env.PORT_HEADER;
}

let cached: WebConfig | undefined;

/** The configuration of this process (parsed on first use). */
export function webConfig(): WebConfig {
  cached ??= parseWebConfig(process.env);
  return cached;
}
