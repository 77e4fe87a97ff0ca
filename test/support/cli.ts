import { once } from 'node:events';
import type { ApiProcess } from './api.ts';
import { spawnTs } from './process.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
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
