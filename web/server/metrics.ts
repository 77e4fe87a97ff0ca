/**
 * The web process's GET /metrics: prom-client's default process metrics, and every request
 * counted by method, route and status, where the route is the SvelteKit route id the request
 * matched (read from the build's manifest), `static` for built assets and static files, or
 * `unmatched`: never the raw URL, so the number of series stays bounded.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** The process's own endpoints, counted under their path. */
export const OWN_ROUTES = ['/healthz', '/readyz', '/metrics'] as const;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

interface ManifestRoute {
  id: string;
  pattern: RegExp;
}

interface Manifest {
  app_dir: string;
  assets: Set<string>;
  _?: { routes?: ManifestRoute[] };
  routes?: ManifestRoute[];
}

/** pathname → bounded route label. */
export type RouteOf = (pathname: string) => string;

/**
 * Route ids from the build's server manifest (`build/server/manifest.js`, adapter-node's
 * output). Without it (an unexpected build layout), coarse families: `/`, `/admin/*`, `/*`.
 */
export async function loadRouteOf(buildDir: string): Promise<RouteOf> {
  let manifest: Manifest | null = null;
  try {
    const mod = (await import(pathToFileURL(path.join(buildDir, 'server', 'manifest.js')).href)) as {
      manifest: Manifest;
    };
    manifest = mod.manifest;
  } catch {
    manifest = null;
  }
  const routes = manifest?.routes ?? manifest?._?.routes ?? [];
  const appPrefix = `/${manifest?.app_dir ?? '_app'}/`;
  const own = new Set<string>(OWN_ROUTES);
  return (pathname) => {
    if (own.has(pathname)) return pathname;
    if (pathname.startsWith(appPrefix) || manifest?.assets.has(decodeSafe(pathname.slice(1))))
      return 'static';
    // Client-side navigations load a page's data from `<page>/__data.json`.
    const page = pathname.endsWith('/__data.json')
      ? pathname.slice(0, -'/__data.json'.length) || '/'
      : pathname;
    if (routes.length === 0) {
      if (page === '/') return '/';
      return page === '/admin' || page.startsWith('/admin/') ? '/admin/*' : '/*';
    }
    const decoded = decodeSafe(page);
    const route = routes.find((r) => r.pattern.test(decoded));
    return route ? route.id : 'unmatched';
  };
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export interface WebMetrics {
  registry: Registry;
  /** Counts the request once its answer is sent (or its connection closes); `done` gets the labels. */
  observe(
    req: IncomingMessage,
    res: ServerResponse,
    done?: (info: { method: string; route: string; status: number; seconds: number }) => void,
  ): void;
  /** Answers GET /metrics. */
  send(res: ServerResponse): void;
}

export function createWebMetrics(routeOf: RouteOf): WebMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'hero_web_requests_total',
    help: 'Web requests by method, route (SvelteKit route id, static, unmatched or an own endpoint) and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'hero_web_request_duration_seconds',
    help: 'Web request latency (request received → answer sent), by method and route.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  return {
    registry,
    observe(req, res, done) {
      const started = performance.now();
      const method = METHODS.has(req.method ?? '') ? (req.method as string) : 'other';
      const route = routeOf((req.url ?? '/').split('?')[0]);
      let recorded = false;
      const record = () => {
        if (recorded) return;
        recorded = true;
        // Closed before the answer was sent: 499, as nginx logs it.
        const status = res.writableFinished ? res.statusCode : 499;
        const seconds = (performance.now() - started) / 1000;
        requests.inc({ method, route, status: String(status) });
        duration.observe({ method, route }, seconds);
        done?.({ method, route, status, seconds });
      };
      res.once('finish', record);
      res.once('close', record);
    },
    send(res) {
      registry.metrics().then(
        (text) =>
          res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(text),
        (err: unknown) =>
          res
            .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
            .end(`metrics unavailable: ${err instanceof Error ? err.message : String(err)}\n`),
      );
    },
  };
}
