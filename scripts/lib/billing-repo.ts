import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';

/**
 * The local billing repository `npm start` creates under DATA_DIR when no usage source is
 * configured: a bare git repository the api (aggregateNow), the aggregator worker and
 * `hero-admin usage push` read and write in place (USAGE_SOURCE=git, BILLING_GIT_URL=<path>).
 */

type Env = Record<string, string | undefined>;

/** Any of these set (non-empty): the operator chose the usage source; it is passed through unchanged. */
export const USAGE_SOURCE_SELECTORS = ['USAGE_SOURCE', 'BILLING_GIT_URL', 'FORGE_URL'] as const;

/** The usage-source selectors set (non-empty) in `env`. */
export function operatorUsageSource(env: Env): string[] {
  return USAGE_SOURCE_SELECTORS.filter((name) => env[name] !== undefined && env[name] !== '');
}

/** An expected failure (its message is enough). */
export class BillingRepoError extends Error {}

/** The git CLI is not installed (or not on PATH). */
export class GitNotFoundError extends BillingRepoError {}

/** git without the caller's GIT_* variables (GIT_DIR, GIT_INDEX_FILE…) and without prompts. */
function gitEnv(env: Env): Env {
  const out: Env = {};
  for (const [k, v] of Object.entries(env)) if (!k.startsWith('GIT_')) out[k] = v;
  return { ...out, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };
}

function git(args: string[], env: Env): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { env: gitEnv(env), encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new GitNotFoundError('git is not installed (or not on PATH)'));
      }
      const what = stderr.trim().split('\n').slice(-2).join(' ') || err.message;
      reject(new BillingRepoError(`git ${args[0] === '--git-dir' ? args[2] : args[0]} failed: ${what}`));
    });
  });
}

async function isBare(dir: string, env: Env): Promise<boolean> {
  try {
    return (await git(['--git-dir', dir, 'rev-parse', '--is-bare-repository'], env)).trim() === 'true';
  } catch (err) {
    if (err instanceof GitNotFoundError) throw err;
    return false;
  }
}

/**
 * Creates an empty bare repository at `dir` (initial branch `branch`), unless one is there
 * already. Created under a temporary name and renamed into place, so two starts on the same
 * data directory cannot leave a half-made one. Something else at `dir`: a BillingRepoError.
 */
export async function ensureBareRepository(
  dir: string,
  env: Env,
  branch = 'main',
): Promise<{ created: boolean }> {
  const notBare = () =>
    new BillingRepoError(
      `${dir} exists but is not a bare git repository: delete it to have an empty one created`,
    );
  const exists = () =>
    fs.stat(dir).then(
      () => true,
      () => false,
    );
  if (await exists()) {
    if (!(await isBare(dir, env))) throw notBare();
    return { created: false };
  }
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await git(['init', '--bare', '--quiet', `--initial-branch=${branch}`, tmp], env);
    await fs.rename(tmp, dir);
    return { created: true };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Another start won the race: use its repository.
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await isBare(dir, env))) return { created: false };
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR') throw notBare();
    throw err;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** `value` as one shell word (single-quoted when it holds anything but safe characters). */
export function shellWord(value: string): string {
  return /^[\w./:@%+,=-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
