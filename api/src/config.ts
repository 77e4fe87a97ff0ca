import { SIGNUP_MODES } from '@hero/core/auth/sessions';
import { DEFAULT_TOPUP_LIMITS, topUpLimitProblems } from '@hero/core/billing/checkout';
import { creditPolicyEnv } from '@hero/core/billing/credit-policy';
import { MAX_AMOUNT_CENTS } from '@hero/core/billing/payments';
import { checkPlanCatalogEnv, planCatalogEnv } from '@hero/core/billing/plan-catalog-env';
import { DEFAULT_POOL_TIMEOUT_MS } from '@hero/core/db/orm';
import {
  envBool as bool,
  checkPoolSource,
  dbConnectTimeoutEnv,
  type Env,
  LOG_LEVELS,
  parseEnv,
} from '@hero/core/lib/env';
import { describedUsageSourceEnv } from '@hero/core/lib/usage-source-env';
import { mailEnv } from '@hero/core/mail/mail-env';
import { OPERATOR_ROLES } from '@hero/core/operators/roles';
import { aggregateBatchSizeEnv } from '@hero/core/usage/batch-size';
import { checkUsageSource, USAGE_SOURCE_SECRETS } from '@hero/core/usage/sources/source-config';
import { parseSignupTrial } from '@hero/core/users/signup-trial';
import { z } from 'zod';
import { normalizeProxyEntry } from './http/client-ip.ts';
import { normalizeOrigin } from './http/cors.ts';
import { DEFAULT_QUERY_LIMITS } from './http/query-limits.ts';

const trustedProxiesEnv = z
  .string()
  .default('127.0.0.1,::1')
  .transform((value, ctx) => {
    if (value.trim().toLowerCase() === 'none') return [];
    const ips: string[] = [];
    for (const part of value.split(',')) {
      const entry = part.trim();
      if (entry === '') continue;
      const ip = normalizeProxyEntry(entry);
      if (ip === null)
        ctx.addIssue({ code: 'custom', message: `not an IP address or CIDR network: ${entry}` });
      else ips.push(ip);
    }
    return ips;
  });

const corsOriginsEnv = z
  .string()
  .default('')
  .transform((value, ctx) => {
    const origins: string[] = [];
    for (const part of value.split(',')) {
      const entry = part.trim();
      if (entry === '') continue;
      const origin = normalizeOrigin(entry);
      if (origin === null)
        ctx.addIssue({
          code: 'custom',
          message: `not an http(s) origin such as https://admin.example.org (no path, no *): ${entry}`,
        });
      else if (!origins.includes(origin)) origins.push(origin);
    }
    return origins;
  });

export const apiConfigSchema = z
  .object({
    NODE_ENV: z
      .enum(['development', 'production', 'test'])
      .default('development')
      .describe(
        '`development`, `production` or `test`; `production` makes `GRAPHQL_INTROSPECTION` default to `admin` and `SIGNUP_VERIFY_EMAIL` to `1`',
      ),
    DATABASE_URL: z
      .url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' })
      .describe('`postgres://` URL'),
    API_HOST: z.string().default('0.0.0.0').describe('listen address'),
    API_PORT: z.coerce
      .number()
      .int()
      .min(0)
      .max(65535)
      .default(4000)
      .describe('listen port (`0`: any free port, logged)'),
    ADMIN_SECRET: z
      .string()
      .min(16, 'must be at least 16 characters')
      .describe('admin secret, at least 16 characters; compared in constant time, never logged'),
    VM_POOL_JSON: z
      .string()
      .optional()
      .describe('the pool manifest (JSON array or `{ "pool": [...] }`); registers the pool provisioner'),
    VM_POOL_FILE: z
      .string()
      .optional()
      .describe('a file holding the pool manifest (instead of `VM_POOL_JSON`)'),
    PROVISIONER_DEMO: bool
      .default(false)
      .describe('`1`: the demo provisioner (fabricated VMs `demo-vm-01`…) when no pool is configured'),
    SIGNUP_MODE: z
      .enum(SIGNUP_MODES)
      .default('open')
      .describe(
        'who may sign up on the web (`signUp`): `open` anyone; `invite` nobody, accounts come only from operators (`createUser`, which emails a set-password invitation); `closed` nobody (the same refusal, `SIGNUP_CLOSED`)',
      ),
    SIGNUP_VERIFY_EMAIL: bool
      .optional()
      .describe(
        '`1`: a new sign-up (`signUp`, or a first sign-in with the forge whose email the issuer has not verified) starts unverified and is mailed a single-use link (`WEB_PUBLIC_URL/verify?token=…`, 24 hours); until it is used the account can sign in but not pay (`startTopUp`, `purchasePlan`) or get a VM (`allocateVm`): `EMAIL_NOT_VERIFIED`. `0`: new accounts count as verified. Unset: `1` when `NODE_ENV` is `production`, else `0`',
      ),
    SIGNUP_TRIAL: z
      .string()
      .default('off')
      .transform((text, ctx) => {
        try {
          return parseSignupTrial(text);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
          return z.NEVER;
        }
      })
      .describe(
        "what a new sign-up starts with: `<n> VM for <hours>h` or `<n> VMs for <days>d` (e.g. `1 VM for 24h`), a plan period so the account can get a VM at once; `off`: none, the user needs a plan (or an operator's quota) first",
      ),
    EXPIRY_WARNING_HOURS: z.coerce
      .number()
      .min(0)
      .default(72)
      .describe('`VmAllocation.expiringSoon` window, and the warning window of `autoReleaseNow`; `0`: never'),
    // The dashboard's credit status (and autoReleaseNow's credit watch): as on the auto-release worker.
    ...creditPolicyEnv,
    LOG_LEVEL: z.enum(LOG_LEVELS).default('info').describe('pino level (`fatal` … `trace`, `silent`)'),
    DB_POOL_MAX: z.coerce.number().int().min(1).default(10).describe('database connections'),
    DB_POOL_TIMEOUT_MS: z.coerce
      .number()
      .int()
      .min(100)
      .default(DEFAULT_POOL_TIMEOUT_MS)
      .describe(
        'how long a request waits for a free pool connection; then it answers `DATABASE_BUSY` (503) instead of waiting for ever',
      ),
    API_UNREADY_EXIT_MS: z.coerce
      .number()
      .int()
      .min(0)
      .default(60_000)
      .describe(
        'an api whose pool has not reached the database for this long (checked every 5 s, as `/readyz` does) exits 1, so that its supervisor restarts it (compose restarts a container that exits, not one that is only unhealthy); `0`: never',
      ),
    MIGRATE_ON_START: bool
      .default(true)
      .describe('`0`: do not migrate at start-up (compose runs the `migrate` service instead)'),
    DB_CONNECT_TIMEOUT_MS: dbConnectTimeoutEnv,
    API_SHUTDOWN_TIMEOUT_MS: z.coerce
      .number()
      .int()
      .positive()
      .default(8_000)
      .describe(
        'on SIGTERM, how long requests in flight may take before their connections are cut (then exit 1; a clean stop exits 0)',
      ),
    // The billing repository aggregateNow reads (the aggregator worker has the same settings).
    ...describedUsageSourceEnv,
    AGGREGATE_BATCH_SIZE: aggregateBatchSizeEnv.describe(
      'usage records per apply transaction in `aggregateNow` (1 … 100000)',
    ),
    ...planCatalogEnv,
    STRIPE_WEBHOOK_SECRET: z
      .string()
      .optional()
      .describe(
        "the Stripe endpoint's signing secret (`whsec_…`); unset: `POST /webhooks/stripe` answers 503",
      ),
    STRIPE_WEBHOOK_TOLERANCE_SECONDS: z.coerce
      .number()
      .int()
      .positive()
      .max(3600)
      .default(300)
      .describe(
        "oldest accepted `Stripe-Signature` timestamp, in seconds (replay protection; 1 … 3600; 300 is Stripe's default)",
      ),
    STRIPE_SECRET_KEY: z
      .string()
      .regex(/^(sk|rk)_[A-Za-z0-9_]+$/, 'must be a Stripe secret or restricted key (`sk_…` / `rk_…`)')
      .optional()
      .describe(
        'Stripe secret key (`sk_live_…`, `sk_test_…`, or a restricted `rk_…` allowed to write Checkout Sessions); set: users can add credit through Stripe Checkout (returning to `WEB_PUBLIC_URL`; needs `STRIPE_WEBHOOK_SECRET` for the payment to be credited). Unset: self-serve top-up is hidden and operators record payments',
      ),
    STRIPE_API_URL: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .optional()
      .describe(
        "tests and advanced use: another Stripe API base than `https://api.stripe.com` (host, port and protocol; e.g. the tests' fake Stripe at `http://127.0.0.1:<port>`)",
      ),
    TOPUP_MIN_CENTS: z.coerce
      .number()
      .int()
      .min(1)
      .default(DEFAULT_TOPUP_LIMITS.minCents)
      .describe('smallest self-serve top-up, in cents of the user’s currency'),
    TOPUP_MAX_CENTS: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_AMOUNT_CENTS)
      .default(DEFAULT_TOPUP_LIMITS.maxCents)
      .describe('largest self-serve top-up, in cents'),
    TOPUP_PRESETS_CENTS: z
      .string()
      .default(DEFAULT_TOPUP_LIMITS.presetsCents.join(','))
      .transform((text, ctx) => {
        const presets: number[] = [];
        for (const part of text.split(',')) {
          const entry = part.trim();
          if (entry === '') continue;
          if (!/^\d{1,13}$/.test(entry)) {
            ctx.addIssue({ code: 'custom', message: `not a whole number of cents: ${entry}` });
            continue;
          }
          presets.push(Number(entry));
        }
        return [...new Set(presets)].sort((a, b) => a - b);
      })
      .describe(
        'the amounts the "Add credit" page offers as buttons, comma-separated cents, each within `TOPUP_MIN_CENTS` … `TOPUP_MAX_CENTS` (the user can also type another amount); empty: none',
      ),
    SESSION_TTL_HOURS: z.coerce
      .number()
      .positive()
      .max(8760)
      .default(168)
      .describe(
        'lifetime of a sign-in session (`signUp`, `signIn`, `adminSignIn`), counted from sign-in and not extended by use (7 days)',
      ),
    TRUSTED_PROXIES: trustedProxiesEnv.describe(
      'comma-separated IP addresses or CIDR networks (`172.16.0.0/12`, `fd00::/8`) of proxies (e.g. the web server) whose `X-Forwarded-For` is believed; the client is then the right-most address of that header that is not itself listed. `none`: believe nobody (the direct peer is the client)',
    ),
    API_CORS_ORIGINS: corsOriginsEnv.describe(
      'browser origins allowed to call `/graphql` cross-origin, comma-separated (`https://admin.example.org,http://localhost:5173`), scheme://host[:port] only (`*`, `null` or a path are refused at start-up). Unset: no CORS headers (the web UI calls the api from its server). An allowed origin gets exactly itself back, never with credentials; other routes never send CORS headers',
    ),
    AUTH_RATE_LIMIT_EMAIL: z.coerce
      .number()
      .int()
      .min(1)
      .default(10)
      .describe('`signIn` / `signUp` attempts per email per 15-minute window; more answer `RATE_LIMITED`'),
    AUTH_RATE_LIMIT_IP: z.coerce
      .number()
      .int()
      .min(1)
      .default(30)
      .describe(
        '`signIn` / `signUp` / `adminSignIn` attempts and wrong admin secrets (`x-admin-secret`, or HTTP Basic on GraphiQL in production) per client address per 15-minute window; over it, any admin secret from that address answers 429 with `Retry-After` until the window ends (admin session tokens keep working)',
      ),
    ...mailEnv,
    WEB_PUBLIC_URL: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://hero.example.com' })
      .default('http://localhost:3000')
      .transform((u) => u.replace(/\/+$/, ''))
      .describe(
        "the web UI's public base URL, e.g. `https://hero.example.com`: links in emails (`<url>/reset?token=…`), and where Stripe Checkout sends the browser back (`<url>/credit/done?session_id=…`, or `<url>/credit?cancelled=1`)",
      ),
    OIDC_ISSUER_URL: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://forge.example.com/' })
      .optional()
      .describe(
        "sign in with the forge (OpenID Connect): the issuer identifier exactly as its discovery document states it (Forgejo and Gitea: `https://<forge>/`). Set with `OIDC_CLIENT_ID`: `signInWithOidc` verifies ID tokens against the issuer's published keys. Unset: `signInWithOidc` is refused",
      ),
    OIDC_CLIENT_ID: z
      .string()
      .min(1)
      .optional()
      .describe("with `OIDC_ISSUER_URL`: the web's OAuth client id, the audience every ID token must name"),
    OIDC_ROLE_CLAIM: z
      .string()
      .trim()
      .min(1)
      .optional()
      .describe(
        'with `OIDC_ISSUER_URL`: the ID token claim that makes someone an operator, a string or a list of strings (e.g. `groups`; the issuer must put it in the ID token). With `OIDC_ROLE_MAP`. Unset: nobody becomes an operator through the forge (`operatorSignInWithOidc` is refused)',
      ),
    OIDC_ROLE_MAP: z
      .string()
      .optional()
      .transform((text, ctx) => {
        if (text === undefined) return {};
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be a JSON object such as {"hero-admins":"owner"}' });
          return z.NEVER;
        }
        const map = z.record(z.string().min(1), z.enum(OPERATOR_ROLES)).safeParse(parsed);
        if (!map.success) {
          ctx.addIssue({
            code: 'custom',
            message: `must map claim values to roles (${OPERATOR_ROLES.join(', ')}), e.g. {"hero-admins":"owner","hero-support":"operator"}`,
          });
          return z.NEVER;
        }
        return map.data;
      })
      .describe(
        'with `OIDC_ROLE_CLAIM`: a JSON object from claim values (e.g. group names) to operator roles, `{"hero-admins":"owner","hero-support":"operator","hero-billing":"billing","hero-readers":"viewer"}`. A person with several mapped values gets the role with the most rights (owner, operator, billing, viewer in that order); the forge decides the role again at every operator sign-in',
      ),
    PASSWORD_RESET_RATE_LIMIT_EMAIL: z.coerce
      .number()
      .int()
      .min(1)
      .default(3)
      .describe(
        '`requestPasswordReset` requests per email per 15-minute window (known and unknown emails alike), and `resendEmailVerification` / `requestEmailChange` requests per user; requests, `resetPassword` and `verifyEmail` attempts per client address count against `AUTH_RATE_LIMIT_IP` in buckets of their own',
      ),
    // GraphQL limits, checked before anything runs (see api/src/http/query-limits.ts).
    GRAPHQL_MAX_DEPTH: z.coerce
      .number()
      .int()
      .min(1)
      .default(DEFAULT_QUERY_LIMITS.maxDepth)
      .describe('deepest operation (nested field levels); deeper: `QUERY_TOO_DEEP` (400)'),
    GRAPHQL_MAX_ALIASES: z.coerce
      .number()
      .int()
      .min(0)
      .default(DEFAULT_QUERY_LIMITS.maxAliases)
      .describe('most aliased fields in an operation; more: `TOO_MANY_ALIASES` (400)'),
    GRAPHQL_MAX_COST: z.coerce
      .number()
      .int()
      .min(1)
      .default(DEFAULT_QUERY_LIMITS.maxCost)
      .describe(
        'highest operation cost (every field 1, what is under a list ×10); more: `QUERY_TOO_COSTLY` (400)',
      ),
    GRAPHQL_MAX_BODY_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(1 << 20)
      .describe(
        'largest `POST /graphql` body (1 MiB, at least 1024); larger: `REQUEST_ENTITY_TOO_LARGE` (413)',
      ),
    GRAPHQL_INTROSPECTION: z
      .enum(['on', 'admin', 'off'])
      .optional()
      .describe(
        '`on`: introspection and GraphiQL for everyone; `admin`: only with admin credentials (GraphiQL through HTTP Basic); `off`: for nobody. Unset: `admin` when `NODE_ENV` is `production`, else `on`',
      ),
  })
  .superRefine((config, ctx) => {
    checkPoolSource(config, ctx);
    checkUsageSource(config, ctx);
    checkPlanCatalogEnv(config, ctx);
    if ((config.OIDC_ROLE_CLAIM === undefined) !== (Object.keys(config.OIDC_ROLE_MAP).length === 0))
      ctx.addIssue({
        code: 'custom',
        message: 'OIDC_ROLE_CLAIM and OIDC_ROLE_MAP go together: set both or neither',
        path: [config.OIDC_ROLE_CLAIM === undefined ? 'OIDC_ROLE_CLAIM' : 'OIDC_ROLE_MAP'],
      });
    if ((config.OIDC_ISSUER_URL === undefined) !== (config.OIDC_CLIENT_ID === undefined))
      ctx.addIssue({
        code: 'custom',
        message: 'OIDC_ISSUER_URL and OIDC_CLIENT_ID go together: set both or neither',
        path: [config.OIDC_ISSUER_URL === undefined ? 'OIDC_ISSUER_URL' : 'OIDC_CLIENT_ID'],
      });
    for (const message of topUpLimitProblems({
      minCents: config.TOPUP_MIN_CENTS,
      maxCents: config.TOPUP_MAX_CENTS,
      presetsCents: config.TOPUP_PRESETS_CENTS,
    })) {
      ctx.addIssue({ code: 'custom', message, path: ['TOPUP_MIN_CENTS'] });
    }
  });

export type ApiConfig = z.infer<typeof apiConfigSchema>;

/** SIGNUP_VERIFY_EMAIL as set, else on in production only (development and tests sign up at once). */
export const signupVerifyEmail = (config: Pick<ApiConfig, 'SIGNUP_VERIFY_EMAIL' | 'NODE_ENV'>): boolean =>
  config.SIGNUP_VERIFY_EMAIL ?? config.NODE_ENV === 'production';

/** The variables that may also be given as `NAME_FILE`. */
export const API_SECRETS = [
  'ADMIN_SECRET',
  'DATABASE_URL',
  'STRIPE_WEBHOOK_SECRET',
  'STRIPE_SECRET_KEY',
  'SMTP_URL',
  ...USAGE_SOURCE_SECRETS,
] as const;

export function loadApiConfig(env: Env = process.env): ApiConfig {
  return parseEnv(apiConfigSchema, env, API_SECRETS);
}
