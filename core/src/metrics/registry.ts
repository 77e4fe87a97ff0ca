import type { ServerResponse } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';

export type { Registry };

/**
 * A registry for one process's GET /metrics, with prom-client's default process metrics
 * (`process_cpu_seconds_total`, `process_resident_memory_bytes`, `nodejs_eventloop_lag_seconds`,
 * `nodejs_heap_size_used_bytes`, GC, handles, …, standard names, no prefix).
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Answers a GET /metrics (Prometheus text format 0.0.4). */
export function sendMetrics(registry: Registry, res: ServerResponse, onError?: (err: unknown) => void): void {
  registry.metrics().then(
    (text) =>
      res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(text),
    (err: unknown) => {
      onError?.(err);
      res
        .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
        .end(`metrics unavailable: ${err instanceof Error ? err.message : String(err)}\n`);
    },
  );
}
