import { randomBytes } from 'node:crypto';
import { type Operation, type ResultOf, sourceOf, type VariablesOf } from '@hero/graphql';
import { type SpawnedProcess, spawnTs } from './process.ts';

export interface GraphQLResponse<T = any> {
  status: number;
  data: T;
  errors?: { message: string; path?: string[]; extensions?: { code?: string } }[];
}

export interface ApiProcess {
  url: string;
  adminSecret: string;
  process: SpawnedProcess;
  /**
   * POST /graphql with the given headers: a `graphql()` document of @hero/graphql, which types
   * the variables and `data` from schema.graphql.
   */
  gql<D extends Operation>(
    document: D,
    variables?: VariablesOf<D>,
    headers?: Record<string, string>,
  ): Promise<GraphQLResponse<ResultOf<D>>>;
  /** As admin (x-admin-secret). */
  admin<D extends Operation>(document: D, variables?: VariablesOf<D>): Promise<GraphQLResponse<ResultOf<D>>>;
  /** As a user (Authorization: Bearer). */
  asUser<D extends Operation>(
    token: string,
    document: D,
    variables?: VariablesOf<D>,
  ): Promise<GraphQLResponse<ResultOf<D>>>;
  /**
   * POST /graphql with a query as text, untyped: only for what no `graphql()` document can be (a
   * query invalid, malformed or hostile on purpose, or its exact text under test).
   */
  raw(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<GraphQLResponse>;
  stop(): Promise<number | null>;
}

export interface StartApiOptions {
  databaseUrl: string;
  adminSecret?: string;
  env?: Record<string, string | undefined>;
}

/**
 * Starts a real api process (api/src/main.ts) on a free port against the given database. New
 * sign-ups get a 30-day trial of one VM unless `env` sets SIGNUP_TRIAL.
 */
export async function startApi(options: StartApiOptions): Promise<ApiProcess> {
  const adminSecret = options.adminSecret ?? `test-admin-${randomBytes(12).toString('hex')}`;
  const proc = spawnTs('api/src/main.ts', [], {
    DATABASE_URL: options.databaseUrl,
    ADMIN_SECRET: adminSecret,
    API_PORT: '0',
    API_HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    NODE_ENV: 'test',
    // Signed-up test users may hold a VM at once, as before plans gated allocation.
    SIGNUP_TRIAL: '1 VM for 30d',
    ...options.env,
  });
  const line = await proc.waitForLine(/api listening/, 60_000);
  const port = (JSON.parse(line) as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;
  const raw = async (
    query: string,
    variables: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ): Promise<GraphQLResponse> => {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as Omit<GraphQLResponse, 'status'>;
    return { status: res.status, ...body } as GraphQLResponse;
  };
  const gql = (document: Operation, variables: object = {}, headers: Record<string, string> = {}) =>
    raw(sourceOf(document), variables as Record<string, unknown>, headers);
  return {
    url,
    adminSecret,
    process: proc,
    gql,
    raw,
    admin: (query, variables) => gql(query, variables, { 'x-admin-secret': adminSecret }),
    asUser: (token, query, variables) => gql(query, variables, { authorization: `Bearer ${token}` }),
    stop: () => proc.stop(),
  };
}
