import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { run } from '@hero/cli/run';
import type { ApiProcess } from './api.ts';
import { childEnv } from './env.ts';
import { REPO_ROOT } from './postgres.ts';
import { spawnTs } from './process.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `hero-admin <args>` in this process, as cli/src/main.ts does (the same parsing, commands
 * and HTTP client against the real `api`, with the environment a child would get), without the
 * start-up of a process per call. The process contract itself (the bin, exit codes, a closed
 * pipe) is tested through `runCli` and `runCliAsShown`.
 */
export async function runCliInProcess(
  api: ApiProcess | null,
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await run(
    args,
    {
      out: (text) => {
        stdout += text;
      },
      err: (text) => {
        stderr += text;
      },
    },
    childEnv({
      ...(api ? { HERO_API_URL: api.url, ADMIN_SECRET: api.adminSecret } : {}),
      HERO_API_TIMEOUT_MS: '20000',
      ...env,
    }),
  );
  return { code, stdout, stderr };
}

/** Runs `hero-admin <args>` (cli/src/main.ts) against `api` (override HERO_API_URL / ADMIN_SECRET in env). */
export async function runCli(
  api: ApiProcess | null,
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<CliResult> {
  const proc = spawnTs('cli/src/main.ts', args, {
    ...(api ? { HERO_API_URL: api.url, ADMIN_SECRET: api.adminSecret } : {}),
    HERO_API_TIMEOUT_MS: '20000',
    ...env,
  });
  let stdout = '';
  let stderr = '';
  proc.child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString('utf8');
  });
  proc.child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  const [code] = await once(proc.child, 'close');
  return { code: code as number | null, stdout, stderr };
}

/**
 * Runs the CLI as the README shows it, from a newcomer's shell: `npx hero-admin <args>` or
 * `npm run admin -- <args>` in the repository, with the system's npm first on PATH (the npm
 * that runs these tests puts the project's Node 24 and bins there) and no npm_* variables;
 * `settings` are the CLI's variables (HERO_API_URL, ADMIN_SECRET…).
 */
export async function runCliAsShown(
  form: 'npx' | 'npm run',
  settings: Record<string, string>,
  args: string[],
): Promise<CliResult> {
  const env = childEnv(settings);
  for (const name of Object.keys(env)) if (/^npm_/i.test(name)) delete env[name];
  env.PATH = (env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => dir && !dir.includes('node_modules') && !dir.includes(`${path.sep}npm${path.sep}`))
    .join(path.delimiter);
  const [command, ...prefix] = form === 'npx' ? ['npx', 'hero-admin'] : ['npm', 'run', 'admin', '--'];
  const child = spawn(command, [...prefix, ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString('utf8');
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  const [code] = await once(child, 'close');
  return { code: code as number | null, stdout, stderr };
}
