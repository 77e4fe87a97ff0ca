import type { z } from 'zod';
import { usageSourceEnv } from '../usage/sources/source-config.ts';

/**
 * What each billing-repository variable means (docs/configuration.md renders it). The Record type
 * makes a variable added to `usageSourceEnv` without a description a type error.
 */
const DESCRIPTIONS: Record<keyof typeof usageSourceEnv, string> = {
  USAGE_SOURCE:
    '`git` (the git CLI) or `forge` (a Forgejo/Gitea API v1); unset: `git` when `BILLING_GIT_URL` is set, else `forge` when `FORGE_URL` is set, else no source',
  FORGE_URL:
    "`forge`: the forge's root URL, http(s) (the API is `<url>/api/v1`); required with `USAGE_SOURCE=forge`",
  FORGE_TOKEN:
    '`forge`: an access token, sent as `Authorization: token <t>`; reading needs `read:repository`, `usage push` `write:repository`; required with `USAGE_SOURCE=forge`',
  BILLING_REPO: '`forge`: the repository as `owner/name`; required with `USAGE_SOURCE=forge`',
  BILLING_BRANCH: 'the branch read (and written by `usage push`)',
  BILLING_GIT_URL:
    '`git`: a repository path (bare or not; read and committed to in place) or any URL `git clone` takes (mirrored under `USAGE_GIT_CACHE_DIR`); required with `USAGE_SOURCE=git`',
  USAGE_GIT_CACHE_DIR:
    '`git` with a URL: where the bare mirror is kept (one directory per URL, relative to the working directory); fetched at the start of every run, and `usage push` commits there and pushes',
  FORGE_TIMEOUT_MS: 'limit for one forge request',
  FORGE_RETRIES:
    'retries of a forge request after a network error, a 5xx or a 429 (0 … 10; `Retry-After` is honoured up to 30 s); 401, 403 and 404 are not retried',
  FORGE_RETRY_BASE_MS: 'first retry backoff, doubled on every retry, with jitter',
  FORGE_CONCURRENCY: 'file downloads from the forge in flight (1 … 32)',
};

/** `usageSourceEnv` with every variable described: what the process schemas spread. */
export const describedUsageSourceEnv = Object.fromEntries(
  Object.entries(usageSourceEnv).map(([name, schema]) => [
    name,
    (schema as z.ZodType).describe(DESCRIPTIONS[name as keyof typeof usageSourceEnv]),
  ]),
) as typeof usageSourceEnv;
