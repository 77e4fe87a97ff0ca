import { type Operation, type ResultOf, sourceOf, type VariablesArg } from '@hero/graphql';
import { Agent, request } from 'undici';
import {
  CliError,
  errorFromGraphQL,
  type GraphQLErrorBody,
  printable,
  transportError,
  unexpectedAnswer,
} from './errors.ts';

export interface ApiClientOptions {
  /** The API's base URL (`/graphql` is appended unless already there). */
  url: string;
  adminSecret: string;
  /** Limit for one call, from connecting to the last byte of the answer. */
  timeoutMs: number;
}

/** `http://host:4000` and `http://host:4000/` → `http://host:4000/graphql`; a `/graphql` URL is kept. */
export function graphqlEndpoint(baseUrl: string): string {
  const url = new URL(baseUrl);
  const path = url.pathname.replace(/\/+$/, '');
  url.pathname = path.endsWith('/graphql') ? path : `${path}/graphql`;
  return url.toString();
}

/** A GraphQL client for the admin API: POST with `x-admin-secret`, every failure a CliError. */
export class ApiClient {
  readonly endpoint: string;
  private readonly agent: Agent;

  constructor(private readonly options: ApiClientOptions) {
    this.endpoint = graphqlEndpoint(options.url);
    const ms = options.timeoutMs;
    this.agent = new Agent({ connect: { timeout: ms }, headersTimeout: ms, bodyTimeout: ms });
  }

  /**
   * Runs one operation (a `graphql()` document of @hero/graphql, which types the variables and the
   * answer); answers `data`, or throws a CliError (transport, HTTP or GraphQL errors).
   */
  request<Document extends Operation>(
    document: Document,
    ...variables: VariablesArg<Document>
  ): Promise<ResultOf<Document>>;
  async request(document: Operation, variables: Record<string, unknown> = {}): Promise<unknown> {
    const query = sourceOf(document);
    const { timeoutMs } = this.options;
    let status: number;
    let text: string;
    try {
      const res = await request(this.endpoint, {
        method: 'POST',
        dispatcher: this.agent,
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          'x-admin-secret': this.options.adminSecret,
        },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      throw transportError(this.options.url, err, timeoutMs);
    }

    let body: { data?: unknown; errors?: GraphQLErrorBody[] } | undefined;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!body || typeof body !== 'object') throw unexpectedAnswer(this.endpoint, status, text);
    if (Array.isArray(body.errors) && body.errors.length > 0) throw errorFromGraphQL(status, body.errors);
    if (status >= 400 || body.data === undefined || body.data === null)
      throw unexpectedAnswer(this.endpoint, status, text);
    return body.data;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** A result union member that is a ValidationError (problems listed), as a CliError. */
export function validationFailure(
  what: string,
  result: { message?: string; problems?: { path: string; message: string }[] },
): CliError {
  const problems = result.problems ?? [];
  const lines = problems.map((p) => printable(`  ${p.path ? `${p.path}: ` : ''}${p.message}`));
  const count = `${problems.length} problem${problems.length === 1 ? '' : 's'}`;
  return new CliError(`${what} (${count}):`, lines);
}

/** A result-union member that is an error (every one implements Error { code message }). */
export type ErrorResult = {
  __typename: string;
  code: string;
  message: string;
  problems?: { path: string; message: string }[];
};

/**
 * A refused mutation as a CliError: `<what>: CODE: message`; a ValidationError lists its
 * problems, one a line, as the other commands do.
 */
export function refused(what: string, result: ErrorResult): CliError {
  if (result.__typename === 'ValidationError' && result.problems)
    return validationFailure(`${what}: ${result.code}`, result);
  return new CliError(`${what}: ${result.code}: ${printable(result.message)}`);
}

/** A Relay connection as the list queries select it. */
export interface Connection<T> {
  edges: { node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** The API answers at most 100 per page. */
const PAGE_SIZE = 100;

/** Follows a Relay connection forwards until `limit` nodes or the last page. */
export async function collectPages<T>(
  limit: number,
  fetchPage: (first: number, after: string | null) => Promise<Connection<T>>,
): Promise<T[]> {
  const nodes: T[] = [];
  let after: string | null = null;
  while (nodes.length < limit) {
    const page = await fetchPage(Math.min(PAGE_SIZE, limit - nodes.length), after);
    nodes.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor || page.edges.length === 0) break;
    after = page.pageInfo.endCursor;
  }
  return nodes.slice(0, limit);
}
