import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import schedule from 'node-schedule';
import { connectOrm, logRetries } from '../../../api/src/db/connect.ts';
import type { MikroORM } from '../../../api/src/db/orm.ts';
import type { JobOutcome } from '../../../api/src/jobs/run-with-job-lock.ts';
import { ConfigError, exitOnConfigError } from '../../../api/src/lib/env.ts';
import { createLogger, type Logger } from '../../../api/src/lib/logger.ts';
import { registerDbMetrics } from '../../../api/src/metrics/db-metrics.ts';
import { createMetricsRegistry, type Registry, sendMetrics } from '../../../api/src/metrics/registry.ts';
import { createWorkerMetrics, type WorkerMetrics } from '../../../api/src/metrics/worker-metrics.ts';
import { loadWorkerConfig, type WorkerConfig } from '../config.ts';
import type { Job, ReadinessCheck } from './job.ts';
import { runJobOnce } from './run-job.ts';

/** How long a stop request waits for the tick in hand before giving up (exit 1). */
export const SHUTDOWN_GRACE_MS = 30_000;

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
 * Otherwise a daemon: one tick at start, then one `intervalMs` after the previous tick ended
 * (node-schedule; ticks never overlap in a process, and the run lock keeps replicas apart).
 * With WORKER_HEALTH_PORT, GET /healthz (process up, last run) and GET /readyz (database
 * answers). SIGTERM / SIGINT: no new tick, the job's signal is aborted, the tick in hand may
 * finish (at most SHUTDOWN_GRACE_MS), the ORM is closed, exit 0; a second signal exits at once.
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
  let orm: MikroORM;
  // Waits for the database with backoff; a stop signal meanwhile exits 0 (nothing started).
  const startup = new AbortController();
  const stopDuringStartup = () => startup.abort();
  process.once('SIGTERM', stopDuringStartup);
  process.once('SIGINT', stopDuringStartup);
  try {
    orm = await connectOrm({
      databaseUrl: config.DATABASE_URL,
      poolMax: config.DB_POOL_MAX,
      timeoutMs: config.DB_CONNECT_TIMEOUT_MS,
      onRetry: logRetries(log),
      signal: startup.signal,
    });
  } catch (err) {
    if (startup.signal.aborted) exit(log, 0);
    process.stderr.write(`worker ${job.name}: cannot open the database: ${errorMessage(err)}\n`);
    exit(log, 1);
  }
  process.off('SIGTERM', stopDuringStartup);
  process.off('SIGINT', stopDuringStartup);
  // A signal in the very moment the database answered.
  if (startup.signal.aborted) {
    await orm.close().catch(() => {});
    exit(log, 0);
  }

  const controller = new AbortController();
  const deps = { config, log, signal: controller.signal };

  if (args.once) {
    process.once('SIGTERM', () => controller.abort());
    process.once('SIGINT', () => controller.abort());
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

  const intervalMs = job.intervalMs(config);
  const state = {
    startedAt: new Date().toISOString(),
    ticks: 0,
    running: false,
    lastRun: null as LastRun | null,
    /** A tick that could not run at all (e.g. the database was unreachable). */
    lastTickError: null as string | null,
  };
  let stopping = false;
  let nextTick: schedule.Job | null = null;
  let fallbackTimer: NodeJS.Timeout | null = null;
  let inFlight: Promise<void> | null = null;
  const metrics = createMetricsRegistry();
  const workerMetrics: WorkerMetrics = createWorkerMetrics(metrics, job.name);

  const scheduleNext = () => {
    if (stopping) return;
    nextTick = schedule.scheduleJob(new Date(Date.now() + intervalMs), () => {
      nextTick = null;
      void tick();
    });
    // node-schedule refuses a date already past (a tiny interval on a busy loop): run soon.
    if (!nextTick) fallbackTimer = setTimeout(() => void tick(), intervalMs);
  };

  const tick = async () => {
    fallbackTimer = null;
    if (stopping) return;
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

  let health: Server | null = null;
  const shutdown = async (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second stop signal: exiting now');
      exit(log, 1);
    }
    stopping = true;
    controller.abort();
    nextTick?.cancel();
    if (fallbackTimer) clearTimeout(fallbackTimer);
    log.info({ signal, tickInProgress: inFlight !== null }, `${job.name} worker stopping`);
    let finished = true;
    if (inFlight) {
      let timer: NodeJS.Timeout | undefined;
      finished = await Promise.race([
        inFlight.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), SHUTDOWN_GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    if (!finished) {
      log.error(
        { graceMs: SHUTDOWN_GRACE_MS },
        'the tick in progress did not finish in time: exiting anyway',
      );
      exit(log, 1);
    }
    health?.close();
    health?.closeAllConnections();
    await orm
      .close()
      .catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'closing the database pool failed'));
    log.info(`${job.name} worker stopped`);
    exit(log, 0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  if (config.WORKER_HEALTH_PORT !== undefined) {
    registerDbMetrics(metrics, () => orm.em.fork(), {
      onError: (err) =>
        log.warn({ err: errorMessage(err) }, 'metrics: the database-derived series could not be read'),
    });
    health = createHealthServer({
      orm,
      jobName: job.name,
      intervalMs,
      state,
      isStopping: () => stopping,
      checks: job.readiness?.(config) ?? [],
      metrics,
      log,
    });
    const server = health;
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

  log.info({ job: job.name, intervalMs, ...job.describeConfig?.(config) }, `${job.name} worker started`);
  void tick();
}

interface HealthServerDeps {
  orm: MikroORM;
  jobName: string;
  intervalMs: number;
  state: object;
  isStopping: () => boolean;
  /** The job's readiness checks besides the database. */
  checks: ReadinessCheck[];
  metrics: Registry;
  log: Logger;
}

/** Runs `check` with a signal aborted after READY_CHECK_TIMEOUT_MS: 'ok' or the reason. */
async function readiness(check: (signal: AbortSignal) => Promise<unknown>): Promise<string> {
  const signal = AbortSignal.timeout(READY_CHECK_TIMEOUT_MS);
  try {
    await Promise.race([
      check(signal),
      new Promise((_, reject) =>
        signal.addEventListener('abort', () =>
          reject(new Error(`no answer in ${READY_CHECK_TIMEOUT_MS} ms`)),
        ),
      ),
    ]);
    return 'ok';
  } catch (err) {
    return errorMessage(err);
  }
}

/**
 * GET /healthz (process up, last run), GET /readyz (the database answers, and the job's own
 * readiness checks pass, e.g. the aggregator's forge; 503 naming what failed), GET /metrics.
 */
function createHealthServer(deps: HealthServerDeps): Server {
  const { jobName } = deps;
  const json = (res: ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      json(res, 200, {
        status: deps.isStopping() ? 'stopping' : 'ok',
        job: jobName,
        intervalMs: deps.intervalMs,
        ...deps.state,
      });
      return;
    }
    if (req.method === 'GET' && path === '/readyz') {
      if (deps.isStopping()) {
        json(res, 503, { status: 'stopping', job: jobName });
        return;
      }
      const checks = [
        { name: 'database', check: () => deps.orm.em.fork().execute('select 1') },
        ...deps.checks,
      ];
      void Promise.all(checks.map((c) => readiness(c.check))).then((answers) => {
        const results = Object.fromEntries(checks.map((c, i) => [c.name, answers[i]]));
        const ready = answers.every((a) => a === 'ok');
        json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'unavailable', job: jobName, ...results });
      });
      return;
    }
    if (req.method === 'GET' && path === '/metrics') {
      sendMetrics(deps.metrics, res, (err) =>
        deps.log.error({ err: errorMessage(err) }, 'metrics: scrape failed'),
      );
      return;
    }
    json(res, 404, { error: 'not found: GET /healthz, /readyz or /metrics' });
  });
}
