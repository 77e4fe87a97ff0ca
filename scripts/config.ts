import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  envBool as bool,
  checkPoolSource,
  dbConnectTimeoutEnv,
  type Env,
  LOG_LEVELS,
  parseEnv,
} from '@hero/api/lib/env.ts';
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
    /** An existing PostgreSQL server; without it an embedded one is started under DATA_DIR/pg. */
    DATABASE_URL: databaseUrl.optional(),
    /** Admin secret for the api; without it (and ADMIN_SECRET_FILE) DATA_DIR/admin-secret is used or created. */
    ADMIN_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
    API_PORT: port(4000),
    /** Port of the web UI (web/server/main.ts). */
    WEB_PORT: port(3000),
    VM_POOL_JSON: z.string().optional(),
    VM_POOL_FILE: z.string().optional(),
    /**
     * `1` with no pool configured: the demo provisioner. Otherwise, with neither VM_POOL_JSON nor
     * VM_POOL_FILE, the pool provisioner with examples/pool.json loaded on the first start.
     */
    PROVISIONER_DEMO: bool.optional(),
    DEPLOYER_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
    /** Where the embedded PostgreSQL, its password and the generated admin secret are kept. */
    DATA_DIR: z
      .string()
      .default('.data')
      .transform((dir) => path.resolve(REPO_ROOT, dir)),
    /** Port of the embedded PostgreSQL (not 5432, so it never collides with a system server). */
    PG_PORT: port(5433),
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

/** Parses the start script's environment; throws a ConfigError listing every problem. */
export function loadStartConfig(env: Env = childBaseEnv()): StartConfig {
  const config: StartConfig = parseEnv(startConfigSchema, env, ['ADMIN_SECRET', 'DATABASE_URL']);
  if (config.ADMIN_SECRET !== undefined) {
    config.adminSecretSource = env.ADMIN_SECRET_FILE ? 'ADMIN_SECRET_FILE' : 'ADMIN_SECRET';
  }
  return config;
}

export const migrateConfigSchema = z.object({
  DATABASE_URL: databaseUrl,
  /** How long to wait for the database (retrying with backoff) before exit 1; 0: for ever. */
  DB_CONNECT_TIMEOUT_MS: dbConnectTimeoutEnv,
});

export type MigrateConfig = z.infer<typeof migrateConfigSchema>;

/** Parses `npm run migrate`'s environment: DATABASE_URL (or DATABASE_URL_FILE) is required. */
export function loadMigrateConfig(env: Env = childBaseEnv()): MigrateConfig {
  return parseEnv(migrateConfigSchema, env, ['DATABASE_URL']);
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
