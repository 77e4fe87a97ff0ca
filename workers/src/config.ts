import { createRequire } from 'node:module';
import { creditPolicyEnv } from '@hero/core/billing/credit-policy';
import { checkPlanCatalogEnv, planCatalogEnv } from '@hero/core/billing/plan-catalog-env';
import { ConfigError, dbConnectTimeoutEnv, type Env, LOG_LEVELS, parseEnv } from '@hero/core/lib/env';
import { describedUsageSourceEnv } from '@hero/core/lib/usage-source-env';
import { mailEnv } from '@hero/core/mail/mail-env';
import { aggregateBatchSizeEnv } from '@hero/core/usage/batch-size';
import { checkUsageSource, USAGE_SOURCE_SECRETS } from '@hero/core/usage/sources/source-config';
import { z } from 'zod';
import { webhookSecretKey } from './notify/standard-webhooks.ts';

/**
 * Environment of the worker processes (`workers/src/main.ts <job>`), parsed once at start-up.
 * This is the only module under workers/ that reads `process.env`.
 */

const ms = (fallback: number) => z.coerce.number().int().positive().default(fallback);

// node-schedule's own cron parser, so that what passes here is what scheduleJob runs (it is
// node-schedule's dependency, not ours: resolved from there).
const cronParser = createRequire(createRequire(import.meta.url).resolve('node-schedule'))('cron-parser') as {
  parseExpression(expression: string): { next(): unknown };
};

/** Why `expression` is not a cron expression node-schedule can run, or null when it is. */
export function cronProblem(expression: string): string | null {
  const fields = expression.trim().split(/\s+/).length;
  // cron-parser fills in missing fields ("* *" would pass): ask for a whole expression.
  if (fields !== 5 && fields !== 6) return `needs 5 fields, or 6 with seconds first (got ${fields})`;
  try {
    cronParser.parseExpression(expression).next();
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** A `*_SCHEDULE` variable: a cron expression, the alternative to the worker's `*_INTERVAL_MS`. */
const cron = (interval: string, example: string) =>
  z
    .string()
    .superRefine((value, ctx) => {
      const problem = cronProblem(value);
      if (problem)
        ctx.addIssue({ code: 'custom', message: `not a valid cron expression "${value}": ${problem}` });
    })
    .optional()
    .describe(
      `cron expression (node-schedule: 5 fields, or 6 with seconds first; process time zone), e.g. \`${example}\`: ticks at those times instead of \`${interval}\` pauses (not both; a tick still running when the next time comes is skipped)`,
    );

export const workerConfigSchema = z
  .object({
    DATABASE_URL: z
      .url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' })
      .describe('`postgres://` URL'),
    LOG_LEVEL: z.enum(LOG_LEVELS).default('info').describe('pino level'),
    DB_POOL_MAX: z.coerce
      .number()
      .int()
      .min(2, 'must be at least 2 (the run lock holds one connection)')
      .default(5)
      .describe("database connections, at least 2 (the job's run lock holds one)"),
    DB_CONNECT_TIMEOUT_MS: dbConnectTimeoutEnv,
    WORKER_HEALTH_PORT: z.coerce
      .number()
      .int()
      .min(0)
      .max(65535)
      .optional()
      .describe(
        'unset: no health server; `0`: any free port (logged). Serves `GET /healthz`, `GET /readyz` and `GET /metrics`',
      ),
    WORKER_HEALTH_HOST: z.string().default('0.0.0.0').describe('address of the health server'),
    WORKER_SHUTDOWN_TIMEOUT_MS: ms(30_000).describe(
      'on SIGTERM, how long the tick in hand may take to finish before it is cut (then exit 1; a clean stop exits 0)',
    ),

    DEPLOYER_URL: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .optional()
      .describe('http(s) base URL of the deployer (`POST <url>/admin/release-vm`); unset: the logging stub'),
    DEPLOYER_TOKEN: z.string().optional().describe('sent to the deployer as `Authorization: Bearer`'),
    DEPLOYER_TIMEOUT_MS: ms(10_000).describe('limit for one deployer call'),

    OUTBOX_INTERVAL_MS: ms(5_000).describe('pause between the end of one outbox tick and the next'),
    OUTBOX_SCHEDULE: cron('OUTBOX_INTERVAL_MS', '*/10 * * * * *'),
    OUTBOX_BATCH_SIZE: z.coerce
      .number()
      .int()
      .positive()
      .default(100)
      .describe('events delivered per tick at most; the rest wait for the next tick'),
    OUTBOX_MAX_ATTEMPTS: z.coerce
      .number()
      .int()
      .positive()
      .default(10)
      .describe('an event is marked `FAILED` after this many attempts'),
    OUTBOX_RETRY_BASE_MS: ms(2_000).describe('retry n waits base × 2^(n-1) …'),
    OUTBOX_RETRY_MAX_MS: ms(900_000).describe('… capped here (at least the base)'),

    NOTIFY_WEBHOOK_URL: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .optional()
      .describe(
        'http(s) URL that user events (`allocation.expiring`, `balance.low`, `payment.received`, …) are POSTed to, signed the Standard Webhooks way (needs `NOTIFY_WEBHOOK_SECRET`); unset: logged',
      ),
    NOTIFY_WEBHOOK_SECRET: z
      .string()
      .superRefine((value, ctx) => {
        const key = webhookSecretKey(value);
        if (typeof key === 'string') ctx.addIssue({ code: 'custom', message: key });
      })
      .optional()
      .describe(
        'Standard Webhooks signing secret, `whsec_` + base64 of 24 to 64 random bytes (e.g. `whsec_$(openssl rand -base64 32)`); required with `NOTIFY_WEBHOOK_URL`',
      ),
    NOTIFY_WEBHOOK_TOKEN: z
      .string()
      .optional()
      .describe('also sent to the webhook as `Authorization: Bearer`, for receivers that want one'),
    NOTIFY_TIMEOUT_MS: ms(10_000).describe('limit for one webhook call'),
    // The users' event emails (outbox topic `email`), sent by the outbox worker.
    ...mailEnv,
    WEB_PUBLIC_URL: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://hero.example.com' })
      .default('http://localhost:3000')
      .transform((u) => u.replace(/\/+$/, ''))
      .describe(
        "the web UI's public base URL (as the api's): the links in the users' event emails (`<url>/credit`, `<url>/account`)",
      ),

    AUTO_RELEASE_INTERVAL_MS: ms(3_600_000).describe(
      'pause between the end of one auto-release tick and the next (one hour)',
    ),
    AUTO_RELEASE_SCHEDULE: cron('AUTO_RELEASE_INTERVAL_MS', '5 * * * *'),
    AUTO_RELEASE_BATCH_SIZE: z.coerce
      .number()
      .int()
      .positive()
      .max(10_000)
      .default(500)
      .describe('expired rows read per scan query (1 … 10000)'),
    EXPIRY_WARNING_HOURS: z.coerce
      .number()
      .min(0)
      .default(72)
      .describe(
        'an ACTIVE allocation this close to its end gets one `allocation.expiring` event; `0`: none. Also the auto-renew window (`0`: 72 h for renewals)',
      ),
    // The auto-release worker renews plans at the catalog's prices (the api's settings).
    ...planCatalogEnv,
    // The credit watch, run by every auto-release tick.
    ...creditPolicyEnv,

    // The billing repository the aggregator reads.
    ...describedUsageSourceEnv,
    AGGREGATE_INTERVAL_MS: ms(300_000).describe(
      'pause between the end of one aggregation tick and the next (five minutes)',
    ),
    AGGREGATE_SCHEDULE: cron('AGGREGATE_INTERVAL_MS', '*/5 * * * *'),
    AGGREGATE_BATCH_SIZE: aggregateBatchSizeEnv.describe('usage records per apply transaction (1 … 100000)'),

    RECONCILE_INTERVAL_MS: ms(86_400_000).describe('pause between two ledger reconciliations (one day)'),
    RECONCILE_SCHEDULE: cron('RECONCILE_INTERVAL_MS', '30 3 * * *'),
    AUDIT_RETENTION_DAYS: z.coerce
      .number()
      .int()
      .min(0)
      .max(36_500)
      .default(365)
      .describe(
        'audit log rows older than this many days are purged by the reconcile tick; `0`: kept forever',
      ),
  })
  .superRefine(checkUsageSource)
  .refine((c) => !c.NOTIFY_WEBHOOK_URL || c.NOTIFY_WEBHOOK_SECRET, {
    message: 'required when NOTIFY_WEBHOOK_URL is set: events are signed with it',
    path: ['NOTIFY_WEBHOOK_SECRET'],
  })
  .superRefine(checkPlanCatalogEnv)
  .refine((c) => c.OUTBOX_RETRY_MAX_MS >= c.OUTBOX_RETRY_BASE_MS, {
    message: 'must be at least OUTBOX_RETRY_BASE_MS',
    path: ['OUTBOX_RETRY_MAX_MS'],
  });

export type WorkerConfig = z.infer<typeof workerConfigSchema>;

/** The variables that may also be given as `NAME_FILE`. */
export const WORKER_SECRETS = [
  'DATABASE_URL',
  'DEPLOYER_TOKEN',
  'NOTIFY_WEBHOOK_TOKEN',
  'NOTIFY_WEBHOOK_SECRET',
  'SMTP_URL',
  ...USAGE_SOURCE_SECRETS,
] as const;

/** Each worker's two ways of timing its ticks: at most one of them may be set. */
export const TICK_TIMING_VARIABLES = [
  ['OUTBOX_INTERVAL_MS', 'OUTBOX_SCHEDULE'],
  ['AUTO_RELEASE_INTERVAL_MS', 'AUTO_RELEASE_SCHEDULE'],
  ['AGGREGATE_INTERVAL_MS', 'AGGREGATE_SCHEDULE'],
  ['RECONCILE_INTERVAL_MS', 'RECONCILE_SCHEDULE'],
] as const;

/** When a worker's ticks come: a pause after each one, or the times of a cron expression. */
export type TickTiming = { intervalMs: number } | { schedule: string };

export function tickTiming(
  config: WorkerConfig,
  [interval, schedule]: (typeof TICK_TIMING_VARIABLES)[number],
): TickTiming {
  const expression = config[schedule];
  return expression === undefined ? { intervalMs: config[interval] } : { schedule: expression };
}

export function loadWorkerConfig(env: Env = process.env): WorkerConfig {
  // Read from the raw environment: once parsed, an interval's default looks the same as a value set.
  const isSet = (name: string) => env[name] !== undefined && env[name] !== '';
  const both = TICK_TIMING_VARIABLES.filter(([interval, schedule]) => isSet(interval) && isSet(schedule)).map(
    ([interval, schedule]) => `${schedule}: ${interval} is also set: use one of them`,
  );
  let config: WorkerConfig;
  try {
    config = parseEnv(workerConfigSchema, env, WORKER_SECRETS);
  } catch (err) {
    if (err instanceof ConfigError && both.length > 0) throw new ConfigError([...err.problems, ...both]);
    throw err;
  }
  if (both.length > 0) throw new ConfigError(both);
  return config;
}
