import { type Operation, type ResultOf, sourceOf, type VariablesArg } from '@hero/graphql';
import type { RequestEvent } from '@sveltejs/kit';
import { webConfig } from './config.ts';

/** A request id as the API takes it: the caller's when safe (≤ 128 of `[A-Za-z0-9._:-]`), else a new UUID. */
export function requestIdFrom(incoming: string | null | undefined): string {
  return incoming && /^[A-Za-z0-9._:-]{1,128}$/.test(incoming) ? incoming : crypto.randomUUID();
}

/** Who the web server speaks for on an API call. */
export type Credential = 'user' | 'admin' | 'none';

/** An error the API answered at the top level (auth, unavailable), or the API not answering. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The HTTP status the API answered with (0: no answer). */
    readonly status: number,
    /** FORBIDDEN because of the admin role (the session itself is good): that role. */
    readonly role?: string,
  ) {
    super(message);
  }
}

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string; role?: string } }[];
}

/**
 * Calls the GraphQL API from the SvelteKit server on behalf of the browser: with the user's or
 * the admin's session token (kept in httpOnly cookies, never sent to the browser's scripts) and
 * the client's address in X-Forwarded-For (the API's rate limits count per client). The result
 * and the variables are typed by the document.
 */
export function gql<Document extends Operation>(
  event: Pick<RequestEvent, 'locals' | 'getClientAddress'>,
  document: Document,
  ...variablesAndCredential: [...VariablesArg<Document>, as?: Credential]
): Promise<ResultOf<Document>>;
export function gql(
  event: Pick<RequestEvent, 'locals' | 'getClientAddress'>,
  document: Operation,
  variables: unknown = {},
  as: Credential = 'user',
): Promise<unknown> {
  return send(event, sourceOf(document), variables, as);
}

/**
 * The HTTP call under gql() and adminGql(): the query as text, the result as the caller says.
 * Call those instead, which type both by the document.
 */
export async function send<T>(
  event: Pick<RequestEvent, 'locals' | 'getClientAddress'>,
  query: string,
  variables: unknown = {},
  as: Credential = 'user',
): Promise<T> {
  const config = webConfig();
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json, application/json',
  };
  const token =
    as === 'user' ? event.locals.sessionToken : as === 'admin' ? event.locals.adminToken : undefined;
  if (as !== 'none' && !token) throw new ApiError('UNAUTHENTICATED', 'Not signed in', 401);
  if (token) headers.authorization = `Bearer ${token}`;
  // One id for the browser's request, in the web's answer and in every API call (and log) it makes.
  if (event.locals.requestId) headers['x-request-id'] = event.locals.requestId;
  try {
    headers['x-forwarded-for'] = event.getClientAddress();
  } catch {
    // No client address (e.g. prerendering): the API counts the web server itself.
  }

  let res: Response;
  try {
    res = await fetch(`${config.HERO_API_URL}/graphql`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(config.HERO_API_TIMEOUT_MS),
    });
  } catch (err) {
    const timedOut = err instanceof Error && err.name === 'TimeoutError';
    throw new ApiError(
      'SERVICE_UNAVAILABLE',
      timedOut ? 'The service did not answer in time.' : 'The service cannot be reached right now.',
      0,
    );
  }
  let body: GraphQLResponse<T>;
  try {
    body = (await res.json()) as GraphQLResponse<T>;
  } catch {
    throw new ApiError(
      'SERVICE_UNAVAILABLE',
      `The service answered ${res.status} without a result.`,
      res.status,
    );
  }
  const first = body.errors?.[0];
  if (first) {
    throw new ApiError(
      first.extensions?.code ?? 'INTERNAL_SERVER_ERROR',
      first.message,
      res.status,
      first.extensions?.role,
    );
  }
  if (!body.data) throw new ApiError('INTERNAL_SERVER_ERROR', 'The service answered no data.', res.status);
  return body.data;
}

/** Words for an error code, for people (the API's own message where it is already meant for them). */
export function describeApiError(err: unknown): { code: string; message: string } {
  if (err instanceof ApiError) {
    switch (err.code) {
      case 'PROVISIONER_UNAVAILABLE':
      case 'SERVICE_UNAVAILABLE':
        return { code: err.code, message: `Service unavailable: ${err.message}` };
      case 'UNAUTHENTICATED':
        return { code: err.code, message: 'Your session has ended. Please sign in again.' };
      case 'FORBIDDEN':
        return {
          code: err.code,
          message: err.role
            ? `Your role (${err.role}) may not do that: ask an owner.`
            : 'You are not allowed to do that.',
        };
      case 'INTERNAL_SERVER_ERROR':
        return { code: err.code, message: 'Something went wrong on our side. Please try again.' };
      default:
        return { code: err.code, message: err.message };
    }
  }
  return { code: 'INTERNAL_SERVER_ERROR', message: 'Something went wrong on our side. Please try again.' };
}
