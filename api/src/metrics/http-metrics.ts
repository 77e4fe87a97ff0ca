import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Histogram, type Registry } from 'prom-client';

export interface HttpMetrics {
  /** Counts the request when its answer is sent (or its connection closes). */
  observe(req: IncomingMessage, res: ServerResponse): void;
}

/**
 * `hero_http_requests_total{route,status}` and `hero_http_request_duration_seconds{route}` for
 * an http server: `route` is one of `routes` (the request path without its query) or `other`,
 * never the raw URL; `status` the HTTP status code.
 */
export function createHttpMetrics(registry: Registry, routes: readonly string[]): HttpMetrics {
  const known = new Set(routes);
  const requests = new Counter({
    name: 'hero_http_requests_total',
    help: 'HTTP requests by route (a known path or "other") and status code.',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'hero_http_request_duration_seconds',
    help: 'HTTP request latency (request received → answer sent), by route.',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  return {
    observe(req, res) {
      const started = performance.now();
      const path = (req.url ?? '/').split('?')[0];
      const route = known.has(path) ? path : 'other';
      let done = false;
      const record = () => {
        if (done) return;
        done = true;
        // A connection closed before the answer was sent: 499, as nginx logs it.
        const status = res.writableFinished ? String(res.statusCode) : '499';
        requests.inc({ route, status });
        duration.observe({ route }, (performance.now() - started) / 1000);
      };
      res.once('finish', record);
      res.once('close', record);
    },
  };
}
