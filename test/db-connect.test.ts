import { createServer, type Server, connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { freePort, spawnTs } from './support/process.ts';

/**
 * Start-up against a database that is not there yet (compose starting everything at once, a
 * database restarting): the api, a worker and the migrate command retry with backoff instead of
 * crashing, serve once it answers, give up with a clear message after DB_CONNECT_TIMEOUT_MS,
 * and a stop signal during the wait exits 0.
 */

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

/** A TCP proxy on `port` to the real database server: the database "coming up" late. */
async function startProxy(port: number, target: URL): Promise<Server> {
  const server = createServer((client) => {
    const upstream = tcpConnect(Number(target.port || 5432), target.hostname);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

/** The test database's URL, but on `port` (where nothing listens until the proxy starts). */
function urlOnPort(port: number): string {
  const url = new URL(db.url);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return url.toString();
}

describe('waiting for the database at start-up', () => {
  it('the api retries with backoff until the database answers, then serves', async () => {
    const port = await freePort();
    const api = spawnTs('api/src/main.ts', [], {
      DATABASE_URL: urlOnPort(port),
      ADMIN_SECRET: 'late-database-admin-secret',
      API_PORT: '0',
      API_HOST: '127.0.0.1',
      NODE_ENV: 'test',
      PROVISIONER_DEMO: '1',
    });
    let proxy: Server | undefined;
    try {
      // Two failed attempts, with a growing pause, before the database appears.
      const first = JSON.parse(await api.waitForLine(/database not reachable yet/));
      const second = JSON.parse(await api.waitForLine(/"attempt":2/));
      expect(first).toMatchObject({ level: 40, attempt: 1, err: expect.stringMatching(/ECONNREFUSED/) });
      expect(second.retryInMs).toBeGreaterThan(first.retryInMs * 1.2);
      expect(api.child.exitCode).toBeNull();

      proxy = await startProxy(port, new URL(db.url));
      const line = await api.waitForLine(/api listening/, 30_000);
      const { port: apiPort } = JSON.parse(line) as { port: number };
      const res = await fetch(`http://127.0.0.1:${apiPort}/readyz`);
      expect(res.status).toBe(200);
      const pool = await fetch(`http://127.0.0.1:${apiPort}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-admin-secret': 'late-database-admin-secret' },
        body: JSON.stringify({ query: '{ pool { id } }' }),
      });
      const body = (await pool.json()) as { data: { pool: { id: string }[] } };
      expect(body.data.pool.length).toBeGreaterThan(0);
    } finally {
      await api.stop();
      proxy?.close();
    }
  });

  it('gives up after DB_CONNECT_TIMEOUT_MS with a clear message and exit 1', async () => {
    const port = await freePort();
    const started = Date.now();
    const api = spawnTs('api/src/main.ts', [], {
      DATABASE_URL: urlOnPort(port),
      ADMIN_SECRET: 'late-database-admin-secret',
      API_PORT: '0',
      NODE_ENV: 'test',
      DB_CONNECT_TIMEOUT_MS: '2500',
    });
    expect(await api.exited).toBe(1);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(api.lines.join('\n')).toMatch(
      /api: the database did not answer after \d+ attempt\(s\) over \d+ s: connect ECONNREFUSED/,
    );
    expect(api.lines.some((l) => /api listening/.test(l))).toBe(false);
  });

  it('SIGTERM while waiting exits 0 at once (api and worker)', async () => {
    const port = await freePort();
    const env = {
      DATABASE_URL: urlOnPort(port),
      ADMIN_SECRET: 'late-database-admin-secret',
      API_PORT: '0',
      NODE_ENV: 'test',
    };
    const api = spawnTs('api/src/main.ts', [], env);
    const worker = spawnTs('workers/src/main.ts', ['auto-release'], env);
    await Promise.all([
      api.waitForLine(/database not reachable yet/),
      worker.waitForLine(/database not reachable yet/),
    ]);
    const started = Date.now();
    api.child.kill('SIGTERM');
    worker.child.kill('SIGTERM');
    expect(await api.exited).toBe(0);
    expect(await worker.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('the worker and `npm run migrate` wait for the database too', async () => {
    const port = await freePort();
    const worker = spawnTs('workers/src/main.ts', ['reconcile', '--once'], { DATABASE_URL: urlOnPort(port) });
    const migrate = spawnTs('scripts/migrate.ts', [], { DATABASE_URL: urlOnPort(port) });
    const proxy = await (async () => {
      await Promise.all([
        worker.waitForLine(/database not reachable yet/),
        migrate.waitForLine(/not reachable yet \(attempt 1: connect ECONNREFUSED/),
      ]);
      return startProxy(port, new URL(db.url));
    })();
    try {
      expect(await worker.exited).toBe(0);
      expect(worker.lines.join('\n')).toMatch(/"job":"reconcile".*"status":"SUCCEEDED"/);
      expect(await migrate.exited).toBe(0);
      expect(migrate.lines.join('\n')).toMatch(/is up to date/);
    } finally {
      proxy.close();
    }
  });
});
