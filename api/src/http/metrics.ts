import type { ServerResponse } from 'node:http';
import type { Logger } from '@hero/core/lib/logger';
import { registerDbMetrics } from '@hero/core/metrics/db-metrics';
import { createMetricsRegistry, sendMetrics } from '@hero/core/metrics/registry';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Plugin } from 'graphql-yoga';
import type { Registry } from 'prom-client';
import { createGraphQLMetrics } from '../metrics/graphql-metrics.ts';
import { createHttpMetrics, type HttpMetrics } from '../metrics/http-metrics.ts';

/** The api's routes counted by `hero_http_requests_total` (anything else is `other`). */
export const API_ROUTES = ['/graphql', '/webhooks/stripe', '/healthz', '/readyz', '/metrics'] as const;

export interface ApiMetrics {
  registry: Registry;
  /** For createYoga's `plugins`: `hero_graphql_requests_total`, `hero_graphql_request_duration_seconds`. */
  graphqlPlugin: Plugin;
  /** Counts every http request (`hero_http_requests_total{route,status}`). */
  http: HttpMetrics;
  /** Answers GET /metrics. */
  send(res: ServerResponse): void;
}

/**
 * The api's GET /metrics (Prometheus text): process metrics, this process's GraphQL and HTTP
 * request metrics, and the database-derived gauges (pool, allocations, balances, job runs,
 * usage, outbox, ledger), read at scrape time so every replica reports the same figures.
 */
export function createApiMetrics(orm: MikroORM, log: Logger): ApiMetrics {
  const metricsLog = log.child({ module: 'metrics' });
  const registry = createMetricsRegistry();
  registerDbMetrics(registry, () => orm.em.fork(), {
    onError: (err) => metricsLog.warn({ err }, 'metrics: the database-derived series could not be read'),
  });
  const graphql = createGraphQLMetrics(registry);
  return {
    registry,
    graphqlPlugin: graphql.plugin,
    http: createHttpMetrics(registry, API_ROUTES),
    send: (res) => sendMetrics(registry, res, (err) => metricsLog.error({ err }, 'metrics: scrape failed')),
  };
}
