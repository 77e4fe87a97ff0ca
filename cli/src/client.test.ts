import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { graphql, sourceOf } from '@hero/graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, collectPages, graphqlEndpoint } from './client.ts';
import { CliError } from './errors.ts';

/** A local HTTP server standing in for the API: each test sets the next answer. */
let server: Server;
let baseUrl: string;
let answer: { status: number; body: string; delayMs?: number } = { status: 200, body: '{}' };
const seen: { headers: IncomingHttpHeaders; url: string; body: any }[] = [];

const POOL_IDS = graphql(`query PoolIds { pool { id } }`);
const POOL_BY_STATUS = graphql(`query PoolByStatus($status: PoolVmStatus) { pool(status: $status) { id } }`);

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        headers: req.headers,
        url: req.url ?? '',
        body: JSON.parse(Buffer.concat(chunks).toString()),
      });
      const { status, body, delayMs = 0 } = answer;
      setTimeout(() => {
        if (!res.destroyed) res.writeHead(status, { 'content-type': 'application/json' }).end(body);
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function failure(status: number, body: unknown, timeoutMs = 5_000): Promise<CliError> {
  answer = { status, body: typeof body === 'string' ? body : JSON.stringify(body) };
  const client = new ApiClient({ url: baseUrl, adminSecret: 'secret-for-tests', timeoutMs });
  try {
    await client.request(POOL_IDS);
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    return err as CliError;
  } finally {
    await client.close();
  }
  throw new Error('expected the request to fail');
}

const gqlError = (code: string, message: string) => ({ errors: [{ message, extensions: { code } }] });

describe('ApiClient', () => {
  it('posts the operation to <url>/graphql with the admin secret and answers data', async () => {
    answer = { status: 200, body: JSON.stringify({ data: { pool: [{ id: 'a' }] } }) };
    const client = new ApiClient({ url: `${baseUrl}/`, adminSecret: 'secret-for-tests', timeoutMs: 5_000 });
    expect(await client.request(POOL_BY_STATUS, { status: 'AVAILABLE' })).toEqual({
      pool: [{ id: 'a' }],
    });
    await client.close();
    const last = seen.at(-1)!;
    expect(last.url).toBe('/graphql');
    expect(last.headers['x-admin-secret']).toBe('secret-for-tests');
    expect(last.body).toEqual({ query: sourceOf(POOL_BY_STATUS), variables: { status: 'AVAILABLE' } });
    expect(last.body.query).toMatch(/^query PoolByStatus\(\$status: PoolVmStatus\) \{/);
  });

  it('maps the admin-secret refusals', async () => {
    expect((await failure(403, gqlError('FORBIDDEN', 'The admin secret is wrong'))).message).toBe(
      'forbidden: the API refused the admin secret (wrong ADMIN_SECRET?)',
    );
    expect((await failure(403, 'nope')).message).toMatch(/HTTP 403: nope/);
    expect((await failure(401, gqlError('UNAUTHENTICATED', 'send the admin secret'))).message).toBe(
      'unauthenticated: send the admin secret',
    );
  });

  it('maps the auto-release codes and other GraphQL errors to code and message', async () => {
    expect(
      (
        await failure(
          409,
          gqlError('ALREADY_RUNNING', 'aggregate is already running (…); try again when it is done'),
        )
      ).message,
    ).toBe('aggregate is already running (…); try again when it is done');
    expect((await failure(503, gqlError('PROVISIONER_UNAVAILABLE', 'No provisioner'))).message).toBe(
      'PROVISIONER_UNAVAILABLE: No provisioner',
    );
    expect((await failure(500, gqlError('JOB_FAILED', 'the run failed: boom'))).message).toBe(
      'JOB_FAILED: the run failed: boom',
    );
    expect(
      (await failure(200, gqlError('GRAPHQL_VALIDATION_FAILED', 'Cannot query field "x" on type "Query".')))
        .message,
    ).toBe(
      'GRAPHQL_VALIDATION_FAILED: Cannot query field "x" on type "Query". (is the API older than this CLI?)',
    );
    expect((await failure(200, { errors: [{ message: 'a' }, { message: 'b' }] })).message).toBe(
      'GraphQL error: a; b',
    );
  });

  it('reports an answer that is not GraphQL', async () => {
    const err = await failure(502, '<html>\n<body>Bad Gateway</body></html>');
    expect(err.message).toBe(
      `unexpected answer from the API at ${baseUrl}/graphql: HTTP 502: <html> <body>Bad Gateway</body></html>`,
    );
    expect((await failure(200, { data: null })).message).toMatch(/unexpected answer .* HTTP 200/);
  });

  it('gives up after HERO_API_TIMEOUT_MS as "cannot reach the API"', async () => {
    answer = { status: 200, body: '{"data":{}}', delayMs: 3_000 };
    const client = new ApiClient({ url: baseUrl, adminSecret: 's', timeoutMs: 300 });
    const started = Date.now();
    await expect(client.request(POOL_IDS)).rejects.toThrow(
      `cannot reach the API at ${baseUrl}: no answer within 300 ms (HERO_API_TIMEOUT_MS)`,
    );
    expect(Date.now() - started).toBeLessThan(2_500);
    await client.close();
  });

  it('reports a refused connection', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const client = new ApiClient({ url: `http://127.0.0.1:${port}`, adminSecret: 's', timeoutMs: 5_000 });
    await expect(client.request(POOL_IDS)).rejects.toThrow(
      `cannot reach the API at http://127.0.0.1:${port}: connection refused`,
    );
    await client.close();
  });
});

describe('graphqlEndpoint', () => {
  it('appends /graphql to the base URL once', () => {
    expect(graphqlEndpoint('http://h:4000')).toBe('http://h:4000/graphql');
    expect(graphqlEndpoint('http://h:4000/')).toBe('http://h:4000/graphql');
    expect(graphqlEndpoint('https://h/hero/')).toBe('https://h/hero/graphql');
    expect(graphqlEndpoint('http://h:4000/graphql')).toBe('http://h:4000/graphql');
  });
});

describe('collectPages', () => {
  const pages = (total: number) => {
    const calls: { first: number; after: string | null }[] = [];
    const fetchPage = async (first: number, after: string | null) => {
      calls.push({ first, after });
      const start = after ? Number(after) : 0;
      const end = Math.min(total, start + first);
      const edges = Array.from({ length: end - start }, (_, i) => ({ node: start + i }));
      return { edges, pageInfo: { hasNextPage: end < total, endCursor: edges.length ? String(end) : null } };
    };
    return { calls, fetchPage };
  };

  it('follows pages of at most 100 up to the limit', async () => {
    const { calls, fetchPage } = pages(250);
    const nodes = await collectPages(230, fetchPage);
    expect(nodes).toHaveLength(230);
    expect(nodes[229]).toBe(229);
    expect(calls).toEqual([
      { first: 100, after: null },
      { first: 100, after: '100' },
      { first: 30, after: '200' },
    ]);
  });

  it('stops at the last page', async () => {
    const { calls, fetchPage } = pages(120);
    expect(await collectPages(1_000, fetchPage)).toHaveLength(120);
    expect(calls).toHaveLength(2);
  });
});
