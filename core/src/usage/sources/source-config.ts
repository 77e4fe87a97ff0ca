import path from 'node:path';
import { z } from 'zod';
import { ForgeSource } from './forge-source.ts';
import { GitSource } from './git-source.ts';
import type { UsageSource } from './usage-source.ts';

/**
 * Where the billing repository is, for every process that reads or writes usage (api,
 * aggregator worker, CLI). Spread into each process's config schema; checked with
 * `checkUsageSource`.
 */
export const usageSourceEnv = {
  /** forge | git; unset: git when BILLING_GIT_URL is set, forge when FORGE_URL is set, else none. */
  USAGE_SOURCE: z.enum(['forge', 'git']).optional(),
  FORGE_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  /** Secret-capable: FORGE_TOKEN_FILE. */
  FORGE_TOKEN: z.string().optional(),
  BILLING_REPO: z
    .string()
    .regex(/^[^/\s]+\/[^/\s]+$/, 'must be owner/name')
    .optional(),
  BILLING_BRANCH: z.string().min(1).default('main'),
  /** A repository path (read in place) or any URL git can clone. */
  BILLING_GIT_URL: z.string().min(1).optional(),
  /** Where mirrors of remote git repositories are kept. */
  USAGE_GIT_CACHE_DIR: z.string().min(1).default('.data/usage-git-cache'),
  FORGE_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  FORGE_RETRIES: z.coerce.number().int().min(0).max(10).default(3),
  FORGE_RETRY_BASE_MS: z.coerce.number().int().positive().default(500),
  FORGE_CONCURRENCY: z.coerce.number().int().positive().max(32).default(4),
};

export type UsageSourceConfig = {
  USAGE_SOURCE?: 'forge' | 'git';
  FORGE_URL?: string;
  FORGE_TOKEN?: string;
  BILLING_REPO?: string;
  BILLING_BRANCH: string;
  BILLING_GIT_URL?: string;
  USAGE_GIT_CACHE_DIR: string;
  FORGE_TIMEOUT_MS: number;
  FORGE_RETRIES: number;
  FORGE_RETRY_BASE_MS: number;
  FORGE_CONCURRENCY: number;
};

export const USAGE_SOURCE_SECRETS = ['FORGE_TOKEN'] as const;

export function usageSourceKind(config: UsageSourceConfig): 'forge' | 'git' | null {
  if (config.USAGE_SOURCE) return config.USAGE_SOURCE;
  if (config.BILLING_GIT_URL) return 'git';
  if (config.FORGE_URL) return 'forge';
  return null;
}

/** Every missing piece of the chosen source, as config problems. */
export function checkUsageSource(config: UsageSourceConfig, ctx: z.RefinementCtx): void {
  const kind = usageSourceKind(config);
  if (kind === 'forge') {
    for (const name of ['FORGE_URL', 'FORGE_TOKEN', 'BILLING_REPO'] as const) {
      if (!config[name])
        ctx.addIssue({ code: 'custom', message: 'required with USAGE_SOURCE=forge', path: [name] });
    }
  }
  if (kind === 'git' && !config.BILLING_GIT_URL) {
    ctx.addIssue({ code: 'custom', message: 'required with USAGE_SOURCE=git', path: ['BILLING_GIT_URL'] });
  }
}

/** The configured source, or null when none is configured. */
export function createUsageSource(config: UsageSourceConfig): UsageSource | null {
  const kind = usageSourceKind(config);
  if (kind === 'forge') {
    return new ForgeSource({
      url: config.FORGE_URL as string,
      token: config.FORGE_TOKEN as string,
      repo: config.BILLING_REPO as string,
      branch: config.BILLING_BRANCH,
      timeoutMs: config.FORGE_TIMEOUT_MS,
      retries: config.FORGE_RETRIES,
      retryBaseMs: config.FORGE_RETRY_BASE_MS,
      concurrency: config.FORGE_CONCURRENCY,
    });
  }
  if (kind === 'git') {
    return new GitSource({
      url: config.BILLING_GIT_URL as string,
      branch: config.BILLING_BRANCH,
      cacheDir: path.resolve(config.USAGE_GIT_CACHE_DIR),
    });
  }
  return null;
}

/** Links to the billing repository's web pages on the forge (Forgejo's URL layout). */
export interface ForgeLinks {
  /** A file as it was at a commit. */
  file(commitSha: string, path: string): string;
  commit(commitSha: string): string;
}

/**
 * Links into the configured forge, or null when the billing repository is not on a forge
 * (USAGE_SOURCE=git, or none). `{FORGE_URL}/{owner}/{repo}/src/commit/{sha}/{path}`: the path
 * is encoded segment by segment.
 */
export function forgeLinks(config: UsageSourceConfig): ForgeLinks | null {
  if (usageSourceKind(config) !== 'forge' || !config.FORGE_URL || !config.BILLING_REPO) return null;
  const [owner, name] = config.BILLING_REPO.split('/');
  const repo = `${config.FORGE_URL.replace(/\/+$/, '')}/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
  const sha = (s: string) => encodeURIComponent(s);
  return {
    file: (commitSha, path) =>
      `${repo}/src/commit/${sha(commitSha)}/${path.split('/').map(encodeURIComponent).join('/')}`,
    commit: (commitSha) => `${repo}/commit/${sha(commitSha)}`,
  };
}
