/**
 * The web process: SvelteKit's adapter-node handler behind a small http server that owns the
 * configuration (parsed once, every problem printed, exit 1), GET /healthz, /readyz and
 * /metrics, the request origin (WEB_ORIGIN or the Host header, never a client's forwarded
 * headers), one JSON access log line per request (pino) and the stop on SIGTERM / SIGINT the
 * api and the workers share (core/src/lifecycle.ts).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createLifecycle, createProbeHandler, httpServerStop } from '@hero/core/lifecycle';
import pino, { type Logger } from 'pino';
import {
  applyAdapterEnv,
  deprecationsOf,
  ORIGIN_HOST_HEADER,
  ORIGIN_PROTO_HEADER,
  type WebConfig,
  WebConfigError,
  webConfig,
} from '../src/lib/server/config.ts';
import { createWebMetrics, loadRouteOf, OWN_ROUTES } from './metrics.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

const BUILD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../build');

/** Health checks and scrapes are logged at debug level, pages and assets at info. */
const QUIET_ROUTES = new Set<string>(OWN_ROUTES);

function createLogger(level: string): Logger {
  return pino({
    name: 'web',
    level,
    redact: { paths: ['req.headers.cookie', 'req.headers.authorization'], censor: '[redacted]' },
  });
}

/** The web is ready when the api is. */
async function apiReady(config: WebConfig, signal: AbortSignal): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`${config.HERO_API_URL}/readyz`, { signal });
  } catch (err) {
    throw new Error(`api unreachable: ${err instanceof Error ? err.message : String(err)}`);
  }
  await res.body?.cancel();
  if (!res.ok) throw new Error(`api answered ${res.status}`);
}

async function main(): Promise<void> {
  let config: WebConfig;
  try {
    config = webConfig();
  } catch (err) {
    if (err instanceof WebConfigError) {
      process.stderr.write(`web: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.LOG_LEVEL);
  const lifecycle = createLifecycle({ log, graceMs: config.WEB_SHUTDOWN_TIMEOUT_MS });
  for (const warning of deprecationsOf(config)) log.warn({}, warning);
  applyAdapterEnv(config);
  let handler: Handler;
  try {
    ({ handler } = (await import(pathToFileURL(path.join(BUILD_DIR, 'handler.js')).href)) as {
      handler: Handler;
    });
  } catch (err) {
    process.stderr.write(
      `web: cannot load ${path.join(BUILD_DIR, 'handler.js')} (${err instanceof Error ? err.message : String(err)}): run \`npm run build -w web\` first\n`,
    );
    process.exit(1);
  }
  const origin = config.WEB_ORIGIN ? new URL(config.WEB_ORIGIN) : null;
  const metrics = createWebMetrics(await loadRouteOf(BUILD_DIR));
  const accessLog = log.child({ module: 'http' });
  const probe = createProbeHandler({
    lifecycle,
    checks: [{ name: 'api', check: (signal) => apiReady(config, signal) }],
    checkTimeoutMs: 2_000,
    metrics: (res) => metrics.send(res),
  });
  // A stop requested while the handler loaded: nothing to serve, exit 0.
  await lifecycle.proceed();

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const pathname = url.split('?')[0];
    metrics.observe(req, res, ({ method, route, status, seconds }) => {
      const requestId = res.getHeader('x-request-id');
      accessLog[QUIET_ROUTES.has(route) ? 'debug' : 'info'](
        {
          method,
          path: pathname,
          route,
          status,
          durationMs: Math.round(seconds * 1000 * 10) / 10,
          ...(requestId !== undefined ? { requestId: String(requestId) } : {}),
        },
        'request',
      );
    });
    if (probe(req, res)) return;
    // The origin SvelteKit sees (CSRF check, Secure cookies) is ours to say, not the client's.
    req.headers[ORIGIN_PROTO_HEADER] = origin ? origin.protocol.slice(0, -1) : 'http';
    req.headers[ORIGIN_HOST_HEADER] = origin ? origin.host : (req.headers.host ?? 'localhost');
    handler(req, res, () => {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
    });
  });

  server.on('error', (err) => {
    process.stderr.write(`web: cannot listen on ${config.WEB_HOST}:${config.WEB_PORT}: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(config.WEB_PORT, config.WEB_HOST, () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.WEB_PORT;
    const shown = origin?.origin ?? `http://localhost:${port}`;
    log.info({ port, api: config.HERO_API_URL }, `web listening on ${shown}`);
    lifecycle.started();
  });
  lifecycle.onStop(httpServerStop(server));
}

await main();
