/**
 * One process lifecycle for the api, the workers and the web: how start-up gives way to a stop
 * signal, how a running process stops, and the GET /healthz, /readyz and /metrics answers.
 *
 * The policy, the same in every process:
 * - first SIGTERM / SIGINT: /readyz answers 503, no new work is taken, what is in flight finishes,
 *   the database pool closes, exit 0. During start-up the signal aborts `lifecycle.signal` (the
 *   wait for the database gives up) and start-up goes no further than its next checkpoint;
 * - the grace timeout passes first: what remains is cut, exit 1;
 * - a second signal: exit 1 at once.
 *
 * Signals, the grace timer and the exit codes are close-with-grace's; this module adds the
 * start-up phase, the ordered stop steps, and the HTTP pieces.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import closeWithGrace from 'close-with-grace';

/** What the lifecycle logs through (a pino logger fits). */
export interface LifecycleLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  flush(): void;
}

/** One part of a graceful stop. */
export interface StopStep {
  /** Takes no new work and resolves once what was in flight is done (or rejects: exit 1). */
  stop(): Promise<void>;
  /** The grace timeout passed: cut what remains, synchronously (the process exits 1 right after). */
  cut?(): void;
}

export interface LifecycleOptions {
  log: LifecycleLogger;
  /** How long a stop may take before what remains is cut (exit 1). */
  graceMs: number;
  /** The messages of a stop's first and last log lines (default `shutting down`, `stopped`). */
  messages?: { stopping?: string; stopped?: string };
}

export interface Lifecycle {
  /** Aborted by the first stop signal: start-up waits (the database) take it and give up. */
  readonly signal: AbortSignal;
  /** From the first stop signal on: /readyz answers 503 and no new work is taken. */
  readonly stopping: boolean;
  /**
   * Registers a step of the graceful stop. Steps run one after the other, the last registered
   * first: register a resource when it is acquired (the pool), then what uses it (the server).
   */
  onStop(step: StopStep): void;
  /**
   * A start-up checkpoint: resolves at once unless a stop was requested; then it never resolves,
   * the steps registered so far run and the process exits 0 (nothing was served yet).
   */
  proceed(): Promise<void>;
  /** Start-up is over: a stop requested during it runs now, a later one at once. */
  started(): void;
}

export const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

// Every event close-with-grace would otherwise handle besides SIGTERM and SIGINT: other signals,
// uncaught errors and an emptied event loop keep Node's own behaviour.
const NOT_HANDLED = [
  'SIGHUP',
  'SIGQUIT',
  'SIGILL',
  'SIGTRAP',
  'SIGABRT',
  'SIGBUS',
  'SIGFPE',
  'SIGSEGV',
  'SIGUSR2',
  'uncaughtException',
  'unhandledRejection',
  'beforeExit',
] as const;

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Takes over SIGTERM and SIGINT for this process. Call it first thing in main(), once the
 * configuration (the grace timeout, the log level) is read: a signal before it kills the process.
 */
export function createLifecycle(options: LifecycleOptions): Lifecycle {
  const { log, graceMs } = options;
  const stoppingMessage = options.messages?.stopping ?? 'shutting down';
  const stoppedMessage = options.messages?.stopped ?? 'stopped';
  const controller = new AbortController();
  const steps: StopStep[] = [];
  const startup = Promise.withResolvers<void>();
  let running = false;
  let stopping = false;

  closeWithGrace(
    {
      delay: graceMs,
      logger: false,
      skip: [...NOT_HANDLED],
      onSecondSignal: (signal) => {
        log.warn({ signal }, 'second stop signal: exiting now');
        log.flush();
      },
      onTimeout: (delay) => {
        log.error({ timeoutMs: delay }, 'still busy at the grace timeout: cutting what remains');
        for (const step of [...steps].reverse()) step.cut?.();
        log.flush();
      },
    },
    async ({ signal }) => {
      const since = Date.now();
      stopping = true;
      log.info({ signal, timeoutMs: graceMs }, running ? stoppingMessage : 'stop requested during start-up');
      controller.abort();
      await startup.promise;
      try {
        for (const step of [...steps].reverse()) await step.stop();
      } catch (err) {
        log.error({ err: errorMessage(err) }, 'stopping failed');
        log.flush();
        throw err;
      }
      log.info({ ms: Date.now() - since }, stoppedMessage);
      log.flush();
    },
  );

  log.debug({ signals: STOP_SIGNALS, graceMs }, 'stop signals handled');

  return {
    signal: controller.signal,
    get stopping() {
      return stopping;
    },
    onStop(step) {
      steps.push(step);
    },
    proceed() {
      if (!stopping) return Promise.resolve();
      startup.resolve();
      return new Promise<void>(() => {});
    },
    started() {
      running = true;
      startup.resolve();
    },
  };
}

/** How long a connection accepted but still silent when the stop began has to send its request. */
const FIRST_REQUEST_GRACE_MS = 2_000;
/** The listener closes once no connection has been accepted for this long since the stop... */
const ACCEPT_QUIET_MS = 50;
/** ...or this long after the stop at the latest. */
const ACCEPT_DRAIN_MAX_MS = 1_000;

/**
 * The stop step of an HTTP server: it stops listening, a request still arriving on an open
 * connection is answered with `connection: close`, keep-alive connections are closed as they
 * become idle, and the step is done when the last connection is gone. Cut: every connection is
 * closed. Call it before `listen`: it follows the connections from their accept on.
 *
 * A connection accepted but silent when the stop begins gets a short grace to deliver its
 * request (Node's `closeIdleConnections` would leave it open until its headers timeout).
 */
export function httpServerStop(server: Server): StopStep {
  const connections = new Map<Socket, { active: number; served: boolean }>();
  let stopping = false;
  let lastAcceptAt = 0;
  server.on('connection', (socket: Socket) => {
    lastAcceptAt = Date.now();
    connections.set(socket, { active: 0, served: false });
    socket.once('close', () => connections.delete(socket));
  });
  // Before the server's own handler, so the header is set before any answer starts.
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const conn = connections.get(req.socket);
    if (conn) {
      conn.active++;
      conn.served = true;
      res.once('close', () => conn.active--);
    }
    // A client on a kept-alive connection is told to leave.
    if (stopping) res.setHeader('connection', 'close');
  });

  return {
    stop: () =>
      new Promise<void>((resolve, reject) => {
        if (!server.listening) {
          resolve();
          return;
        }
        stopping = true;
        lastAcceptAt = Date.now();
        const silentUntil = Date.now() + FIRST_REQUEST_GRACE_MS;
        const closeIdle = () => {
          const silentExpired = Date.now() >= silentUntil;
          for (const [socket, conn] of connections) {
            if (conn.active === 0 && (conn.served || silentExpired)) socket.destroy();
          }
        };
        const sweep = setInterval(closeIdle, 50);
        // Closing the listener resets the connections the kernel has completed but the event
        // loop has not accepted yet, though their clients may have sent a request already. The
        // listener stays until no connection has come for a quiet moment (or for at most a
        // second): each accepted one is then answered as above.
        const closeListener = () =>
          server.close((err) => {
            clearInterval(sweep);
            if (err) reject(err);
            else resolve();
          });
        const drainUntil = Date.now() + ACCEPT_DRAIN_MAX_MS;
        const quiet = () => Date.now() - lastAcceptAt >= ACCEPT_QUIET_MS || Date.now() >= drainUntil;
        const watchAccepts = () => {
          const drain = setInterval(() => {
            if (!quiet()) return;
            clearInterval(drain);
            // Timers run before the loop polls: after a pause of the process (a busy host),
            // connections may wait in the kernel's queue although none was accepted for a while.
            // The check runs after the next poll, which accepts them first.
            setImmediate(() => (quiet() ? closeListener() : watchAccepts()));
          }, 10);
        };
        watchAccepts();
        closeIdle();
      }),
    cut: () => server.closeAllConnections(),
  };
}

/** A dependency /readyz checks. */
export interface ReadinessCheck {
  /** The key of its answer in the /readyz body, e.g. `database`. */
  readonly name: string;
  /** Resolves when the dependency answers, rejects with the reason; bounded by `signal`. */
  check(signal: AbortSignal): Promise<unknown>;
}

export interface ProbeOptions {
  /** While it is stopping, /readyz answers 503 and /healthz says so (still 200: the process is alive). */
  lifecycle: { readonly stopping: boolean };
  /** Fields /healthz adds to its status. */
  health?: () => object;
  /** What /readyz checks: each answers `ok` or its failure, and any failure answers 503. */
  checks?: readonly ReadinessCheck[];
  /** The longest /readyz waits for one check (default 5 s). */
  checkTimeoutMs?: number;
  /** Fields every /readyz answer carries. */
  readyFields?: object;
  /** Answers GET /metrics; without it the path is not the probe's. */
  metrics?: (res: ServerResponse) => void;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<string> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    await Promise.race([
      check.check(signal),
      new Promise((_, reject) =>
        signal.addEventListener('abort', () => reject(new Error(`no answer in ${timeoutMs} ms`))),
      ),
    ]);
    return 'ok';
  } catch (err) {
    return errorMessage(err);
  }
}

/**
 * GET /healthz (the process is up: 200, with `status` `ok` or `stopping`), GET /readyz (200 when
 * every check passes, else 503 naming what failed; 503 `stopping` once a stop began) and GET
 * /metrics. Answers true when it took the request, false to leave it to the caller.
 */
export function createProbeHandler(
  options: ProbeOptions,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const checks = options.checks ?? [];
  const timeoutMs = options.checkTimeoutMs ?? 5_000;
  return (req, res) => {
    if (req.method !== 'GET') return false;
    const path = (req.url ?? '/').split('?')[0];
    const stopping = options.lifecycle.stopping;
    if (path === '/healthz') {
      sendJson(res, 200, { status: stopping ? 'stopping' : 'ok', ...options.health?.() });
      return true;
    }
    if (path === '/readyz') {
      if (stopping) {
        sendJson(res, 503, { status: 'stopping', ...options.readyFields });
        return true;
      }
      void Promise.all(checks.map((c) => runCheck(c, timeoutMs))).then((answers) => {
        const ready = answers.every((a) => a === 'ok');
        sendJson(res, ready ? 200 : 503, {
          status: ready ? 'ready' : 'unavailable',
          ...options.readyFields,
          ...Object.fromEntries(checks.map((c, i) => [c.name, answers[i]])),
        });
      });
      return true;
    }
    if (path === '/metrics' && options.metrics) {
      options.metrics(res);
      return true;
    }
    return false;
  };
}

/** A server of its own for the probes (a process without an HTTP server of its own: a worker). */
export function createProbeServer(options: ProbeOptions): Server {
  const probe = createProbeHandler(options);
  return createServer((req, res) => {
    if (!probe(req, res)) sendJson(res, 404, { error: 'not found: GET /healthz, /readyz or /metrics' });
  });
}
