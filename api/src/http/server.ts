import { createServer, type Server } from 'node:http';
import type { MikroORM } from '@mikro-orm/postgresql';
import { GraphQLError } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { DEFAULT_EXPIRY_WARNING_HOURS } from '../allocation/expiry.ts';
import { DomainError } from '../errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { Provisioner } from '../provisioners/provisioner.ts';
import { schema } from '../schema/index.ts';
import { DEFAULT_AGGREGATE_BATCH_SIZE } from '../usage/aggregate-usage.ts';
import type { UsageSource } from '../usage/sources/usage-source.ts';
import { type ApiSettings, type Context, createContext } from './context.ts';

export interface AppDeps {
  orm: MikroORM;
  adminSecret: string;
  provisioner: Provisioner | null;
  /** Default: none (aggregateNow answers USAGE_SOURCE_UNAVAILABLE). */
  usageSource?: UsageSource | null;
  log: Logger;
  /** Default: EXPIRY_WARNING_HOURS 72. */
  settings?: Partial<ApiSettings>;
  /** GraphiQL in the browser at /graphql (development only). */
  graphiql?: boolean;
}

/** Domain errors raised outside result unions become coded GraphQL errors with their HTTP status. */
function toGraphQLError(error: unknown, message: string): Error {
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (original instanceof DomainError) {
    const gqlError = error instanceof GraphQLError ? error : undefined;
    return new GraphQLError(original.message, {
      nodes: gqlError?.nodes,
      path: gqlError?.path,
      extensions: { code: original.code, http: { status: original.httpStatus } },
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

export function createGraphQLHandler(deps: AppDeps): YogaServerInstance<Record<string, never>, Context> {
  const log = deps.log.child({ module: 'graphql' });
  const settings: ApiSettings = {
    expiryWarningHours: DEFAULT_EXPIRY_WARNING_HOURS,
    aggregateBatchSize: DEFAULT_AGGREGATE_BATCH_SIZE,
    ...deps.settings,
  };
  return createYoga<Record<string, never>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: deps.graphiql ?? false,
    landingPage: false,
    logging: {
      debug: (...args) => log.debug(args.map(String).join(' ')),
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
        if (!(original instanceof DomainError) && original && !(original instanceof GraphQLError)) {
          log.error({ err: original }, 'unexpected error (masked in the response)');
        }
        return masked;
      },
    },
    context: ({ request }) =>
      createContext(request, {
        em: deps.orm.em,
        settings,
        adminSecret: deps.adminSecret,
        provisioner: deps.provisioner,
        usageSource: deps.usageSource ?? null,
        log,
      }),
  });
}

/** The api's HTTP server: POST /graphql, GET /healthz (process up), GET /readyz (database answers). */
export function createApiServer(deps: AppDeps): Server {
  const yoga = createGraphQLHandler(deps);
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok' }));
      return;
    }
    if (req.method === 'GET' && path === '/readyz') {
      deps.orm
        .isConnected()
        .then(async (connected) => {
          if (!connected) throw new Error('not connected');
          await deps.orm.em.fork().execute('select 1');
        })
        .then(
          () =>
            res
              .writeHead(200, { 'content-type': 'application/json' })
              .end(JSON.stringify({ status: 'ready', database: 'ok' })),
          (err: Error) =>
            res
              .writeHead(503, { 'content-type': 'application/json' })
              .end(JSON.stringify({ status: 'unavailable', database: err.message })),
        );
      return;
    }
    void yoga.requestListener(req, res);
  });
}
