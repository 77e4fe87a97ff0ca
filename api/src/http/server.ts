import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { DEFAULT_EXPIRY_WARNING_HOURS } from '@hero/core/allocation/expiry';
import { DEFAULT_AUTH_SETTINGS } from '@hero/core/auth/sessions';
import type { TopUpCheckout } from '@hero/core/billing/checkout';
import { DEFAULT_CREDIT_POLICY } from '@hero/core/billing/credit-policy';
import { handleStripeWebhook } from '@hero/core/billing/stripe-webhook';
import { databaseFailure } from '@hero/core/db/failures';
import {
  DatabaseBusyError,
  DatabaseConnectionLostError,
  DomainError,
  RoleForbiddenError,
  ValidationError,
} from '@hero/core/errors';
import type { Logger } from '@hero/core/lib/logger';
import { createProbeHandler } from '@hero/core/lifecycle';
import {
  createMailer,
  DEFAULT_MAIL_FROM,
  DEFAULT_MAIL_TIMEOUT_MS,
  type Mailer,
} from '@hero/core/mail/mailer';
import type { Provisioner } from '@hero/core/provisioners/provisioner';
import { DEFAULT_AGGREGATE_BATCH_SIZE } from '@hero/core/usage/aggregate-usage';
import type { UsageSource } from '@hero/core/usage/sources/usage-source';
import type { MikroORM } from '@mikro-orm/postgresql';
import { GraphQLError } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { schema } from '../schema/index.ts';
import { adminSecretLimiter } from './admin-secret-limit.ts';
import { bodyLimitPlugin } from './body-limit.ts';
import { normalizeProxyEntry, proxyMatcher } from './client-ip.ts';
import {
  type ApiSettings,
  type Context,
  type ContextDeps,
  createContext,
  type ServerContext,
} from './context.ts';
import { corsOption, corsVaryPlugin } from './cors.ts';
import { renderLocalGraphiQL } from './graphiql.ts';
import {
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_QUERY_LIMITS,
  type GraphQLHardening,
  graphiqlFor,
  graphqlHardeningPlugin,
} from './graphql-hardening.ts';
import { type ApiMetrics, createApiMetrics } from './metrics.ts';
import { checkDatabase, READY_CHECK_TIMEOUT_MS } from './readiness.ts';
import { currentRequestId, REQUEST_ID_HEADER, requestIdFrom, withRequestId } from './request-id.ts';

export interface AppDeps {
  orm: MikroORM;
  adminSecret: string;
  provisioner: Provisioner | null;
  /** Default: none (aggregateNow answers USAGE_SOURCE_UNAVAILABLE). */
  usageSource?: UsageSource | null;
  log: Logger;
  /** Default: EXPIRY_WARNING_HOURS 72, sessions of 168 h, 10/30 attempts, proxies 127.0.0.1 and ::1. */
  settings?: Partial<ApiSettings>;
  /** Query limits, introspection and GraphiQL (`on`/`admin`/`off`), the body limit; default: the
   * default limits, introspection for admins only, 1 MiB. */
  graphql?: Partial<GraphQLHardening>;
  /** GET /metrics and the request metrics; createApiServer makes one when not given. */
  metrics?: ApiMetrics;
  /** The process lifecycle: once `stopping`, /readyz answers 503. */
  lifecycle?: { readonly stopping: boolean };
  /** POST /webhooks/stripe; default: no secret (the endpoint answers 503). */
  stripe?: { secret: string | null; toleranceSeconds?: number };
  /** Self-serve top-up (Stripe Checkout); default none: `topUpOptions` is null, `startTopUp` TOPUP_UNAVAILABLE. */
  topUp?: TopUpCheckout | null;
  /** Where emails go; default: the log. */
  mailer?: Mailer;
  /** Browser origins allowed to call /graphql (API_CORS_ORIGINS, normalized); default none: no CORS headers. */
  corsOrigins?: readonly string[];
}

/** The largest webhook body read (Stripe events are a few KiB). */
const MAX_WEBHOOK_BODY_BYTES = 1 << 20;

class BodyTooLargeError extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Answer at once and discard the rest (destroying the socket would lose the answer).
        req.off('data', onData);
        req.resume();
        reject(new BodyTooLargeError(`the body is larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const sendJson = (res: ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

/** A lost or exhausted database connection reads as its domain error (503), not as a bug. */
function domainErrorOf(original: unknown): unknown {
  if (original instanceof DomainError) return original;
  const failure = databaseFailure(original);
  if (failure === 'busy') return new DatabaseBusyError();
  if (failure === 'unavailable') return new DatabaseConnectionLostError();
  return original;
}

/** Domain errors raised outside result unions become coded GraphQL errors with their HTTP status. */
function toGraphQLError(error: unknown, message: string): Error {
  const original = domainErrorOf(error instanceof GraphQLError ? error.originalError : error);
  if (original instanceof DomainError) {
    const gqlError = error instanceof GraphQLError ? error : undefined;
    return new GraphQLError(original.message, {
      nodes: gqlError?.nodes,
      path: gqlError?.path,
      extensions: {
        code: original.code,
        // Outside a result union, the problems (with their paths) still reach the caller.
        ...(original instanceof ValidationError ? { problems: original.problems } : {}),
        // A role without the right, as opposed to a credential that is no good (admin UI keeps the session).
        ...(original instanceof RoleForbiddenError ? { role: original.role } : {}),
        http: { status: original.httpStatus },
      },
    });
  }
  // Parse / validation errors carry no original error and are safe to show.
  if (error instanceof GraphQLError && !error.originalError) return error;
  if (original instanceof GraphQLError) return original;
  const gqlError = error instanceof GraphQLError ? error : undefined;
  return new GraphQLError(message, {
    nodes: gqlError?.nodes,
    path: gqlError?.path,
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  });
}

/** Trusted by default: a web server on the same host. */
export const DEFAULT_TRUSTED_PROXIES = ['127.0.0.1', '::1'];

export function createGraphQLHandler(deps: AppDeps): YogaServerInstance<ServerContext, Context> {
  const log = deps.log.child({ module: 'graphql' });
  const settings: ApiSettings = {
    expiryWarningHours: DEFAULT_EXPIRY_WARNING_HOURS,
    creditPolicy: DEFAULT_CREDIT_POLICY,
    aggregateBatchSize: DEFAULT_AGGREGATE_BATCH_SIZE,
    defaultCurrency: 'EUR',
    signupMode: 'open',
    signupVerifyEmail: false,
    plans: { plans: [], currency: deps.settings?.defaultCurrency ?? 'EUR' },
    auth: DEFAULT_AUTH_SETTINGS,
    trustedProxies: DEFAULT_TRUSTED_PROXIES,
    forgeLinks: null,
    oidc: null,
    passwordReset: { webUrl: 'http://localhost:3000', rateLimitEmail: 3 },
    ...deps.settings,
    signupTrial: deps.settings?.signupTrial ?? null,
  };
  const mailer =
    deps.mailer ??
    createMailer(
      { smtpUrl: null, from: DEFAULT_MAIL_FROM, dir: null, timeoutMs: DEFAULT_MAIL_TIMEOUT_MS },
      deps.log.child({ module: 'mail' }),
    );
  const trustedProxies = proxyMatcher(settings.trustedProxies.map((e) => normalizeProxyEntry(e) ?? e));
  const hardening: GraphQLHardening = {
    limits: DEFAULT_QUERY_LIMITS,
    introspection: 'admin',
    maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
    ...deps.graphql,
  };
  const corsOrigins = deps.corsOrigins ?? [];
  const limiter = adminSecretLimiter({
    em: deps.orm.em,
    adminSecret: deps.adminSecret,
    limit: settings.auth.rateLimitIp,
    trustedProxies,
    basicCounts: hardening.introspection === 'admin',
    log,
  });
  const graphiql = graphiqlFor(hardening, deps.adminSecret);
  const contextDeps: ContextDeps = {
    em: deps.orm.em,
    settings,
    trustedProxies,
    adminSecret: deps.adminSecret,
    provisioner: deps.provisioner,
    usageSource: deps.usageSource ?? null,
    topUp: deps.topUp ?? null,
    log,
    mailer,
  };
  return createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    // Yoga renders GraphiQL before any plugin runs: a rate-limited address gets no page (the
    // limiter's plugin then answers 429).
    graphiql: async (request, serverContext) =>
      (await limiter.retryAfter(request, serverContext)) > 0 ? false : graphiql(request),
    // The page with its scripts inlined: yoga's default one loads them from a CDN.
    renderGraphiQL: renderLocalGraphiQL,
    landingPage: false,
    // bodyLimitPlugin enforces it (without yoga's per-request stream when node framed the body).
    maxRequestBodySize: false,
    cors: corsOption(corsOrigins),
    plugins: [
      corsVaryPlugin(corsOrigins),
      limiter.plugin,
      ...(deps.metrics ? [deps.metrics.graphqlPlugin] : []),
      graphqlHardeningPlugin({ hardening, adminSecret: deps.adminSecret, em: deps.orm.em, log }),
      bodyLimitPlugin(hardening.maxBodyBytes),
    ],
    logging: {
      // Yoga logs a few debug lines on every request: skip joining them when debug is off.
      debug: (...args) => {
        if (log.isLevelEnabled('debug')) log.debug(args.map(String).join(' '));
      },
      info: (...args) => log.info(args.map(String).join(' ')),
      warn: (...args) => log.warn(args.map(String).join(' ')),
      // Errors in responses are logged by maskError (unexpected ones only); auth refusals and
      // other coded errors are expected traffic, not error-level events.
      error: (...args) => {
        if (args[0] instanceof GraphQLError) log.debug({ err: args[0].message }, 'graphql error');
        else log.error({ err: args[0] }, 'graphql server error');
      },
    },
    maskedErrors: {
      maskError: (error, message) => {
        const masked = toGraphQLError(error, message);
        const original = error instanceof GraphQLError ? error.originalError : error;
        const failure = original instanceof DomainError ? null : databaseFailure(original);
        if (failure) {
          // Expected in a restart or overload, and answered 503: no stack trace at error level.
          log.warn(
            { failure, err: (original as Error).message, requestId: currentRequestId() },
            'database connection failure (answered 503)',
          );
        } else if (!(original instanceof DomainError) && original && !(original instanceof GraphQLError)) {
          log.error(
            { err: original, requestId: currentRequestId() },
            'unexpected error (masked in the response)',
          );
        }
        return masked;
      },
    },
    // The context's lazy members (context.ts) are copied as property descriptors onto yoga's
    // own context object: yoga merges a returned object with Object.assign, which would read
    // (and so create) every one of them on every request.
    context: async (initial) => {
      await createContext(initial.request, contextDeps, { req: initial.req }, initial);
      // Built into yoga's own context object (context.ts): nothing more to merge.
      return {} as Context;
    },
  });
}

/**
 * The api's HTTP server: POST /graphql, POST /webhooks/stripe, GET /healthz (process up),
 * GET /readyz (database answers), GET /metrics (Prometheus).
 */
export function createApiServer(deps: AppDeps): Server {
  const metrics = deps.metrics ?? createApiMetrics(deps.orm, deps.log);
  const yoga = createGraphQLHandler({ ...deps, metrics });
  const webhookLog = deps.log.child({ module: 'webhooks' });
  const probe = createProbeHandler({
    lifecycle: deps.lifecycle ?? { stopping: false },
    checks: [{ name: 'database', check: () => checkDatabase(deps.orm) }],
    // checkDatabase gives up first, with its own reason.
    checkTimeoutMs: READY_CHECK_TIMEOUT_MS + 1_000,
    metrics: (res) => metrics.send(res),
  });
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    // Every answer names its request (the caller's id when safe, else a new one); logs carry it.
    const requestId = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    res.setHeader(REQUEST_ID_HEADER, requestId);
    metrics.http.observe(req, res);
    if (probe(req, res)) return;
    if (path === '/webhooks/stripe') {
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST');
        sendJson(res, 405, { error: 'use POST' });
        return;
      }
      readBody(req, MAX_WEBHOOK_BODY_BYTES)
        .then((body) =>
          handleStripeWebhook(
            deps.orm.em,
            {
              secret: deps.stripe?.secret ?? null,
              toleranceSeconds: deps.stripe?.toleranceSeconds,
              log: deps.log.child({ requestId }),
            },
            body,
            req.headers['stripe-signature'] as string | undefined,
          ),
        )
        .then(
          (answer) => sendJson(res, answer.status, answer.body),
          (err: unknown) => {
            if (err instanceof BodyTooLargeError) {
              res.setHeader('connection', 'close');
              sendJson(res, 413, { error: err.message });
              return;
            }
            webhookLog.error({ err }, 'stripe webhook failed (Stripe will retry it)');
            sendJson(res, 500, { error: 'internal error; the event was not applied' });
          },
        );
      return;
    }
    // Downstream (context, plugins) reads the id from the header, now always a safe one.
    req.headers[REQUEST_ID_HEADER] = requestId;
    void withRequestId(requestId, () => yoga.requestListener(req, res));
  });
}
