import { type Env, parseEnv } from '@hero/core/lib/env';
import { describedUsageSourceEnv } from '@hero/core/lib/usage-source-env';
import { checkUsageSource, USAGE_SOURCE_SECRETS } from '@hero/core/usage/sources/source-config';
import { z } from 'zod';

/**
 * Environment of the `hero-admin` CLI, parsed once before a command runs (not for `--help`).
 * This is the only module under cli/ that reads `process.env`.
 */
export const cliConfigSchema = z.object({
  HERO_API_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .default('http://127.0.0.1:4000')
    .describe("the API's base URL (http or https); requests go to `<url>/graphql`"),
  HERO_API_TIMEOUT_MS: z.coerce
    .number({ error: 'must be a number of milliseconds' })
    .int('must be a whole number of milliseconds')
    .positive('must be positive')
    .default(60_000)
    .describe('limit for one API call, connecting included'),
  ADMIN_SECRET: z
    .string({
      error: (issue) =>
        issue.input === undefined ? 'required (set ADMIN_SECRET or ADMIN_SECRET_FILE)' : undefined,
    })
    .describe('sent as `x-admin-secret`; not read by `usage push`'),
});

/** The variables that may also be given as `NAME_FILE`. */
export const CLI_SECRETS = ['ADMIN_SECRET'] as const;

export type CliConfig = z.infer<typeof cliConfigSchema>;

/** Throws a ConfigError listing every problem. */
export function loadCliConfig(env: Env = process.env): CliConfig {
  return parseEnv(cliConfigSchema, env, CLI_SECRETS);
}

/** `usage push` talks to the billing repository, not the API: the aggregator's variables. */
export const pushConfigSchema = z.object(describedUsageSourceEnv).superRefine(checkUsageSource);

export type PushConfig = z.infer<typeof pushConfigSchema>;

export function loadPushConfig(env: Env = process.env): PushConfig {
  return parseEnv(pushConfigSchema, env, USAGE_SOURCE_SECRETS);
}
