import { z } from 'zod';
import { dbConnectTimeoutEnv, type Env, LOG_LEVELS, parseEnv } from '../../api/src/lib/env.ts';
import { describedUsageSourceEnv } from '../../api/src/lib/usage-source-env.ts';
import { aggregateBatchSizeEnv } from '../../api/src/usage/batch-size.ts';
import { checkUsageSource, USAGE_SOURCE_SECRETS } from '../../api/src/usage/sources/source-config.ts';

/**
 * Environment of the worker processes (`workers/src/main.ts <job>`), parsed once at start-up.
 * This is the only module under workers/ that reads `process.env`.
 */

const ms = (fallback: number) => z.coerce.number().int().positive().default(fallback);

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
        'http(s) URL that `allocation.expiring` events are POSTed to (JSON, `idempotency-key: outbox-<id>`); unset: logged',
      ),
    NOTIFY_WEBHOOK_TOKEN: z.string().optional().describe('sent to the webhook as `Authorization: Bearer`'),
    NOTIFY_TIMEOUT_MS: ms(10_000).describe('limit for one webhook call'),

    AUTO_RELEASE_INTERVAL_MS: ms(3_600_000).describe(
      'pause between the end of one auto-release tick and the next (one hour)',
    ),
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
      .describe('an ACTIVE allocation this close to its end gets one `allocation.expiring` event; `0`: none'),

    // The billing repository the aggregator reads.
    ...describedUsageSourceEnv,
    AGGREGATE_INTERVAL_MS: ms(300_000).describe(
      'pause between the end of one aggregation tick and the next (five minutes)',
    ),
    AGGREGATE_BATCH_SIZE: aggregateBatchSizeEnv.describe('usage records per apply transaction (1 … 100000)'),

    RECONCILE_INTERVAL_MS: ms(86_400_000).describe('pause between two ledger reconciliations (one day)'),
  })
  .superRefine(checkUsageSource)
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
  ...USAGE_SOURCE_SECRETS,
] as const;

export function loadWorkerConfig(env: Env = process.env): WorkerConfig {
  return parseEnv(workerConfigSchema, env, WORKER_SECRETS);
}
