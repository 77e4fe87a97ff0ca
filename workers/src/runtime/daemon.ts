import type { AddressInfo } from 'node:net';
import { connectOrm, logRetries } from '@hero/core/db/connect';
import type { MikroORM } from '@hero/core/db/orm';
import type { JobOutcome } from '@hero/core/jobs/run-with-job-lock';
import { ConfigError, exitOnConfigError } from '@hero/core/lib/env';
import { createLogger, type Logger } from '@hero/core/lib/logger';
import { createLifecycle, createProbeServer, httpServerStop } from '@hero/core/lifecycle';
import { registerDbMetrics } from '@hero/core/metrics/db-metrics';
import { createMetricsRegistry, sendMetrics } from '@hero/core/metrics/registry';
import { createWorkerMetrics, type WorkerMetrics } from '@hero/core/metrics/worker-metrics';
import schedule from 'node-schedule';
import { loadWorkerConfig, type WorkerConfig } from '../config.ts';
import { scheduleCronTicks } from './cron-ticks.ts';
import type { Job } from './job.ts';
import { runJobOnce } from './run-job.ts';

/** The longest GET /readyz waits for one of its checks (database, the job's own). */
export const READY_CHECK_TIMEOUT_MS = 5_000;

export interface DaemonArgs {
  once: boolean;
}

export class UsageError extends Error {}

export function parseDaemonArgs(argv: readonly string[]): DaemonArgs {
  const args: DaemonArgs = { once: false };
  for (const arg of argv) {
    if (arg === '--once') args.once = true;
    else throw new UsageError(`unknown argument "${arg}"`);
  }
  return args;
}

type AnyOutcome = JobOutcome<object>;

/** What /healthz reports about the last tick (from this process). */
interface LastRun {
  runId: number;
  status: AnyOutcome['status'];
  trigger: AnyOutcome['trigger'];
  startedAt: string;
  finishedAt: string;
  summary: object | null;
  error: string | null;
}

function lastRunOf(outcome: AnyOutcome): LastRun {
  return {
    runId: outcome.runId,
    status: outcome.status,
    trigger: outcome.trigger,
    startedAt: outcome.startedAt.toISOString(),
    finishedAt: outcome.finishedAt.toISOString(),
    summary: outcome.summary,
    error: outcome.error,
  };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function writeStdout(line: string): Promise<void> {
  return new Promise((resolve) => process.stdout.write(`${line}\n`, () => resolve()));
}

function exit(log: Logger, code: number): never {
  log.flush();
  process.exit(code);
}

/**
 * Runs a job as a worker process.
 *
 * `--once`: one tick (trigger MANUAL), then the outcome `{ job, runId, status, trigger, summary,
 * error }` is printed on stdout as one JSON line; exit 0 when the run succeeded or was skipped
 * (another run holds the lock), 1 when it failed.
 *
 * Otherwise a daemon, timed by the job (`*_INTERVAL_MS` or `*_SCHEDULE`): with an interval, one
 * tick at start, then one `intervalMs` after the previous tick ended; with a cron schedule, a tick
 * at each of its times only, a time that comes while a tick is still running skipped (logged at
 * info). Both through node-schedule; ticks never overlap in a process, and the run lock keeps
 * replicas apart.
 * With WORKER_HEALTH_PORT, GET /healthz (process up, last run), GET /readyz (the database and
 * the job's own checks answer) and GET /metrics. SIGTERM / SIGINT (core/src/lifecycle.ts): no new
 * tick, the job's signal is aborted, the tick in hand may finish, the ORM is closed, exit 0; the
 * tick still running after WORKER_SHUTDOWN_TIMEOUT_MS, or a second signal: exit 1.
 */
export async function runDaemon<S extends object>(job: Job<S>, argv: readonly string[]): Promise<void> {
  let args: DaemonArgs;
  let config: WorkerConfig;
  try {
    args = parseDaemonArgs(argv);
  } catch (err) {
    process.stderr.write(`worker ${job.name}: ${errorMessage(err)}; usage: ${job.name} [--once]\n`);
    process.exit(2);
  }
  try {
    config = loadWorkerConfig();
    const problems = job.checkConfig?.(config) ?? [];
    if (problems.length > 0) throw new ConfigError(problems);
  } catch (err) {
    exitOnConfigError(err, `worker ${job.name}`);
  }
  const log = createLogger({ name: `worker-${job.name}`, level: config.LOG_LEVEL });
  const lifecycle = createLifecycle({
    log,
    graceMs: config.WORKER_SHUTDOWN_TIMEOUT_MS,
    messages: { stopping: `${job.name} worker stopping`, stopped: `${job.name} worker stopped` },
  });
  let orm: MikroORM;
  // Waits for the database with backoff; a stop signal meanwhile exits 0 (nothing started).
  try {
    orm = await connectOrm({
      databaseUrl: config.DATABASE_URL,
      poolMax: config.DB_POOL_MAX,
      timeoutMs: config.DB_CONNECT_TIMEOUT_MS,
      onRetry: logRetries(log),
      signal: lifecycle.signal,
    });
  } catch (err) {
    if (lifecycle.stopping) return lifecycle.proceed();
    process.stderr.write(`worker ${job.name}: cannot open the database: ${errorMessage(err)}\n`);
    exit(log, 1);
  }
  lifecycle.onStop({ stop: () => orm.close() });
  // A signal in the very moment the database answered.
  await lifecycle.proceed();

  const controller = new AbortController();
  const deps = { config, log, signal: controller.signal };

  if (args.once) {
    // A stop aborts the run's signal so that it ends early; the run's own end below prints the
    // outcome and exits (by its status), unless the grace timeout or a second signal comes first.
    lifecycle.onStop({
      stop: () => {
        controller.abort();
        return new Promise<void>(() => {});
      },
    });
    lifecycle.started();
    let outcome: AnyOutcome;
    try {
      outcome = await runJobOnce(orm, job, 'MANUAL', deps);
    } catch (err) {
      process.stderr.write(`worker ${job.name}: run failed: ${errorMessage(err)}\n`);
      await orm.close().catch(() => {});
      exit(log, 1);
    }
    await orm.close().catch(() => {});
    const { runId, status, trigger, summary, error } = outcome;
    await writeStdout(JSON.stringify({ job: job.name, runId, status, trigger, summary, error }));
    exit(log, outcome.status === 'FAILED' ? 1 : 0);
  }

  const timing = job.timing(config);
  const intervalMs = 'intervalMs' in timing ? timing.intervalMs : null;
  const state = {
    startedAt: new Date().toISOString(),
    ticks: 0,
    running: false,
    lastRun: null as LastRun | null,
    /** A tick that could not run at all (e.g. the database was unreachable). */
    lastTickError: null as string | null,
  };
  let nextTick: schedule.Job | null = null;
  let cronTicks: schedule.Job | null = null;
  let fallbackTimer: NodeJS.Timeout | null = null;
  let inFlight: Promise<void> | null = null;
  const metrics = createMetricsRegistry();
  const workerMetrics: WorkerMetrics = createWorkerMetrics(metrics, job.name);

  // Interval timing only: a cron schedule's job fires by itself.
  const scheduleNext = () => {
    if (lifecycle.stopping || intervalMs === null) return;
    nextTick = schedule.scheduleJob(new Date(Date.now() + intervalMs), () => {
      nextTick = null;
      void tick();
    });
    // node-schedule refuses a date already past (a tiny interval on a busy loop): run soon.
    if (!nextTick) fallbackTimer = setTimeout(() => void tick(), intervalMs);
  };

  const tick = async () => {
    fallbackTimer = null;
    if (lifecycle.stopping) return;
    state.running = true;
    const tickDone = workerMetrics.tickStarted();
    inFlight = (async () => {
      try {
        const outcome = await runJobOnce(orm, job, 'SCHEDULE', deps);
        tickDone(outcome.status);
        state.lastRun = lastRunOf(outcome);
        state.lastTickError = null;
        if (outcome.status === 'FAILED')
          log.error({ runId: outcome.runId, err: outcome.error }, `${job.name} tick failed`);
        else
          log.debug(
            { runId: outcome.runId, status: outcome.status, summary: outcome.summary },
            `${job.name} tick done`,
          );
      } catch (err) {
        tickDone('ERROR');
        state.lastTickError = errorMessage(err);
        log.error({ err: state.lastTickError }, `${job.name} tick could not run`);
      }
    })();
    await inFlight;
    inFlight = null;
    state.running = false;
    state.ticks++;
    scheduleNext();
  };

  if (config.WORKER_HEALTH_PORT !== undefined) {
    registerDbMetrics(metrics, () => orm.em.fork(), {
      onError: (err) =>
        log.warn({ err: errorMessage(err) }, 'metrics: the database-derived series could not be read'),
    });
    const server = createProbeServer({
      lifecycle,
      health: () => ({ job: job.name, ...timing, ...state }),
      // The database, and the job's own dependencies (e.g. the aggregator's forge).
      checks: [
        { name: 'database', check: () => orm.em.fork().execute('select 1') },
        ...(job.readiness?.(config) ?? []),
      ],
      checkTimeoutMs: READY_CHECK_TIMEOUT_MS,
      readyFields: { job: job.name },
      metrics: (res) =>
        sendMetrics(metrics, res, (err) => log.error({ err: errorMessage(err) }, 'metrics: scrape failed')),
    });
    // Closed after the tick in hand is done: until then /readyz answers 503 `stopping`.
    lifecycle.onStop(httpServerStop(server));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.WORKER_HEALTH_PORT, config.WORKER_HEALTH_HOST, () => resolve());
    }).catch((err: unknown) => {
      process.stderr.write(`worker ${job.name}: health server cannot listen: ${errorMessage(err)}\n`);
      process.exit(1);
    });
    const { port } = server.address() as AddressInfo;
    log.info(
      { port },
      `health server listening on http://${config.WORKER_HEALTH_HOST}:${port} (/healthz, /readyz, /metrics)`,
    );
  }

  lifecycle.onStop({
    stop: async () => {
      controller.abort();
      nextTick?.cancel();
      cronTicks?.cancel();
      if (fallbackTimer) clearTimeout(fallbackTimer);
      if (inFlight) {
        log.info(`${job.name} worker: waiting for the tick in progress`);
        await inFlight;
      }
    },
  });
  log.info({ job: job.name, ...timing, ...job.describeConfig?.(config) }, `${job.name} worker started`);
  lifecycle.started();
  if ('schedule' in timing) {
    cronTicks = scheduleCronTicks(timing.schedule, tick, (scheduledAt) =>
      log.info(
        { scheduledAt: scheduledAt.toISOString(), schedule: timing.schedule },
        `${job.name} tick skipped: the previous tick is still running`,
      ),
    );
  } else void tick();
}
