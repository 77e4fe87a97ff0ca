import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import path from 'node:path';
import { childEnv } from './env.ts';
import { REPO_ROOT } from './postgres.ts';

export interface SpawnedProcess {
  child: ChildProcess;
  /** Every line the process printed so far (stdout and stderr). */
  lines: string[];
  /** Resolves with the first line matching, or rejects when the process exits first / times out. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

/** Runs a TypeScript entry point of this repository under Node 24 + tsx. */
export function spawnTs(
  entry: string,
  args: string[],
  env: Record<string, string | undefined>,
  options: {
    /** In a process group of its own, as a terminal runs a command: signal it with `-pid`. */ ownGroup?: boolean;
  } = {},
): SpawnedProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, entry), ...args], {
    cwd: REPO_ROOT,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.ownGroup ?? false,
  });
  const lines: string[] = [];
  const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  const onData = (chunk: Buffer, buffer: { rest: string }) => {
    const text = buffer.rest + chunk.toString('utf8');
    const parts = text.split('\n');
    buffer.rest = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const w of waiters) {
        if (w.pattern.test(line)) {
          waiters.delete(w);
          w.resolve(line);
        }
      }
    }
  };
  const outBuf = { rest: '' };
  const errBuf = { rest: '' };
  child.stdout?.on('data', (c: Buffer) => onData(c, outBuf));
  child.stderr?.on('data', (c: Buffer) => onData(c, errBuf));
  const exited = once(child, 'exit').then(([code]) => code as number | null);

  return {
    child,
    lines,
    exited,
    waitForLine(pattern, timeoutMs = 30_000) {
      const found = lines.find((l) => pattern.test(l));
      if (found) return Promise.resolve(found);
      return new Promise<string>((resolve, reject) => {
        const waiter = { pattern, resolve };
        waiters.add(waiter);
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new Error(
              `timed out waiting for ${pattern} from ${entry}; output:\n${lines.slice(-30).join('\n')}`,
            ),
          );
        }, timeoutMs);
        exited.then((code) => {
          if (!waiters.has(waiter)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(
            new Error(
              `${entry} exited (${code}) before printing ${pattern}; output:\n${lines.slice(-30).join('\n')}`,
            ),
          );
        });
        const orig = waiter.resolve;
        waiter.resolve = (line) => {
          clearTimeout(timer);
          orig(line);
        };
      });
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** The one JSON line a worker's `--once` run prints: `{ job, runId, status, trigger, summary, error }`. */
export function outcomeLine(lines: string[]): any {
  for (const line of [...lines].reverse()) {
    try {
      const parsed = JSON.parse(line);
      if (parsed && typeof parsed === 'object' && 'summary' in parsed && 'job' in parsed) return parsed;
    } catch {}
  }
  throw new Error(`no outcome line in:\n${lines.join('\n')}`);
}

/** A port on 127.0.0.1 that nobody listens on (bound, then closed). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
