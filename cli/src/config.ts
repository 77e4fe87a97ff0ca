import { z } from 'zod';
import { type Env, parseEnv } from '../../api/src/lib/env.ts';

/**
 * Environment of the `hero-admin` CLI, parsed once before a command runs (not for `--help`).
 * This is the only module under cli/ that reads `process.env`.
 */
export const cliConfigSchema = z.object({
  /** The API's base URL; the CLI posts to `<url>/graphql`. */
  HERO_API_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .default('http://127.0.0.1:4000'),
  /** Limit for one API call, connection included. */
  HERO_API_TIMEOUT_MS: z.coerce
    .number({ error: 'must be a number of milliseconds' })
    .int('must be a whole number of milliseconds')
    .positive('must be positive')
    .default(60_000),
  /** Sent as `x-admin-secret`; secret-capable: ADMIN_SECRET_FILE. */
  ADMIN_SECRET: z.string({
    error: (issue) =>
      issue.input === undefined ? 'required (set ADMIN_SECRET or ADMIN_SECRET_FILE)' : undefined,
  }),
});

export type CliConfig = z.infer<typeof cliConfigSchema>;

/** Throws a ConfigError listing every problem. */
export function loadCliConfig(env: Env = process.env): CliConfig {
  return parseEnv(cliConfigSchema, env, ['ADMIN_SECRET']);
}
