import { randomBytes } from 'node:crypto';
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
  /** POST /graphql with the given headers. */
  gql<T = any>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<GraphQLResponse<T>>;
  /** As admin (x-admin-secret). */
  admin<T = any>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>>;
  /** As a user (Authorization: Bearer). */
  asUser<T = any>(
    token: string,
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<GraphQLResponse<T>>;
  stop(): Promise<number | null>;
}

export interface StartApiOptions {
  databaseUrl: string;
  adminSecret?: string;
  env?: Record<string, string | undefined>;
}

/** Starts a real api process (api/src/main.ts) on a free port against the given database. */
export async function startApi(options: StartApiOptions): Promise<ApiProcess> {
  const adminSecret = options.adminSecret ?? `test-admin-${randomBytes(12).toString('hex')}`;
  const proc = spawnTs('api/src/main.ts', [], {
    DATABASE_URL: options.databaseUrl,
    ADMIN_SECRET: adminSecret,
    API_PORT: '0',
    API_HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    NODE_ENV: 'test',
    ...options.env,
  });
  const line = await proc.waitForLine(/api listening/, 60_000);
  const port = (JSON.parse(line) as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;
  const gql = async (
    query: string,
    variables: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ) => {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as Omit<GraphQLResponse, 'status'>;
    return { status: res.status, ...body } as GraphQLResponse;
  };
  return {
    url,
    adminSecret,
    process: proc,
    gql,
    admin: (query, variables) => gql(query, variables, { 'x-admin-secret': adminSecret }),
    asUser: (token, query, variables) => gql(query, variables, { authorization: `Bearer ${token}` }),
    stop: () => proc.stop(),
  };
}
