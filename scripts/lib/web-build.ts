/**
 * The web UI's production build (web/build/, SvelteKit's adapter-node output), shared by
 * `npm start` and the browser tests: is it current, and build it under a lock so that two
 * processes never build at once (a build deletes web/build/ first).
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from './postgres.ts';

export const WEB_DIR = path.join(REPO_ROOT, 'web');
/** What server/main.ts loads; its mtime is the build's. */
export const WEB_HANDLER = path.join(WEB_DIR, 'build', 'handler.js');
/** What the build reads: a change to any of them makes the build stale. */
const WEB_INPUTS = ['src', 'static', 'vite.config.ts', 'package.json', 'tsconfig.json'];
const LOCK_DIR = path.join(REPO_ROOT, 'node_modules', '.cache', 'hero-web-build.lock');
const LOCK_STALE_MS = 10 * 60_000;

export type WebBuildStatus = { stale: false } | { stale: true; reason: string };

async function mtimeMs(file: string): Promise<number | undefined> {
  try {
    return (await fs.stat(file)).mtimeMs;
  } catch {
    return undefined;
  }
}

/** The newest mtime under `entry` (a file or directory; directories count too: a deleted file). */
async function newestInput(entry: string): Promise<{ file: string; mtimeMs: number } | undefined> {
  const own = await mtimeMs(entry);
  if (own === undefined) return undefined;
  let newest = { file: entry, mtimeMs: own };
  let inner: string[] = [];
  try {
    inner = await fs.readdir(entry, { recursive: true });
  } catch {
    // A file.
  }
  for (const rel of inner) {
    const file = path.join(entry, rel);
    const m = await mtimeMs(file);
    if (m !== undefined && m > newest.mtimeMs) newest = { file, mtimeMs: m };
  }
  return newest;
}

/** Whether web/build/ is missing or older than anything the build reads, and why. */
export async function webBuildStatus(): Promise<WebBuildStatus> {
  const built = await mtimeMs(WEB_HANDLER);
  if (built === undefined) return { stale: true, reason: 'web/build/handler.js is missing' };
  for (const input of WEB_INPUTS) {
    const newest = await newestInput(path.join(WEB_DIR, input));
    if (newest && newest.mtimeMs > built) {
      return {
        stale: true,
        reason: `${path.relative(REPO_ROOT, newest.file)} changed after the last build`,
      };
    }
  }
  return { stale: false };
}

export class WebBuildError extends Error {}

/**
 * Runs `vite build` in web/ under this Node (what `npm run build -w web` runs), with `baseEnv`
 * (the caller's environment: this module does not read process.env).
 */
export async function buildWeb(
  baseEnv: Record<string, string | undefined>,
  signal?: AbortSignal,
): Promise<void> {
  const require = createRequire(path.join(WEB_DIR, 'package.json'));
  const vitePackage = require.resolve('vite/package.json');
  const viteBin = path.join(path.dirname(vitePackage), 'bin', 'vite.js');
  const env: Record<string, string | undefined> = { ...baseEnv };
  // vite build under NODE_ENV=development (npm start's) or test (vitest's) would build the
  // development variant of Svelte; unset, vite builds for production.
  delete env.NODE_ENV;
  const output: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [viteBin, 'build'], {
      cwd: WEB_DIR,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Aborted (the caller is stopping): SIGTERM to the build.
      signal,
    });
    const keep = (chunk: Buffer) => {
      output.push(...chunk.toString('utf8').split('\n'));
      if (output.length > 200) output.splice(0, output.length - 200);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (err) => {
      if (err.name !== 'AbortError') reject(err);
    });
    child.once('close', (c) => resolve(c));
  });
  if (code !== 0) {
    throw new WebBuildError(
      `the web UI build (vite build in web/) failed with exit code ${code}:\n${output
        .filter((l) => l.trim())
        .slice(-25)
        .join('\n')}`,
    );
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `fn` holding the build lock (a directory under node_modules/.cache holding the owner's
 * pid); a lock whose owner is gone, or older than 10 minutes, is taken over.
 */
export async function withWebBuildLock<T>(fn: () => Promise<T>, timeoutMs = 5 * 60_000): Promise<T> {
  mkdirSync(path.dirname(LOCK_DIR), { recursive: true });
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      await fs.mkdir(LOCK_DIR);
      await fs.writeFile(path.join(LOCK_DIR, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number(await fs.readFile(path.join(LOCK_DIR, 'pid'), 'utf8').catch(() => '0'));
    const age = Date.now() - ((await mtimeMs(LOCK_DIR)) ?? Date.now());
    if ((owner > 0 && !processAlive(owner)) || age > LOCK_STALE_MS || (owner === 0 && age > 5_000)) {
      await fs.rm(LOCK_DIR, { recursive: true, force: true });
      continue;
    }
    if (performance.now() > deadline) {
      throw new WebBuildError(`another web UI build (pid ${owner}) still holds ${LOCK_DIR}`);
    }
    await sleep(200);
  }
  try {
    return await fn();
  } finally {
    await fs.rm(LOCK_DIR, { recursive: true, force: true });
  }
}

/**
 * Builds the web UI when its build is stale (under the lock; re-checked once the lock is held,
 * since whoever held it may just have built). Answers what was done.
 */
export async function ensureWebBuild(
  baseEnv: Record<string, string | undefined>,
  onBuildStart?: (reason: string) => void,
  signal?: AbortSignal,
): Promise<{ built: false } | { built: true; reason: string; ms: number }> {
  if (!(await webBuildStatus()).stale) return { built: false };
  return withWebBuildLock(async () => {
    const status = await webBuildStatus();
    if (!status.stale) return { built: false } as const;
    onBuildStart?.(status.reason);
    const started = performance.now();
    await buildWeb(baseEnv, signal);
    return { built: true, reason: status.reason, ms: performance.now() - started } as const;
  });
}
