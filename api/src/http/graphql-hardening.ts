import { findLiveSession } from '@hero/core/auth/sessions';
import { secretsEqual, tokenKind } from '@hero/core/auth/tokens';
import type { Logger } from '@hero/core/lib/logger';
import type { EntityManager } from '@mikro-orm/postgresql';
import { type ASTVisitor, GraphQLError, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { type QueryLimits, queryLimitsRule } from './query-limits.ts';
import { REQUEST_ID_HEADER } from './request-id.ts';

export { DEFAULT_QUERY_LIMITS } from './query-limits.ts';

/**
 * GraphQL hardening: query limits, introspection and GraphiQL by environment, the
 * request body limit's answer, field suggestions hidden from who may not introspect, and the
 * request id on masked errors. One yoga plugin; the options come from the api's configuration.
 */

/** `on`: everyone may introspect and open GraphiQL; `admin`: admin credentials only; `off`: nobody. */
export const INTROSPECTION_MODES = ['on', 'admin', 'off'] as const;
export type IntrospectionMode = (typeof INTROSPECTION_MODES)[number];

export interface GraphQLHardening {
  limits: QueryLimits;
  introspection: IntrospectionMode;
  /** The largest POST /graphql body; larger ones answer 413. */
  maxBodyBytes: number;
}

export const DEFAULT_MAX_BODY_BYTES = 1 << 20;

/** Introspection (and GraphiQL) when GRAPHQL_INTROSPECTION is unset: open in development and tests. */
export function defaultIntrospection(nodeEnv: string): IntrospectionMode {
  return nodeEnv === 'production' ? 'admin' : 'on';
}

/** The hardening the api's configuration asks for. */
export function graphqlHardening(config: {
  NODE_ENV: string;
  GRAPHQL_MAX_DEPTH: number;
  GRAPHQL_MAX_ALIASES: number;
  GRAPHQL_MAX_COST: number;
  GRAPHQL_MAX_BODY_BYTES: number;
  GRAPHQL_INTROSPECTION?: IntrospectionMode | undefined;
}): GraphQLHardening {
  return {
    limits: {
      maxDepth: config.GRAPHQL_MAX_DEPTH,
      maxAliases: config.GRAPHQL_MAX_ALIASES,
      maxCost: config.GRAPHQL_MAX_COST,
    },
    introspection: config.GRAPHQL_INTROSPECTION ?? defaultIntrospection(config.NODE_ENV),
    maxBodyBytes: config.GRAPHQL_MAX_BODY_BYTES,
  };
}

export const GRAPHIQL_REALM = 'hero-onboarding GraphiQL';

/** The password of an `Authorization: Basic` header (the user name is not looked at), or null. */
export function basicAuthPassword(authorization: string | null | undefined): string | null {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
  if (!match?.[1]) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? null : decoded.slice(colon + 1);
}

/**
 * The admin credentials that need no database: the `x-admin-secret` header, or HTTP Basic with
 * the admin secret as password (what a browser sends to GraphiQL and GraphiQL's own requests).
 * Compared in constant time.
 */
export function hasAdminSecret(headers: Headers, adminSecret: string): boolean {
  const header = headers.get('x-admin-secret');
  if (header && secretsEqual(header, adminSecret)) return true;
  const password = basicAuthPassword(headers.get('authorization'));
  return password !== null && password !== '' && secretsEqual(password, adminSecret);
}

const INTROSPECTION_FIELDS = new Set(['__schema', '__type']);

/** Whether a query's text may select `__schema` or `__type` (a field name cannot be escaped). */
export const mentionsIntrospection = (query: string): boolean => /__schema\b|__type\b/.test(query);

export function introspectionRefusal(mode: IntrospectionMode): string {
  return mode === 'off'
    ? 'introspection is disabled on this server (GRAPHQL_INTROSPECTION=off)'
    : 'introspection needs admin credentials in production: the x-admin-secret header, an admin session token, or HTTP Basic with the admin secret as password';
}

/** Refuses `__schema` and `__type` (code INTROSPECTION_DISABLED, HTTP 403). */
export function introspectionGateRule(mode: IntrospectionMode): (context: ValidationContext) => ASTVisitor {
  // A named function: yoga's validation cache keys its entries by the rules' names.
  return function HeroIntrospectionGateRule(context: ValidationContext): ASTVisitor {
    let reported = false;
    return {
      Field(node) {
        if (reported || !INTROSPECTION_FIELDS.has(node.name.value)) return;
        reported = true;
        context.reportError(
          new GraphQLError(introspectionRefusal(mode), {
            nodes: [node],
            extensions: { code: 'INTROSPECTION_DISABLED', http: { status: 403, spec: false } },
          }),
        );
      },
    };
  };
}

/** A message without its "Did you mean …?" hints (they spell out the schema). */
export const stripSuggestions = (message: string): string =>
  message.replace(/\s*Did you mean [^?]*\?/g, '').trimEnd();

export function bodyTooLargeMessage(maxBodyBytes: number): string {
  return `the request body is larger than the limit of ${maxBodyBytes} bytes`;
}

type AnyResult = { errors?: readonly unknown[] } & Record<string, unknown>;

/** A copy of `error` with another message and/or more extensions. */
function rewritten(error: GraphQLError, message: string, extensions: Record<string, unknown>): GraphQLError {
  return new GraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { ...error.extensions, ...extensions },
  });
}

export interface HardeningPluginDeps {
  hardening: GraphQLHardening;
  adminSecret: string;
  /** For admin session tokens (`Bearer ha_…`), looked up only when it matters. */
  em: EntityManager;
  log: Logger;
}

/** The yoga `graphiql` option: whether this request gets the GraphiQL page. */
export function graphiqlFor(
  hardening: GraphQLHardening,
  adminSecret: string,
): (request: Request) => false | { title: string } {
  return (request) => {
    const mode = hardening.introspection;
    if (mode === 'on' || (mode === 'admin' && hasAdminSecret(request.headers, adminSecret)))
      return { title: 'hero-onboarding GraphiQL' };
    return false;
  };
}

/** The one yoga plugin of the hardening. */
export function graphqlHardeningPlugin(deps: HardeningPluginDeps): Plugin {
  const { hardening, adminSecret } = deps;
  const mode = hardening.introspection;
  const limitsRule = queryLimitsRule(hardening.limits);
  const gateRule = introspectionGateRule(mode);
  /** Per request: whether it carries admin credentials (a promise: a session token is looked up once). */
  const adminOf = new WeakMap<Request, Promise<boolean>>();
  /** Per request, once known: whether it may introspect (read by the synchronous validation). */
  const mayIntrospect = new WeakMap<Request, boolean>();

  const isAdmin = (request: Request): Promise<boolean> => {
    let known = adminOf.get(request);
    if (!known) {
      known = (async () => {
        if (hasAdminSecret(request.headers, adminSecret)) return true;
        const token = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '')?.[1];
        if (!token || tokenKind(token) !== 'adminSession') return false;
        const session = await findLiveSession(deps.em.fork(), token, adminSecret);
        return session?.kind === 'ADMIN';
      })().catch((err: unknown) => {
        deps.log.warn({ err }, 'admin session lookup failed: treated as no admin credentials');
        return false;
      });
      adminOf.set(request, known);
    }
    return known;
  };
  const allowedNow = (request: Request): boolean =>
    mode === 'on' || (mode === 'admin' && mayIntrospect.get(request) === true);

  return {
    onRequestParse({ request, endResponse, fetchAPI }) {
      // GraphiQL (a browser's GET asking for HTML) behind HTTP Basic: the yoga `graphiql` option
      // (graphiqlFor) rendered it already when the credentials were there.
      if (
        mode === 'admin' &&
        request.method === 'GET' &&
        request.headers.get('accept')?.includes('text/html') &&
        !hasAdminSecret(request.headers, adminSecret)
      ) {
        endResponse(
          new fetchAPI.Response(
            JSON.stringify({
              errors: [
                {
                  message:
                    'GraphiQL needs the admin secret in production: sign in with any user name and the admin secret as password',
                  extensions: { code: 'UNAUTHENTICATED' },
                },
              ],
            }),
            {
              status: 401,
              headers: {
                'content-type': 'application/json; charset=utf-8',
                'www-authenticate': `Basic realm="${GRAPHIQL_REALM}", charset="UTF-8"`,
              },
            },
          ),
        );
      }
    },
    // Synchronous unless an admin session must be looked up (no promise per request).
    onParams({ request, params }) {
      if (mode !== 'admin') return;
      if (hasAdminSecret(request.headers, adminSecret)) mayIntrospect.set(request, true);
      else if (params.query && mentionsIntrospection(params.query))
        return isAdmin(request).then((admin) => {
          mayIntrospect.set(request, admin);
        });
    },
    onValidate({ context, addValidationRule }) {
      addValidationRule(limitsRule);
      const request = (context as { request?: Request }).request;
      if (!request || !allowedNow(request)) addValidationRule(gateRule);
    },
    // Synchronous for an answer without errors (no promise per request).
    onResultProcess(payload) {
      const { result } = payload;
      if (typeof result !== 'object' || result === null || Symbol.asyncIterator in result) return;
      const results = (Array.isArray(result) ? result : [result]) as AnyResult[];
      if (!results.some((r) => r.errors?.length)) return;
      return fixErrors(payload, results);
    },
  };

  async function fixErrors(
    { request, result, setResult }: Parameters<NonNullable<Plugin['onResultProcess']>>[0],
    results: AnyResult[],
  ): Promise<void> {
    const requestId = request.headers.get(REQUEST_ID_HEADER);
    const hideSuggestions =
      !allowedNow(request) &&
      results.some((r) =>
        r.errors?.some((e) => e instanceof GraphQLError && e.message.includes('Did you mean')),
      ) &&
      (mode === 'off' || !(await isAdmin(request)));
    let changed = false;
    const fixed = results.map((r) => {
      if (!r.errors?.length) return r;
      const errors = r.errors.map((error) => {
        if (!(error instanceof GraphQLError)) return error;
        const code = error.extensions?.code;
        if (code === 'REQUEST_ENTITY_TOO_LARGE') {
          changed = true;
          return rewritten(error, bodyTooLargeMessage(hardening.maxBodyBytes), {});
        }
        if (code === 'INTERNAL_SERVER_ERROR' && requestId && error.extensions.requestId === undefined) {
          changed = true;
          return rewritten(error, error.message, { requestId });
        }
        if (hideSuggestions && error.message.includes('Did you mean')) {
          changed = true;
          return rewritten(error, stripSuggestions(error.message), {});
        }
        return error;
      });
      return { ...r, errors };
    });
    if (changed) setResult((Array.isArray(result) ? fixed : fixed[0]) as typeof result);
  }
}
