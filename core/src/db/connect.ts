import { setTimeout as sleep } from 'node:timers/promises';
import { backoffMs } from '../lib/backoff.ts';
import type { Logger } from '../lib/logger.ts';
import { createOrm, type MikroORM, type OrmOptions } from './orm.ts';

export interface ConnectOptions extends OrmOptions {
  /** Give up after this long (ms) of failed attempts; 0: keep trying until `signal` aborts. */
  timeoutMs: number;
  /** Called before each pause (default: nothing). `logRetries(log)` logs them. */
  onRetry?: (retry: RetryInfo) => void;
  /** Aborting stops the wait (a stop signal during start-up): the promise rejects with an AbortError. */
  signal?: AbortSignal;
  /** First pause between attempts (doubles each time, up to `maxDelayMs`). */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

export interface RetryInfo {
  attempt: number;
  retryInMs: number;
  err: string;
}

/** Logs each retry as a warning with its attempt, pause and error. */
export const logRetries =
  (log: Pick<Logger, 'warn'>) =>
  (retry: RetryInfo): void =>
    log.warn(retry, 'database not reachable yet; retrying');

export class DatabaseUnavailableError extends Error {
  /** The driver's error code of the last attempt (ECONNREFUSED, 28P01, 3D000…), for callers that explain it. */
  readonly code: unknown;
  readonly lastError: string;
  constructor(
    readonly attempts: number,
    readonly elapsedMs: number,
    cause: unknown,
  ) {
    const last = messageOf(cause);
    super(
      `the database did not answer after ${attempts} attempt(s) over ${Math.round(elapsedMs / 1000)} s: ${last}`,
      { cause },
    );
    this.name = 'DatabaseUnavailableError';
    this.code = (cause as { code?: unknown } | null)?.code;
    this.lastError = last;
  }
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Opens the ORM and waits until the database answers `select 1`, retrying with exponential
 * backoff (a database still starting, a network not yet up) instead of failing the process.
 * Rejects with DatabaseUnavailableError once `timeoutMs` has passed without an answer.
 */
export async function connectOrm(options: ConnectOptions): Promise<MikroORM> {
  const { timeoutMs, onRetry, signal, initialDelayMs = 500, maxDelayMs = 10_000, ...ormOptions } = options;
  const started = Date.now();
  // MikroORM.init does not throw when the server is unreachable; the check below does.
  const orm = await createOrm(ormOptions);
  let attempt = 0;
  try {
    for (;;) {
      signal?.throwIfAborted();
      attempt++;
      try {
        await orm.em.fork().execute('select 1');
        return orm;
      } catch (err) {
        const elapsed = Date.now() - started;
        // ±20% jitter: replicas starting together spread out.
        const delay = backoffMs(attempt, { baseMs: initialDelayMs, maxMs: maxDelayMs, jitter: 0.2 });
        if (timeoutMs > 0 && elapsed + delay > timeoutMs) {
          throw new DatabaseUnavailableError(attempt, elapsed, err);
        }
        onRetry?.({ attempt, retryInMs: delay, err: messageOf(err) });
        await sleep(delay, undefined, { signal });
      }
    }
  } catch (err) {
    await orm.close().catch(() => {});
    throw err;
  }
}
