import { readFileSync } from 'node:fs';
import { z } from 'zod';

export type Env = Record<string, string | undefined>;

/** `1/0`, `true/false`, `yes/no` as a boolean. */
export const envBool = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no'])
  .transform((v) => v === '1' || v === 'true' || v === 'yes');

/** `DB_CONNECT_TIMEOUT_MS`, the same in every process that opens the database. */
export const dbConnectTimeoutEnv = z.coerce
  .number()
  .int()
  .min(0)
  .default(120_000)
  .describe(
    'start-up waits this long for the database, retrying with backoff (0.5 s doubling to 10 s, with jitter; each retry logged at warn), then exits 1 naming the last error; `0`: wait for ever',
  );

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The pool comes from VM_POOL_JSON or VM_POOL_FILE, not both, and the file path has no `..`. */
export function checkPoolSource(
  config: { VM_POOL_JSON?: string; VM_POOL_FILE?: string },
  ctx: z.RefinementCtx,
): void {
  if (config.VM_POOL_JSON && config.VM_POOL_FILE) {
    ctx.addIssue({
      code: 'custom',
      message: 'VM_POOL_JSON and VM_POOL_FILE are both set: use one of them',
      path: ['VM_POOL_JSON'],
    });
  }
  if (config.VM_POOL_FILE?.split(/[\\/]/).includes('..')) {
    ctx.addIssue({ code: 'custom', message: "a path with '..' is refused", path: ['VM_POOL_FILE'] });
  }
}

/**
 * Resolves `NAME_FILE` variables for the given secret names: the file's content (trailing
 * newline trimmed) becomes `NAME`. A path with a `..` segment is refused, as is setting both.
 */
export function resolveSecretFiles(env: Env, names: readonly string[]): { env: Env; problems: string[] } {
  const out: Env = { ...env };
  const problems: string[] = [];
  for (const name of names) {
    const file = env[`${name}_FILE`];
    if (file === undefined || file === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      problems.push(`${name} and ${name}_FILE are both set: use one of them`);
      continue;
    }
    if (file.split(/[\\/]/).includes('..')) {
      problems.push(`${name}_FILE: a path with '..' is refused (${file})`);
      continue;
    }
    try {
      out[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      problems.push(
        `${name}_FILE: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
  }
  return { env: out, problems };
}

export function formatZodIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.join('.');
    return path ? `${path}: ${issue.message}` : issue.message;
  });
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment with a zod schema; every problem is collected into one ConfigError. */
export function parseEnv<S extends z.ZodType>(
  schema: S,
  env: Env,
  secretNames: readonly string[] = [],
): z.infer<S> {
  const resolved = resolveSecretFiles(env, secretNames);
  // Empty strings count as unset, as in most twelve-factor tools.
  const cleaned: Env = {};
  for (const [k, v] of Object.entries(resolved.env)) if (v !== undefined && v !== '') cleaned[k] = v;
  const parsed = schema.safeParse(cleaned);
  const problems = [...resolved.problems, ...(parsed.success ? [] : formatZodIssues(parsed.error))];
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  return parsed.data;
}

/** For a process's main(): print one line per problem, no stack trace, exit 1. */
export function exitOnConfigError(err: unknown, processName: string): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`${processName}: invalid configuration\n`);
    for (const p of err.problems) process.stderr.write(`  - ${p}\n`);
    process.exit(1);
  }
  throw err;
}
