import { z } from 'zod';
import { type Env, parseEnv } from '../../api/src/lib/env.ts';
import {
  checkUsageSource,
  USAGE_SOURCE_SECRETS,
  usageSourceEnv,
} from '../../api/src/usage/sources/source-config.ts';

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

/** `usage push` talks to the billing repository, not the API: the aggregator's variables. */
export const pushConfigSchema = z.object(usageSourceEnv).superRefine(checkUsageSource);

export type PushConfig = z.infer<typeof pushConfigSchema>;

export function loadPushConfig(env: Env = process.env): PushConfig {
  return parseEnv(pushConfigSchema, env, USAGE_SOURCE_SECRETS);
}
