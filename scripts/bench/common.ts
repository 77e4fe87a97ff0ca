import { randomBytes } from 'node:crypto';
import { canConnect, startEmbeddedPostgres } from '../lib/postgres.ts';

/** What every benchmark shares: its settings from BENCH_* variables and its PostgreSQL server. */

const LOCAL_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** A whole-number setting; unset or empty: the fallback. */
export function intEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`${name} must be a whole number >= ${min} (got "${raw}")`);
  }
  return value;
}

export interface PgServer {
  /** URL of a database on the server we may connect to, to create / drop the bench databases. */
  adminUrl: string;
  description: string;
  stop(): Promise<void>;
}

export function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/** BENCH_DATABASE_URL, else postgres@127.0.0.1:5432 when it answers, else an embedded server for the run. */
export async function resolvePgServer(): Promise<PgServer> {
  const fromEnv = process.env.BENCH_DATABASE_URL;
  if (fromEnv) {
    return {
      adminUrl: fromEnv,
      description: `BENCH_DATABASE_URL (${redact(fromEnv)})`,
      stop: async () => {},
    };
  }
  if (await canConnect(LOCAL_ADMIN_URL)) {
    return {
      adminUrl: LOCAL_ADMIN_URL,
      description: 'local server postgres@127.0.0.1:5432',
      stop: async () => {},
    };
  }
  const embedded = await startEmbeddedPostgres(`bench-pg-${randomBytes(4).toString('hex')}`);
  return { ...embedded, description: `embedded PostgreSQL (${redact(embedded.adminUrl)})` };
}

export type Cleanup = () => Promise<void>;

/** A signal this soon after the first is the same Ctrl-C relayed by npm / tsx, not a second one. */
const SIGNAL_ECHO_MS = 1000;
/** On an interrupt no cleanup step may hang the exit longer than this. */
const INTERRUPTED_STEP_TIMEOUT_MS = 10_000;

/**
 * What a benchmark must undo, whether it ends, fails or is interrupted (Ctrl-C / SIGTERM):
 * closers (pools, processes, files) run last-in first-out, databases are dropped, the server
 * is stopped last. On an interrupt the databases are dropped first: `drop … with (force)` ends
 * the statements in flight, so closing the pools afterwards does not wait for them.
 */
export class BenchCleanup {
  private readonly closers: Cleanup[] = [];
  private readonly databases: Cleanup[] = [];
  private stopServer: Cleanup = async () => {};
  private cleaning: Promise<void> | null = null;
  private interruptedAt: number | null = null;

  /** A pool, process or file to close / remove (last-in first-out). */
  defer(step: Cleanup): void {
    this.closers.push(step);
  }

  /** A database to drop. */
  deferDrop(step: Cleanup): void {
    this.databases.push(step);
  }

  /** The PostgreSQL server's stop, run after everything else. */
  deferServerStop(step: Cleanup): void {
    this.stopServer = step;
  }

  get interrupted(): boolean {
    return this.interruptedAt !== null;
  }

  /** Runs the steps once (a second call waits for the first). */
  run(interrupted: boolean): Promise<void> {
    this.cleaning ??= (async () => {
      const limit = interrupted ? INTERRUPTED_STEP_TIMEOUT_MS : null;
      const close = [...this.closers].reverse();
      if (interrupted) {
        // Indexes, not a copy: a database created while this runs is dropped too.
        for (let i = 0; i < this.databases.length; i++) await runStep(this.databases[i], limit);
        for (const step of close) await runStep(step, limit);
      } else {
        for (const step of [...close, ...this.databases]) await runStep(step, limit);
      }
      await runStep(this.stopServer, limit);
    })();
    return this.cleaning;
  }

  readonly onSignal = (): void => {
    if (this.interruptedAt !== null) {
      if (performance.now() - this.interruptedAt > SIGNAL_ECHO_MS) process.exit(130);
      return;
    }
    this.interruptedAt = performance.now();
    console.error('\ninterrupted: cleaning up…');
    void this.run(true).finally(() => process.exit(130));
  };
}

async function runStep(step: Cleanup, limitMs: number | null): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit =
    limitMs === null
      ? null
      : new Promise<void>((resolve) => {
          timer = setTimeout(resolve, limitMs);
        });
  try {
    await (limit ? Promise.race([step(), limit]) : step());
  } catch (err) {
    console.error(`cleanup: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs a benchmark's `main` with its cleanup: steps run at the end (or on Ctrl-C); the exit
 * code is main's (0 report, 1 failed correctness check), 2 on a crash.
 */
export function runBench(main: (cleanup: BenchCleanup) => Promise<number>): void {
  const cleanup = new BenchCleanup();
  process.on('SIGINT', cleanup.onSignal);
  process.on('SIGTERM', cleanup.onSignal);
  main(cleanup)
    .finally(async () => {
      await cleanup.run(false);
      process.off('SIGINT', cleanup.onSignal);
      process.off('SIGTERM', cleanup.onSignal);
    })
    .then(
      (code) => {
        process.exitCode = code;
      },
      (err: unknown) => {
        console.error(err);
        process.exitCode = 2;
      },
    );
}
