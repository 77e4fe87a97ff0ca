import type { MikroORM } from '@hero/core/db/orm';
import type { Logger } from '@hero/core/lib/logger';

/** /readyz answers within this: a pool that cannot give a connection is as unready as no database. */
export const READY_CHECK_TIMEOUT_MS = 2_000;

/**
 * Whether the database answers through the pool the requests use, within `timeoutMs`: resolves,
 * or rejects with the reason (the check itself may go on waiting for a connection; its answer
 * no longer matters then).
 */
export async function checkDatabase(orm: MikroORM, timeoutMs = READY_CHECK_TIMEOUT_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer through the connection pool within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  const check = (async () => {
    if (!(await orm.isConnected())) throw new Error('not connected');
    await orm.em.fork().execute('select 1');
  })();
  check.catch(() => {}); // settled late, after the timeout answered
  try {
    await Promise.race([check, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface ReadinessWatch {
  stop(): void;
}

/**
 * Checks readiness every `intervalMs` and calls `giveUp` once the api has been unready for
 * `exitAfterMs` in a row. Docker compose restarts a container that exits, not one that is merely
 * unhealthy, so an api whose pool stays broken must end itself to be replaced.
 */
export function watchReadiness(options: {
  orm: MikroORM;
  exitAfterMs: number;
  intervalMs?: number;
  log: Logger;
  giveUp: (unreadyForMs: number, reason: string) => void;
}): ReadinessWatch {
  const { orm, exitAfterMs, log, giveUp } = options;
  const intervalMs = options.intervalMs ?? Math.min(5_000, Math.max(250, Math.floor(exitAfterMs / 4)));
  let lastReady = Date.now();
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    checkDatabase(orm)
      .then(
        () => {
          if (Date.now() - lastReady > intervalMs * 2) log.info('ready again: the database answers');
          lastReady = Date.now();
        },
        (err: Error) => {
          const unreadyFor = Date.now() - lastReady;
          log.warn({ unreadyForMs: unreadyFor, err: err.message }, 'not ready: the database does not answer');
          if (unreadyFor >= exitAfterMs) giveUp(unreadyFor, err.message);
        },
      )
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
