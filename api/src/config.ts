import { z } from 'zod';
import { DEFAULT_POOL_TIMEOUT_MS } from './db/orm.ts';
import { normalizeProxyEntry } from './http/client-ip.ts';
import { normalizeOrigin } from './http/cors.ts';
import { DEFAULT_QUERY_LIMITS } from './http/query-limits.ts';
import {
  envBool as bool,
  checkPoolSource,
  dbConnectTimeoutEnv,
  type Env,
  LOG_LEVELS,
  parseEnv,
} from './lib/env.ts';
import { aggregateBatchSizeEnv } from './usage/batch-size.ts';
import { checkUsageSource, USAGE_SOURCE_SECRETS, usageSourceEnv } from './usage/sources/source-config.ts';

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
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' }),
    API_HOST: z.string().default('0.0.0.0'),
    API_PORT: z.coerce.number().int().min(0).max(65535).default(4000),
    ADMIN_SECRET: z.string().min(16, 'must be at least 16 characters'),
    VM_POOL_JSON: z.string().optional(),
    VM_POOL_FILE: z.string().optional(),
    PROVISIONER_DEMO: bool.default(false),
    DEFAULT_ALLOCATION_TTL_HOURS: z.coerce.number().positive().default(720),
    /** `expiringSoon` and autoReleaseNow's warnings: this close to expiresAt; 0: never. */
    EXPIRY_WARNING_HOURS: z.coerce.number().min(0).default(72),
    LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
    DB_POOL_MAX: z.coerce.number().int().min(1).default(10),
    /** How long a request waits for a pool connection before it answers DATABASE_BUSY (503). */
    DB_POOL_TIMEOUT_MS: z.coerce.number().int().min(100).default(DEFAULT_POOL_TIMEOUT_MS),
    /** Unready (its pool cannot reach the database) this long: exit 1, so a supervisor restarts it; 0: never. */
    API_UNREADY_EXIT_MS: z.coerce.number().int().min(0).default(60_000),
    MIGRATE_ON_START: bool.default(true),
    /** How long start-up waits for the database (retrying with backoff) before exit 1; 0: for ever. */
    DB_CONNECT_TIMEOUT_MS: dbConnectTimeoutEnv,
    /** SIGTERM: how long requests in flight may take before their connections are cut (exit 1). */
    API_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(8_000),
    /** The billing repository aggregateNow reads (the aggregator worker has the same settings). */
    ...usageSourceEnv,
    /** Usage records per apply transaction (aggregateNow). */
    AGGREGATE_BATCH_SIZE: aggregateBatchSizeEnv,
    /** The currency of new users' balances; payments in another currency are refused. */
    DEFAULT_CURRENCY: z
      .string()
      .regex(/^[A-Za-z]{3}$/, 'must be a three-letter ISO 4217 code, e.g. EUR')
      .transform((c) => c.toUpperCase())
      .default('EUR'),
    /** The plan catalog (see api/src/billing/plans.ts); none: no plans to buy. */
    PLANS_JSON: z.string().optional(),
    PLANS_FILE: z.string().optional(),
    /** The Stripe webhook endpoint's signing secret (`whsec_…`); secret-capable. Unset: POST /webhooks/stripe answers 503. */
    STRIPE_WEBHOOK_SECRET: z.string().optional(),
    /** Oldest accepted signature timestamp, in seconds (Stripe's default 300). */
    STRIPE_WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().positive().max(3600).default(300),
    /** Lifetime of a sign-in session (user or admin), from sign-in; not extended by use. */
    SESSION_TTL_HOURS: z.coerce.number().positive().max(8760).default(168),
    /** Peers whose X-Forwarded-For is believed (comma-separated addresses or CIDR networks; `none`: nobody). */
    TRUSTED_PROXIES: trustedProxiesEnv,
    /** Browser origins allowed to call /graphql cross-origin (comma-separated, e.g. `https://admin.example.org`); unset: none, no CORS headers. */
    API_CORS_ORIGINS: corsOriginsEnv,
    /** Sign-in/sign-up attempts per email per 15-minute window. */
    AUTH_RATE_LIMIT_EMAIL: z.coerce.number().int().min(1).default(10),
    /** Sign-in/sign-up/admin sign-in attempts and wrong x-admin-secret headers per client IP per 15-minute window. */
    AUTH_RATE_LIMIT_IP: z.coerce.number().int().min(1).default(30),
    /** GraphQL limits, checked before anything runs (see api/src/http/query-limits.ts). */
    GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(1).default(DEFAULT_QUERY_LIMITS.maxDepth),
    GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(0).default(DEFAULT_QUERY_LIMITS.maxAliases),
    GRAPHQL_MAX_COST: z.coerce.number().int().min(1).default(DEFAULT_QUERY_LIMITS.maxCost),
    /** The largest POST /graphql body in bytes (default 1 MiB); larger ones answer 413. */
    GRAPHQL_MAX_BODY_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(1 << 20),
    /** Introspection and GraphiQL: `on`, `admin` (admin credentials only) or `off`; unset: `admin` in production, else `on`. */
    GRAPHQL_INTROSPECTION: z.enum(['on', 'admin', 'off']).optional(),
  })
  .superRefine((config, ctx) => {
    checkPoolSource(config, ctx);
    checkUsageSource(config, ctx);
    if (config.PLANS_JSON && config.PLANS_FILE) {
      ctx.addIssue({
        code: 'custom',
        message: 'PLANS_JSON and PLANS_FILE are both set: use one of them',
        path: ['PLANS_JSON'],
      });
    }
    if (config.PLANS_FILE?.split(/[\\/]/).includes('..')) {
      ctx.addIssue({ code: 'custom', message: "a path with '..' is refused", path: ['PLANS_FILE'] });
    }
  });

export type ApiConfig = z.infer<typeof apiConfigSchema>;

export function loadApiConfig(env: Env = process.env): ApiConfig {
  return parseEnv(apiConfigSchema, env, [
    'ADMIN_SECRET',
    'DATABASE_URL',
    'STRIPE_WEBHOOK_SECRET',
    ...USAGE_SOURCE_SECRETS,
  ]);
}
