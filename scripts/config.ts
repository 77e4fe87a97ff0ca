import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  envBool as bool,
  checkPoolSource,
  dbConnectTimeoutEnv,
  type Env,
  LOG_LEVELS,
  parseEnv,
} from '@hero/core/lib/env';
import { z } from 'zod';

/**
 * Environment of the developer scripts (`npm start`, `npm run migrate`). This is the only
 * module under scripts/ that reads `process.env`; everything else takes the parsed config,
 * and children get their environment from `childBaseEnv()`.
 */

/** The repository root (the directory above scripts/). */
export const REPO_ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));

/** A copy of this process's environment, as a plain object, to build a child's env from. */
export function childBaseEnv(): Env {
  return { ...process.env };
}

const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);

const databaseUrl = z.url({
  protocol: /^postgres(ql)?$/,
  error: (issue) => (issue.input === undefined ? 'required' : 'must be a postgres:// URL'),
});

export const startConfigSchema = z
  .object({
    DATABASE_URL: databaseUrl
      .optional()
      .describe(
        'an existing PostgreSQL database to use; unset: an embedded PostgreSQL in `DATA_DIR/pg` on 127.0.0.1:`PG_PORT`, database `hero`',
      ),
    ADMIN_SECRET: z
      .string()
      .min(16, 'must be at least 16 characters')
      .optional()
      .describe(
        "the api's admin secret (at least 16 characters); unset: read `DATA_DIR/admin-secret`, or create it (mode 0600) and show it in that first banner only; later banners give its path and the `hero-admin` line (`ADMIN_SECRET_FILE=…`)",
      ),
    API_PORT: port(4000).describe('api port'),
    WEB_PORT: port(3000).describe(
      'web UI port (must differ from `API_PORT` and `PG_PORT`; checked to be free at start-up)',
    ),
    VM_POOL_JSON: z
      .string()
      .optional()
      .describe(
        'pool manifest for the api; neither it nor `VM_POOL_FILE` set (and no `PROVISIONER_DEMO=1`): the pool provisioner with `VM_POOL_JSON=[]`, and `examples/pool.json` loaded into the pool when it has never held a VM (first start)',
      ),
    VM_POOL_FILE: z
      .string()
      .optional()
      .describe('a file holding the pool manifest for the api (instead of `VM_POOL_JSON`)'),
    PROVISIONER_DEMO: bool
      .optional()
      .describe('`1` with no pool set: the demo provisioner (fabricated VMs; the pool cannot be refreshed)'),
    DEPLOYER_URL: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .optional()
      .describe('for the outbox worker'),
    LOG_LEVEL: z
      .enum(LOG_LEVELS)
      .default('info')
      .describe('for every process (at `debug`, embedded PostgreSQL logs too)'),
    START_LOG_FORMAT: z
      .enum(['pretty', 'json'])
      .default('pretty')
      .describe(
        "how `npm start` relays the processes' log lines: `pretty` (time, level, message; coloured in a terminal) or `json` as they write them (every process alone logs JSON)",
      ),
    DATA_DIR: z
      .string()
      .default('.data')
      .transform((dir) => path.resolve(REPO_ROOT, dir))
      .describe(
        'embedded database, its password, the admin secret, the billing repository and, without `SMTP_URL`, the emails (`mail/`, as `MAIL_DIR`) (relative to the repository root)',
      ),
    PG_PORT: port(5433).describe(
      'embedded PostgreSQL port (must differ from `API_PORT`; not 5432, so it never collides with a system server)',
    ),
  })
  .superRefine(checkPoolSource)
  .refine((c) => c.DATABASE_URL !== undefined || c.PG_PORT !== c.API_PORT, {
    message: 'PG_PORT and API_PORT must differ',
    path: ['PG_PORT'],
  })
  .refine((c) => c.WEB_PORT !== c.API_PORT, {
    message: 'WEB_PORT and API_PORT must differ',
    path: ['WEB_PORT'],
  })
  .refine((c) => c.DATABASE_URL !== undefined || c.WEB_PORT !== c.PG_PORT, {
    message: 'WEB_PORT and PG_PORT must differ',
    path: ['WEB_PORT'],
  });

export type StartConfig = z.infer<typeof startConfigSchema> & {
  /** Where ADMIN_SECRET came from: the environment, ADMIN_SECRET_FILE, or neither (undefined). */
  adminSecretSource?: 'ADMIN_SECRET' | 'ADMIN_SECRET_FILE';
};

/** The variables that may also be given as `NAME_FILE`. */
export const START_SECRETS = ['ADMIN_SECRET', 'DATABASE_URL'] as const;

/** Parses the start script's environment; throws a ConfigError listing every problem. */
export function loadStartConfig(env: Env = childBaseEnv()): StartConfig {
  const config: StartConfig = parseEnv(startConfigSchema, env, START_SECRETS);
  if (config.ADMIN_SECRET !== undefined) {
    config.adminSecretSource = env.ADMIN_SECRET_FILE ? 'ADMIN_SECRET_FILE' : 'ADMIN_SECRET';
  }
  return config;
}

export const migrateConfigSchema = z.object({
  DATABASE_URL: databaseUrl.describe('`postgres://` URL of the database to migrate'),
  DB_CONNECT_TIMEOUT_MS: dbConnectTimeoutEnv,
});

/** The variables that may also be given as `NAME_FILE`. */
export const MIGRATE_SECRETS = ['DATABASE_URL'] as const;

export type MigrateConfig = z.infer<typeof migrateConfigSchema>;

/** Parses `npm run migrate`'s environment: DATABASE_URL (or DATABASE_URL_FILE) is required. */
export function loadMigrateConfig(env: Env = childBaseEnv()): MigrateConfig {
  return parseEnv(migrateConfigSchema, env, MIGRATE_SECRETS);
}

/** The URL with its password replaced, for printing. */
export function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ECONNRESET',
]);

/** One line about a failure to reach or use the database at `target` (an already redacted URL). */
export function describeDatabaseError(err: unknown, target: string): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) {
    return `database unreachable at ${target} (${message})`;
  }
  if (code === '28P01' || code === '28000') return `database refused the login at ${target} (${message})`;
  if (code === '3D000') return `database does not exist at ${target} (${message})`;
  return `failed on ${target}: ${message}`;
}
