import { z } from 'zod';
import { dbConnectTimeoutEnv, type Env, LOG_LEVELS, parseEnv } from '../../api/src/lib/env.ts';
import { aggregateBatchSizeEnv } from '../../api/src/usage/batch-size.ts';
import {
  checkUsageSource,
  USAGE_SOURCE_SECRETS,
  usageSourceEnv,
} from '../../api/src/usage/sources/source-config.ts';

/**
 * Environment of the worker processes (`workers/src/main.ts <job>`), parsed once at start-up.
 * This is the only module under workers/ that reads `process.env`.
 */

const ms = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const workerConfigSchema = z
  .object({
    /** Secret-capable: DATABASE_URL_FILE. */
    DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' }),
    LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
    DB_POOL_MAX: z.coerce
      .number()
      .int()
      .min(2, 'must be at least 2 (the run lock holds one connection)')
      .default(5),
    /** How long start-up waits for the database (retrying with backoff) before exit 1; 0: for ever. */
    DB_CONNECT_TIMEOUT_MS: dbConnectTimeoutEnv,
    /** Unset: no health server. 0: an ephemeral port (logged). */
    WORKER_HEALTH_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    WORKER_HEALTH_HOST: z.string().default('0.0.0.0'),

    /** Where released VMs are reported (`POST <url>/admin/release-vm`); unset: a logging stub. */
    DEPLOYER_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    /** Sent as `Authorization: Bearer <token>`; secret-capable: DEPLOYER_TOKEN_FILE. */
    DEPLOYER_TOKEN: z.string().optional(),
    DEPLOYER_TIMEOUT_MS: ms(10_000),

    OUTBOX_INTERVAL_MS: ms(5_000),
    /** Events delivered per tick at most; the rest wait for the next tick. */
    OUTBOX_BATCH_SIZE: z.coerce.number().int().positive().default(100),
    OUTBOX_MAX_ATTEMPTS: z.coerce.number().int().positive().default(10),
    OUTBOX_RETRY_BASE_MS: ms(2_000),
    OUTBOX_RETRY_MAX_MS: ms(900_000),

    /** Where `allocation.expiring` events are POSTed as JSON; unset: they are logged. */
    NOTIFY_WEBHOOK_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    /** Sent as `Authorization: Bearer <token>`; secret-capable: NOTIFY_WEBHOOK_TOKEN_FILE. */
    NOTIFY_WEBHOOK_TOKEN: z.string().optional(),
    NOTIFY_TIMEOUT_MS: ms(10_000),

    /** Pause between two auto-release ticks (default one hour). */
    AUTO_RELEASE_INTERVAL_MS: ms(3_600_000),
    /** Expired rows read per scan query. */
    AUTO_RELEASE_BATCH_SIZE: z.coerce.number().int().positive().max(10_000).default(500),
    /** An ACTIVE allocation this close to its end gets one `allocation.expiring` event; 0: none. */
    EXPIRY_WARNING_HOURS: z.coerce.number().min(0).default(72),

    /** The billing repository the aggregator reads (see api/src/usage/sources/source-config.ts). */
    ...usageSourceEnv,
    /** Pause between two aggregation ticks (default five minutes). */
    AGGREGATE_INTERVAL_MS: ms(300_000),
    /** Usage records per apply transaction. */
    AGGREGATE_BATCH_SIZE: aggregateBatchSizeEnv,

    /** Pause between two ledger reconciliations (default one day). */
    RECONCILE_INTERVAL_MS: ms(86_400_000),
  })
  .superRefine(checkUsageSource)
  .refine((c) => c.OUTBOX_RETRY_MAX_MS >= c.OUTBOX_RETRY_BASE_MS, {
    message: 'must be at least OUTBOX_RETRY_BASE_MS',
    path: ['OUTBOX_RETRY_MAX_MS'],
  });

export type WorkerConfig = z.infer<typeof workerConfigSchema>;

export const WORKER_SECRETS = [
  'DATABASE_URL',
  'DEPLOYER_TOKEN',
  'NOTIFY_WEBHOOK_TOKEN',
  ...USAGE_SOURCE_SECRETS,
] as const;

export function loadWorkerConfig(env: Env = process.env): WorkerConfig {
  return parseEnv(workerConfigSchema, env, WORKER_SECRETS);
}
